package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/testkit"
)

// procSampler records every process command line it sees while it runs, so
// a test can show no secret ever travelled in argv.
type procSampler struct {
	mu    sync.Mutex
	seen  map[string]bool
	stop  chan struct{}
	done  chan struct{}
	count int
}

func sampleProcs() *procSampler {
	p := &procSampler{seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(500 * time.Microsecond):
			}
			paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, path := range paths {
				data, err := os.ReadFile(path)
				if err != nil || len(data) == 0 {
					continue
				}
				p.mu.Lock()
				p.seen[string(bytes.ReplaceAll(data, []byte{0}, []byte{' '}))] = true
				p.count++
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *procSampler) Stop() map[string]bool {
	close(p.stop)
	<-p.done
	return p.seen
}

// TestSecretLeakScan saves known secrets through every path — the protocol,
// login, import, the account API, the remote store and its cache — runs the
// commands (failing ones too), and then looks for the secrets everywhere
// they must not be: stderr, error messages, ls/list output, process
// arguments, keyportd's log, config files, and every file under
// KEYPORT_HOME and the server's database directory, in plaintext or base64.
func TestSecretLeakScan(t *testing.T) {
	secrets := map[string]string{
		"protocol": "LEAK-protocol-5f2b",
		"login":    "LEAK-login-a91c",
		"import":   "LEAK-import-77de",
		"api":      "LEAK-api-c03f",
		"token":    "", // the API token, filled in below
	}
	work := t.TempDir()
	home := filepath.Join(work, "keyport")
	remoteHome := filepath.Join(work, "runner")
	serverDir := filepath.Join(work, "server")
	os.MkdirAll(serverDir, 0o700)
	dockerDir := filepath.Join(work, "docker")
	os.MkdirAll(dockerDir, 0o700)
	// Every command runs with diagnostics on: they must not carry a secret either.
	env := testkit.Env("KEYPORT_HOME="+home, "KEYPORT_BACKEND=file", "DOCKER_CONFIG="+dockerDir, "HOME="+work, "KEYPORT_DEBUG=1")

	procs := sampleProcs()
	var transcript strings.Builder // everything printed that must hold no secret
	say := func(r result, stdoutMayHoldSecret bool) {
		if !stdoutMayHoldSecret {
			transcript.WriteString(r.stdout)
		}
		transcript.WriteString(r.stderr)
	}

	// protocol
	say(run(t, env, []byte(`{"ServerURL":"ghcr.io","Username":"octo","Secret":"`+secrets["protocol"]+`"}`), helperBin, "store"), false)
	// login (saved without asking a registry; the registry path is covered by the login script)
	say(run(t, env, []byte(secrets["login"]+"\n"), helperBin, "login", "registry.example.com", "-u", "me", "--password-stdin", "--no-verify"), false)
	// login refused by an unreachable registry: the error must not carry the secret
	say(run(t, env, []byte(secrets["login"]+"\n"), helperBin, "login", "127.0.0.1:1", "-u", "me", "--password-stdin"), false)
	// import, with --remove
	auth := base64.StdEncoding.EncodeToString([]byte("importer:" + secrets["import"]))
	cfg := filepath.Join(dockerDir, "config.json")
	os.WriteFile(cfg, []byte(`{"auths": {"quay.io": {"auth": "`+auth+`"}, "bad.example": {"auth": "%%%"}}}`), 0o600)
	say(run(t, env, nil, helperBin, "import", "--remove"), false)
	// the account API and the remote store
	db := "sqlite:" + filepath.Join(serverDir, "keyportd.db")
	serverEnv := testkit.Env("KEYPORT_HOME=" + serverDir)
	d := testkit.StartKeyportd(t, keyportdBin, serverEnv, "--db", db)
	admin := strings.TrimSpace(run(t, serverEnv, nil, keyportdBin, "token", "create", "--db", db, "--name", "admin", "--role", "admin").stdout)
	post := func(path, body string) {
		req, _ := http.NewRequestWithContext(context.Background(), "POST", d.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, m)
		}
	}
	post("/v1/projects", `{"name":"web"}`)
	post("/v1/integrations/registries", `{"name":"ghcr web","provider":"github","credentials":{"username":"bot","password":"`+secrets["api"]+`"},"restrictions":{"restricted":true,"projects":["web"]}}`)
	reader := strings.TrimSpace(run(t, serverEnv, nil, keyportdBin, "token", "create", "--db", db, "--name", "ci", "--role", "reader", "--project", "web").stdout)
	secrets["token"] = reader
	tokenFile := filepath.Join(work, "token")
	os.WriteFile(tokenFile, []byte(reader), 0o600)
	renv := testkit.Env("KEYPORT_DEBUG=1", "KEYPORT_HOME="+remoteHome, "KEYPORT_BACKEND=remote", "KEYPORT_API_URL="+d.URL, "KEYPORT_PROJECT=web", "KEYPORT_API_TOKEN_FILE="+tokenFile, "HOME="+work)
	r := run(t, renv, []byte("ghcr.io"), helperBin, "get")
	if !strings.Contains(r.stdout, secrets["api"]) {
		t.Fatalf("remote get: %+v", r)
	}
	say(r, true)
	// every reading command, on both machines, and failing ones
	for _, args := range [][]string{{"ls"}, {"ls", "--json"}, {"list"}, {"check", "UPPER::bad"}, {"logout", "nope.example"}, {"account", "status"}} {
		say(run(t, env, nil, helperBin, args...), false)
		say(run(t, renv, nil, helperBin, args...), false)
	}
	say(run(t, renv, []byte(`{"ServerURL":"x.io","Username":"u","Secret":"`+secrets["api"]+`"}`), helperBin, "store"), false)
	d.Kill()
	say(run(t, renv, []byte("quay.io"), helperBin, "get"), false) // API down, not cached: an error
	seen := procs.Stop()

	forms := func(s string) []string {
		return []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte("bot:" + s))}
	}
	check := func(where, text string) {
		for name, s := range secrets {
			for _, f := range forms(s) {
				if strings.Contains(text, f) {
					t.Errorf("the %s secret appears in %s", name, where)
				}
			}
		}
	}
	if !strings.Contains(transcript.String(), "level=DEBUG") {
		t.Fatal("no diagnostics were printed: the scan did not cover debug output")
	}
	check("command output (stderr with KEYPORT_DEBUG=1, errors, ls, list, status)", transcript.String())
	check("keyportd's log", d.Logs())
	for cmdline := range seen {
		check("a process's arguments ("+strings.Fields(cmdline)[0]+")", cmdline)
	}
	files := 0
	for _, dir := range []string{home, remoteHome, serverDir, dockerDir} {
		filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			check(path, string(data))
			return nil
		})
	}
	if files < 6 || len(seen) == 0 {
		t.Fatalf("scanned %d files and %d command lines: the scan proved nothing", files, len(seen))
	}
	t.Logf("scanned %d files, %d distinct command lines, %d bytes of output", files, len(seen), transcript.Len())
}
