package remote_test

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/server/storage"

	"github.com/keyport/keyport/internal/testkit"
)

// faults are the ways the API fails. Each must end in a clear error (no
// cache) or the stale answer (cache within grace) — quickly, never a hang.
var faults = []struct {
	name    string
	handler http.HandlerFunc
	want    string // in the error without a cache
}{
	{"slow beyond the deadline", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}, "no answer within"},
	{"500", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		fmt.Fprint(w, `{"error":{"status":500,"message":"internal error","id":"req-1"}}`)
	}, "500 Internal Server Error: internal error (request req-1)"},
	{"429 with reset", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-limit", "1000")
		w.Header().Set("x-ratelimit-remaining", "0")
		w.Header().Set("x-ratelimit-reset", "120")
		w.WriteHeader(429)
		fmt.Fprint(w, `{"error":{"status":429,"message":"rate limit exceeded"}}`)
	}, "429"},
	{"malformed JSON", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>captive portal</html>")
	}, "not the account API's JSON (Content-Type text/html)"},
	{"truncated JSON", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":{"credentials":[{"id":"x"`)
	}, "not the account API's JSON"},
	{"JSON of another shape", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"items":[]}`)
	}, "no data.credentials"},
}

const faultTimeout = 300 * time.Millisecond

func TestFaultsWithoutACacheFailClearlyAndFast(t *testing.T) {
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(f.handler)
			defer srv.Close()
			o := opts(srv.URL, "kp_test", "web", t.TempDir(), nil, nil)
			o.Timeout = faultTimeout
			start := time.Now()
			_, err := remote.New(o).Get(ctx, "ghcr.io")
			elapsed := time.Since(start)
			if err == nil || errors.Is(err, credhelper.ErrNotFound) || !errors.Is(err, remote.ErrUnavailable) {
				t.Fatalf("err = %v; want an ErrUnavailable", err)
			}
			if !contains(err.Error(), f.want) {
				t.Errorf("err = %q; want it to say %q", err, f.want)
			}
			if elapsed > faultTimeout+time.Second {
				t.Errorf("took %s with a %s deadline", elapsed, faultTimeout)
			}
		})
	}
}

func TestFaultsWithACacheServeStale(t *testing.T) {
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			a := fixture(t)
			tok := a.token(storage.RoleReader, "api")
			clk := newClock()
			dir := t.TempDir()
			var logs testkit.SyncBuffer
			o := opts(a.url, tok, "api", dir, clk, &logs)
			o.Timeout = faultTimeout
			if _, err := remote.New(o).Get(ctx, "ghcr.io/acme"); err != nil {
				t.Fatal(err)
			}
			a.setFault(f.handler)
			clk.Advance(remote.DefaultTTL + time.Minute)
			start := time.Now()
			c, err := remote.New(o).Get(ctx, "ghcr.io/acme")
			if err != nil || c.Secret != "ghp_acme" {
				t.Fatalf("stale get = %+v, %v", c, err)
			}
			if d := time.Since(start); d > faultTimeout+time.Second {
				t.Errorf("took %s", d)
			}
			if !contains(logs.String(), "level=WARN") {
				t.Errorf("no warning: %q", logs.String())
			}
		})
	}
}

func TestRetryAfterIsHonouredByEveryHelper(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	clk := newClock()
	dir := t.TempDir()
	a.setFault(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "90")
		w.WriteHeader(429)
	}))
	_, err := remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, "ghcr.io/acme")
	if !errors.Is(err, remote.ErrUnavailable) || !contains(err.Error(), "429") {
		t.Fatalf("first get: %v", err)
	}
	a.setFault(nil)
	before := a.requests.Load()
	_, err = remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, "ghcr.io/acme")
	var rl *remote.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("within Retry-After: err = %v, want RateLimitedError", err)
	}
	if n := a.requests.Load() - before; n != 0 {
		t.Errorf("a helper called the API %d times within Retry-After", n)
	}
	clk.Advance(91 * time.Second)
	if _, err := remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, "ghcr.io/acme"); err != nil {
		t.Errorf("after Retry-After: %v", err)
	}
}

func TestExhaustedRateLimitDefersRevalidation(t *testing.T) {
	a, tok, clk, dir := warmed(t)
	// From now on keyportd's answers say the window is spent for 10 minutes.
	a.setFault(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-remaining", "0")
		w.Header().Set("x-ratelimit-reset", strconv.Itoa(600))
		a.keyportd.ServeHTTP(w, r)
	}))
	clk.Advance(remote.DefaultTTL + time.Second)
	if _, err := remote.New(opts(a.url, tok, "api", dir, clk, nil)).Get(ctx, "ghcr.io/acme"); err != nil {
		t.Fatal(err) // revalidated: the last request of the window
	}
	clk.Advance(remote.DefaultTTL + time.Second) // stale, but the window is spent
	before := a.requests.Load()
	var logs testkit.SyncBuffer
	c, err := remote.New(opts(a.url, tok, "api", dir, clk, &logs)).Get(ctx, "ghcr.io/acme")
	if err != nil || c.Secret != "ghp_acme" {
		t.Fatalf("get = %+v, %v", c, err)
	}
	if n := a.requests.Load() - before; n != 0 {
		t.Errorf("%d requests with the rate limit exhausted", n)
	}
	if !contains(logs.String(), "rate limit") {
		t.Errorf("warning does not say why: %q", logs.String())
	}
}

func TestTLS(t *testing.T) {
	a := fixture(t)
	tok := a.token(storage.RoleReader, "api")
	tlsSrv := httptest.NewTLSServer(a.keyportd)
	defer tlsSrv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// Untrusted certificate: refused, clearly.
	o := opts(tlsSrv.URL, tok, "api", t.TempDir(), nil, nil)
	_, err := remote.New(o).Get(ctx, "ghcr.io/acme")
	if !errors.Is(err, remote.ErrUnavailable) || !contains(err.Error(), "certificate") {
		t.Errorf("untrusted TLS: %v", err)
	}
	// Trusted through KEYPORT_API_CA_FILE: works.
	o.CAFile = caFile
	if c, err := remote.New(o).Get(ctx, "ghcr.io/acme"); err != nil || c.Secret != "ghp_acme" {
		t.Errorf("with the CA file: %+v, %v", c, err)
	}
	// Name mismatch: the certificate is for 127.0.0.1 and example.com only.
	_, port, _ := net.SplitHostPort(tlsSrv.Listener.Addr().String())
	o.APIURL = "https://localhost:" + port
	if _, err := remote.New(o).Get(ctx, "ghcr.io/acme"); !errors.Is(err, remote.ErrUnavailable) || !contains(err.Error(), "certificate") {
		t.Errorf("name mismatch: %v", err)
	}
	o.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := remote.New(o).Get(ctx, "ghcr.io/acme"); err == nil || !contains(err.Error(), "KEYPORT_API_CA_FILE") {
		t.Errorf("missing CA file: %v", err)
	}
}

func TestUnreachableFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	_, err = remote.New(opts("http://"+addr, "kp_x", "web", t.TempDir(), nil, nil)).Get(ctx, "ghcr.io")
	if !errors.Is(err, remote.ErrUnavailable) || !contains(err.Error(), "refused") {
		t.Errorf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s", d)
	}
}
