package remote

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

	"github.com/keyport/keyport/internal/certpool"
)

// Errors callers branch on. Every client error wraps one of them or is an
// *APIError with another status (400, 404, ...).
var (
	// ErrTokenRejected: the API answered 401 or 403. The cache is dropped at
	// once: the account no longer lets this token (or project) read.
	ErrTokenRejected = errors.New("the account API rejected the token")
	// ErrUnavailable: the API could not answer usefully (unreachable,
	// timeout, 5xx, 429, a body that is not the API's JSON). A stale cache
	// entry may stand in for it, within the grace window.
	ErrUnavailable = errors.New("the account API is unavailable")
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

// APIError is an error answer of the account API, in its
// {"error": {"status", "message", "id"}} shape when the server sent one.
type APIError struct {
	Status    int
	Message   string
	RequestID string
	// RetryAt is when the API said to come back (Retry-After or
	// x-ratelimit-reset), zero when it did not say.
	RetryAt time.Time
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("account API answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// Unwrap classifies the status for errors.Is.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return ErrTokenRejected
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return ErrUnavailable
	}
	return nil
}

// Restrictions say which projects may use a credential.
type Restrictions struct {
	Restricted bool     `json:"restricted"`
	Projects   []string `json:"projects"`
}

// Allows reports whether project may use a credential so restricted.
func (r Restrictions) Allows(project string) bool {
	if !r.Restricted {
		return true
	}
	for _, p := range r.Projects {
		if p == project {
			return true
		}
	}
	return false
}

// AuthEntry is one entry of a Docker config.json "auths" map.
type AuthEntry struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

// Credential is a registry credential as the API shows it. A list leaves the
// secret parts out; the hosted API's list may leave Restrictions out too.
type Credential struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	Provider     string        `json:"provider"`
	RegistryURL  string        `json:"registryUrl"`
	Username     string        `json:"username"`
	Restrictions *Restrictions `json:"restrictions"`
	UpdatedAt    string        `json:"updatedAt"`
	Credentials  *struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"credentials"`
	Auths   map[string]AuthEntry `json:"auths"`
	Keyfile json.RawMessage      `json:"keyfile"`
}

// RateInfo is what a response said about the caller's rate limit.
type RateInfo struct {
	// Exhausted is true when x-ratelimit-remaining said 0.
	Exhausted bool
	// Reset is when the window resets (zero when not said).
	Reset time.Time
}

// Client calls the account API: keyportd, or the hosted API it mirrors.
type Client struct {
	base    string // ".../v1" or ".../v1/teams/{team}", no trailing slash
	token   string
	http    *http.Client
	now     func() time.Time
	timeout time.Duration // for messages only: the budget the caller set
}

// BaseURL returns the API root for apiURL and team: apiURL with "/v1" (the
// version may already be there) and "/teams/{team}" when a team is given.
func BaseURL(apiURL, team string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("KEYPORT_API_URL %q is not an http(s) URL", apiURL)
	}
	if u.User != nil {
		return "", errors.New("KEYPORT_API_URL must not hold credentials: give the token with KEYPORT_API_TOKEN or account login")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("KEYPORT_API_URL %q must not have a query or fragment", apiURL)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimSuffix(path, "/v1")
	path += "/v1"
	if team != "" {
		if strings.ContainsAny(team, "/?#% ") {
			return "", fmt.Errorf("KEYPORT_TEAM %q is not a team id", team)
		}
		path += "/teams/" + team
	}
	u.Path = path
	u.Host = strings.ToLower(u.Host)
	u.Scheme = strings.ToLower(u.Scheme)
	return u.String(), nil
}

// NewClient returns a client for the API root base (see BaseURL).
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
func (c *Client) List(ctx context.Context, project string) ([]Credential, RateInfo, error) {
	q := url.Values{"per_page": {strconv.Itoa(perPage)}}
	if project != "" {
		q.Set("project", project)
	}
	var all []Credential
	var rate RateInfo
	seen := map[string]bool{}
	for page := 1; page <= maxPages; page++ {
		var body struct {
			Data struct {
				Credentials []Credential    `json:"credentials"`
				Pagination  *paginationJSON `json:"pagination"`
			} `json:"data"`
			Pagination *paginationJSON `json:"pagination"`
		}
		var err error
		rate, err = c.do(ctx, "/integrations/registries?"+q.Encode(), maxListBody, &body)
		if err != nil {
			return nil, rate, err
		}
		if body.Data.Credentials == nil {
			return nil, rate, fmt.Errorf("%w: the list answer has no data.credentials array", ErrUnavailable)
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
				return nil, rate, fmt.Errorf("%w: the list repeats cursor %q", ErrUnavailable, p.Cursor)
			}
			seen[p.Cursor] = true
			q.Set("cursor", p.Cursor)
			q.Del("page")
		} else {
			q.Set("page", strconv.Itoa(page+1))
		}
	}
	return nil, rate, fmt.Errorf("%w: the list has more than %d pages", ErrUnavailable, maxPages)
}

type paginationJSON struct {
	HasNextPage bool   `json:"hasNextPage"`
	Cursor      string `json:"cursor"`
}

// Get returns one credential with its secret.
func (c *Client) Get(ctx context.Context, id string) (Credential, RateInfo, error) {
	var body struct {
		Data *Credential `json:"data"`
	}
	rate, err := c.do(ctx, "/integrations/registries/"+url.PathEscape(id), maxGetBody, &body)
	if err != nil {
		return Credential{}, rate, err
	}
	if body.Data == nil || body.Data.ID == "" {
		return Credential{}, rate, fmt.Errorf("%w: the answer for credential %q has no data", ErrUnavailable, id)
	}
	return *body.Data, rate, nil
}

// do GETs base+path and decodes a 200's JSON into out.
func (c *Client) do(ctx context.Context, path string, limit int64, out any) (RateInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return RateInfo{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "docker-credential-keyport")
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			return RateInfo{}, fmt.Errorf("%w: no answer within the deadline (%s): %w", ErrUnavailable, c.deadline(), redactURLError(err))
		}
		return RateInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, redactURLError(err))
	}
	defer resp.Body.Close()
	rate := c.rateInfo(resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return rate, fmt.Errorf("%w: reading the answer: %w", ErrUnavailable, redactURLError(err))
	}
	if int64(len(body)) > limit {
		return rate, fmt.Errorf("%w: the answer is larger than %d bytes", ErrUnavailable, limit)
	}
	if resp.StatusCode != http.StatusOK {
		e := &APIError{Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Message string `json:"message"`
				ID      string `json:"id"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &eb) == nil {
			e.Message, e.RequestID = oneLine(eb.Error.Message, 300), oneLine(eb.Error.ID, 64)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			e.RetryAt = c.retryAt(resp.Header, rate)
		}
		return rate, e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return rate, fmt.Errorf("%w: the answer is not the account API's JSON (%s): %w", ErrUnavailable, contentType(resp), err)
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
func (c *Client) rateInfo(h http.Header) RateInfo {
	var r RateInfo
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
func (c *Client) retryAt(h http.Header, rate RateInfo) time.Time {
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
		return "Content-Type " + oneLine(ct, 80)
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

// oneLine keeps server-sent text to one bounded line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
