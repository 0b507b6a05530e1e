// Package e2etest drives the remote store end to end with real parts: the
// keyportd and docker-credential-keyport binaries, the distribution
// registry with htpasswd and TLS (scripts/registry.sh), go-containerregistry's
// crane and Debian's skopeo, both finding the helper through credHelpers.
package e2etest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"

	"github.com/keyport/keyport/internal/testkit"
)

var binDir string // docker-credential-keyport and keyportd, first on PATH

func TestMain(m *testing.M) {
	testkit.Main(m, func(dir string) { binDir = dir })
}

// registry is the test registry scripts/registry.sh started.
type registry struct {
	addr, ca, certDir, user, password, image string
}

func testRegistry(t *testing.T) registry {
	t.Helper()
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf(`%s is not set: start the test registry with
	eval "$(scripts/registry.sh start /tmp/kp-reg)"`, k)
		}
		return v
	}
	r := registry{
		addr: get("KEYPORT_TEST_REGISTRY"), ca: get("KEYPORT_TEST_REGISTRY_CA"),
		certDir: get("KEYPORT_TEST_REGISTRY_CERT_DIR"), user: get("KEYPORT_TEST_REGISTRY_USER"),
		image: get("KEYPORT_TEST_IMAGE"),
	}
	pw, err := os.ReadFile(get("KEYPORT_TEST_REGISTRY_PASSWORD_FILE"))
	if err != nil {
		t.Fatal(err)
	}
	r.password = strings.TrimSpace(string(pw))
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo is not installed (Debian package skopeo)")
	}
	return r
}

// keyportd is a running `keyportd serve` whose access log is counted.
type keyportd struct {
	url, db string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	log     bytes.Buffer
}

func startKeyportd(t *testing.T, db string) *keyportd {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "keyportd"), "serve", "--addr", "127.0.0.1:0", "--db", db, "--log-format", "json")
	cmd.Env = append(os.Environ(), "KEYPORT_HOME="+filepath.Dir(strings.TrimPrefix(db, "sqlite:")))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &keyportd{db: db, cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			k.mu.Lock()
			k.log.WriteString(sc.Text() + "\n")
			k.mu.Unlock()
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "listening" {
				addr <- m["addr"].(string)
			}
		}
		_ = cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(k.kill)
	select {
	case a := <-addr:
		k.url = "http://" + a
	case <-k.done:
		t.Fatalf("keyportd serve exited:\n%s", k.logs())
	case <-time.After(30 * time.Second):
		t.Fatal("keyportd serve did not start")
	}
	return k
}

func (k *keyportd) logs() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.log.String()
}

// apiRequests counts the access log's requests to the registries API.
func (k *keyportd) apiRequests() int {
	n := 0
	for _, line := range strings.Split(k.logs(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
			if p, _ := m["path"].(string); strings.Contains(p, "/integrations/registries") {
				n++
			}
		}
	}
	return n
}

func (k *keyportd) kill() {
	if k.cmd.Process != nil {
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}

func keyportdCLI(t *testing.T, db string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "keyportd"), append(args, "--db", db)...)
	cmd.Env = append(os.Environ(), "KEYPORT_HOME="+filepath.Dir(strings.TrimPrefix(db, "sqlite:")))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keyportd %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

func (k *keyportd) call(t *testing.T, method, path, token string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, k.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
}

// client is one machine's view: its KEYPORT_HOME, token and project, a
// Docker config and a containers auth file naming keyport for the registry.
type client struct {
	env     []string
	home    string
	authDir string
}

func newClient(t *testing.T, k *keyportd, reg registry, token, project string) *client {
	t.Helper()
	c := &client{home: t.TempDir(), authDir: t.TempDir()}
	cfg := fmt.Sprintf(`{"credHelpers": {%q: "keyport"}}`, reg.addr)
	for _, f := range []string{"config.json", "auth.json"} {
		if err := os.WriteFile(filepath.Join(c.authDir, f), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.env = []string{
		"KEYPORT_HOME=" + c.home, "KEYPORT_BACKEND=remote",
		"KEYPORT_API_URL=" + k.url, "KEYPORT_API_TOKEN=" + token, "KEYPORT_PROJECT=" + project,
		"KEYPORT_CACHE_TTL=1s", "DOCKER_CONFIG=" + c.authDir,
	}
	return c
}

// setenv puts the client's environment in this process, for crane (whose
// keychain runs the helper as a child, with our environment).
func (c *client) setenv(t *testing.T) {
	for _, kv := range c.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func (c *client) helper(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "docker-credential-keyport"), args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func cranePull(t *testing.T, c *client, reg registry) error {
	t.Helper()
	c.setenv(t)
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(reg.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	img, err := crane.Pull(reg.addr+"/"+reg.image, crane.WithAuthFromKeychain(authn.DefaultKeychain),
		crane.WithTransport(tr), crane.WithContext(ctx))
	if err != nil {
		return err
	}
	_, err = img.Digest()
	return err
}

func skopeoInspect(t *testing.T, c *client, reg registry) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "skopeo", "inspect", "--raw",
		"--authfile", filepath.Join(c.authDir, "auth.json"), "--cert-dir", reg.certDir,
		"docker://"+reg.addr+"/"+reg.image)
	cmd.Env = append(os.Environ(), c.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func TestRemoteStoreEndToEnd(t *testing.T) {
	reg := testRegistry(t)
	db := "sqlite:" + filepath.Join(t.TempDir(), "keyportd.db")
	keyportdCLI(t, db, "project", "create", "--name", "proj-a")
	keyportdCLI(t, db, "project", "create", "--name", "proj-b")
	admin := keyportdCLI(t, db, "token", "create", "--name", "ops", "--role", "admin")
	tokA := keyportdCLI(t, db, "token", "create", "--name", "ci-a", "--role", "reader", "--project", "proj-a")
	tokB := keyportdCLI(t, db, "token", "create", "--name", "ci-b", "--role", "reader", "--project", "proj-b")
	k := startKeyportd(t, db)
	k.call(t, "POST", "/v1/integrations/registries", admin, map[string]any{
		"name": "test registry", "provider": "custom", "registryUrl": reg.addr,
		"credentials":  map[string]string{"username": reg.user, "password": reg.password},
		"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-a"}},
	})
	a := newClient(t, k, reg, tokA, "proj-a")
	b := newClient(t, k, reg, tokB, "proj-b")

	t.Run("project A pulls, project B does not", func(t *testing.T) {
		if err := cranePull(t, a, reg); err != nil {
			t.Errorf("crane pull for project A: %v", err)
		}
		if err := skopeoInspect(t, a, reg); err != nil {
			t.Errorf("skopeo inspect for project A: %v", err)
		}
		if err := cranePull(t, b, reg); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Errorf("crane pull for project B: err = %v, want UNAUTHORIZED", err)
		}
		if err := skopeoInspect(t, b, reg); err == nil {
			t.Error("skopeo inspect for project B succeeded")
		}
		out, _, err := b.helper(t, reg.addr, "get")
		if err == nil || strings.TrimSpace(out) != "credentials not found in native keychain" {
			t.Errorf("get for project B = %q, %v; want docker's not-found line", out, err)
		}
		if strings.Contains(out, reg.password) {
			t.Error("project B saw the secret")
		}
	})

	t.Run("16 concurrent cold gets make at most 2 API requests", func(t *testing.T) {
		cold := newClient(t, k, reg, tokA, "proj-a")
		before := k.apiRequests()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, stderr, err := cold.helper(t, reg.addr, "get")
				if err == nil && !strings.Contains(out, reg.password) {
					err = fmt.Errorf("no secret in %q", out)
				}
				if err != nil {
					err = fmt.Errorf("%w: %s %s", err, out, stderr)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		time.Sleep(200 * time.Millisecond) // the access log line follows the answer
		n := k.apiRequests() - before
		t.Logf("16 concurrent cold gets: %d API requests", n)
		if n > 2 || n == 0 {
			t.Errorf("16 concurrent cold gets made %d API requests (keyportd's access log), want 1 or 2", n)
		}
	})

	t.Run("a revoked credential stops at the next revalidation", func(t *testing.T) {
		if _, _, err := a.helper(t, reg.addr, "get"); err != nil {
			t.Fatal(err)
		}
		k.call(t, "PATCH", "/v1/integrations/registries/test-registry", admin,
			map[string]any{"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-b"}}})
		time.Sleep(1100 * time.Millisecond) // KEYPORT_CACHE_TTL=1s
		out, _, err := a.helper(t, reg.addr, "get")
		if err == nil || strings.TrimSpace(out) != "credentials not found in native keychain" {
			t.Errorf("get after re-restriction = %q, %v", out, err)
		}
		if err := cranePull(t, a, reg); err == nil {
			t.Error("crane pull succeeded with a revoked credential")
		}
		k.call(t, "PATCH", "/v1/integrations/registries/test-registry", admin,
			map[string]any{"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-a"}}})
		time.Sleep(1100 * time.Millisecond)
		if err := cranePull(t, a, reg); err != nil {
			t.Errorf("crane pull after restoring: %v", err)
		}
	})

	t.Run("account login, status, ls, logout", func(t *testing.T) {
		m := &client{home: t.TempDir()}
		m.env = []string{"KEYPORT_HOME=" + m.home, "KEYPORT_BACKEND=", "KEYPORT_API_TOKEN=", "DBUS_SESSION_BUS_ADDRESS=", "XDG_RUNTIME_DIR="}
		out, stderr, err := m.helper(t, "not-a-token\n", "account", "login", "--url", k.url, "--project", "proj-a", "--token-stdin")
		if err == nil || !strings.Contains(stderr, "nothing saved") {
			t.Errorf("login with a bad token = %q %q %v", out, stderr, err)
		}
		out, stderr, err = m.helper(t, tokA+"\n", "account", "login", "--url", k.url, "--project", "proj-a", "--token-stdin")
		if err != nil || !strings.Contains(out, "1 registry available") || !strings.Contains(out, "remote,file") {
			t.Fatalf("account login = %q %q %v", out, stderr, err)
		}
		cfg, _ := os.ReadFile(filepath.Join(m.home, "config.json"))
		if strings.Contains(string(cfg), tokA) || !strings.Contains(string(cfg), `"project": "proj-a"`) {
			t.Errorf("config.json = %s", cfg)
		}
		if out, _, err := m.helper(t, reg.addr, "get"); err != nil || !strings.Contains(out, reg.password) {
			t.Errorf("get with the saved token = %q, %v", out, err)
		}
		out, _, err = m.helper(t, "", "account", "status")
		for _, want := range []string{"proj-a", "valid", "fresh", reg.addr, "test-registry", "cached"} {
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("account status lacks %q (err %v):\n%s", want, err, out)
			}
		}
		out, _, err = m.helper(t, "", "ls")
		if err != nil || !strings.Contains(out, "remote (credential test-registry)") {
			t.Errorf("ls = %q, %v", out, err)
		}
		for _, o := range []string{out} {
			if strings.Contains(o, tokA) || strings.Contains(o, reg.password) {
				t.Error("a secret in status or ls output")
			}
		}
		out, _, err = m.helper(t, "", "account", "logout")
		if err != nil || !strings.Contains(out, "Removed the API token from the file store") {
			t.Errorf("account logout = %q, %v", out, err)
		}
		if out, _, err := m.helper(t, reg.addr, "get"); err == nil {
			t.Errorf("get after logout = %q", out)
		}
	})

	t.Run("pulls keep working while keyportd is down, within the grace window", func(t *testing.T) {
		if _, _, err := a.helper(t, reg.addr, "get"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // stale: the next get asks the API
		k.kill()
		out, stderr, err := a.helper(t, reg.addr, "get")
		if err != nil || !strings.Contains(out, reg.password) {
			t.Fatalf("get with keyportd down = %q, %v, %s", out, err, stderr)
		}
		if !strings.Contains(stderr, "using cached credentials") || strings.Contains(stderr, reg.password) {
			t.Errorf("stderr = %q; want a warning without the secret", stderr)
		}
		if err := cranePull(t, a, reg); err != nil {
			t.Errorf("crane pull with keyportd down: %v", err)
		}
		if err := skopeoInspect(t, a, reg); err != nil {
			t.Errorf("skopeo inspect with keyportd down: %v", err)
		}
		// A machine that never fetched has nothing to fall back on: a clear
		// error, not a not-found that would let docker go anonymous.
		never := newClient(t, k, reg, tokA, "proj-a")
		out, _, err = never.helper(t, reg.addr, "get")
		if err == nil || !strings.Contains(out, "account API is unavailable") {
			t.Errorf("cold get with keyportd down = %q, %v", out, err)
		}
	})
}
