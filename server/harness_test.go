package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/testkit"
	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/storage"
	"github.com/keyport/keyport/server/testdb"
)

// env is one keyportd behind httptest on a fresh database.
type env struct {
	t     testing.TB
	db    testdb.DB
	store storage.Store
	url   string
	logs  *testkit.SyncBuffer
	admin string // an unbound admin token of the default team
}

// forEachStorage runs fn as a subtest against SQLite and PostgreSQL.
func forEachStorage(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

func newEnv(t testing.TB, kind string, configure ...func(*server.Config)) *env {
	t.Helper()
	db := testdb.New(t, kind)
	logs := &testkit.SyncBuffer{}
	logger := func(c *server.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, st := testdb.Handler(t, db.DSN, append([]func(*server.Config){logger}, configure...)...)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &env{t: t, db: db, store: st, url: hs.URL, logs: logs}
	e.admin = e.token("admin")
	return e
}

// token creates a token of the default team.
func (e *env) token(role storage.Role, projects ...string) string {
	return e.teamToken(server.DefaultTeam, role, projects...)
}

func (e *env) teamToken(team string, role storage.Role, projects ...string) string {
	e.t.Helper()
	tok, _, err := server.NewToken(context.Background(), e.store, team, "test "+string(role), role, projects)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// resp is a decoded API answer.
type resp struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

func (e *env) do(method, path, token string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return r
}

// want fails the test unless the answer has status; for errors it also
// checks the error shape.
func (r resp) want(t testing.TB, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.raw)
	}
	if status >= 400 {
		e, ok := r.body["error"].(map[string]any)
		if !ok {
			t.Fatalf("error answer without an error object: %s", r.raw)
		}
		if int(e["status"].(float64)) != status || e["message"] == "" || e["id"] == "" {
			t.Fatalf("malformed error object: %s", r.raw)
		}
	}
	return r
}

// data returns body.data as an object.
func (r resp) data(t testing.TB) map[string]any {
	t.Helper()
	d, ok := r.body["data"].(map[string]any)
	if !ok {
		t.Fatalf("no data object in %s", r.raw)
	}
	return d
}

// details returns error.details.
func (r resp) details(t testing.TB) map[string]any {
	t.Helper()
	e, _ := r.body["error"].(map[string]any)
	d, ok := e["details"].(map[string]any)
	if !ok {
		t.Fatalf("no error.details in %s", r.raw)
	}
	return d
}

// ids returns the ids of the credentials (or projects) of a list answer.
func (r resp) ids(t testing.TB, key string) []string {
	t.Helper()
	list, ok := r.data(t)[key].([]any)
	if !ok {
		t.Fatalf("no data.%s array in %s", key, r.raw)
	}
	out := []string{}
	for _, item := range list {
		out = append(out, item.(map[string]any)["id"].(string))
	}
	return out
}

func (e *env) createProject(name string) string {
	e.t.Helper()
	r := e.do("POST", "/v1/projects", e.admin, map[string]any{"name": name}).want(e.t, 201)
	return r.data(e.t)["id"].(string)
}

// createCredential creates a custom credential; projects non-nil restricts it.
func (e *env) createCredential(name, password string, projects []string) string {
	e.t.Helper()
	body := map[string]any{
		"name": name, "provider": "custom", "registryUrl": "registry.example.com",
		"credentials": map[string]any{"username": "user-" + name, "password": password},
	}
	if projects != nil {
		body["restrictions"] = map[string]any{"restricted": true, "projects": projects}
	}
	r := e.do("POST", "/v1/integrations/registries", e.admin, body).want(e.t, 201)
	return r.data(e.t)["id"].(string)
}
