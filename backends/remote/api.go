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

// Request is one call sent to another process that holds the API client
// (`keyport api session`), one JSON object a line; Reply is the answer.
type Request struct {
	Op      string `json:"op"` // RequestList or RequestGet
	Project string `json:"project,omitempty"`
	ID      string `json:"id,omitempty"`
}

// The operations a Request names: API.List and API.Get.
const (
	RequestList = "list"
	RequestGet  = "get"
)

// Answer runs r against api and packs the outcome, errors included, into
// a Reply for the other process.
func (r Request) Answer(ctx context.Context, api API) Reply {
	switch r.Op {
	case RequestList:
		creds, rate, err := api.List(ctx, r.Project)
		return Reply{Credentials: creds, Rate: rate, Error: replyError(err)}
	case RequestGet:
		cred, rate, err := api.Get(ctx, r.ID)
		reply := Reply{Rate: rate, Error: replyError(err)}
		if err == nil {
			reply.Credential = &cred
		}
		return reply
	}
	return Reply{Error: NewReplyError(fmt.Errorf("unknown API request %q", truncateOp(r.Op)))}
}

func replyError(err error) *ReplyError {
	if err == nil {
		return nil
	}
	return NewReplyError(err)
}

func truncateOp(op string) string {
	if len(op) > 20 {
		return op[:20] + "…"
	}
	return op
}
