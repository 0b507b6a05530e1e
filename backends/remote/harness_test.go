package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/backends/remote/httpapi"
	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/storage"
	"github.com/keyport/keyport/server/testdb"
)

// api is keyportd's real handler on a fresh SQLite database behind
// httptest, with a switch to replace it by a fault and a request counter.
type api struct {
	t     testing.TB
	url   string
	store storage.Store
	admin string
	// requests counts requests that reached the API (any route).
	requests atomic.Int64
	mu       sync.Mutex
	fault    http.Handler // when set, answers instead of keyportd
	srv      *httptest.Server
	keyportd http.Handler // the real handler, unwrapped
}

func newAPI(t testing.TB) *api {
	t.Helper()
	h, st := testdb.Handler(t, "sqlite:"+filepath.Join(t.TempDir(), "keyportd.db"))
	a := &api{t: t, store: st, keyportd: h}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		a.mu.Lock()
		f := a.fault
		a.mu.Unlock()
		if f != nil {
			f.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	a.url = a.srv.URL
	a.admin = a.token(storage.RoleAdmin)
	return a
}

func (a *api) setFault(h http.Handler) {
	a.mu.Lock()
	a.fault = h
	a.mu.Unlock()
}

func (a *api) token(role storage.Role, projects ...string) string {
	a.t.Helper()
	tok, _, err := server.NewToken(context.Background(), a.store, server.DefaultTeam, "test "+string(role), role, projects)
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// call makes an admin request (not counted: the counter is for the store).
func (a *api) call(method, path string, body any) map[string]any {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	a.requests.Add(-1)
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode >= 300 {
		a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return out
}

func (a *api) project(name string) { a.call("POST", "/v1/projects", map[string]any{"name": name}) }

// cred creates a credential; projects restricts it when given.
func (a *api) cred(name, provider, registry, user, pass string, projects ...string) {
	body := map[string]any{
		"name": name, "provider": provider,
		"credentials":  map[string]string{"username": user, "password": pass},
		"restrictions": map[string]any{"restricted": len(projects) > 0, "projects": projects},
	}
	if registry != "" {
		body["registryUrl"] = registry
	}
	a.call("POST", "/v1/integrations/registries", body)
}

// clock is a settable time for TTL and grace tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// opts are a store's options against a with token for project, caching
// in dir, on clk, logging to logs.
func opts(url, token, project, dir string, clk *clock, logs io.Writer) remote.Options {
	o := remote.Options{
		NewAPI: httpapi.New,
		APIURL: url, Project: project, CacheDir: dir,
		Token:   func(context.Context) (string, error) { return token, nil },
		Timeout: 2 * time.Second,
	}
	if clk != nil {
		o.Now = clk.Now
	}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return o
}

// fixture is the account most tests use: projects web and api; an
// unrestricted Docker Hub credential; ghcr.io twice (one for web only, one
// for everyone); ghcr.io/acme for api; a private registry for api.
func fixture(t testing.TB) *api {
	a := newAPI(t)
	a.project("web")
	a.project("api")
	a.cred("hub bot", "dockerhub", "", "hubuser", "hub-secret")
	a.cred("ghcr web", "github", "", "web-bot", "ghp_web", "web")
	a.cred("ghcr all", "custom", "https://ghcr.io/", "all-bot", "ghp_all")
	a.cred("acme org", "github", "ghcr.io/acme", "acme-bot", "ghp_acme", "api")
	a.cred("private", "custom", "registry.example.com:5000", "priv", "priv-secret", "api")
	return a
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// warmed is the fixture with a reader token for project api and a store
// cache in dir, on clk, warmed by one get of ghcr.io/acme.
func warmed(t *testing.T) (a *api, tok string, clk *clock, dir string) {
	t.Helper()
	a = fixture(t)
	tok = a.token(storage.RoleReader, "api")
	clk = newClock()
	dir = t.TempDir()
	if _, err := remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(context.Background(), "ghcr.io/acme"); err != nil {
		t.Fatal(err)
	}
	return a, tok, clk, dir
}
