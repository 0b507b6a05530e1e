package remote_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/file"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/server/storage"

	"github.com/keyport/keyport/backends/remote/httpapi"
	"github.com/keyport/keyport/internal/testkit"
)

var ctx = context.Background()

func TestGetKeepsWhatTheProjectMayUse(t *testing.T) {
	a := fixture(t)
	webTok := a.token(storage.RoleReader, "web")
	apiTok := a.token(storage.RoleReader, "api")
	unbound := a.token(storage.RoleReader)
	type want struct{ user, secret string } // zero: not found
	for _, tc := range []struct {
		name, token, project string
		wants                map[string]want
	}{
		{"web token", webTok, "web", map[string]want{
			"docker.io":                 {"hubuser", "hub-secret"},
			"ghcr.io":                   {"web-bot", "ghp_web"}, // restricted to web beats the one for all
			"ghcr.io/acme":              {},
			"registry.example.com:5000": {},
		}},
		{"api token", apiTok, "api", map[string]want{
			"docker.io":                 {"hubuser", "hub-secret"},
			"ghcr.io":                   {"all-bot", "ghp_all"},
			"ghcr.io/acme":              {"acme-bot", "ghp_acme"},
			"registry.example.com:5000": {"priv", "priv-secret"},
		}},
		// An unbound token sees everything; the client still filters.
		{"unbound token, project web", unbound, "web", map[string]want{
			"ghcr.io":                   {"web-bot", "ghp_web"},
			"ghcr.io/acme":              {},
			"registry.example.com:5000": {},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := remote.New(opts(a.url, tc.token, tc.project, t.TempDir(), nil, nil))
			for key, w := range tc.wants {
				c, err := s.Get(ctx, key)
				if w.user == "" {
					if !errors.Is(err, credhelper.ErrNotFound) {
						t.Errorf("Get %s = %+v, %v; want not found", key, c, err)
					}
					continue
				}
				if err != nil || c.Username != w.user || c.Secret != w.secret || c.ServerURL != key {
					t.Errorf("Get %s = %+v, %v; want %s/%s", key, c, err, w.user, w.secret)
				}
			}
		})
	}
}

func TestResolverPrefersTheMostSpecificCredential(t *testing.T) {
	a := fixture(t)
	s := remote.New(opts(a.url, a.token(storage.RoleReader, "api"), "api", t.TempDir(), nil, nil))
	r := credhelper.NewResolver(s)
	for server, user := range map[string]string{
		"ghcr.io/acme/app":                   "acme-bot",
		"https://ghcr.io/acme":               "acme-bot",
		"ghcr.io/other/app":                  "all-bot",
		"registry-1.docker.io":               "hubuser",
		"https://index.docker.io/v1/":        "hubuser",
		"registry.example.com:5000/team/app": "priv",
	} {
		c, err := r.Get(ctx, server)
		if err != nil || c.Username != user {
			t.Errorf("Resolve %s = %q, %v; want %s", server, c.Username, err, user)
		}
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"docker.io": "hubuser", "ghcr.io": "all-bot", "ghcr.io/acme": "acme-bot", "registry.example.com:5000": "priv"}
	if fmt.Sprint(list) != fmt.Sprint(want) {
		t.Errorf("List = %v, want %v", list, want)
	}
	rows, _, err := s.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var shadowed []string
	for _, r := range rows {
		if r.ShadowedBy != "" {
			shadowed = append(shadowed, r.Key+":"+r.CredentialID+"<"+r.ShadowedBy)
		}
	}
	if fmt.Sprint(shadowed) != "[]" {
		t.Errorf("api sees one credential per key, got shadowed %v", shadowed)
	}
	web := remote.New(opts(a.url, a.token(storage.RoleReader), "web", t.TempDir(), nil, nil))
	rows, _, _ = web.Describe(ctx) // empty before the first use
	if len(rows) != 0 {
		t.Errorf("Describe before any get = %v", rows)
	}
	if _, err := web.List(ctx); err != nil {
		t.Fatal(err)
	}
	rows, _, _ = web.Describe(ctx)
	var ghcr []string
	for _, r := range rows {
		if r.Key == "ghcr.io" {
			ghcr = append(ghcr, r.CredentialID+"<"+r.ShadowedBy)
		}
	}
	if fmt.Sprint(ghcr) != "[ghcr-web< ghcr-all<ghcr-web]" {
		t.Errorf("ghcr.io rows for web = %v; want ghcr-web answering, ghcr-all shadowed by it", ghcr)
	}
}

func TestWarmCacheMakesNoRequest(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	dir := t.TempDir()
	steps := []struct {
		what     string
		key      string
		requests int64
	}{
		{"cold: list + one secret", "ghcr.io/acme", 2},
		{"warm, new process", "ghcr.io/acme", 0},
		{"another registry: its secret only", "docker.io", 1},
		{"not in the account: no request", "quay.io", 0},
		{"warm again", "docker.io", 0},
	}
	for _, st := range steps {
		before := a.requests.Load()
		s := remote.New(opts(a.url, tok, "api", dir, nil, nil)) // a new helper process
		_, err := s.Get(ctx, st.key)
		if st.key == "quay.io" {
			if !errors.Is(err, credhelper.ErrNotFound) {
				t.Fatalf("%s: %v", st.what, err)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if got := a.requests.Load() - before; got != st.requests {
			t.Errorf("%s: %d requests, want %d", st.what, got, st.requests)
		}
	}
	// The cache is sealed: no secret, username or registry in the clear.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, s := range []string{"ghp_acme", "hub-secret", "acme-bot", "ghcr.io", tok} {
			if strings.Contains(string(data), s) {
				t.Errorf("%s holds %q in the clear", f, s)
			}
		}
		if fi, _ := os.Stat(f); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode %v, want 0600", f, fi.Mode())
		}
	}
	// Another token (rotation) or project gets its own cache.
	before := a.requests.Load()
	s := remote.New(opts(a.url, a.token(storage.RoleReader, "api"), "api", dir, nil, nil))
	if _, err := s.Get(ctx, "ghcr.io/acme"); err != nil {
		t.Fatal(err)
	}
	if got := a.requests.Load() - before; got != 2 {
		t.Errorf("a new token reused another token's cache: %d requests", got)
	}
}

func TestRevalidation(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	clk := newClock()
	dir := t.TempDir()
	get := func(key string) (credhelper.Credentials, error) {
		return remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, key)
	}
	if _, err := get("ghcr.io/acme"); err != nil {
		t.Fatal(err)
	}
	// Past the TTL an unchanged account costs one list; the secret stays.
	clk.Advance(remote.DefaultTTL + time.Second)
	before := a.requests.Load()
	if c, err := get("ghcr.io/acme"); err != nil || c.Secret != "ghp_acme" {
		t.Fatalf("revalidated get = %+v, %v", c, err)
	}
	if got := a.requests.Load() - before; got != 1 {
		t.Errorf("revalidation made %d requests, want 1", got)
	}
	// A changed password is fetched anew at the next revalidation.
	a.call("PATCH", "/v1/integrations/registries/acme-org", map[string]any{"credentials": map[string]string{"password": "ghp_rotated"}})
	if c, _ := get("ghcr.io/acme"); c.Secret != "ghp_acme" {
		t.Errorf("within the TTL the cached secret answers, got %q", c.Secret)
	}
	clk.Advance(remote.DefaultTTL + time.Second)
	if c, err := get("ghcr.io/acme"); err != nil || c.Secret != "ghp_rotated" {
		t.Errorf("after a rotation: %+v, %v; want ghp_rotated", c, err)
	}
	// Re-restricted to another project: gone at the next revalidation.
	a.call("PATCH", "/v1/integrations/registries/acme-org", map[string]any{"restrictions": map[string]any{"restricted": true, "projects": []string{"web"}}})
	clk.Advance(remote.DefaultTTL + time.Second)
	if _, err := get("ghcr.io/acme"); !errors.Is(err, credhelper.ErrNotFound) {
		t.Errorf("re-restricted credential: err = %v, want not found", err)
	}
	// Deleted: gone too.
	if _, err := get("registry.example.com:5000"); err != nil {
		t.Fatal(err)
	}
	a.call("DELETE", "/v1/integrations/registries/private", nil)
	clk.Advance(remote.DefaultTTL + time.Second)
	if _, err := get("registry.example.com:5000"); !errors.Is(err, credhelper.ErrNotFound) {
		t.Errorf("deleted credential: err = %v, want not found", err)
	}
}

func TestStaleOnErrorWithinGrace(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	clk := newClock()
	dir := t.TempDir()
	var logs testkit.SyncBuffer
	get := func(key string) (credhelper.Credentials, error) {
		return remote.New(opts(a.url, tok, "api", dir, clk, &logs)).Get(ctx, key)
	}
	if _, err := get("ghcr.io/acme"); err != nil {
		t.Fatal(err)
	}
	a.setFault(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	clk.Advance(2 * time.Hour)
	c, err := get("ghcr.io/acme")
	if err != nil || c.Secret != "ghp_acme" {
		t.Fatalf("stale get = %+v, %v; want the cached credential", c, err)
	}
	if !contains(logs.String(), "using cached credentials") || !contains(logs.String(), "502") {
		t.Errorf("no warning naming the failure: %q", logs.String())
	}
	if contains(logs.String(), "ghp_acme") || contains(logs.String(), tok) {
		t.Errorf("the warning leaks a secret: %q", logs.String())
	}
	// A key whose secret was never fetched cannot be served stale.
	if _, err := get("docker.io"); err == nil || errors.Is(err, credhelper.ErrNotFound) {
		t.Errorf("uncached secret while the API is down: err = %v, want a clear error", err)
	}
	clk.Advance(remote.DefaultGrace)
	if _, err := get("ghcr.io/acme"); !errors.Is(err, remote.ErrUnavailable) || !contains(err.Error(), "grace") {
		t.Errorf("beyond the grace window: err = %v", err)
	}
}

func TestRejectedTokenDropsTheCache(t *testing.T) {
	a, tok, clk, dir := warmed(t)
	tokens, _ := a.store.ListTokens(ctx, "default")
	for _, tk := range tokens {
		if tk.Role == storage.RoleReader {
			if err := a.store.RevokeToken(ctx, "default", tk.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Advance(remote.DefaultTTL + time.Second)
	_, err := remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, "ghcr.io/acme")
	if !errors.Is(err, remote.ErrTokenRejected) {
		t.Fatalf("revoked token: err = %v, want ErrTokenRejected", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.cache")); len(files) != 0 {
		t.Errorf("cache left after a 401: %v", files)
	}
	// Nothing is served stale afterwards, not even with the API down.
	a.setFault(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	if _, err := remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, "ghcr.io/acme"); err == nil {
		t.Error("a dropped cache still answered")
	}
}

func TestConcurrentColdGetsShareOneFetch(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each its own store, as separate helper processes: they share
			// only the cache file and its lock.
			c, err := remote.New(opts(a.url, tok, "api", dir, nil, nil)).Get(ctx, "ghcr.io/acme")
			if err == nil && c.Secret != "ghp_acme" {
				err = fmt.Errorf("secret %q", c.Secret)
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
	if n := a.requests.Load(); n > 2 {
		t.Errorf("16 concurrent cold gets made %d API requests, want at most 2", n)
	}
}

func TestReadOnlyInAChain(t *testing.T) {
	a := fixture(t)
	rs := remote.New(opts(a.url, a.token(storage.RoleReader, "api"), "api", t.TempDir(), nil, nil))
	var _ credhelper.Reader = rs
	if _, ok := any(rs).(credhelper.Store); ok {
		t.Fatal("the remote store must not implement Store")
	}
	alone := credhelper.NewResolver(rs)
	err := alone.Put(ctx, credhelper.Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"})
	var ro *credhelper.ReadOnlyChainError
	if !errors.As(err, &ro) || !errors.Is(err, credhelper.ErrReadOnly) || !contains(err.Error(), "account API") {
		t.Errorf("store on remote alone: %v", err)
	}
	if err := alone.Delete(ctx, "ghcr.io"); !errors.Is(err, credhelper.ErrReadOnly) {
		t.Errorf("erase on remote alone: %v", err)
	}
	local := file.New(t.TempDir(), file.Options{})
	chain := credhelper.NewResolver(rs, local)
	if err := chain.Put(ctx, credhelper.Credentials{ServerURL: "quay.io", Username: "me", Secret: "local"}); err != nil {
		t.Fatal(err)
	}
	for server, store := range map[string]string{"quay.io": "file", "ghcr.io/acme/x": "remote"} {
		res, err := chain.Resolve(ctx, server)
		if err != nil || res.Store != store {
			t.Errorf("Resolve %s = %+v, %v; want from %s", server, res, err, store)
		}
	}
}

func TestMisconfigurationIsAnErrorNotANotFound(t *testing.T) {
	noToken := func(context.Context) (string, error) { return "", errors.New("no API token: run account login") }
	for _, tc := range []struct {
		name string
		o    remote.Options
		want string
	}{
		{"no url", remote.Options{Project: "p", CacheDir: t.TempDir()}, "account API URL"},
		{"no project", remote.Options{APIURL: "http://127.0.0.1:1", CacheDir: t.TempDir()}, "project"},
		{"bad url", remote.Options{APIURL: "ftp://x", Project: "p", CacheDir: t.TempDir(), Token: noToken}, "http(s)"},
		{"url with credentials", remote.Options{APIURL: "https://u:p@x", Project: "p", CacheDir: t.TempDir(), Token: noToken}, "must not hold credentials"},
		{"no token", remote.Options{NewAPI: httpapi.New, APIURL: "http://127.0.0.1:1", Project: "p", CacheDir: t.TempDir(), Token: noToken}, "account login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := remote.New(tc.o).Get(ctx, "ghcr.io")
			if err == nil || errors.Is(err, credhelper.ErrNotFound) || !contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	for _, tc := range []struct{ url, team, want string }{
		{"http://127.0.0.1:8080", "", "http://127.0.0.1:8080/v1"},
		{"https://API.example.com/", "", "https://api.example.com/v1"},
		{"https://api.example.com/v1/", "", "https://api.example.com/v1"},
		{"https://example.com/keyport", "acme", "https://example.com/keyport/v1/teams/acme"},
	} {
		got, err := remote.BaseURL(tc.url, tc.team)
		if err != nil || got != tc.want {
			t.Errorf("BaseURL(%q, %q) = %q, %v; want %q", tc.url, tc.team, got, err, tc.want)
		}
	}
}

// TestDroppedCacheNeverReadsAsNotFound drops the cache file over and over
// (as a helper whose token was rejected does) while other helpers fetch a
// credential that exists: each may fail, but none may answer "not found",
// which would send the resolver on to a weaker store.
func TestDroppedCacheNeverReadsAsNotFound(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	dir := t.TempDir()
	// Run until the race has happened often enough, whatever the machine's
	// speed: at least 40 files dropped and 40 gets served (20 s at most).
	var dropped, served, failed atomic.Int64
	enough := make(chan struct{})
	go func() {
		defer close(enough)
		deadline := time.Now().Add(20 * time.Second)
		for (dropped.Load() < 40 || served.Load() < 40) && time.Now().Before(deadline) {
			files, _ := filepath.Glob(filepath.Join(dir, "*.cache"))
			for _, f := range files {
				if os.Remove(f) == nil {
					dropped.Add(1)
				}
			}
			runtime.Gosched()
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-enough:
					return
				default:
				}
				c, err := remote.New(opts(a.url, tok, "api", dir, nil, nil)).Get(ctx, "ghcr.io/acme")
				switch {
				case errors.Is(err, credhelper.ErrNotFound):
					t.Errorf("an existing credential read as not found: %v", err)
				case err != nil:
					failed.Add(1)
				case c.Secret != "ghp_acme":
					t.Errorf("secret %q, want ghp_acme", c.Secret)
				default:
					served.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	n := dropped.Load()
	if n == 0 || served.Load() == 0 {
		t.Fatalf("the race did not happen: %d cache files dropped, %d gets served", n, served.Load())
	}
	t.Logf("%d cache files dropped; %d gets served, %d failed (allowed)", n, served.Load(), failed.Load())
}
