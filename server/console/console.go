// Package console is keyportd's web console: "integrations → registries" of
// the account settings, served at / beside the API from templates and a
// stylesheet embedded in the binary. Pages are rendered on the server
// (html/template) and work without JavaScript; the page has none.
//
// The console holds no state of its own. A person signs in with an API token;
// the session cookie holds the token's hash, an expiry and a CSRF token,
// sealed (AES-GCM) under the server's master key, so every keyportd process
// of a database accepts it and revoking the token ends the session at once.
// Every action goes through server.Caller, the same functions the API
// handlers call, so the console can do exactly what the token may do through
// the API and nothing more.
package console

import (
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyport/keyport/registry"
	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultSessionTTL is how long a sign-in lasts.
const DefaultSessionTTL = 12 * time.Hour

const (
	sessionCookie = "keyport_session"
	signinCookie  = "keyport_signin" // CSRF token of the sign-in form
	csrfField     = "csrf_token"
	maxFormBytes  = 1 << 20
	// ContentSecurityPolicy is sent with every console response: nothing
	// inline, nothing from elsewhere, no framing.
	ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// Config is what the console needs.
type Config struct {
	Server *server.Server
	Logger *slog.Logger
	// SessionTTL defaults to DefaultSessionTTL.
	SessionTTL time.Duration
	// Registry says how the "test" button reaches registries (a private CA).
	Registry registry.Options
	// SecureCookies marks cookies Secure even when a request arrives over
	// plain HTTP (behind a TLS-terminating proxy that sends no
	// X-Forwarded-Proto). Under TLS they are Secure anyway.
	SecureCookies bool
}

// Console is the web console as an http.Handler.
type Console struct {
	cfg   Config
	srv   *server.Server
	log   *slog.Logger
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Server == nil {
		return nil, errors.New("console: Server is required")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	c := &Console{cfg: cfg, srv: cfg.Server, log: cfg.Logger, mux: http.NewServeMux()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// Mount builds the console and serves it from s at /.
func Mount(cfg Config) error {
	c, err := New(cfg)
	if err != nil {
		return err
	}
	cfg.Server.SetConsole(c)
	return nil
}

func (c *Console) parseTemplates() error {
	funcs := template.FuncMap{
		"join":  strings.Join,
		"field": fieldError,
		"add":   func(a, b int) int { return a + b },
		"dict2": func(fields map[string]string, name string) fieldRef { return fieldRef{F: fields, N: name} },
		"aria":  aria,
		"checked": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return err
		}
		c.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return nil
}

func (c *Console) routes() {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(static)))
	c.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	c.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/registries", http.StatusSeeOther)
	})
	c.mux.HandleFunc("GET /signin", c.signinPage)
	c.mux.HandleFunc("POST /signin", c.signin)
	c.mux.HandleFunc("POST /signout", c.signout)
	c.mux.HandleFunc("GET /registries", c.authed(c.listPage))
	c.mux.HandleFunc("GET /registries/new", c.authed(c.choosePage))
	c.mux.HandleFunc("GET /registries/new/{kind}", c.authed(c.addPage))
	c.mux.HandleFunc("POST /registries/new/{kind}", c.authed(c.add))
	c.mux.HandleFunc("GET /registries/{id}", c.authed(c.credentialPage))
	c.mux.HandleFunc("POST /registries/{id}", c.authed(c.update))
	// One pattern per method for the actions: "/registries/{id}/test" and
	// "/registries/new/{kind}" would overlap in net/http's mux.
	actions := map[string]func(*req){"GET delete": c.deletePage, "POST delete": c.delete, "POST test": c.test}
	action := func(q *req) {
		h, ok := actions[q.r.Method+" "+q.r.PathValue("action")]
		if !ok {
			c.errorPage(q.w, q.r, q, http.StatusNotFound, "There is no page at this address.")
			return
		}
		h(q)
	}
	c.mux.HandleFunc("GET /registries/{id}/{action}", c.authed(action))
	c.mux.HandleFunc("POST /registries/{id}/{action}", c.authed(action))
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, nil, http.StatusNotFound, "There is no page at this address.")
	})
}

// ServeHTTP sets the security headers every console response carries.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	c.mux.ServeHTTP(w, r)
}

// session is what the sealed cookie holds.
type session struct {
	TokenHash []byte `json:"h"`
	Expires   int64  `json:"e"`
	CSRF      string `json:"c"`
}

var sessionAAD = []byte("keyport/console/session")

func (c *Console) secure(r *http.Request) bool {
	return c.cfg.SecureCookies || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r),
	})
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (c *Console) newSession(w http.ResponseWriter, r *http.Request, tok storage.Token) error {
	s := session{TokenHash: tok.Hash, Expires: c.srv.Now().Add(c.cfg.SessionTTL).Unix(), CSRF: randomToken()}
	plain, err := json.Marshal(s)
	if err != nil {
		return err
	}
	sealed, err := c.srv.Sealer().Seal(plain, sessionAAD)
	if err != nil {
		return err
	}
	// A browser-session cookie: the expiry inside it is what counts, so a
	// form sent after it can say "expired" rather than "signed out".
	c.setCookie(w, r, sessionCookie, base64.RawURLEncoding.EncodeToString(sealed), 0)
	return nil
}

var (
	errNoSession      = errors.New("no session")
	errSessionExpired = errors.New("session expired")
)

// readSession opens the session cookie. A cookie that does not open (another
// master key, tampered) counts as no session.
func (c *Console) readSession(r *http.Request) (session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 4096 {
		return session{}, errNoSession
	}
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return session{}, errNoSession
	}
	plain, err := c.srv.Sealer().Open(sealed, sessionAAD)
	if err != nil {
		return session{}, errNoSession
	}
	var s session
	if json.Unmarshal(plain, &s) != nil || len(s.TokenHash) == 0 || s.CSRF == "" {
		return session{}, errNoSession
	}
	if c.srv.Now().Unix() >= s.Expires {
		return session{}, errSessionExpired
	}
	return s, nil
}

// view is what every page template sees.
type view struct {
	Title    string
	Nav      string
	Signed   bool
	Token    storage.Token
	Admin    bool
	CanTest  bool
	CSRF     string
	Notice   string
	Error    string
	Fields   map[string]string
	ReqID    string
	Data     any
	Status   int
	pageName string
}

// req is a signed-in request.
type req struct {
	w    http.ResponseWriter
	r    *http.Request
	sess session
	as   *server.Caller
	tok  storage.Token
}

func (q *req) view(title string) *view {
	return &view{
		Title: title, Nav: "registries", Signed: true, Token: q.tok,
		Admin: q.tok.Role == storage.RoleAdmin, CanTest: q.tok.Role != storage.RoleViewer,
		CSRF: q.sess.CSRF, Fields: map[string]string{}, ReqID: server.RequestID(q.r),
	}
}

// authed wraps a page needing a session: it finds the token (it may have been
// revoked since), and checks the CSRF token of every POST before anything
// else reads the form.
func (c *Console) authed(h func(*req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.readSession(r)
		if err != nil {
			c.signedOut(w, r, err)
			return
		}
		tok, err := c.srv.TokenByHash(r.Context(), s.TokenHash)
		if err != nil {
			if info := server.DescribeError(err); info.Internal {
				c.log.Error("console: session lookup", "request_id", server.RequestID(r), "error", err)
				c.errorPage(w, r, nil, http.StatusInternalServerError, "Something went wrong on our side. Nothing was changed.")
				return
			}
			c.signedOut(w, r, errors.New("revoked"))
			return
		}
		q := &req{w: w, r: r, sess: s, tok: tok, as: c.srv.As(r.Context(), tok, server.RequestID(r))}
		if rate, limited := c.srv.TakeRate(tok); limited && !rate.OK {
			w.Header().Set("Retry-After", fmt.Sprint(rate.ResetSeconds()))
			c.errorPage(w, r, q, http.StatusTooManyRequests, fmt.Sprintf(
				"This token has made its %d requests for now (the console counts with the API). Nothing was changed. Try again in %d s.",
				rate.Limit, rate.ResetSeconds()))
			return
		}
		if r.Method == http.MethodPost {
			if !c.sameOrigin(r) || !validCSRF(r.PostFormValue(csrfField), s.CSRF) {
				c.errorPage(w, r, q, http.StatusForbidden,
					"This form could not be verified (its security token is missing or out of date), so nothing was saved. Reload the page and try again.")
				return
			}
		}
		h(q)
	}
}

// sameOrigin refuses requests a browser marks as coming from another site.
func (c *Console) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

func validCSRF(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// signedOut answers a request without a valid session: pages go to the
// sign-in page; a form posted after the session ended is not acted on and
// says so.
func (c *Console) signedOut(w http.ResponseWriter, r *http.Request, why error) {
	c.setCookie(w, r, sessionCookie, "", -1)
	if r.Method == http.MethodGet && errors.Is(why, errNoSession) {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	msg := "Your session has ended. Sign in again to continue."
	if errors.Is(why, errSessionExpired) {
		msg = "Your session expired. Sign in again to continue."
	}
	if r.Method == http.MethodPost {
		msg += " Nothing was saved."
	}
	c.renderSignin(w, r, http.StatusUnauthorized, msg, "", r.URL.RequestURI())
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	t, ok := c.pages[page]
	if !ok {
		panic("console: no template " + page)
	}
	v.pageName = page
	if v.ReqID == "" {
		v.ReqID = server.RequestID(r)
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", v); err != nil {
		c.log.Error("console: render", "page", page, "request_id", v.ReqID, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, q *req, status int, msg string) {
	var v *view
	if q != nil {
		v = q.view(http.StatusText(status))
	} else {
		v = &view{Title: http.StatusText(status), Fields: map[string]string{}}
	}
	v.Error = msg
	v.Status = status
	c.render(w, r, status, "error", v)
}

// fail shows an error from a server.Caller: a missing credential or a
// forbidden action on the error page, an internal fault logged and shown
// without its cause.
func (c *Console) fail(q *req, err error) {
	info := server.DescribeError(err)
	if info.Internal {
		c.log.Error("console: request failed", "request_id", server.RequestID(q.r), "path", q.r.URL.Path, "error", err)
		c.errorPage(q.w, q.r, q, http.StatusInternalServerError, "Something went wrong on our side and nothing was changed. Quote request id "+server.RequestID(q.r)+" when you report it.")
		return
	}
	c.errorPage(q.w, q.r, q, info.Status, sentence(info.Message))
}

// --- sign-in ---

type signinData struct {
	Next string
}

func (c *Console) renderSignin(w http.ResponseWriter, r *http.Request, status int, errMsg, fieldErr, next string) {
	csrf := randomToken()
	c.setCookie(w, r, signinCookie, csrf, 3600)
	v := &view{Title: "Sign in", CSRF: csrf, Fields: map[string]string{}, Data: signinData{Next: safeNext(next)}}
	v.Error = errMsg
	if fieldErr != "" {
		v.Fields["token"] = fieldErr
	}
	c.render(w, r, status, "signin", v)
}

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	if _, err := c.readSession(r); err == nil {
		http.Redirect(w, r, "/registries", http.StatusSeeOther)
		return
	}
	notice := ""
	if r.URL.Query().Get("signed_out") == "1" {
		notice = "You are signed out."
	}
	csrf := randomToken()
	c.setCookie(w, r, signinCookie, csrf, 3600)
	v := &view{Title: "Sign in", CSRF: csrf, Notice: notice, Fields: map[string]string{}, Data: signinData{Next: safeNext(r.URL.Query().Get("next"))}}
	c.render(w, r, http.StatusOK, "signin", v)
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	next := r.PostFormValue("next")
	ck, err := r.Cookie(signinCookie)
	if err != nil || !c.sameOrigin(r) || !validCSRF(r.PostFormValue(csrfField), ck.Value) {
		c.renderSignin(w, r, http.StatusForbidden, "This sign-in form could not be verified (it may be out of date). Try again.", "", next)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		c.renderSignin(w, r, http.StatusUnprocessableEntity, "", "Enter an API token.", next)
		return
	}
	tok, err := c.srv.Authenticate(r.Context(), token)
	if err != nil {
		if info := server.DescribeError(err); info.Internal {
			c.log.Error("console: sign-in", "request_id", server.RequestID(r), "error", err)
			c.renderSignin(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.", "", next)
			return
		}
		c.renderSignin(w, r, http.StatusUnauthorized, "", "This token is not valid: it is unknown or has been revoked.", next)
		return
	}
	if err := c.newSession(w, r, tok); err != nil {
		c.log.Error("console: new session", "request_id", server.RequestID(r), "error", err)
		c.renderSignin(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.", "", next)
		return
	}
	c.setCookie(w, r, signinCookie, "", -1)
	c.log.Info("console sign-in", "request_id", server.RequestID(r), "token_id", tok.ID, "role", string(tok.Role))
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	s, err := c.readSession(r)
	if err == nil && (!c.sameOrigin(r) || !validCSRF(r.PostFormValue(csrfField), s.CSRF)) {
		c.errorPage(w, r, nil, http.StatusForbidden, "This form could not be verified, so you are still signed in. Reload the page and try again.")
		return
	}
	c.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin?signed_out=1", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in redirect on this site, on a console page.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.HasPrefix(next, "/v1") || strings.ContainsAny(next, "\r\n") {
		return "/registries"
	}
	return next
}

// sentence makes an API message read as a sentence on a page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func fieldError(fields map[string]string, name string) string { return fields[name] }

// sealValue seals data the console hands the browser to send back (a pasted
// config.json between preview and save), so the page never holds it in the
// clear.
func (c *Console) sealValue(data []byte, purpose string) (string, error) {
	b, err := c.srv.Sealer().Seal(data, []byte("keyport/console/"+purpose))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func (c *Console) openValue(s, purpose string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return c.srv.Sealer().Open(b, []byte("keyport/console/"+purpose))
}

// fieldRef is what the "err" partial needs: the page's field errors and a name.
type fieldRef struct {
	F map[string]string
	N string
}

// aria ties an input to its hint and error: aria-describedby, aria-invalid.
// name and hint are constants written in the templates.
func aria(fields map[string]string, name, hint string) template.HTMLAttr {
	var ids []string
	if hint != "" {
		ids = append(ids, hint)
	}
	bad := fields[name] != ""
	if bad {
		ids = append(ids, name+"-error")
	}
	out := ""
	if len(ids) > 0 {
		out = `aria-describedby="` + template.HTMLEscapeString(strings.Join(ids, " ")) + `"`
	}
	if bad {
		out += ` aria-invalid="true"`
	}
	return template.HTMLAttr(out) //nolint:gosec // constant ids from the templates
}
