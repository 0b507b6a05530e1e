// Package server is keyportd's HTTP API: registry credentials saved per team,
// optionally restricted to projects, served in the shape of the Northflank
// registry-credentials API so keyport's remote store works against both.
//
// The server keeps no state of its own beyond rate-limit counters: every
// request reads the database, so several processes can serve one PostgreSQL
// database and a change made through one is seen by the others at once.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/keyport/keyport/server/seal"
	"github.com/keyport/keyport/server/storage"
)

// DefaultMaxBodyBytes bounds request bodies; a credential with a GCR keyfile
// is a few KiB, so 1 MiB is generous and still cheap to buffer.
const DefaultMaxBodyBytes = 1 << 20

// DefaultTeam is the team tokens belong to unless created with another.
const DefaultTeam = "default"

// Config is what a Server needs. Store and Sealer are required.
type Config struct {
	Store  storage.Store
	Sealer *seal.Sealer
	// Logger receives the access log (one line per request, at Info) and
	// internal errors. Nil discards.
	Logger *slog.Logger
	// RateLimit is how many requests one token may make per RateWindow;
	// 0 means unlimited. The window starts at a token's first request, as on
	// the hosted API.
	RateLimit  int
	RateWindow time.Duration
	// MaxBodyBytes defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now defaults to time.Now; tests move it.
	Now func() time.Time
}

// Server is the API as an http.Handler.
type Server struct {
	store   storage.Store
	sealer  *seal.Sealer
	log     *slog.Logger
	limiter *rateLimiter
	maxBody int64
	now     func() time.Time
	mux     *http.ServeMux
	console http.Handler // served at / beside /v1/; see SetConsole
}

// New builds the API handler.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Sealer == nil {
		return nil, errors.New("server: Store and Sealer are required")
	}
	s := &Server{
		store:   cfg.Store,
		sealer:  cfg.Sealer,
		log:     cfg.Logger,
		maxBody: cfg.MaxBodyBytes,
		now:     cfg.Now,
		mux:     http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.RateLimit > 0 {
		w := cfg.RateWindow
		if w <= 0 {
			w = time.Hour
		}
		s.limiter = newRateLimiter(cfg.RateLimit, w, s.now)
	}
	s.routes()
	return s, nil
}

// CheckMasterKey makes sure the sealer's key is the one the database was
// first used with (storing a check value on first use), so a wrong key stops
// the server at start rather than failing every read.
func CheckMasterKey(ctx context.Context, store storage.Store, sealer *seal.Sealer) error {
	fresh, err := sealer.CheckValue()
	if err != nil {
		return err
	}
	stored, err := store.SetMetaIfAbsent(ctx, masterKeyCheck, fresh)
	if err != nil {
		return fmt.Errorf("master key check: %w", err)
	}
	return sealer.VerifyCheckValue(stored)
}

// masterKeyCheck is the meta key of CheckMasterKey's value.
const masterKeyCheck = "master_key_check"

// RotateMasterKey re-seals every secret in the database from old's key to
// next's, with the key check value, in one transaction. It fails, changing
// nothing, unless old is the key the database uses. Every keyportd process
// on the database must then run with the new key: one still on the old key
// can no longer read a secret.
func RotateMasterKey(ctx context.Context, store storage.Store, old, next *seal.Sealer) (int, error) {
	return store.ResealAll(ctx, []string{masterKeyCheck}, func(v storage.SealedValue) ([]byte, error) {
		if v.MetaKey == masterKeyCheck {
			if err := old.VerifyCheckValue(v.Sealed); err != nil {
				return nil, err
			}
			return next.CheckValue()
		}
		aad := secretAAD(v.Team, v.ID)
		plain, err := old.Open(v.Sealed, aad)
		if err != nil {
			return nil, fmt.Errorf("credential %s of team %s does not open with the current key: %w", v.ID, v.Team, err)
		}
		return next.Seal(plain, aad)
	})
}

// handlerFunc serves one method of one route for an authenticated caller.
type handlerFunc func(rc *reqCtx) error

// caller is an authenticated token acting on the server: the rules (role,
// project binding, restrictions) and the operations live on it, so the API's
// handlers and the console share one path.
type caller struct {
	ctx   context.Context
	s     *Server
	tok   storage.Token
	team  string
	reqID string
}

// reqCtx is what a handler sees of a request.
type reqCtx struct {
	caller
	w http.ResponseWriter
	r *http.Request
}

func (s *Server) routes() {
	for _, prefix := range []string{"/v1", "/v1/teams/{teamId}"} {
		s.mux.Handle(prefix+"/projects", s.api(map[string]handlerFunc{
			http.MethodGet:  listProjects,
			http.MethodPost: createProject,
		}))
		s.mux.Handle(prefix+"/projects/{id}", s.api(map[string]handlerFunc{
			http.MethodGet:    getProject,
			http.MethodDelete: deleteProject,
		}))
		s.mux.Handle(prefix+"/integrations/registries", s.api(map[string]handlerFunc{
			http.MethodGet:  listCredentials,
			http.MethodPost: createCredential,
		}))
		s.mux.Handle(prefix+"/integrations/registries/{id}", s.api(map[string]handlerFunc{
			http.MethodGet:    getCredential,
			http.MethodPatch:  patchCredential,
			http.MethodDelete: deleteCredential,
		}))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.store.Ping(ctx); err != nil {
			s.log.Error("health check failed", "error", err)
			writeError(w, requestID(r), errorf(http.StatusServiceUnavailable, "database unavailable"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]string{"status": "ok"}})
	})
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if s.console != nil && r.URL.Path != "/v1" && !strings.HasPrefix(r.URL.Path, "/v1/") {
			s.console.ServeHTTP(w, r)
			return
		}
		writeError(w, requestID(r), errorf(http.StatusNotFound, "no route for %s %s", r.Method, r.URL.Path))
	})
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyTokenID
)

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(keyRequestID).(string)
	return id
}

// tokenIDSlot lets the auth step tell the access log which token was used.
type tokenIDSlot struct{ id string }

// ServeHTTP adds a request id, recovers from panics, and writes the access
// log: method, path, status, size, duration, token id. Never the
// Authorization header, the query string or a body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	w.Header().Set("X-Request-Id", id)
	slot := &tokenIDSlot{}
	ctx := context.WithValue(context.WithValue(r.Context(), keyRequestID, id), keyTokenID, slot)
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(p))
			if !rec.wrote {
				writeError(rec, id, errorf(http.StatusInternalServerError, "internal error"))
			}
		}
		remote, _, _ := net.SplitHostPort(r.RemoteAddr)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status()),
			slog.Int64("bytes", rec.n),
			slog.Duration("duration", time.Since(start)),
			slog.String("token_id", slot.id),
			slog.String("remote", remote),
		)
	}()
	s.mux.ServeHTTP(rec, r.WithContext(ctx))
}

type recorder struct {
	http.ResponseWriter
	code  int
	n     int64
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	n, err := r.ResponseWriter.Write(b)
	r.n += int64(n)
	return n, err
}

func (r *recorder) status() int {
	if !r.wrote {
		return http.StatusOK
	}
	return r.code
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// api wraps the handlers of one route: authenticate, rate-limit, check the
// team in the path, dispatch on method, bound the body, and turn errors into
// the API's error shape.
func (s *Server) api(methods map[string]handlerFunc) http.Handler {
	allow := make([]string, 0, len(methods))
	for m := range methods {
		allow = append(allow, m)
	}
	allowHeader := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := &reqCtx{caller: caller{ctx: r.Context(), s: s, reqID: requestID(r)}, w: w, r: r}
		if err := s.serveAPI(rc, methods, allowHeader); err != nil {
			e, internal := asAPIError(err)
			if internal {
				s.log.Error("request failed", "request_id", rc.reqID, "method", r.Method, "path", r.URL.Path, "error", err)
			}
			if e.Status == http.StatusMethodNotAllowed {
				w.Header().Set("Allow", allowHeader)
			}
			writeError(w, rc.reqID, e)
		}
	})
}

func (s *Server) serveAPI(rc *reqCtx, methods map[string]handlerFunc, allowHeader string) error {
	r := rc.r
	tok, err := s.authenticate(r)
	if err != nil {
		if e, ok := err.(*apiError); ok && e.Status == http.StatusUnauthorized {
			rc.w.Header().Set("WWW-Authenticate", `Bearer realm="keyportd"`)
		}
		return err
	}
	rc.tok = tok
	if slot, ok := r.Context().Value(keyTokenID).(*tokenIDSlot); ok {
		slot.id = tok.ID
	}
	if rate, limited := s.TakeRate(tok); limited {
		h := rc.w.Header()
		h.Set("x-ratelimit-limit", fmt.Sprint(rate.Limit))
		h.Set("x-ratelimit-remaining", fmt.Sprint(rate.Remaining))
		h.Set("x-ratelimit-reset", fmt.Sprint(rate.ResetSeconds()))
		if !rate.OK {
			h.Set("Retry-After", fmt.Sprint(rate.ResetSeconds()))
			return errorf(http.StatusTooManyRequests, "rate limit of %d requests per %s exceeded; retry in %d s",
				rate.Limit, s.limiter.window, rate.ResetSeconds())
		}
	}
	rc.team = tok.TeamID
	if t := r.PathValue("teamId"); t != "" {
		if t != tok.TeamID {
			return errorf(http.StatusForbidden, "this token does not belong to team %q", truncate(t, 64))
		}
	}
	h, ok := methods[r.Method]
	if !ok {
		return errorf(http.StatusMethodNotAllowed, "method %s is not allowed here (allowed: %s)", r.Method, allowHeader)
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut {
		if r.ContentLength > s.maxBody {
			return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", s.maxBody)
		}
		r.Body = http.MaxBytesReader(rc.w, r.Body, s.maxBody)
	}
	return h(rc)
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// decodeBody reads a JSON object body into v, mapping failures to 400/413
// with the offending field named. Unknown fields are ignored so clients
// written for the hosted API, which may send more, keep working.
func (rc *reqCtx) decodeBody(v any) error {
	dec := json.NewDecoder(rc.r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return err
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				return errorf(http.StatusBadRequest, "request body must be a JSON object")
			}
			return badFields(map[string]string{field: "must be " + jsonKind(typeErr.Type.Kind().String())})
		case errors.Is(err, context.Canceled):
			return err
		default:
			return errorf(http.StatusBadRequest, "request body is not valid JSON")
		}
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "request body must hold one JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "of another type"
}
