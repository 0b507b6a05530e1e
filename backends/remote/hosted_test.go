package remote_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/remote"
)

// hosted mimics the hosted API's shape where it differs from keyportd's: a
// team path, page numbers without cursors, lists without restrictions (and,
// for a legacy credential, without registryUrl), secrets in legacy auths.
type hosted struct {
	creds    []map[string]any // what a get answers
	perPage  int
	requests atomic.Int64
	gets     atomic.Int64
}

func (h *hosted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer nf-token" {
		w.WriteHeader(401)
		return
	}
	const prefix = "/v1/teams/acme/integrations/registries"
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == prefix:
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
		}
		start, end := (page-1)*h.perPage, page*h.perPage
		end = min(end, len(h.creds))
		var items []map[string]any
		for _, c := range h.creds[start:end] {
			item := map[string]any{}
			for _, k := range []string{"id", "name", "provider", "registryUrl", "updatedAt"} {
				if v, ok := c[k]; ok {
					item[k] = v
				}
			}
			items = append(items, item)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"data":       map[string]any{"credentials": items},
			"pagination": map[string]any{"hasNextPage": end < len(h.creds), "count": len(items)},
		})
	case strings.HasPrefix(r.URL.Path, prefix+"/"):
		h.gets.Add(1)
		id := strings.TrimPrefix(r.URL.Path, prefix+"/")
		for _, c := range h.creds {
			if c["id"] == id {
				_ = json.NewEncoder(w).Encode(map[string]any{"data": c})
				return
			}
		}
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"error":{"status":404,"message":"not found"}}`))
	default:
		w.WriteHeader(404)
	}
}

func auth(user, pass string) map[string]any {
	return map[string]any{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
}

func TestHostedAPIShape(t *testing.T) {
	restricted := func(p ...string) map[string]any { return map[string]any{"restricted": true, "projects": p} }
	open := map[string]any{"restricted": false, "projects": []string{}}
	h := &hosted{perPage: 2, creds: []map[string]any{
		{"id": "hub", "provider": "dockerhub", "registryUrl": "https://index.docker.io/v1/", "updatedAt": "t1",
			"restrictions": open, "credentials": map[string]any{"username": "hubuser", "password": "hub-pat"}},
		{"id": "legacy-auths", "provider": "custom", "updatedAt": "t1", "restrictions": restricted("web"),
			"auths": map[string]any{"https://registry.example.com:5000/v2/": auth("legacy", "legacy-pw")}},
		{"id": "other-project", "provider": "github", "registryUrl": "ghcr.io", "updatedAt": "t1",
			"restrictions": restricted("api"), "credentials": map[string]any{"username": "api-bot", "password": "ghp_api"}},
		{"id": "gcr-eu", "provider": "gcr-eu", "updatedAt": "t1", "restrictions": open,
			"auths": map[string]any{"eu.gcr.io": map[string]any{"identitytoken": "id-tok"}}},
		{"id": "gone", "provider": "custom", "registryUrl": "gone.example.com", "updatedAt": "t1", "restrictions": open},
	}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	// "gone" is listed, then 404s on get (deleted in between).
	h.creds = append(h.creds[:4:4], map[string]any{"id": "gone-listed-only"})
	clk := newClock()
	o := opts(srv.URL, "nf-token", "web", t.TempDir(), clk, nil)
	o.Team = "acme"
	want := map[string][2]string{
		"docker.io":                 {"hubuser", "hub-pat"},
		"registry.example.com:5000": {"legacy", "legacy-pw"},
		"eu.gcr.io":                 {"<token>", "id-tok"},
	}
	for key, w := range want {
		c, err := remote.New(o).Get(ctx, key)
		if err != nil || c.Username != w[0] || c.Secret != w[1] {
			t.Errorf("Get %s = %+v, %v; want %v", key, c, err, w)
		}
	}
	if _, err := remote.New(o).Get(ctx, "ghcr.io"); err == nil {
		t.Error("a credential restricted to api answered for web")
	}
	// 3 pages + one get per credential, once; the secrets came with them.
	if n := h.requests.Load(); n != 3+5 {
		t.Errorf("%d requests for the first use, want 8 (3 pages, 5 gets)", n)
	}
	// Revalidation of an unchanged account: the pages only.
	clk.Advance(remote.DefaultTTL + time.Second)
	before := h.requests.Load()
	if _, err := remote.New(o).Get(ctx, "docker.io"); err != nil {
		t.Fatal(err)
	}
	// (and one get for the credential listed without updatedAt: nothing
	// tells whether it changed)
	if n := h.requests.Load() - before; n != 4 {
		t.Errorf("revalidation made %d requests, want 4 (3 pages, 1 get)", n)
	}
	// Re-restricted in the account (updatedAt moves): dropped at once.
	h.creds[0]["restrictions"], h.creds[0]["updatedAt"] = restricted("api"), "t2"
	clk.Advance(remote.DefaultTTL + time.Second)
	if _, err := remote.New(o).Get(ctx, "docker.io"); err == nil {
		t.Error("re-restricted credential still answers")
	}
}
