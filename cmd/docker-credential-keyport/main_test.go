package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/testkit"
)

// helperBin is the binary built once for every end-to-end test.
var helperBin string

func TestMain(m *testing.M) {
	// The helper and the keyport program it hands commands to, side by side.
	testkit.Main(m, func(dir string) { helperBin = filepath.Join(dir, "docker-credential-keyport") })
}

// helperEnv is a clean environment for the helper with its own KEYPORT_HOME.
func helperEnv(t *testing.T, backend string, extra ...string) []string {
	t.Helper()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"KEYPORT_HOME=" + t.TempDir(),
		"KEYPORT_BACKEND=" + backend,
	}
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "KEYPORT_TEST_KEYRING"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// homeOf is the KEYPORT_HOME that helperEnv chose.
func homeOf(env []string) string { return strings.TrimPrefix(env[2], "KEYPORT_HOME=") }
