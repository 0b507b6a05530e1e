package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/storage"
)

func TestProjects(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		r := e.do("POST", "/v1/projects", e.admin, map[string]any{"name": "Web App", "description": "the shop"}).want(t, 201)
		if d := r.data(t); d["id"] != "web-app" || d["name"] != "Web App" || d["description"] != "the shop" || d["createdAt"] == "" {
			t.Fatalf("created project: %s", r.raw)
		}
		e.do("POST", "/v1/projects", e.admin, map[string]any{"name": "web-app"}).want(t, 409)
		r = e.do("POST", "/v1/projects", e.admin, map[string]any{"name": "1x"}).want(t, 400)
		if r.details(t)["name"] == nil {
			t.Fatalf("no name detail: %s", r.raw)
		}
		e.createProject("api")
		if got := e.do("GET", "/v1/projects", e.admin, nil).want(t, 200).ids(t, "projects"); !slices.Equal(got, []string{"api", "web-app"}) {
			t.Fatalf("projects %v", got)
		}
		e.do("GET", "/v1/projects/api", e.admin, nil).want(t, 200)

		// Project-bound and non-admin tokens manage no projects and see only their own.
		bound := e.token("admin", "api")
		if got := e.do("GET", "/v1/projects", bound, nil).want(t, 200).ids(t, "projects"); !slices.Equal(got, []string{"api"}) {
			t.Fatalf("bound token sees projects %v", got)
		}
		e.do("GET", "/v1/projects/web-app", bound, nil).want(t, 404)
		e.do("POST", "/v1/projects", bound, map[string]any{"name": "other"}).want(t, 403)
		e.do("DELETE", "/v1/projects/api", bound, nil).want(t, 403)
		e.do("POST", "/v1/projects", e.token("viewer"), map[string]any{"name": "other"}).want(t, 403)
		e.do("DELETE", "/v1/projects/api", e.token("reader"), nil).want(t, 403)

		// Deleting a project drops it from restriction lists.
		e.createCredential("pinned", "pw-1", []string{"api", "web-app"})
		e.do("DELETE", "/v1/projects/api", e.admin, nil).want(t, 200)
		e.do("DELETE", "/v1/projects/api", e.admin, nil).want(t, 404)
		r = e.do("GET", "/v1/integrations/registries/pinned", e.admin, nil).want(t, 200)
		if p := r.data(t)["restrictions"].(map[string]any)["projects"].([]any); len(p) != 1 || p[0] != "web-app" {
			t.Fatalf("restrictions after project delete: %s", r.raw)
		}
	})
}

func TestCredentialLifecycle(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		e.createProject("web")
		r := e.do("POST", "/v1/integrations/registries", e.admin, map[string]any{
			"name": "Docker Hub bot", "description": "pulls base images", "provider": "dockerhub",
			"credentials":  map[string]any{"username": "hubbot", "password": "dckr_pat_secret1"},
			"restrictions": map[string]any{"restricted": true, "projects": []string{"web"}},
		}).want(t, 201)
		d := r.data(t)
		if d["id"] != "docker-hub-bot" || d["registryUrl"] != "docker.io" || d["provider"] != "dockerhub" || d["username"] != "hubbot" {
			t.Fatalf("created: %s", r.raw)
		}
		if strings.Contains(r.raw, "dckr_pat_secret1") {
			t.Fatalf("create answer echoes the secret: %s", r.raw)
		}
		e.do("POST", "/v1/integrations/registries", e.admin, map[string]any{
			"name": "docker hub bot", "provider": "dockerhub",
			"credentials": map[string]any{"username": "u", "password": "p"},
		}).want(t, 409)

		list := e.do("GET", "/v1/integrations/registries", e.admin, nil).want(t, 200)
		if strings.Contains(list.raw, "dckr_pat_secret1") || strings.Contains(list.raw, `"password"`) || strings.Contains(list.raw, "auths") {
			t.Fatalf("list carries secrets: %s", list.raw)
		}
		item := list.data(t)["credentials"].([]any)[0].(map[string]any)
		for _, k := range []string{"id", "name", "description", "provider", "registryUrl", "restrictions", "username", "createdAt", "updatedAt"} {
			if _, ok := item[k]; !ok {
				t.Errorf("list item lacks %q: %s", k, list.raw)
			}
		}
		pg := list.body["pagination"].(map[string]any)
		if pg["hasNextPage"] != false || pg["count"] != float64(1) {
			t.Fatalf("pagination: %s", list.raw)
		}

		got := e.do("GET", "/v1/integrations/registries/docker-hub-bot", e.admin, nil).want(t, 200).data(t)
		creds := got["credentials"].(map[string]any)
		if creds["username"] != "hubbot" || creds["password"] != "dckr_pat_secret1" {
			t.Fatalf("get: %v", got)
		}
		auth := got["auths"].(map[string]any)["docker.io"].(map[string]any)["auth"]
		if auth != base64.StdEncoding.EncodeToString([]byte("hubbot:dckr_pat_secret1")) {
			t.Fatalf("auths: %v", got["auths"])
		}

		time.Sleep(2 * time.Millisecond) // updatedAt must move
		r = e.do("PATCH", "/v1/integrations/registries/docker-hub-bot", e.admin, map[string]any{
			"description": "rotated", "credentials": map[string]any{"password": "dckr_pat_secret2"},
			"restrictions": map[string]any{"restricted": false},
		}).want(t, 200)
		if d := r.data(t); d["description"] != "rotated" || d["updatedAt"] == d["createdAt"] ||
			d["restrictions"].(map[string]any)["restricted"] != false {
			t.Fatalf("patched: %s", r.raw)
		}
		got = e.do("GET", "/v1/integrations/registries/docker-hub-bot", e.admin, nil).want(t, 200).data(t)
		if c := got["credentials"].(map[string]any); c["username"] != "hubbot" || c["password"] != "dckr_pat_secret2" {
			t.Fatalf("after patch: %v", got)
		}
		e.do("PATCH", "/v1/integrations/registries/docker-hub-bot", e.admin, map[string]any{"name": "renamed"}).want(t, 400)
		e.do("PATCH", "/v1/integrations/registries/nope", e.admin, map[string]any{"description": "x"}).want(t, 404)

		e.do("DELETE", "/v1/integrations/registries/docker-hub-bot", e.admin, nil).want(t, 200)
		e.do("GET", "/v1/integrations/registries/docker-hub-bot", e.admin, nil).want(t, 404)
		e.do("DELETE", "/v1/integrations/registries/docker-hub-bot", e.admin, nil).want(t, 404)
	})
}

func TestCreateValidation(t *testing.T) {
	valid := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"name": "good name", "provider": "custom", "registryUrl": "reg.example.com:5000",
			"credentials": map[string]any{"username": "u", "password": "p"}}
		mod(m)
		return m
	}
	tests := []struct {
		name   string
		body   any
		status int
		field  string // expected key of error.details, "" for none
	}{
		{"not JSON", `{"name":`, 400, ""},
		{"not an object", `[1,2]`, 400, ""},
		{"wrong type", `{"name": 5}`, 400, "name"},
		{"missing name", valid(func(m map[string]any) { delete(m, "name") }), 400, "name"},
		{"name too short", valid(func(m map[string]any) { m["name"] = "ab" }), 400, "name"},
		{"name too long", valid(func(m map[string]any) { m["name"] = strings.Repeat("a", 40) }), 400, "name"},
		{"name starts with digit", valid(func(m map[string]any) { m["name"] = "1abc" }), 400, "name"},
		{"name double hyphen", valid(func(m map[string]any) { m["name"] = "ab--cd" }), 400, "name"},
		{"name trailing space", valid(func(m map[string]any) { m["name"] = "abc " }), 400, "name"},
		{"name punctuation", valid(func(m map[string]any) { m["name"] = "ab_cd" }), 400, "name"},
		{"unknown provider", valid(func(m map[string]any) { m["provider"] = "quay" }), 400, "provider"},
		{"custom without registry", valid(func(m map[string]any) { delete(m, "registryUrl") }), 400, "registryUrl"},
		{"gar without registry", valid(func(m map[string]any) { m["provider"] = "gar"; delete(m, "registryUrl") }), 400, "registryUrl"},
		{"bad registry", valid(func(m map[string]any) { m["registryUrl"] = "https://u:p@reg.example.com" }), 400, "registryUrl"},
		{"provider mismatch", valid(func(m map[string]any) { m["provider"] = "github"; m["registryUrl"] = "docker.io" }), 400, "registryUrl"},
		{"no credentials", valid(func(m map[string]any) { delete(m, "credentials") }), 400, "credentials"},
		{"no password", valid(func(m map[string]any) { m["credentials"] = map[string]any{"username": "u"} }), 400, "credentials.password"},
		{"empty username", valid(func(m map[string]any) { m["credentials"] = map[string]any{"username": "", "password": "p"} }), 400, "credentials.username"},
		{"two secret forms", valid(func(m map[string]any) { m["username"] = "u" }), 400, "credentials"},
		{"restricted without projects", valid(func(m map[string]any) { m["restrictions"] = map[string]any{"restricted": true} }), 400, "restrictions.projects"},
		{"unknown project", valid(func(m map[string]any) {
			m["restrictions"] = map[string]any{"restricted": true, "projects": []string{"nope"}}
		}), 400, "restrictions.projects"},
		{"bad keyfile", valid(func(m map[string]any) {
			delete(m, "credentials")
			m["provider"] = "gcr"
			delete(m, "registryUrl")
			m["keyfile"] = map[string]any{"type": "user"}
		}), 400, "keyfile"},
		{"auths with two registries", valid(func(m map[string]any) {
			delete(m, "credentials")
			delete(m, "registryUrl")
			m["auths"] = map[string]any{"a.example.com": map[string]any{"auth": "dTpw"}, "b.example.com": map[string]any{"auth": "dTpw"}}
		}), 400, "auths"},
		{"auths not base64", valid(func(m map[string]any) {
			delete(m, "credentials")
			delete(m, "registryUrl")
			m["auths"] = map[string]any{"a.example.com": map[string]any{"auth": "!!"}}
		}), 400, "auths"},
		{"description too long", valid(func(m map[string]any) { m["description"] = strings.Repeat("d", 201) }), 400, "description"},
		{"valid", valid(func(map[string]any) {}), 201, ""},
	}
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := e.do("POST", "/v1/integrations/registries", e.admin, tt.body).want(t, tt.status)
				if tt.field != "" {
					if _, ok := r.details(t)[tt.field]; !ok {
						t.Fatalf("details lack %q: %s", tt.field, r.raw)
					}
				}
				if strings.Contains(r.raw, `"p"`) && tt.status >= 400 {
					t.Fatalf("error echoes the password: %s", r.raw)
				}
			})
		}
	})
}

const testKeyfile = `{"type": "service_account", "project_id": "p", "client_email": "puller@p.iam.gserviceaccount.com",
 "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBVQ==\n-----END PRIVATE KEY-----\n"}`

func TestLegacyBodiesAndRegistries(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		tests := []struct {
			body                         string
			id, provider, registry, user string
			password                     string
		}{
			{`{"name":"legacy","provider":"github","username":"octo","password":"ghp_1"}`,
				"legacy", "github", "ghcr.io", "octo", "ghp_1"},
			{`{"name":"gcr key","keyfile":` + testKeyfile + `}`,
				"gcr-key", "gcr", "gcr.io", "_json_key", ""},
			{`{"name":"gcr eu","provider":"gcr-eu","keyfile":` + testKeyfile + `}`,
				"gcr-eu", "gcr-eu", "eu.gcr.io", "_json_key", ""},
			{`{"name":"from config","auths":{"https://index.docker.io/v1/":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("me:hub:pw")) + `"}}}`,
				"from-config", "dockerhub", "docker.io", "me", "hub:pw"},
			{`{"name":"pick one","registryUrl":"b.example.com","auths":{"a.example.com":{"auth":"dTpw"},"B.example.com:443":{"username":"bu","password":"bp"}}}`,
				"pick-one", "custom", "b.example.com", "bu", "bp"},
			{`{"name":"Hub Alias","provider":"dockerhub","registryUrl":"registry-1.docker.io","credentials":{"username":"x","password":"y"}}`,
				"hub-alias", "dockerhub", "docker.io", "x", "y"},
			{`{"name":"self gitlab","provider":"gitlab","registryUrl":"https://GitLab.Example.com:5050/","credentials":{"username":"x","password":"y"}}`,
				"self-gitlab", "gitlab", "gitlab.example.com:5050", "x", "y"},
			{`{"name":"inferred","registryUrl":"ghcr.io","credentials":{"username":"x","password":"y"}}`,
				"inferred", "github", "ghcr.io", "x", "y"},
		}
		for _, tt := range tests {
			r := e.do("POST", "/v1/integrations/registries", e.admin, tt.body).want(t, 201)
			d := r.data(t)
			if d["id"] != tt.id || d["provider"] != tt.provider || d["registryUrl"] != tt.registry || d["username"] != tt.user {
				t.Errorf("create %s: got %s", tt.body, r.raw)
				continue
			}
			got := e.do("GET", "/v1/integrations/registries/"+tt.id, e.admin, nil).want(t, 200).data(t)
			pw := got["credentials"].(map[string]any)["password"].(string)
			if tt.password != "" && pw != tt.password {
				t.Errorf("%s: password %q", tt.id, pw)
			}
			if tt.user == "_json_key" {
				var k map[string]any
				if err := json.Unmarshal([]byte(pw), &k); err != nil || k["client_email"] != "puller@p.iam.gserviceaccount.com" || strings.Contains(pw, "\n ") {
					t.Errorf("%s: keyfile password not the compact keyfile: %q", tt.id, pw)
				}
			}
		}
	})
}

func TestAuthenticationAndRouting(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		r := e.do("GET", "/v1/integrations/registries", "", nil).want(t, 401)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
		e.do("GET", "/v1/integrations/registries", "kp_notatoken", nil).want(t, 401)
		basic, err := http.NewRequest("GET", e.url+"/v1/projects", nil)
		if err != nil {
			t.Fatal(err)
		}
		basic.SetBasicAuth("admin", e.admin)
		if res, err := http.DefaultClient.Do(basic); err != nil {
			t.Fatal(err)
		} else if res.Body.Close(); res.StatusCode != 401 {
			t.Fatalf("Basic auth: status %d, want 401", res.StatusCode)
		}
		tok, meta, err := server.NewToken(t.Context(), e.store, "default", "to revoke", storage.RoleAdmin, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, server.TokenPrefix) || len(tok) < 40 {
			t.Fatalf("token %q", tok)
		}
		e.do("GET", "/v1/projects", tok, nil).want(t, 200)
		if err := e.store.RevokeToken(t.Context(), "default", meta.ID); err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/v1/projects", tok, nil).want(t, 401)

		e.do("GET", "/v1/nothing-here", e.admin, nil).want(t, 404)
		r = e.do("PUT", "/v1/integrations/registries", e.admin, `{}`).want(t, 405)
		if !strings.Contains(r.header.Get("Allow"), "GET") {
			t.Errorf("405 Allow header %q", r.header.Get("Allow"))
		}
		e.do("GET", "/healthz", "", nil).want(t, 200)
	})
}

// TestAuthorizationMatrix checks every role × token binding × credential
// restriction: what a list shows and what a get answers. The expectations
// are spelled out row by row, not computed, so the table is an independent
// statement of the rule.
func TestAuthorizationMatrix(t *testing.T) {
	// Credentials: open (restricted:false), onlyA, onlyB, both (A and B).
	// Bindings: none, A, B, AB.
	type row struct {
		role    storage.Role
		binding string
		cred    string
		listed  bool
		get     int
	}
	rows := []row{
		{"admin", "none", "open", true, 200}, {"admin", "none", "onlya", true, 200}, {"admin", "none", "onlyb", true, 200}, {"admin", "none", "both", true, 200},
		{"admin", "A", "open", true, 200}, {"admin", "A", "onlya", true, 200}, {"admin", "A", "onlyb", false, 404}, {"admin", "A", "both", true, 200},
		{"admin", "B", "open", true, 200}, {"admin", "B", "onlya", false, 404}, {"admin", "B", "onlyb", true, 200}, {"admin", "B", "both", true, 200},
		{"admin", "AB", "open", true, 200}, {"admin", "AB", "onlya", true, 200}, {"admin", "AB", "onlyb", true, 200}, {"admin", "AB", "both", true, 200},
		{"reader", "none", "open", true, 200}, {"reader", "none", "onlya", true, 200}, {"reader", "none", "onlyb", true, 200}, {"reader", "none", "both", true, 200},
		{"reader", "A", "open", true, 200}, {"reader", "A", "onlya", true, 200}, {"reader", "A", "onlyb", false, 404}, {"reader", "A", "both", true, 200},
		{"reader", "B", "open", true, 200}, {"reader", "B", "onlya", false, 404}, {"reader", "B", "onlyb", true, 200}, {"reader", "B", "both", true, 200},
		{"reader", "AB", "open", true, 200}, {"reader", "AB", "onlya", true, 200}, {"reader", "AB", "onlyb", true, 200}, {"reader", "AB", "both", true, 200},
		{"viewer", "none", "open", true, 403}, {"viewer", "none", "onlya", true, 403}, {"viewer", "none", "onlyb", true, 403}, {"viewer", "none", "both", true, 403},
		{"viewer", "A", "open", true, 403}, {"viewer", "A", "onlya", true, 403}, {"viewer", "A", "onlyb", false, 403}, {"viewer", "A", "both", true, 403},
		{"viewer", "B", "open", true, 403}, {"viewer", "B", "onlya", false, 403}, {"viewer", "B", "onlyb", true, 403}, {"viewer", "B", "both", true, 403},
		{"viewer", "AB", "open", true, 403}, {"viewer", "AB", "onlya", true, 403}, {"viewer", "AB", "onlyb", true, 403}, {"viewer", "AB", "both", true, 403},
	}
	bindings := map[string][]string{"none": nil, "A": {"proj-a"}, "B": {"proj-b"}, "AB": {"proj-a", "proj-b"}}
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		e.createProject("proj-a")
		e.createProject("proj-b")
		e.createCredential("open", "pw-open", nil)
		e.createCredential("onlya", "pw-onlya", []string{"proj-a"})
		e.createCredential("onlyb", "pw-onlyb", []string{"proj-b"})
		e.createCredential("both", "pw-both", []string{"proj-a", "proj-b"})
		tokens := map[string]string{}
		for _, r := range rows {
			k := string(r.role) + "/" + r.binding
			if tokens[k] == "" {
				tokens[k] = e.token(r.role, bindings[r.binding]...)
			}
		}
		lists := map[string]resp{}
		for _, r := range rows {
			name := fmt.Sprintf("%s/%s/%s", r.role, r.binding, r.cred)
			t.Run(name, func(t *testing.T) {
				tok := tokens[string(r.role)+"/"+r.binding]
				l, ok := lists[tok]
				if !ok {
					l = e.do("GET", "/v1/integrations/registries", tok, nil).want(t, 200)
					lists[tok] = l
					if strings.Contains(l.raw, "pw-") {
						t.Fatalf("list carries a secret: %s", l.raw)
					}
				}
				if got := slices.Contains(l.ids(t, "credentials"), r.cred); got != r.listed {
					t.Errorf("listed = %v, want %v (list %v)", got, r.listed, l.ids(t, "credentials"))
				}
				g := e.do("GET", "/v1/integrations/registries/"+r.cred, tok, nil).want(t, r.get)
				if r.get == 200 {
					if pw := g.data(t)["credentials"].(map[string]any)["password"]; pw != "pw-"+r.cred {
						t.Errorf("password %v", pw)
					}
				} else if strings.Contains(g.raw, "pw-") {
					t.Errorf("refusal carries a secret: %s", g.raw)
				}
			})
		}
		// Writes: viewer and reader never; admin per binding.
		for _, role := range []storage.Role{"viewer", "reader"} {
			tok := e.token(role)
			e.do("POST", "/v1/integrations/registries", tok, map[string]any{"name": "nope", "registryUrl": "x.example.com",
				"credentials": map[string]any{"username": "u", "password": "p"}}).want(t, 403)
			e.do("PATCH", "/v1/integrations/registries/open", tok, map[string]any{"description": "x"}).want(t, 403)
			e.do("DELETE", "/v1/integrations/registries/open", tok, nil).want(t, 403)
		}
	})
}

// TestBoundAdminWrites: a project-bound admin may write only credentials
// restricted to its own projects.
func TestBoundAdminWrites(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		e.createProject("proj-a")
		e.createProject("proj-b")
		e.createCredential("open", "pw", nil)
		e.createCredential("onlyb", "pw", []string{"proj-b"})
		a := e.token("admin", "proj-a")
		body := func(name string, restr any) map[string]any {
			m := map[string]any{"name": name, "registryUrl": "x.example.com", "credentials": map[string]any{"username": "u", "password": "p"}}
			if restr != nil {
				m["restrictions"] = restr
			}
			return m
		}
		e.do("POST", "/v1/integrations/registries", a, body("unrestricted", nil)).want(t, 403)
		e.do("POST", "/v1/integrations/registries", a, body("for-b", map[string]any{"restricted": true, "projects": []string{"proj-b"}})).want(t, 403)
		e.do("POST", "/v1/integrations/registries", a, body("for-ab", map[string]any{"restricted": true, "projects": []string{"proj-a", "proj-b"}})).want(t, 403)
		e.do("POST", "/v1/integrations/registries", a, body("for-a", map[string]any{"restricted": true, "projects": []string{"proj-a"}})).want(t, 201)
		e.do("PATCH", "/v1/integrations/registries/for-a", a, map[string]any{"restrictions": map[string]any{"restricted": false}}).want(t, 403)
		e.do("PATCH", "/v1/integrations/registries/for-a", a, map[string]any{"description": "mine"}).want(t, 200)
		e.do("PATCH", "/v1/integrations/registries/open", a, map[string]any{"description": "x"}).want(t, 403)
		e.do("PATCH", "/v1/integrations/registries/onlyb", a, map[string]any{"description": "x"}).want(t, 404)
		e.do("DELETE", "/v1/integrations/registries/open", a, nil).want(t, 403)
		e.do("DELETE", "/v1/integrations/registries/onlyb", a, nil).want(t, 404)
		e.do("DELETE", "/v1/integrations/registries/for-a", a, nil).want(t, 200)
	})
}

func TestProjectFilterAndRestrictionChanges(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		e.createProject("proj-a")
		e.createProject("proj-b")
		e.createCredential("open", "pw", nil)
		e.createCredential("onlya", "pw", []string{"proj-a"})
		e.createCredential("onlyb", "pw", []string{"proj-b"})
		list := func(tok, query string) []string {
			return e.do("GET", "/v1/integrations/registries"+query, tok, nil).want(t, 200).ids(t, "credentials")
		}
		if got := list(e.admin, "?project=proj-a"); !slices.Equal(got, []string{"onlya", "open"}) {
			t.Fatalf("?project=proj-a: %v", got)
		}
		if got := list(e.admin, "?project=proj-b"); !slices.Equal(got, []string{"onlyb", "open"}) {
			t.Fatalf("?project=proj-b: %v", got)
		}
		a := e.token("reader", "proj-a")
		if got := list(a, "?project=proj-a"); !slices.Equal(got, []string{"onlya", "open"}) {
			t.Fatalf("bound ?project=proj-a: %v", got)
		}
		e.do("GET", "/v1/integrations/registries?project=proj-b", a, nil).want(t, 403)
		e.do("GET", "/v1/integrations/registries?project=nope", e.admin, nil).want(t, 404)
		e.do("GET", "/v1/integrations/registries?project=-bad", e.admin, nil).want(t, 400)

		// Re-restricting takes effect on the next request.
		e.do("PATCH", "/v1/integrations/registries/onlyb", e.admin, map[string]any{
			"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-a"}}}).want(t, 200)
		e.do("GET", "/v1/integrations/registries/onlyb", a, nil).want(t, 200)
		e.do("PATCH", "/v1/integrations/registries/open", e.admin, map[string]any{
			"restrictions": map[string]any{"restricted": true, "projects": []string{"proj-b"}}}).want(t, 200)
		e.do("GET", "/v1/integrations/registries/open", a, nil).want(t, 404)
		if got := list(a, ""); !slices.Equal(got, []string{"onlya", "onlyb"}) {
			t.Fatalf("after re-restriction: %v", got)
		}
		e.do("PATCH", "/v1/integrations/registries/open", e.admin, map[string]any{
			"restrictions": map[string]any{"projects": []string{"nope"}}}).want(t, 400)
	})
}

func TestPagination(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		var all []string
		for i := range 7 {
			all = append(all, e.createCredential(fmt.Sprintf("cred%d", i), "pw", nil))
		}
		// Follow cursors.
		var seen []string
		path := "/v1/integrations/registries?per_page=3"
		for pages := 0; ; pages++ {
			if pages > 5 {
				t.Fatal("cursor does not end")
			}
			r := e.do("GET", path, e.admin, nil).want(t, 200)
			ids := r.ids(t, "credentials")
			seen = append(seen, ids...)
			pg := r.body["pagination"].(map[string]any)
			if int(pg["count"].(float64)) != len(ids) {
				t.Fatalf("count %v for %d items", pg["count"], len(ids))
			}
			if pg["hasNextPage"] != true {
				break
			}
			path = "/v1/integrations/registries?per_page=3&cursor=" + pg["cursor"].(string)
		}
		if !slices.Equal(seen, all) {
			t.Fatalf("cursor pages %v, want %v", seen, all)
		}
		// Page numbers.
		r := e.do("GET", "/v1/integrations/registries?per_page=3&page=3", e.admin, nil).want(t, 200)
		if got := r.ids(t, "credentials"); !slices.Equal(got, all[6:]) || r.body["pagination"].(map[string]any)["hasNextPage"] != false {
			t.Fatalf("page 3: %s", r.raw)
		}
		if got := e.do("GET", "/v1/integrations/registries", e.admin, nil).want(t, 200).ids(t, "credentials"); len(got) != 7 {
			t.Fatalf("default page: %v", got)
		}
		for _, q := range []string{"per_page=0", "per_page=101", "per_page=x", "page=0", "cursor=!!"} {
			r := e.do("GET", "/v1/integrations/registries?"+q, e.admin, nil).want(t, 400)
			if len(r.details(t)) == 0 {
				t.Errorf("%s: no details", q)
			}
		}
		e.do("GET", "/v1/integrations/registries?per_page=100", e.admin, nil).want(t, 200)
	})
}

func TestTeams(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		e.createCredential("shared-name", "pw-default", nil)
		e.do("GET", "/v1/teams/default/integrations/registries/shared-name", e.admin, nil).want(t, 200)
		e.do("GET", "/v1/teams/other/integrations/registries", e.admin, nil).want(t, 403)
		e.do("GET", "/v1/teams/other/projects", e.admin, nil).want(t, 403)

		other := e.teamToken("other", "admin")
		if got := e.do("GET", "/v1/teams/other/integrations/registries", other, nil).want(t, 200).ids(t, "credentials"); len(got) != 0 {
			t.Fatalf("team other sees %v", got)
		}
		e.do("GET", "/v1/integrations/registries/shared-name", other, nil).want(t, 404)
		e.do("GET", "/v1/teams/default/integrations/registries/shared-name", other, nil).want(t, 403)
		// The same id in another team is another credential.
		e.do("POST", "/v1/teams/other/integrations/registries", other, map[string]any{
			"name": "shared-name", "registryUrl": "x.example.com", "credentials": map[string]any{"username": "o", "password": "pw-other"},
		}).want(t, 201)
		g := e.do("GET", "/v1/teams/other/integrations/registries/shared-name", other, nil).want(t, 200)
		if g.data(t)["credentials"].(map[string]any)["password"] != "pw-other" {
			t.Fatalf("other team's credential: %s", g.raw)
		}
		g = e.do("GET", "/v1/integrations/registries/shared-name", e.admin, nil).want(t, 200)
		if g.data(t)["credentials"].(map[string]any)["password"] != "pw-default" {
			t.Fatalf("default team's credential: %s", g.raw)
		}
		e.do("POST", "/v1/teams/other/projects", other, map[string]any{"name": "their-project"}).want(t, 201)
		if got := e.do("GET", "/v1/projects", e.admin, nil).want(t, 200).ids(t, "projects"); len(got) != 0 {
			t.Fatalf("default team sees projects %v", got)
		}
	})
}

func TestLimits(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		e := newEnv(t, kind, func(c *server.Config) {
			c.RateLimit, c.RateWindow, c.Now = 3, time.Minute, func() time.Time { return now }
		})
		big := `{"name":"big","description":"` + strings.Repeat("x", 2<<20) + `"}`
		e.do("POST", "/v1/projects", e.admin, big).want(t, 413)
		// Without a Content-Length (chunked), the limit cuts the read.
		req, _ := http.NewRequest("PATCH", e.url+"/v1/integrations/registries/xyz", io.MultiReader(strings.NewReader(big)))
		req.Header.Set("Authorization", "Bearer "+e.admin)
		e.createCredential("xyz", "pw", nil) // the third and last request the admin token may make
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Fatalf("chunked oversize body: %d", res.StatusCode)
		}

		tok := e.token("viewer")
		for i := 2; i >= 0; i-- {
			r := e.do("GET", "/v1/projects", tok, nil).want(t, 200)
			if r.header.Get("x-ratelimit-limit") != "3" || r.header.Get("x-ratelimit-remaining") != fmt.Sprint(i) || r.header.Get("x-ratelimit-reset") != "60" {
				t.Fatalf("rate headers %v", r.header)
			}
		}
		r := e.do("GET", "/v1/projects", tok, nil).want(t, 429)
		if r.header.Get("x-ratelimit-remaining") != "0" || r.header.Get("Retry-After") == "" {
			t.Fatalf("429 headers %v", r.header)
		}
		e.do("GET", "/v1/projects", e.token("viewer"), nil).want(t, 200) // per token
		now = now.Add(61 * time.Second)
		e.do("GET", "/v1/projects", tok, nil).want(t, 200)
	})
}

// TestSecretsAtRest greps what the database holds for the secrets it was
// given: the SQLite file (with its WAL) and a pg_dump of the schema.
func TestSecretsAtRest(t *testing.T) {
	forEachStorage(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind)
		const password = "Sup3r-Secret-Registry-Password-7f3a"
		e.do("POST", "/v1/integrations/registries", e.admin, map[string]any{
			"name": "at rest", "registryUrl": "reg.example.com",
			"credentials": map[string]any{"username": "rest-user", "password": password},
		}).want(t, 201)
		e.do("PATCH", "/v1/integrations/registries/at-rest", e.admin, map[string]any{
			"credentials": map[string]any{"password": password + "-v2"}}).want(t, 200)
		e.do("POST", "/v1/integrations/registries", e.admin, `{"name":"key at rest","keyfile":`+testKeyfile+`}`).want(t, 201)
		reader := e.token("reader")
		e.do("GET", "/v1/integrations/registries/at-rest", reader, nil).want(t, 200)

		dump := string(e.db.Dump(t))
		if !strings.Contains(dump, "rest-user") {
			t.Fatal("the dump does not hold the credential at all: the grep proves nothing")
		}
		for _, secret := range []string{
			password, password + "-v2", "Sup3r-Secret",
			base64.StdEncoding.EncodeToString([]byte("rest-user:" + password)),
			"PRIVATE KEY", "MIIBVQ",
			e.admin, reader, strings.TrimPrefix(reader, server.TokenPrefix)[:20],
		} {
			if strings.Contains(dump, secret) {
				t.Errorf("the %s database holds %q in the clear", kind, secret[:8]+"…")
			}
		}
		// And the access log holds neither secrets nor tokens.
		logs := e.logs.String()
		if !strings.Contains(logs, `"path":"/v1/integrations/registries/at-rest"`) {
			t.Fatalf("no access log line: %s", logs)
		}
		for _, secret := range []string{password, e.admin, reader, "Bearer"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds %q", secret[:6]+"…")
			}
		}
	})
}
