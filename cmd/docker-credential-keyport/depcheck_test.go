package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHelperDependencies keeps the helper's get path lean: every package
// linked into docker-credential-keyport costs start-up time on every pull.
// The management commands, with their framework and registry clients, and
// the account API's HTTP client, live in the keyport program instead.
func TestHelperDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"github.com/urfave/cli",
		"github.com/google/go-containerregistry",
		"github.com/keyport/keyport/app",
		"github.com/keyport/keyport/registry",
		"github.com/keyport/keyport/server",
		"github.com/chromedp",
		"github.com/jackc/pgx",
		"modernc.org/sqlite",
		"os/signal",
		// The account API is reached through keyport on a cold cache.
		"net/http",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("docker-credential-keyport depends on %s", dep)
			}
		}
	}
}
