package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/syncbuf"
)

type run struct {
	env map[string]string
}

func (r run) exec(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Run(context.Background(), &out, &errb, func(k string) string { return r.env[k] }, append([]string{"keyportd"}, args...))
	return out.String(), errb.String(), err
}

func (r run) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, err := r.exec(t, args...)
	if err != nil {
		t.Fatalf("keyportd %s: %v\n%s", strings.Join(args, " "), err, errs)
	}
	return out
}

var tokenRE = regexp.MustCompile(`^kp_[A-Za-z0-9_-]{43}\n$`)

func TestTokenAndProjectCommands(t *testing.T) {
	home := t.TempDir()
	r := run{env: map[string]string{"KEYPORT_HOME": home}}

	if out := r.must(t, "project", "create", "--name", "Web App", "--description", "shop"); out != "web-app\n" {
		t.Fatalf("project create printed %q", out)
	}
	out, errs, err := r.exec(t, "token", "create", "--name", "ci", "--role", "reader", "--project", "web-app")
	if err != nil {
		t.Fatal(err, errs)
	}
	if !tokenRE.MatchString(out) {
		t.Fatalf("token create stdout is not the token alone: %q", out)
	}
	token := strings.TrimSpace(out)
	id := regexp.MustCompile(`tok_[0-9a-f]+`).FindString(errs)
	if id == "" {
		t.Fatalf("no token id on stderr: %q", errs)
	}
	if _, errs, err := r.exec(t, "token", "create", "--name", "x", "--role", "root"); err == nil {
		t.Fatalf("role root accepted: %s", errs)
	}
	_, errs, _ = r.exec(t, "token", "create", "--name", "x", "--role", "viewer", "--project", "not-yet")
	if !strings.Contains(errs, "warning: no project not-yet") {
		t.Fatalf("no warning for an unknown project: %q", errs)
	}

	list := r.must(t, "token", "list")
	if !strings.Contains(list, id) || !strings.Contains(list, "web-app") || strings.Contains(list, token) {
		t.Fatalf("token list:\n%s", list)
	}
	// A flag after the argument is read as a flag, as docker reads them.
	if _, _, err := r.exec(t, "token", "revoke", id, "--db", "nosuch:x"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("flag after argument: %v, want the --db it names to be used", err)
	}
	r.must(t, "token", "revoke", id)
	if _, _, err := r.exec(t, "token", "revoke", id); err == nil {
		t.Fatal("revoking twice succeeded")
	}
	if list := r.must(t, "token", "list"); !regexp.MustCompile(id + `.*\d{4}-\d\d-\d\dT.*\d{4}-\d\d-\d\dT`).MatchString(list) {
		t.Fatalf("revocation not listed:\n%s", list)
	}

	if out := r.must(t, "project", "list"); !strings.Contains(out, "web-app") || !strings.Contains(out, "shop") {
		t.Fatalf("project list:\n%s", out)
	}
	if _, _, err := r.exec(t, "project", "create", "--name", "web-app"); err == nil {
		t.Fatal("duplicate project accepted")
	}
	r.must(t, "project", "delete", "web-app")
	if out := r.must(t, "project", "list"); strings.Contains(out, "web-app") {
		t.Fatalf("deleted project still listed:\n%s", out)
	}

	// The default database follows KEYPORT_HOME, then XDG_CONFIG_HOME.
	if matches, _ := filepath.Glob(filepath.Join(home, "keyportd.db")); len(matches) != 1 {
		t.Fatal("no database under KEYPORT_HOME")
	}
	xdg := t.TempDir()
	run{env: map[string]string{"XDG_CONFIG_HOME": xdg}}.must(t, "project", "list")
	if matches, _ := filepath.Glob(filepath.Join(xdg, "keyport", "keyportd.db")); len(matches) != 1 {
		t.Fatal("no database under XDG_CONFIG_HOME/keyport")
	}
}

// TestServeInProcess runs serve until its context ends, as SIGTERM would.
func TestServeInProcess(t *testing.T) {
	home := t.TempDir()
	r := run{env: map[string]string{"KEYPORT_HOME": home}}
	token := strings.TrimSpace(r.must(t, "token", "create", "--name", "t", "--role", "admin"))

	var stderr syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		a := New(io.Discard, &stderr, func(k string) string { return r.env[k] })
		done <- a.RunContext(ctx, []string{"keyportd", "serve", "--addr", "127.0.0.1:0"})
	}()
	var addr string
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not log its address:\n%s", stderr.String())
		}
		for _, line := range strings.Split(stderr.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				addr = m["addr"].(string)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/integrations/registries", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if logs := stderr.String(); strings.Contains(logs, token) || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Fatalf("serve log:\n%s", logs)
	}
	if matches, _ := filepath.Glob(filepath.Join(home, "keyportd.db.key")); len(matches) != 1 {
		t.Fatal("no master key generated beside the database")
	}
}
