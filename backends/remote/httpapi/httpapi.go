// Package httpapi is the remote store's HTTP client for the account API
// (keyportd, or the hosted API it mirrors). It is kept apart from package
// remote so the credential helper, which reaches the API through the keyport
// program, links no HTTP stack.
package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/internal/certpool"
)

// Response bounds: a page holds at most 100 credentials without secrets; one
// credential with a GCR keyfile is a few KiB.
const (
	maxListBody = 8 << 20
	maxGetBody  = 1 << 20
	perPage     = 100
	// maxPages bounds a listing (10,000 credentials) so a server that always
	// says hasNextPage cannot keep a `get` busy.
	maxPages = 100
)

// Client calls the account API: keyportd, or the hosted API it mirrors.
type Client struct {
	base    string // ".../v1" or ".../v1/teams/{team}", no trailing slash
	token   string
	http    *http.Client
	now     func() time.Time
	timeout time.Duration // for messages only: the budget the caller set
}

// New returns a client for cfg: the remote store's remote.Options.NewAPI
// wherever an HTTP client may be linked (the keyport program, tests).
func New(cfg remote.APIConfig) (remote.API, error) {
	hc, err := NewHTTPClient(HTTPOptions{ConnectTimeout: cfg.ConnectTimeout, Timeout: cfg.Timeout, CAFile: cfg.CAFile})
	if err != nil {
		return nil, err
	}
	c := NewClient(cfg.Base, cfg.Token, hc)
	c.timeout = cfg.Timeout
	if cfg.Now != nil {
		c.now = cfg.Now
	}
	return c, nil
}

// NewClient returns a client for the API root base (see remote.BaseURL).
func NewClient(base, token string, hc *http.Client) *Client {
	return &Client{base: base, token: token, http: hc, now: time.Now}
}

// HTTPOptions configure the transport to the API.
type HTTPOptions struct {
	// ConnectTimeout bounds the TCP connect and the TLS handshake.
	ConnectTimeout time.Duration
	// Timeout bounds one request end to end.
	Timeout time.Duration
	// CAFile is a PEM bundle trusted in addition to the system roots.
	CAFile string
}

// NewHTTPClient builds the client the store uses: bounded at every step,
// TLS verified, a private CA added when given, proxies from the environment.
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := certpool.WithFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("KEYPORT_API_CA_FILE: %w", err)
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   o.ConnectTimeout,
		ResponseHeaderTimeout: o.Timeout,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: o.Timeout}, nil
}

// List returns every credential the token may list, following pagination.
// project, when given, asks the server to keep only what that project may
// use (keyportd's ?project=); the caller filters again regardless.
func (c *Client) List(ctx context.Context, project string) ([]remote.Credential, remote.RateInfo, error) {
	q := url.Values{"per_page": {strconv.Itoa(perPage)}}
	if project != "" {
		q.Set("project", project)
	}
	var all []remote.Credential
	var rate remote.RateInfo
	seen := map[string]bool{}
	for page := 1; page <= maxPages; page++ {
		var body struct {
			Data struct {
				Credentials []remote.Credential `json:"credentials"`
				Pagination  *paginationJSON     `json:"pagination"`
			} `json:"data"`
			Pagination *paginationJSON `json:"pagination"`
		}
		var err error
		rate, err = c.do(ctx, "/integrations/registries?"+q.Encode(), maxListBody, &body)
		if err != nil {
			return nil, rate, err
		}
		if body.Data.Credentials == nil {
			return nil, rate, fmt.Errorf("%w: the list answer has no data.credentials array", remote.ErrUnavailable)
		}
		all = append(all, body.Data.Credentials...)
		p := body.Pagination
		if p == nil {
			p = body.Data.Pagination
		}
		if p == nil || !p.HasNextPage || len(body.Data.Credentials) == 0 {
			return all, rate, nil
		}
		if p.Cursor != "" {
			if seen[p.Cursor] {
				return nil, rate, fmt.Errorf("%w: the list repeats cursor %q", remote.ErrUnavailable, p.Cursor)
			}
			seen[p.Cursor] = true
			q.Set("cursor", p.Cursor)
			q.Del("page")
		} else {
			q.Set("page", strconv.Itoa(page+1))
		}
	}
	return nil, rate, fmt.Errorf("%w: the list has more than %d pages", remote.ErrUnavailable, maxPages)
}

type paginationJSON struct {
	HasNextPage bool   `json:"hasNextPage"`
	Cursor      string `json:"cursor"`
}

// Get returns one credential with its secret.
func (c *Client) Get(ctx context.Context, id string) (remote.Credential, remote.RateInfo, error) {
	var body struct {
		Data *remote.Credential `json:"data"`
	}
	rate, err := c.do(ctx, "/integrations/registries/"+url.PathEscape(id), maxGetBody, &body)
	if err != nil {
		return remote.Credential{}, rate, err
	}
	if body.Data == nil || body.Data.ID == "" {
		return remote.Credential{}, rate, fmt.Errorf("%w: the answer for credential %q has no data", remote.ErrUnavailable, id)
	}
	return *body.Data, rate, nil
}

// do GETs base+path and decodes a 200's JSON into out.
func (c *Client) do(ctx context.Context, path string, limit int64, out any) (remote.RateInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return remote.RateInfo{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "docker-credential-keyport")
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return remote.RateInfo{}, fmt.Errorf("%w: no answer within the deadline (%s): %w", remote.ErrUnavailable, c.deadline(), redactURLError(err))
		}
		return remote.RateInfo{}, fmt.Errorf("%w: %w", remote.ErrUnavailable, redactURLError(err))
	}
	defer resp.Body.Close()
	rate := c.rateInfo(resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return rate, fmt.Errorf("%w: reading the answer: %w", remote.ErrUnavailable, redactURLError(err))
	}
	if int64(len(body)) > limit {
		return rate, fmt.Errorf("%w: the answer is larger than %d bytes", remote.ErrUnavailable, limit)
	}
	if resp.StatusCode != http.StatusOK {
		e := &remote.APIError{Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Message string `json:"message"`
				ID      string `json:"id"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil {
			e.Message, e.RequestID = credhelper.OneLine(eb.Error.Message, 300), credhelper.OneLine(eb.Error.ID, 64)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			e.RetryAt = c.retryAt(resp.Header, rate)
		}
		return rate, e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return rate, fmt.Errorf("%w: the answer is not the account API's JSON (%s): %w", remote.ErrUnavailable, contentType(resp), err)
	}
	return rate, nil
}

// deadline describes the time budget for messages: KEYPORT_API_TIMEOUT is
// the knob people can turn.
func (c *Client) deadline() string {
	if c.timeout > 0 {
		return "KEYPORT_API_TIMEOUT=" + c.timeout.String()
	}
	return "the caller's deadline"
}

// rateInfo reads x-ratelimit-remaining and x-ratelimit-reset. The reset is
// seconds from now (keyportd, and most APIs), or a Unix time when it is too
// large to be a delay.
func (c *Client) rateInfo(h http.Header) remote.RateInfo {
	var r remote.RateInfo
	if v := h.Get("x-ratelimit-remaining"); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		r.Exhausted = err == nil && n <= 0
	}
	if v := h.Get("x-ratelimit-reset"); v != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n >= 0 {
			if n > 1_000_000_000 {
				r.Reset = time.Unix(n, 0)
			} else {
				r.Reset = c.now().Add(time.Duration(n) * time.Second)
			}
		}
	}
	return r
}

// retryAt is when to come back after a 429/503: Retry-After (seconds or an
// HTTP date) first, then the rate-limit reset.
func (c *Client) retryAt(h http.Header, rate remote.RateInfo) time.Time {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return c.now().Add(time.Duration(n) * time.Second)
		}
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return rate.Reset
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return "Content-Type " + credhelper.OneLine(ct, 80)
	}
	return "no Content-Type"
}

// redactURLError drops the query from a *url.Error's URL: nothing secret is
// in it today, but errors end up in CI logs.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}
