package console_test

// End-to-end tests of the console in a real browser: Debian's chromium,
// driven through chromedp, against the real keyportd binary (built in
// TestMain) serving a SQLite database, and the real test registry that
// scripts/registry.sh runs. Nothing here skips: a missing chromium or
// registry fails the test with the command that fixes it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyport/keyport/internal/testkit"
)

const chromiumPath = "/usr/bin/chromium"

var keyportd, helper string

func TestMain(m *testing.M) {
	testkit.Main(m, func(dir string) {
		keyportd = filepath.Join(dir, "keyportd")
		helper = filepath.Join(dir, "docker-credential-keyport")
	})
}

// kp runs a keyportd command and returns its stdout, trimmed.
func kp(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(keyportd, args...)
	cmd.Env = append(os.Environ(), "KEYPORTD_MASTER_KEY=", "KEYPORTD_DB=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyportd %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// serve starts `keyportd serve` on a free port and returns its base URL.
func serve(t *testing.T, db string, args ...string) string {
	t.Helper()
	cmd := exec.Command(keyportd, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--log-level", "info"}, args...)...)
	cmd.Env = append(os.Environ(), "KEYPORTD_MASTER_KEY=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs strings.Builder
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				if m["msg"] == "listening" {
					addr <- m["addr"].(string)
				}
				if m["msg"] == "request" { // the access log: keep only what matters
					continue
				}
			}
			mu.Lock()
			logs.WriteString(line + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(logs.String(), "panic") || strings.Contains(logs.String(), `"level":"ERROR"`) {
			t.Errorf("keyportd logged errors:\n%s", logs.String())
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatal("keyportd serve did not start listening")
	}
	return ""
}

// browser is one headless chromium tab. Every console message of level
// error, every uncaught exception and every browser-log error (a CSP
// violation, a failed load) fails the test.
type browser struct {
	t     *testing.T
	ctx   context.Context
	mu    sync.Mutex
	pages []string // the HTML of every page seen, to scan for secrets
	// docs maps the URL of each page loaded to its status: a 4xx page the
	// test asked for (a refused form) is logged by chromium as a failed
	// load, which is expected; any other failed load is not.
	docs map[string][]int64
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is not installed at %s (apt-get install -y chromium, or make deps): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication"),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	b := &browser{t: t, ctx: ctx, docs: map[string][]int64{}}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	var problems []chromedp.ConsoleMessage
	var pmu sync.Mutex
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				pmu.Lock()
				problems = append(problems, m)
				pmu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		pmu.Lock()
		defer pmu.Unlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, m := range problems {
			if m.Source == "network" && slices.ContainsFunc(b.docs[m.URL], func(st int64) bool {
				return strings.Contains(m.Text, fmt.Sprintf("the server responded with a status of %d ", st))
			}) {
				continue // a page the test loaded, with the status the test checked
			}
			t.Errorf("console error in the page: %s (%s) at %s: %s", m.Type, m.Source, m.URL, m.Text)
		}
	})
	return b
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// submit runs actions that navigate (a click on a submit button), waits for
// the page and returns its status.
func (b *browser) submit(actions ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, actions...)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	b.mu.Lock()
	b.docs[resp.URL] = append(b.docs[resp.URL], resp.Status)
	b.mu.Unlock()
	b.capture()
	return resp.Status
}

func (b *browser) open(u string) int64 {
	b.t.Helper()
	return b.submit(chromedp.Navigate(u))
}

func (b *browser) capture() {
	b.t.Helper()
	// Right after a load the DOM agent may still swap documents: retry.
	var html string
	var err error
	for range 10 {
		if html, err = chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	b.mu.Lock()
	b.pages = append(b.pages, html)
	b.mu.Unlock()
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) has(sel string) bool {
	b.t.Helper()
	ids, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return len(ids) > 0
}

func (b *browser) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// expect checks that the element's text holds want.
func (b *browser) expect(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.t.Fatalf("%s: %q does not contain %q (page %s)", sel, got, want, b.location())
	}
}

func (b *browser) screenshot(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.open(base + "/signin")
	b.do(chromedp.SendKeys(chromedp.ID("token"), token))
	b.submit(chromedp.Click(chromedp.CSS("form[action='/signin'] button")))
}

func (b *browser) signOut() {
	b.t.Helper()
	b.submit(chromedp.Click(chromedp.CSS("form[action='/signout'] button")))
}

// api calls the account API with a token.
func api(t *testing.T, method, u, token string) (int, map[string]any) {
	t.Helper()
	return testkit.CallAPI(t, method, u, token, nil)
}

type savedCred struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Provider     string `json:"provider"`
	RegistryURL  string `json:"registryUrl"`
	Username     string `json:"username"`
	Restrictions struct {
		Restricted bool     `json:"restricted"`
		Projects   []string `json:"projects"`
	} `json:"restrictions"`
	Credentials *struct {
		Password string `json:"password"`
	} `json:"credentials"`
}

func listSaved(t *testing.T, base, token string) map[string]savedCred {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/integrations/registries?per_page=100", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Data struct {
			Credentials []savedCred `json:"credentials"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %d %v", res.StatusCode, err)
	}
	out := map[string]savedCred{}
	for _, c := range body.Data.Credentials {
		out[c.ID] = c
	}
	return out
}

func getSaved(t *testing.T, base, token, id string) savedCred {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/integrations/registries/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Data savedCred `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("get %s: %d %v", id, res.StatusCode, err)
	}
	return body.Data
}

func testRegistry(t *testing.T) (host, ca, user, password, image string) {
	t.Helper()
	host, ca, user = os.Getenv("KEYPORT_TEST_REGISTRY"), os.Getenv("KEYPORT_TEST_REGISTRY_CA"), os.Getenv("KEYPORT_TEST_REGISTRY_USER")
	image = os.Getenv("KEYPORT_TEST_IMAGE")
	pw, err := os.ReadFile(os.Getenv("KEYPORT_TEST_REGISTRY_PASSWORD_FILE"))
	if host == "" || ca == "" || user == "" || image == "" || err != nil {
		t.Fatal(`no test registry: run eval "$(scripts/registry.sh start /tmp/kp-reg)" first (make test does)`)
	}
	return host, ca, user, strings.TrimSpace(string(pw)), image
}

const fakeKey = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7consoletestkey\n-----END PRIVATE KEY-----\n"

func TestConsole(t *testing.T) {
	t.Parallel()
	regHost, regCA, regUser, regPass, regImage := testRegistry(t)
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "keyportd.db")
	kp(t, "project", "create", "--db", db, "--name", "web")
	kp(t, "project", "create", "--db", db, "--name", "api")
	admin := kp(t, "token", "create", "--db", db, "--name", "ops", "--role", "admin")
	viewer := kp(t, "token", "create", "--db", db, "--name", "dashboard", "--role", "viewer")
	base := serve(t, db, "--registry-ca-file", regCA)

	// Every secret typed into a page; none may ever appear in one.
	secrets := []string{admin, viewer, "dh-secret-Pa55", "ghp_consoleTestToken123", "glpat-consoleTest456",
		"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7consoletestkey", "json-secret-789", "json-other-secret",
		"rotated-wrong-pass", regPass, "gh-first-try-secret", "dup-secret-xyz", "forged-secret-000"}
	jsonAuth := base64.StdEncoding.EncodeToString([]byte("jsonuser:json-secret-789"))
	secrets = append(secrets, jsonAuth)

	b := newBrowser(t)
	shots := os.Getenv("KEYPORT_SCREENSHOTS") == "1"

	// --- sign-in: a page needs it; a wrong token is refused by name.
	b.open(base + "/registries")
	if !strings.Contains(b.location(), "/signin") {
		t.Fatalf("not sent to sign in: %s", b.location())
	}
	b.do(chromedp.SendKeys(chromedp.ID("token"), "kp_not-a-real-token"))
	if st := b.submit(chromedp.Click(chromedp.CSS("form[action='/signin'] button"))); st != http.StatusUnauthorized {
		t.Fatalf("wrong token: status %d", st)
	}
	b.expect("#token-error", "not valid")
	b.signIn(base, admin)
	b.expect("h1", "Registries")
	b.expect(".empty", "No registry credentials saved yet")

	// --- Docker Hub: a missing field first, then the real thing.
	b.submit(chromedp.Click(chromedp.CSS("a[href='/registries/new']")))
	b.submit(chromedp.Click(chromedp.ID("kind-dockerhub")))
	b.expect("#permission", "Read-only")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "Docker Hub Bot"), chromedp.SendKeys(chromedp.ID("username"), "dhbot"))
	if st := b.submit(chromedp.Click(chromedp.ID("save"))); st != http.StatusUnprocessableEntity {
		t.Fatalf("missing password: status %d", st)
	}
	b.expect("#password-error", "Password is required")
	b.expect("#form-error", "Nothing was saved")
	if got := len(listSaved(t, base, admin)); got != 0 {
		t.Fatalf("a credential was saved without a password: %d", got)
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("name"))); v != "Docker Hub Bot" {
		t.Fatalf("name not kept after an error: %q", v)
	}
	b.do(chromedp.SendKeys(chromedp.ID("password"), "dh-secret-Pa55"))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Credentials saved")
	b.expect("h1", "Docker Hub Bot")

	// --- GCR: a keyfile that is not a service account, then one that is.
	badKey := filepath.Join(dir, "user-credentials.json")
	goodKey := filepath.Join(dir, "sa-key.json")
	mustWrite(t, badKey, `{"type": "authorized_user", "client_id": "x", "client_secret": "y", "refresh_token": "z"}`)
	keyJSON, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "acme", "client_email": "puller@acme.iam.gserviceaccount.com", "private_key": fakeKey})
	mustWrite(t, goodKey, string(keyJSON))
	b.open(base + "/registries/new/gcr")
	if shots {
		b.screenshot("../../docs/screenshots/add-form.png")
	}
	b.do(chromedp.SendKeys(chromedp.ID("name"), "gcr eu"), chromedp.SetValue(chromedp.ID("location"), "eu.gcr.io"),
		chromedp.SetUploadFiles(chromedp.ID("keyfile"), []string{badKey}))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect("#keyfile-error", `not a Google service-account JSON keyfile: missing "type": "service_account"`)
	b.do(chromedp.SetUploadFiles(chromedp.ID("keyfile"), []string{goodKey}))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Credentials saved")

	// --- GitHub, restricted to a project: on with no project is refused.
	b.open(base + "/registries/new/github")
	b.expect("#permission", "read:packages")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "ghcr bot"), chromedp.SendKeys(chromedp.ID("username"), "octo-bot"),
		chromedp.SendKeys(chromedp.ID("password"), "gh-first-try-secret"), chromedp.Click(chromedp.ID("restricted")))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect("#projects-error", "at least one project")
	b.do(chromedp.SendKeys(chromedp.ID("password"), "ghp_consoleTestToken123"), chromedp.Click(chromedp.ID("project-web")))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Credentials saved")

	// --- self-hosted GitLab.
	b.open(base + "/registries/new/gitlab")
	b.expect("#permission", "read_registry")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "gitlab internal"), chromedp.SendKeys(chromedp.ID("host"), "registry.gitlab.example.com"),
		chromedp.SendKeys(chromedp.ID("username"), "deployer"), chromedp.SendKeys(chromedp.ID("password"), "glpat-consoleTest456"))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Credentials saved")

	// --- a custom registry: the real one; then the same name again.
	addCustom := func(name, pass string) int64 {
		b.open(base + "/registries/new/custom")
		b.do(chromedp.SendKeys(chromedp.ID("name"), name), chromedp.SendKeys(chromedp.ID("host"), regHost),
			chromedp.SendKeys(chromedp.ID("username"), regUser), chromedp.SendKeys(chromedp.ID("password"), pass))
		return b.submit(chromedp.Click(chromedp.ID("save")))
	}
	addCustom("test registry", regPass)
	b.expect(".notice", "Credentials saved")
	if st := addCustom("Test Registry", "dup-secret-xyz"); st != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate name: status %d", st)
	}
	b.expect("#name-error", "already exists")

	// --- a forged form (no CSRF token): refused, nothing saved.
	b.open(base + "/registries/new/custom")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "forged"), chromedp.SendKeys(chromedp.ID("host"), "forged.example.com"),
		chromedp.SendKeys(chromedp.ID("username"), "x"), chromedp.SendKeys(chromedp.ID("password"), "forged-secret-000"),
		chromedp.RemoveAttribute(chromedp.CSS("main form input[name=csrf_token]"), "name"))
	if st := b.submit(chromedp.Click(chromedp.ID("save"))); st != http.StatusForbidden {
		t.Fatalf("forged form: status %d", st)
	}
	b.expect("#form-error", "could not be verified")

	// --- Authenticate with JSON: an unparsable file, then a preview, then save.
	b.open(base + "/registries/new/json")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "json import"), chromedp.SetValue(chromedp.ID("config"), `{"auths": {"json.example.com": {"auth": "`))
	b.submit(chromedp.Click(chromedp.ID("preview")))
	b.expect("#config-error", "not valid JSON")
	other := base64.StdEncoding.EncodeToString([]byte("otheruser:json-other-secret"))
	cfg := fmt.Sprintf(`{"auths": {"json.example.com": {"auth": %q}, "https://other.example.com:5000/v1/": {"auth": %q}}, "credsStore": "desktop"}`, jsonAuth, other)
	b.do(chromedp.SetValue(chromedp.ID("config"), cfg))
	b.submit(chromedp.Click(chromedp.ID("preview")))
	b.expect(".preview", "json.example.com")
	b.expect(".preview", "other.example.com:5000")
	b.expect(".preview", "jsonuser")
	b.do(chromedp.Click(chromedp.CSS(`input[name=pick][value="json.example.com"]`)))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Credentials saved")

	// --- the list: every one, searchable, no secret.
	b.open(base + "/registries")
	if shots {
		b.screenshot("../../docs/screenshots/registries.png")
	}
	for _, id := range []string{"docker-hub-bot", "gcr-eu", "ghcr-bot", "gitlab-internal", "test-registry", "json-import"} {
		if !b.has(`tr[data-id="` + id + `"]`) {
			t.Errorf("%s not listed", id)
		}
	}
	b.open(base + "/registries?q=gitlab")
	if !b.has(`tr[data-id="gitlab-internal"]`) || b.has(`tr[data-id="ghcr-bot"]`) {
		t.Error("search for gitlab")
	}
	b.open(base + "/registries?per_page=4")
	b.expect(".pager", "page 1 of 2")
	b.submit(chromedp.Click(chromedp.CSS("a[rel=next]")))
	b.expect(".pager", "page 2 of 2")

	// --- the test button against the real registry: success, then a refusal.
	b.open(base + "/registries/test-registry")
	b.do(chromedp.SetValue(chromedp.ID("image"), regHost+"/"+regImage))
	b.submit(chromedp.Click(chromedp.ID("test")))
	b.expect("#test-result", "Success")
	b.expect("#test-result", "sha256:")
	// rotate the secret to a wrong one: the registry refuses it.
	b.do(chromedp.SendKeys(chromedp.ID("password"), "rotated-wrong-pass"))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Changes saved")
	b.do(chromedp.SetValue(chromedp.ID("image"), regHost+"/"+regImage))
	b.submit(chromedp.Click(chromedp.ID("test")))
	b.expect("#test-result", "Failed")
	b.expect("#test-result", "401")
	if got := getSaved(t, base, admin, "test-registry").Credentials.Password; got != "rotated-wrong-pass" {
		t.Errorf("rotated secret: API has %q", got)
	}
	b.do(chromedp.SetValue(chromedp.ID("image"), "ghcr.io/acme/app:1"))
	b.submit(chromedp.Click(chromedp.ID("test")))
	b.expect("#image-error", "these credentials are for "+regHost)

	// --- edit restrictions: gitlab restricted to api.
	b.open(base + "/registries/gitlab-internal")
	b.do(chromedp.Click(chromedp.ID("restricted")), chromedp.Click(chromedp.ID("project-api")))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Changes saved")
	// and ghcr opened to every project.
	b.open(base + "/registries/ghcr-bot")
	b.do(chromedp.Click(chromedp.ID("restricted")))
	b.submit(chromedp.Click(chromedp.ID("save")))
	b.expect(".notice", "Changes saved")

	// --- delete, with confirmation.
	b.open(base + "/registries/json-import")
	b.submit(chromedp.Click(chromedp.ID("delete")))
	b.expect("h1", "Delete json import?")
	b.submit(chromedp.Click(chromedp.ID("confirm-delete")))
	b.expect(".notice", "Credentials deleted")
	if st, _ := api(t, "GET", base+"/v1/integrations/registries/json-import", admin); st != 404 {
		t.Errorf("deleted credential: GET answered %d", st)
	}

	// --- what the API holds now.
	saved := listSaved(t, base, admin)
	type want struct {
		provider, registry, user string
		projects                 []string
	}
	wants := map[string]want{
		"docker-hub-bot":  {"dockerhub", "docker.io", "dhbot", nil},
		"gcr-eu":          {"gcr", "eu.gcr.io", "_json_key", nil},
		"ghcr-bot":        {"github", "ghcr.io", "octo-bot", nil},
		"gitlab-internal": {"gitlab", "registry.gitlab.example.com", "deployer", []string{"api"}},
		"test-registry":   {"custom", regHost, regUser, nil},
	}
	if len(saved) != len(wants) {
		t.Errorf("API lists %d credentials, want %d: %v", len(saved), len(wants), saved)
	}
	for id, w := range wants {
		c, ok := saved[id]
		if !ok {
			t.Errorf("%s: not saved", id)
			continue
		}
		if c.Provider != w.provider || c.RegistryURL != w.registry || c.Username != w.user ||
			c.Restrictions.Restricted != (w.projects != nil) || (w.projects != nil && !slices.Equal(c.Restrictions.Projects, w.projects)) {
			t.Errorf("%s: saved %+v, want %+v", id, c, w)
		}
	}
	for id, pass := range map[string]string{"docker-hub-bot": "dh-secret-Pa55", "ghcr-bot": "ghp_consoleTestToken123", "gitlab-internal": "glpat-consoleTest456"} {
		if got := getSaved(t, base, admin, id).Credentials; got == nil || got.Password != pass {
			t.Errorf("%s: secret %v", id, got)
		}
	}
	if got := getSaved(t, base, admin, "gcr-eu").Credentials; got == nil || !strings.Contains(got.Password, "puller@acme.iam.gserviceaccount.com") {
		t.Errorf("gcr-eu: keyfile not saved as the secret")
	}

	// --- the helper's remote store answers as the console left things: one
	// runner per project, each with a reader token bound to it.
	for _, tc := range []struct {
		project, registry, want string // want "" = not found
	}{
		{"web", "ghcr.io", `"Username":"octo-bot","Secret":"ghp_consoleTestToken123"`},
		{"web", "https://index.docker.io/v1/", `"Username":"dhbot","Secret":"dh-secret-Pa55"`},
		{"web", "registry.gitlab.example.com", ""},
		{"api", "registry.gitlab.example.com", `"Username":"deployer","Secret":"glpat-consoleTest456"`},
		{"api", "ghcr.io", `"Username":"octo-bot"`},
	} {
		token := kp(t, "token", "create", "--db", db, "--name", "runner-"+tc.project+"-"+strconv.Itoa(len(tc.registry)), "--role", "reader", "--project", tc.project)
		cmd := exec.Command(helper, "get")
		cmd.Env = append(os.Environ(), "KEYPORT_HOME="+t.TempDir(), "KEYPORT_BACKEND=remote", "KEYPORT_API_URL="+base,
			"KEYPORT_PROJECT="+tc.project, "KEYPORT_API_TOKEN="+token)
		cmd.Stdin = strings.NewReader(tc.registry)
		out, err := cmd.Output()
		switch {
		case tc.want == "" && (err == nil || strings.TrimSpace(string(out)) != "credentials not found in native keychain"):
			t.Errorf("project %s, %s: %s (%v), want not found", tc.project, tc.registry, out, err)
		case tc.want != "" && (err != nil || !strings.Contains(string(out), tc.want)):
			t.Errorf("project %s, %s: %s (%v), want %s", tc.project, tc.registry, out, err, tc.want)
		}
	}

	// --- a viewer: sees the list, may not change anything.
	b.signOut()
	b.expect(".notice", "signed out")
	b.signIn(base, viewer)
	if role := b.text(".role"); !strings.EqualFold(role, "viewer") {
		t.Errorf("role shown: %q", role)
	}
	if b.has("a[href='/registries/new']") {
		t.Error("a viewer is offered Add credentials")
	}
	if !b.has(`tr[data-id="gcr-eu"]`) {
		t.Error("a viewer does not see the list")
	}
	b.open(base + "/registries/docker-hub-bot")
	if b.has("#save") || b.has("#delete") || b.has("#test") {
		t.Error("a viewer is offered edit, delete or test")
	}
	b.open(base + "/registries/new/custom")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "viewer try"), chromedp.SendKeys(chromedp.ID("host"), "v.example.com"),
		chromedp.SendKeys(chromedp.ID("username"), "v"), chromedp.SendKeys(chromedp.ID("password"), "forged-secret-000"))
	if st := b.submit(chromedp.Click(chromedp.ID("save"))); st != http.StatusForbidden {
		t.Errorf("viewer create: status %d", st)
	}
	b.expect("#form-error", "viewer token may not create")
	if len(listSaved(t, base, admin)) != len(wants) {
		t.Error("a viewer saved a credential")
	}

	// --- never a secret on any page.
	b.mu.Lock()
	for i, page := range b.pages {
		for _, s := range secrets {
			if strings.Contains(page, s) {
				t.Errorf("page %d holds a secret (%.6s…)", i, s)
			}
		}
		if strings.Contains(page, "goroutine ") || strings.Contains(page, ".go:") {
			t.Errorf("page %d shows a stack trace", i)
		}
	}
	b.mu.Unlock()
}

// serveWithAdmin serves a new SQLite database with serve's extra args and
// returns its URL and an admin token.
func serveWithAdmin(t *testing.T, args ...string) (base, admin string) {
	t.Helper()
	db := "sqlite:" + filepath.Join(t.TempDir(), "keyportd.db")
	admin = kp(t, "token", "create", "--db", db, "--name", "ops", "--role", "admin")
	return serve(t, db, args...), admin
}

// TestConsoleSessionExpiry: a form sent after the session ended is not acted
// on, and says so.
func TestConsoleSessionExpiry(t *testing.T) {
	t.Parallel()
	base, admin := serveWithAdmin(t, "--session-ttl", "2s")
	b := newBrowser(t)
	b.signIn(base, admin)
	b.expect("h1", "Registries")
	b.open(base + "/registries/new/github")
	b.do(chromedp.SendKeys(chromedp.ID("name"), "late"), chromedp.SendKeys(chromedp.ID("username"), "u"),
		chromedp.SendKeys(chromedp.ID("password"), "late-secret-123"))
	time.Sleep(2100 * time.Millisecond)
	if st := b.submit(chromedp.Click(chromedp.ID("save"))); st != http.StatusUnauthorized {
		t.Fatalf("expired session: status %d", st)
	}
	b.expect("#form-error", "session expired")
	b.expect("#form-error", "Nothing was saved")
	if len(listSaved(t, base, admin)) != 0 {
		t.Error("saved after the session expired")
	}
	// Signing in again goes back to the form.
	b.do(chromedp.SendKeys(chromedp.ID("token"), admin))
	b.submit(chromedp.Click(chromedp.CSS("form[action='/signin'] button")))
	if !strings.HasSuffix(b.location(), "/registries/new/github") {
		t.Errorf("after signing in again: %s", b.location())
	}
	for _, p := range b.pages {
		if strings.Contains(p, "late-secret-123") || strings.Contains(p, admin) {
			t.Error("a page holds a secret")
		}
	}
}

// TestConsoleHTTP checks what a browser test cannot see: cookie attributes,
// headers, and forged requests from outside a page.
func TestConsoleHTTP(t *testing.T) {
	t.Parallel()
	base, admin := serveWithAdmin(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := client.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	var pre *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "keyport_signin" {
			pre = c
		}
	}
	if pre == nil {
		t.Fatal("no sign-in CSRF cookie")
	}
	signin := func(csrf string, https bool) *http.Response {
		form := url.Values{"token": {admin}, "csrf_token": {csrf}}
		req, _ := http.NewRequest("POST", base+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(pre)
		if https {
			req.Header.Set("X-Forwarded-Proto", "https")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := signin("forged", false); res.StatusCode != http.StatusForbidden || sessionOf(res) != nil {
		t.Errorf("sign-in without the CSRF token: %d", res.StatusCode)
	}
	res = signin(pre.Value, false)
	s := sessionOf(res)
	if res.StatusCode != http.StatusSeeOther || s == nil {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	if !s.HttpOnly || s.SameSite != http.SameSiteStrictMode || s.Secure {
		t.Errorf("session cookie over HTTP: %+v", s)
	}
	if strings.Contains(s.Value, admin) {
		t.Error("the session cookie holds the token")
	}
	if s := sessionOf(signin(pre.Value, true)); s == nil || !s.Secure {
		t.Errorf("session cookie behind TLS is not Secure: %+v", s)
	}

	// A cross-site POST with the session cookie (as a browser without
	// SameSite would send it) and no CSRF token changes nothing.
	form := url.Values{"name": {"evil"}, "username": {"u"}, "password": {"p"}, "host": {"evil.example.com"}}
	req, _ := http.NewRequest("POST", base+"/registries/new/custom", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(s)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "could not be verified") {
		t.Errorf("forged POST: %d", res.StatusCode)
	}
	if len(listSaved(t, base, admin)) != 0 {
		t.Error("a forged POST saved a credential")
	}
	// A tampered cookie is no session.
	bad := *s
	bad.Value = "x" + s.Value[1:]
	req, _ = http.NewRequest("GET", base+"/registries", nil)
	req.AddCookie(&bad)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
		t.Errorf("tampered session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	// The API is untouched by the console: JSON errors stay JSON.
	res, err = client.Get(base + "/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/v1/nope: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

func sessionOf(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "keyport_session" && c.Value != "" {
			return c
		}
	}
	return nil
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleCountsAgainstTheRateLimit: pages a signed-in token loads count
// with its API requests, so the console is no way around the limit.
func TestConsoleCountsAgainstTheRateLimit(t *testing.T) {
	t.Parallel()
	base, admin := serveWithAdmin(t, "--rate-limit", "4")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := client.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var pre *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "keyport_signin" {
			pre = c
		}
	}
	form := url.Values{"token": {admin}, "csrf_token": {pre.Value}}
	req, _ := http.NewRequest("POST", base+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(pre)
	if res, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sess := sessionOf(res)
	if sess == nil {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	page := func() (int, string, string) {
		req, _ := http.NewRequest("GET", base+"/registries", nil)
		req.AddCookie(sess)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Retry-After"), string(body)
	}
	// Two pages and two API calls spend the budget of four.
	for i := range 2 {
		if code, _, _ := page(); code != http.StatusOK {
			t.Fatalf("page %d: %d", i+1, code)
		}
	}
	for i := range 2 {
		if code, _ := api(t, "GET", base+"/v1/integrations/registries", admin); code != http.StatusOK {
			t.Fatalf("API call %d: %d", i+1, code)
		}
	}
	code, retry, body := page()
	if code != http.StatusTooManyRequests || retry == "" || !strings.Contains(body, "made its 4 requests") {
		t.Fatalf("fifth request through the console: %d, Retry-After %q\n%.300s", code, retry, body)
	}
	if code, _ := api(t, "GET", base+"/v1/integrations/registries", admin); code != http.StatusTooManyRequests {
		t.Fatalf("API after the console spent the budget: %d, want 429", code)
	}
}
