package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/testkit"
)

const canary = "CANARY-s3cret-7d1f"

// TestHostileInputHelper: bad input to the protocol verbs and the commands
// gets exit 1 with a clear message, echoes no secret, and leaves the store
// and the files it names exactly as they were.
func TestHostileInputHelper(t *testing.T) {
	work := t.TempDir()
	home := filepath.Join(work, "keyport")
	env := testkit.Env("KEYPORT_HOME="+home, "KEYPORT_BACKEND=file", "DOCKER_CONFIG="+filepath.Join(work, "docker"), "HOME="+work)
	if r := run(t, env, []byte(`{"ServerURL":"ghcr.io","Username":"keep","Secret":"`+canary+`"}`), helperBin, "store"); r.code != 0 {
		t.Fatalf("seed: %+v", r)
	}
	badJSON := filepath.Join(work, "bad.json")
	os.WriteFile(badJSON, []byte(`{"auths": {"ghcr.io": {"auth": "`), 0o600)
	notSA := filepath.Join(work, "user.json")
	os.WriteFile(notSA, []byte(`{"type":"authorized_user","private_key":"`+canary+`"}`), 0o600)
	deep := strings.Repeat("[", 60000)

	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		// protocol
		{"empty store", []string{"store"}, "", "expected a JSON object"},
		{"store not JSON", []string{"store"}, "SECRET " + canary, "not valid JSON"},
		{"store deep JSON", []string{"store"}, deep, "not valid JSON"},
		{"store array", []string{"store"}, `[1,2]`, "store: field"},
		{"store no URL", []string{"store"}, `{"Username":"u","Secret":"` + canary + `"}`, "no credentials server URL"},
		{"store no user", []string{"store"}, `{"ServerURL":"ghcr.io","Secret":"` + canary + `"}`, "no credentials username"},
		{"store 10 MB", []string{"store"}, strings.Repeat("x", 10<<20), "input larger than"},
		{"store NUL", []string{"store"}, "{\"ServerURL\":\"gh\\u0000cr.io\",\"Username\":\"u\",\"Secret\":\"" + canary + "\"}", "control"},
		{"store invalid UTF-8", []string{"store"}, "{\"ServerURL\":\"gh\xffcr.io\",\"Username\":\"u\",\"Secret\":\"s\"}", "invalid server URL"},
		{"store userinfo", []string{"store"}, `{"ServerURL":"https://u:` + canary + `@ghcr.io","Username":"u","Secret":"s"}`, "must not contain a username or password"},
		{"store traversal", []string{"store"}, `{"ServerURL":"ghcr.io/../../etc/passwd","Username":"u","Secret":"s"}`, ".. segments"},
		{"store CRLF", []string{"store"}, `{"ServerURL":"ghcr.io\r\nHost: evil","Username":"u","Secret":"s"}`, "whitespace"},
		{"store query", []string{"store"}, `{"ServerURL":"ghcr.io/?x=1","Username":"u","Secret":"s"}`, "query"},
		{"get empty", []string{"get"}, "", "no credentials server URL"},
		{"get 10 MB", []string{"get"}, strings.Repeat("a", 10<<20), "input larger than"},
		{"get NUL", []string{"get"}, "ghcr\x00.io", "control"},
		{"erase traversal", []string{"erase"}, "ghcr.io/..", ".. segments"},
		{"erase userinfo", []string{"erase"}, "u:" + canary + "@ghcr.io", "must not contain a username or password"},
		{"unknown verb", []string{"steal"}, "", "unknown command"},
		// commands
		{"login unknown provider", []string{"login", "--provider", "evil", "ghcr.io"}, "", `unknown provider "evil"`},
		{"login userinfo", []string{"login", "https://me:" + canary + "@ghcr.io", "-u", "me", "--password-stdin"}, canary, "must not contain a username or password"},
		{"login no password", []string{"login", "ghcr.io", "-u", "me"}, "", "--password-stdin"},
		{"login keyfile not SA", []string{"login", "gcr.io", "--keyfile", notSA, "--no-verify"}, "", "not a Google service-account JSON keyfile"},
		{"login keyfile missing", []string{"login", "gcr.io", "--keyfile", filepath.Join(work, "nope.json"), "--no-verify"}, "", "no such file"},
		{"login keyfile on ghcr", []string{"login", "ghcr.io", "--keyfile", notSA}, "", "--keyfile is for Google registries"},
		{"login two registries", []string{"login", "ghcr.io", "quay.io"}, "", "login takes one registry"},
		{"login bad port", []string{"login", "ghcr.io:99999", "-u", "u", "--password-stdin"}, "pw", "port must be a number"},
		{"logout traversal", []string{"logout", "ghcr.io/../x"}, "", ".. segments"},
		{"import bad JSON", []string{"import", "--from", badJSON}, "", "bad.json"},
		{"import missing file", []string{"import", "--from", filepath.Join(work, "missing.json")}, "", "no such file"},
		{"configure bad JSON", []string{"configure", "docker", "--config", badJSON}, "", "bad.json"},
		{"configure bad registry", []string{"configure", "docker", "--registry", "gh cr.io", "--config", filepath.Join(work, "c.json")}, "", "whitespace"},
		{"configure containers nothing", []string{"configure", "containers"}, "", "name registries with --registry"},
		{"check bad reference", []string{"check", "UPPER/Case:tag:x"}, "", "is not an image reference"},
		{"check no image", []string{"check"}, "", "check takes one image reference"},
		{"unknown flag", []string{"ls", "--secret", canary}, "", "flag provided but not defined"},
	}
	before := snapshot(t, home, work)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, env, []byte(tt.stdin), helperBin, tt.args...)
			if r.code != 1 {
				t.Errorf("exit = %d, want 1 (stdout %q, stderr %q)", r.code, r.stdout, r.stderr)
			}
			msg := r.stdout + r.stderr
			if !strings.Contains(msg, tt.want) {
				t.Errorf("output %q does not say %q", msg, tt.want)
			}
			if strings.Contains(msg, canary) {
				t.Errorf("output echoes the secret: %q", msg)
			}
			if strings.Count(strings.TrimSpace(r.stdout+r.stderr), "\n") > 3 {
				t.Errorf("not a short, clear error: %q", msg)
			}
			if after := snapshot(t, home, work); after != before {
				t.Error("the store or a named file changed")
			}
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
	r := run(t, env, []byte("ghcr.io"), helperBin, "get")
	if r.code != 0 || !strings.Contains(r.stdout, canary) {
		t.Fatalf("the seeded credential did not survive: %+v", r)
	}
}

// TestHostileInputAPI: bad requests to keyportd get the right status and a
// JSON error, and the account's credentials and projects stay as they were.
func TestHostileInputAPI(t *testing.T) {
	work := t.TempDir()
	db := "sqlite:" + filepath.Join(work, "keyportd.db")
	env := testkit.Env("KEYPORT_HOME=" + work)
	token := func(args ...string) string {
		r := run(t, env, nil, keyportdBin, append([]string{"token", "create", "--db", db}, args...)...)
		if r.code != 0 {
			t.Fatalf("token create: %+v", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	d := testkit.StartKeyportd(t, keyportdBin, env, "--db", db)
	admin := token("--name", "admin", "--role", "admin")
	viewer := token("--name", "viewer", "--role", "viewer")
	revoked := token("--name", "gone", "--role", "admin")
	otherTeam := token("--name", "other", "--role", "admin", "--team", "elsewhere")

	do := func(method, path, tok, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, d.URL+path, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		data, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(data, &m)
		if strings.Contains(string(data), canary) {
			t.Errorf("%s %s: response echoes the secret: %s", method, path, data)
		}
		return resp.StatusCode, m
	}
	if code, _ := do("POST", "/v1/projects", admin, `{"name":"web"}`); code != 201 && code != 200 {
		t.Fatalf("create project: %d", code)
	}
	seed := `{"name":"hub","provider":"dockerhub","credentials":{"username":"u","password":"` + canary + `"}}`
	if code, m := do("POST", "/v1/integrations/registries", admin, seed); code != 201 && code != 200 {
		t.Fatalf("seed: %d %v", code, m)
	}
	var revokedID string
	for _, line := range strings.Split(run(t, env, nil, keyportdBin, "token", "list", "--db", db).stdout, "\n") {
		if strings.Contains(line, "gone") {
			revokedID = strings.Fields(line)[0]
		}
	}
	if r := run(t, env, nil, keyportdBin, "token", "revoke", "--db", db, revokedID); r.code != 0 {
		t.Fatalf("revoke %q: %+v", revokedID, r)
	}
	state := func() string {
		_, creds := do("GET", "/v1/integrations/registries?per_page=100", admin, "")
		_, projects := do("GET", "/v1/projects", admin, "")
		b, _ := json.Marshal([]any{creds["data"], projects["data"]})
		return string(b)
	}
	before := state()

	cred := func(fields string) string {
		return `{"name":"x1","provider":"custom","registryUrl":"r.example.com","credentials":{"username":"u","password":"` + canary + `"}` + fields + `}`
	}
	tests := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"no token", "GET", "/v1/integrations/registries", "", "", 401},
		{"garbage token", "GET", "/v1/integrations/registries", "kp_nope", "", 401},
		{"revoked token", "GET", "/v1/integrations/registries", revoked, "", 401},
		{"other team's path", "GET", "/v1/teams/default/integrations/registries", otherTeam, "", 403},
		{"viewer reads secret", "GET", "/v1/integrations/registries/hub", viewer, "", 403},
		{"viewer writes", "POST", "/v1/integrations/registries", viewer, cred(""), 403},
		{"body over 1 MiB", "POST", "/v1/integrations/registries", admin, cred(`,"description":"` + strings.Repeat("a", 2<<20) + `"`), 413},
		{"deep JSON", "POST", "/v1/integrations/registries", admin, strings.Repeat("[", 50000), 400},
		{"not JSON", "POST", "/v1/integrations/registries", admin, "name=x&password=" + canary, 400},
		{"invalid UTF-8 name", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "x1", "x\xff\xfe1", 1), 400},
		{"traversal name", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "x1", "../../etc", 1), 400},
		{"SQL in name", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "x1", "x'); DROP TABLE credentials;--", 1), 400},
		{"SQL in id", "GET", "/v1/integrations/registries/x'%20OR%20'1'='1", admin, "", 404},
		{"traversal in id", "DELETE", "/v1/integrations/registries/..%2F..%2Fprojects", admin, "", 404},
		{"userinfo registry", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "r.example.com", "https://u:"+canary+"@r.example.com", 1), 400},
		{"traversal registry", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "r.example.com", "r.example.com/../x", 1), 400},
		{"unknown provider", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "custom", "evil", 1), 400},
		{"custom without registry", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), `"registryUrl":"r.example.com",`, "", 1), 400},
		{"restricted, no projects", "POST", "/v1/integrations/registries", admin, cred(`,"restrictions":{"restricted":true,"projects":[]}`), 400},
		{"unknown project", "POST", "/v1/integrations/registries", admin, cred(`,"restrictions":{"restricted":true,"projects":["nope"]}`), 400},
		{"keyfile not SA", "POST", "/v1/integrations/registries", admin, `{"name":"g1","provider":"gcr","keyfile":{"type":"user","private_key":"` + canary + `"}}`, 400},
		{"auths bad base64", "POST", "/v1/integrations/registries", admin, `{"name":"j1","provider":"custom","auths":{"r.example.com":{"auth":"!!` + canary + `"}}}`, 400},
		{"duplicate name", "POST", "/v1/integrations/registries", admin, strings.Replace(cred(""), "x1", "hub", 1), 409},
		{"per_page negative", "GET", "/v1/integrations/registries?per_page=-1", admin, "", 400},
		{"per_page huge", "GET", "/v1/integrations/registries?per_page=1000000", admin, "", 400},
		{"page negative", "GET", "/v1/integrations/registries?page=-3", admin, "", 400},
		{"cursor forged", "GET", "/v1/integrations/registries?cursor=%27%3B--", admin, "", 400},
		{"project bad name", "POST", "/v1/projects", admin, `{"name":"1; rm -rf /"}`, 400},
		{"delete unknown project", "DELETE", "/v1/projects/nope", admin, "", 404},
		{"patch unknown", "PATCH", "/v1/integrations/registries/nope", admin, `{"description":"x"}`, 404},
		{"patch bad restrictions", "PATCH", "/v1/integrations/registries/hub", admin, `{"restrictions":{"restricted":true,"projects":["nope"]}}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, m := do(tt.method, tt.path, tt.token, tt.body)
			if code != tt.status {
				t.Errorf("status = %d, want %d (%v)", code, tt.status, m)
			}
			e, _ := m["error"].(map[string]any)
			if e == nil || e["message"] == "" || e["status"] == nil {
				t.Errorf("error body = %v, want {\"error\": {\"status\", \"message\", ...}}", m)
			}
			if after := state(); after != before {
				t.Errorf("state changed:\n%s\n%s", before, after)
			}
		})
	}

	// A header with CR/LF smuggled in is refused before it reaches a handler.
	conn, err := net.Dial("tcp", strings.TrimPrefix(d.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET /v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + admin + "\rX-Injected: 1\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 400 {
		t.Errorf("header injection: %v, %v; want 400", resp, err)
	}
	if strings.Contains(d.Logs(), canary) || strings.Contains(d.Logs(), admin) {
		t.Error("keyportd's log holds a secret or a token")
	}
	if n := len(tests); n < 30 {
		t.Fatalf("only %d cases", n)
	}
	_ = bytes.MinRead
}

// TestImportKeyWithPassword: an auths key carrying user:password is skipped
// without the password reaching the output.
func TestImportKeyWithPassword(t *testing.T) {
	work := t.TempDir()
	cfg := filepath.Join(work, "config.json")
	os.WriteFile(cfg, []byte(`{"auths": {"https://me:`+canary+`@ghcr.io": {"auth": "bWU6cHc="}}}`), 0o600)
	env := testkit.Env("KEYPORT_HOME="+filepath.Join(work, "kp"), "KEYPORT_BACKEND=file", "HOME="+work)
	r := run(t, env, nil, helperBin, "import", "--from", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, "skipped auths entry with credentials in its key") {
		t.Fatalf("import: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Fatalf("the password in the key was printed: %q", r.stderr)
	}
}
