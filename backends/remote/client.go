package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
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
	msg := fmt.Sprintf("account API answered %d%s", e.Status, statusText(e.Status))
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
	case e.Status == 401 || e.Status == 403:
		return ErrTokenRejected
	case e.Status == 429 || e.Status >= 500:
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

// statusText names the statuses the API answers with; this package keeps off
// net/http, which the helper must not link (see API).
func statusText(code int) string {
	if t, ok := map[int]string{
		400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
		409: "Conflict", 413: "Request Entity Too Large", 429: "Too Many Requests",
		500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
	}[code]; ok {
		return " " + t
	}
	return ""
}
