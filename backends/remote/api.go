package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// API is the account API as the store uses it. Package httpapi implements
// it over HTTP; the credential helper implements it by running the keyport
// program (`keyport api ...`), so the helper, started on every pull, links
// no HTTP stack and pays for one only on a cold or stale cache.
type API interface {
	// List returns every credential the token may list (no secrets),
	// following pagination; project, when set, asks the server to filter.
	List(ctx context.Context, project string) ([]Credential, RateInfo, error)
	// Get returns one credential with its secret.
	Get(ctx context.Context, id string) (Credential, RateInfo, error)
}

// APIConfig is what an API needs to reach the account API.
type APIConfig struct {
	Base           string // see BaseURL
	Token          string
	CAFile         string
	ConnectTimeout time.Duration
	Timeout        time.Duration
	Now            func() time.Time // nil: time.Now
}

// Reply is one API answer carried between processes as JSON.
type Reply struct {
	Credentials []Credential `json:"credentials,omitempty"`
	Credential  *Credential  `json:"credential,omitempty"`
	Rate        RateInfo     `json:"rate"`
	Error       *ReplyError  `json:"error,omitempty"`
}

// ReplyError carries an API error across a process boundary with what the
// store branches on: the status, Retry-After, and which sentinel it wraps.
type ReplyError struct {
	Status      int       `json:"status,omitempty"`
	Message     string    `json:"message,omitempty"`
	RequestID   string    `json:"requestId,omitempty"`
	RetryAt     time.Time `json:"retryAt,omitzero"`
	Unavailable bool      `json:"unavailable,omitempty"`
	Text        string    `json:"text"`
}

// NewReplyError describes err for Reply.
func NewReplyError(err error) *ReplyError {
	re := &ReplyError{Text: err.Error(), Unavailable: errors.Is(err, ErrUnavailable)}
	var ae *APIError
	if errors.As(err, &ae) {
		re.Status, re.Message, re.RequestID, re.RetryAt = ae.Status, ae.Message, ae.RequestID, ae.RetryAt
	}
	return re
}

// Err rebuilds the error: an *APIError when the API answered, else an error
// wrapping ErrUnavailable or a plain one, as the other process had it.
func (e *ReplyError) Err() error {
	switch {
	case e.Status != 0:
		return &APIError{Status: e.Status, Message: e.Message, RequestID: e.RequestID, RetryAt: e.RetryAt}
	case e.Unavailable:
		return fmt.Errorf("%w: %s", ErrUnavailable, strings.TrimPrefix(e.Text, ErrUnavailable.Error()+": "))
	}
	return errors.New(e.Text)
}
