package main

// End-to-end tests: build the real keyportd binary and drive it as an
// operator would, serve in the background and the token/project commands
// beside it, with HTTP calls in between.

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/server/testdb"

	"github.com/keyport/keyport/internal/testkit"
)

var keyportd string // the built binary

func TestMain(m *testing.M) {
	testkit.Main(m, func(dir string) { keyportd = filepath.Join(dir, "keyportd") })
}

// command runs a keyportd command to completion.
func command(t *testing.T, env []string, stdin string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(keyportd, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyportd %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

type daemon struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	done chan error
}

// start runs `keyportd serve` on a free port and waits for it to listen.
func start(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(keyportd, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.logs.WriteString(line + "\n") // read only after the process ends
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				addr <- m["addr"].(string)
			}
		}
		d.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-d.done
		}
	})
	select {
	case a := <-addr:
		d.url = "http://" + a
	case err := <-d.done:
		t.Fatalf("keyportd serve exited: %v\n%s", err, d.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("keyportd serve did not start listening")
	}
	return d
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop(t *testing.T) string {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("keyportd serve exited with %v\n%s", err, d.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("keyportd serve did not stop on SIGTERM")
	}
	return d.logs.String()
}

func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	return testkit.CallAPI(t, method, url, token, body)
}

func password(m map[string]any) any {
	d, _ := m["data"].(map[string]any)
	c, _ := d["credentials"].(map[string]any)
	return c["password"]
}

func TestServeSQLite(t *testing.T) {
	home := t.TempDir()
	env := []string{"KEYPORT_HOME=" + home, "KEYPORTD_DB=", "KEYPORTD_MASTER_KEY="}
	// serve first, on a database that does not exist yet.
	d := start(t, env)
	// The operator commands work beside the running server.
	proj, _ := command(t, env, "", "project", "create", "--name", "web")
	if proj != "web\n" {
		t.Fatalf("project create: %q", proj)
	}
	out, _ := command(t, env, "", "token", "create", "--name", "admin", "--role", "admin")
	admin := strings.TrimSpace(out)
	out, _ = command(t, env, "", "token", "create", "--name", "ci", "--role", "reader", "--project", "web")
	ci := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(ci, "kp_") {
		t.Fatalf("token create stdout %q", out)
	}

	st, _ := call(t, "POST", d.url+"/v1/integrations/registries", admin, map[string]any{
		"name": "ghcr", "provider": "github",
		"credentials":  map[string]any{"username": "bot", "password": "ghp_e2e_secret"},
		"restrictions": map[string]any{"restricted": true, "projects": []string{"web"}},
	})
	if st != 201 {
		t.Fatalf("create: %d", st)
	}
	st, m := call(t, "GET", d.url+"/v1/integrations/registries/ghcr", ci, nil)
	if st != 200 || password(m) != "ghp_e2e_secret" {
		t.Fatalf("get with the bound reader: %d %v", st, m)
	}

	// Graceful shutdown: a request in flight when SIGTERM arrives completes.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", d.url+"/v1/projects", pr)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.ContentLength = -1
	result := make(chan int, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- -1
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	_, _ = pw.Write([]byte(`{"name": "in`))
	time.Sleep(200 * time.Millisecond) // the server is now reading the body
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	_, _ = pw.Write([]byte(`flight"}`))
	pw.Close()
	if code := <-result; code != 201 {
		t.Fatalf("in-flight request during shutdown: %d", code)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("serve exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if logs := d.logs.String(); strings.Contains(logs, admin) || strings.Contains(logs, ci) || strings.Contains(logs, "ghp_e2e_secret") {
		t.Fatalf("the log holds a secret:\n%s", logs)
	}
	if fi, err := os.Stat(filepath.Join(home, "keyportd.db.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
}

// TestTwoProcessesOnePostgres: keyportd keeps no state of its own, so two
// processes on one database serve each other's changes at once.
func TestTwoProcessesOnePostgres(t *testing.T) {
	db := testdb.New(t, "postgres")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{"KEYPORTD_DB=" + db.DSN, "KEYPORTD_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key)}
	a := start(t, env)
	b := start(t, env)

	command(t, env, "", "project", "create", "--name", "proj-a")
	command(t, env, "", "project", "create", "--name", "proj-b")
	out, _ := command(t, env, "", "token", "create", "--name", "admin", "--role", "admin")
	admin := strings.TrimSpace(out)
	out, _ = command(t, env, "", "token", "create", "--name", "runner-a", "--role", "reader", "--project", "proj-a")
	runnerA := strings.TrimSpace(out)

	if st, _ := call(t, "POST", a.url+"/v1/integrations/registries", admin, map[string]any{
		"name": "shared", "registryUrl": "registry.example.com",
		"credentials":  map[string]any{"username": "u", "password": "pw-1"},
		"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-a"}},
	}); st != 201 {
		t.Fatalf("create through A: %d", st)
	}
	if st, m := call(t, "GET", b.url+"/v1/integrations/registries/shared", runnerA, nil); st != 200 || password(m) != "pw-1" {
		t.Fatalf("B does not serve what A created: %d %v", st, m)
	}
	// Re-restrict through A: B stops serving it to proj-a's runner.
	if st, _ := call(t, "PATCH", a.url+"/v1/integrations/registries/shared", admin, map[string]any{
		"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-b"}},
	}); st != 200 {
		t.Fatalf("patch through A: %d", st)
	}
	if st, _ := call(t, "GET", b.url+"/v1/integrations/registries/shared", runnerA, nil); st != 404 {
		t.Fatalf("B still serves a re-restricted credential: %d", st)
	}
	_, m := call(t, "GET", b.url+"/v1/integrations/registries", runnerA, nil)
	if creds := m["data"].(map[string]any)["credentials"].([]any); len(creds) != 0 {
		t.Fatalf("B lists it still: %v", creds)
	}
	// Rotate through B, read through A.
	if st, _ := call(t, "PATCH", b.url+"/v1/integrations/registries/shared", admin, map[string]any{
		"credentials": map[string]any{"password": "pw-2"}}); st != 200 {
		t.Fatalf("patch through B: %d", st)
	}
	if _, m := call(t, "GET", a.url+"/v1/integrations/registries/shared", admin, nil); password(m) != "pw-2" {
		t.Fatalf("A serves %v after B rotated", password(m))
	}
	// Delete through A: gone from B.
	if st, _ := call(t, "DELETE", a.url+"/v1/integrations/registries/shared", admin, nil); st != 200 {
		t.Fatalf("delete through A: %d", st)
	}
	if st, _ := call(t, "GET", b.url+"/v1/integrations/registries/shared", admin, nil); st != 404 {
		t.Fatalf("B serves a deleted credential: %d", st)
	}
	// A token revoked by the command line stops working on both at once.
	out, errs := command(t, env, "", "token", "list")
	_ = errs
	var runnerID string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "runner-a") {
			runnerID = strings.Fields(line)[0]
		}
	}
	command(t, env, "", "token", "revoke", runnerID)
	for _, d := range []*daemon{a, b} {
		if st, _ := call(t, "GET", d.url+"/v1/integrations/registries", runnerA, nil); st != 401 {
			t.Fatalf("revoked token still accepted: %d", st)
		}
	}

	// A third process with another master key refuses to start.
	_, _ = rand.Read(key)
	bad := exec.Command(keyportd, "serve", "--addr", "127.0.0.1:0")
	bad.Env = append(os.Environ(), "KEYPORTD_DB="+db.DSN, "KEYPORTD_MASTER_KEY="+base64.StdEncoding.EncodeToString(key))
	outb, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(outb), "master key does not match") {
		t.Fatalf("a wrong master key was accepted: %v\n%s", err, outb)
	}
	a.stop(t)
	b.stop(t)
}

// commandErr runs a keyportd command that may fail.
func commandErr(env []string, args ...string) (string, error) {
	cmd := exec.Command(keyportd, args...)
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	return errb.String(), err
}

func writeKey(t *testing.T) (path string, key []byte) {
	t.Helper()
	key = make([]byte, 32)
	_, _ = rand.Read(key)
	path = filepath.Join(t.TempDir(), "k.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// TestRotateMasterKey: every secret is re-sealed under the new key, the old
// key no longer opens the database, and a wrong current key changes
// nothing. SQLite with its default key file; PostgreSQL with keys given.
func TestRotateMasterKey(t *testing.T) {
	secrets := map[string]string{"ghcr": "ghp_rotate_1", "hub": "dckr_pat_rotate_2"}
	seed := func(t *testing.T, env []string, serveArgs ...string) string {
		d := start(t, env, serveArgs...)
		out, _ := command(t, env, "", "token", "create", "--name", "admin", "--role", "admin")
		admin := strings.TrimSpace(out)
		for name, pw := range secrets {
			if st, _ := call(t, "POST", d.url+"/v1/integrations/registries", admin, map[string]any{
				"name": name, "registryUrl": name + ".example.com",
				"credentials": map[string]any{"username": "u", "password": pw},
			}); st != 201 {
				t.Fatalf("create %s: %d", name, st)
			}
		}
		d.stop(t)
		return admin
	}
	readable := func(t *testing.T, env []string, admin string, serveArgs ...string) {
		t.Helper()
		d := start(t, env, serveArgs...)
		defer d.stop(t)
		for name, pw := range secrets {
			if st, m := call(t, "GET", d.url+"/v1/integrations/registries/"+name, admin, nil); st != 200 || password(m) != pw {
				t.Fatalf("after rotation, %s: %d %v", name, st, m)
			}
		}
	}
	refused := func(t *testing.T, env []string, keyFile string) {
		t.Helper()
		errs, err := commandErr(env, "serve", "--addr", "127.0.0.1:0", "--master-key-file", keyFile)
		if err == nil || !strings.Contains(errs, "does not match") {
			t.Fatalf("serve with the old key: %v\n%s", err, errs)
		}
	}

	t.Run("sqlite, default key file", func(t *testing.T) {
		home := t.TempDir()
		env := []string{"KEYPORT_HOME=" + home, "KEYPORTD_DB=", "KEYPORTD_MASTER_KEY=", "KEYPORTD_MASTER_KEY_FILE="}
		admin := seed(t, env)
		keyFile := filepath.Join(home, "keyportd.db.key")
		before, _ := os.ReadFile(keyFile)

		wrong, _ := writeKey(t)
		newFile := filepath.Join(t.TempDir(), "new.key")
		if errs, err := commandErr(env, "master-key", "rotate", "--master-key-file", wrong, "--new-key-file", newFile); err == nil || !strings.Contains(errs, "nothing was changed") {
			t.Fatalf("rotate with a wrong current key: %v\n%s", err, errs)
		}
		if now, _ := os.ReadFile(keyFile); !bytes.Equal(now, before) {
			t.Fatal("a failed rotation touched the key file")
		}
		readable(t, env, admin) // still on the old key

		_, errs := command(t, env, "", "master-key", "rotate", "--new-key-file", newFile)
		if !strings.Contains(errs, "re-sealed 3 values") { // two secrets and the key check
			t.Fatalf("rotate: %s", errs)
		}
		now, _ := os.ReadFile(keyFile)
		created, _ := os.ReadFile(newFile)
		if bytes.Equal(now, before) || !bytes.Equal(now, created) {
			t.Fatal("the default key file does not hold the new key")
		}
		if fi, err := os.Stat(newFile); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("new key file: %v %v", fi, err)
		}
		readable(t, env, admin)
		old := filepath.Join(t.TempDir(), "old.key")
		if err := os.WriteFile(old, before, 0o600); err != nil {
			t.Fatal(err)
		}
		refused(t, env, old)
	})

	t.Run("postgres, keys given", func(t *testing.T) {
		db := testdb.New(t, "postgres")
		oldFile, _ := writeKey(t)
		env := []string{"KEYPORTD_DB=" + db.DSN, "KEYPORTD_MASTER_KEY=", "KEYPORTD_MASTER_KEY_FILE=" + oldFile}
		admin := seed(t, env)
		newFile, _ := writeKey(t)
		if errs, err := commandErr(env, "master-key", "rotate", "--new-key-file", oldFile); err == nil || !strings.Contains(errs, "nothing to rotate") {
			t.Fatalf("rotate to the same key: %v\n%s", err, errs)
		}
		_, errs := command(t, env, "", "master-key", "rotate", "--new-key-file", newFile)
		if !strings.Contains(errs, "re-sealed 3 values") || !strings.Contains(errs, "--master-key-file "+newFile) {
			t.Fatalf("rotate: %s", errs)
		}
		next := []string{"KEYPORTD_DB=" + db.DSN, "KEYPORTD_MASTER_KEY=", "KEYPORTD_MASTER_KEY_FILE=" + newFile}
		readable(t, next, admin)
		refused(t, env, oldFile)
	})
}
