// Package registry talks to container registries through go-containerregistry:
// proving a credential before it is saved (the handshake `docker login`
// does) and proving an image can be read with the credential keyport hands out.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/credhelper/ggcr"
	"github.com/keyport/keyport/internal/certpool"
)

// DefaultTimeout bounds one verification or check end to end.
const DefaultTimeout = 30 * time.Second

// Options say how to reach a registry.
type Options struct {
	// CAFile adds a PEM CA bundle to the system roots (a private registry).
	CAFile string
	// Insecure allows plain HTTP and skips TLS verification.
	Insecure bool
}

func (o Options) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// httpTransport builds the base transport with deadlines on every phase.
func (o Options) httpTransport() (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 20 * time.Second
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := certpool.WithFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if o.Insecure {
		cfg.InsecureSkipVerify = true //nolint:gosec // the user asked for --insecure
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// Verify proves c against the registry of its key the way `docker login`
// does: ping /v2/, answer the Basic or Bearer challenge with c, and read
// /v2/ with the result. A rejected credential is an *Error with the status.
func Verify(ctx context.Context, c credhelper.Credentials, opts Options) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	host := credhelper.Host(c.ServerURL)
	if host == credhelper.DockerHub {
		host = name.DefaultRegistry
	}
	reg, err := name.NewRegistry(host, opts.nameOptions()...)
	if err != nil {
		return fmt.Errorf("registry %s: %w", host, err)
	}
	base, err := opts.httpTransport()
	if err != nil {
		return err
	}
	if err := preflight(ctx, reg, base, opts); err != nil {
		return err
	}
	rt, err := transport.NewWithContext(ctx, reg, ggcr.Authenticator(c), base, nil)
	if err != nil {
		return explain(host, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return explain(host, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return explain(host, err)
	}
	return nil
}

// preflight reaches https://REGISTRY/v2/ once without credentials, so a TLS
// failure is reported as such. go-containerregistry falls back to plain HTTP
// for loopback and .local registries, and that second attempt's error
// (often a 400 from a TLS port) would hide the real problem.
func preflight(ctx context.Context, reg name.Registry, base http.RoundTripper, opts Options) error {
	if opts.Insecure {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: base}).Do(req)
	if err != nil {
		return explain(reg.RegistryStr(), err)
	}
	resp.Body.Close()
	return nil
}

// CheckResult is what Check learned.
type CheckResult struct {
	Reference string // the fully qualified reference
	Registry  string
	Digest    string
	MediaType string
}

// Check proves auth can read ref's manifest (a HEAD, as a pull starts).
func Check(ctx context.Context, ref name.Reference, auth authn.Authenticator, opts Options) (CheckResult, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	res := CheckResult{Reference: ref.Name(), Registry: ref.Context().RegistryStr()}
	base, err := opts.httpTransport()
	if err != nil {
		return res, err
	}
	if err := preflight(ctx, ref.Context().Registry, base, opts); err != nil {
		return res, err
	}
	desc, err := remote.Head(ref, remote.WithAuth(auth), remote.WithTransport(base), remote.WithContext(ctx))
	if err != nil {
		return res, explain(res.Registry, err)
	}
	res.Digest, res.MediaType = desc.Digest.String(), string(desc.MediaType)
	return res, nil
}

// ParseReference reads an image reference the way docker does: "nginx" is
// docker.io/library/nginx:latest.
func ParseReference(image string, opts Options) (name.Reference, error) {
	ref, err := name.ParseReference(image, opts.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%q is not an image reference: %w", image, err)
	}
	return ref, nil
}

// Error is a registry's refusal or an unreachable registry, in words.
type Error struct {
	Registry   string
	StatusCode int // 0 when no HTTP answer came
	Reason     string
	Err        error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s answered %d %s: %s", e.Registry, e.StatusCode, http.StatusText(e.StatusCode), e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Registry, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// explain sorts failures into the reasons people act on: wrong credential,
// no access, TLS trust, unreachable.
func explain(host string, err error) error {
	var terr *transport.Error
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr *tls.CertificateVerificationError
	var rerr tls.RecordHeaderError
	var nerr net.Error
	switch {
	case errors.As(err, &terr):
		reason := "the registry refused the request"
		switch terr.StatusCode {
		case http.StatusUnauthorized:
			reason = "the credentials were rejected"
		case http.StatusForbidden:
			reason = "the credentials are valid but may not read this"
		case http.StatusNotFound:
			reason = "no such repository or tag"
		case http.StatusTooManyRequests:
			reason = "rate limited; try again later"
		}
		return &Error{Registry: host, StatusCode: terr.StatusCode, Reason: reason, Err: err}
	case errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr):
		return &Error{Registry: host, Reason: "TLS certificate not trusted (" + tlsReason(err) + "); pass --ca-file with the registry's CA", Err: err}
	case errors.As(err, &rerr):
		return &Error{Registry: host, Reason: "TLS handshake failed: the registry may speak plain HTTP (use --insecure only if you trust the network)", Err: err}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &Error{Registry: host, Reason: "the registry speaks plain HTTP, not HTTPS (pass --insecure only if you trust the network)", Err: err}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return &Error{Registry: host, Reason: "no answer in time (unreachable or too slow)", Err: err}
	case errors.As(err, &nerr):
		return &Error{Registry: host, Reason: "unreachable: " + err.Error(), Err: err}
	}
	return &Error{Registry: host, Reason: err.Error(), Err: err}
}

func tlsReason(err error) string {
	var herr x509.HostnameError
	if errors.As(err, &herr) {
		return "it is not valid for this host name"
	}
	return "signed by an unknown authority"
}
