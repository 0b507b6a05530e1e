package credhelper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
)

// ProtocolActions are the verbs of the docker credential-helper protocol.
var ProtocolActions = map[string]bool{
	credentials.ActionStore: true, credentials.ActionGet: true, credentials.ActionErase: true,
	credentials.ActionList: true, credentials.ActionVersion: true,
}

// MaxProtocolInput bounds what a protocol verb reads from stdin. A real
// request is a server URL or a small JSON object; a GCR keyfile is ~2.5 KB.
const MaxProtocolInput = 64 << 10

// DefaultTimeout bounds one protocol call end to end, so a wedged store can
// never hang a pull.
const DefaultTimeout = 10 * time.Second

// helperAdapter turns the Resolver into the docker-credential-helpers Helper.
type helperAdapter struct {
	ctx context.Context
	r   *Resolver
}

func (h helperAdapter) Add(c *credentials.Credentials) error {
	return h.r.Put(h.ctx, Credentials{ServerURL: c.ServerURL, Username: c.Username, Secret: c.Secret})
}

func (h helperAdapter) Delete(serverURL string) error {
	return notFoundToProtocol(h.r.Delete(h.ctx, serverURL))
}

func (h helperAdapter) Get(serverURL string) (string, string, error) {
	c, err := h.r.Get(h.ctx, serverURL)
	if err != nil {
		return "", "", notFoundToProtocol(err)
	}
	return c.Username, c.Secret, nil
}

func (h helperAdapter) List() (map[string]string, error) {
	m, err := h.r.List(h.ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	for k, u := range m {
		out[DisplayServerURL(k)] = u
	}
	return out, nil
}

// notFoundToProtocol swaps ErrNotFound for the library's error, whose text
// ("credentials not found in native keychain") docker and podman match.
func notFoundToProtocol(err error) error {
	if errors.Is(err, ErrNotFound) {
		return credentials.NewErrCredentialsNotFound()
	}
	return err
}

// ServeProtocol runs one protocol action. The answer or the error goes to
// stdout as the protocol wants; it returns the exit code. open builds the
// resolver lazily so `version` needs no store.
func ServeProtocol(ctx context.Context, action string, stdin io.Reader, stdout io.Writer, open func() (*Resolver, error)) int {
	if action == credentials.ActionVersion {
		fmt.Fprintf(stdout, "%s (%s) %s\n", HelperName, ModulePath, VersionString())
		return 0
	}
	ctx, cancel := withLazyDeadline(ctx, time.Now().Add(DefaultTimeout))
	defer cancel()
	err := func() error {
		r, err := open()
		if err != nil {
			return err
		}
		in := &limitedReader{r: stdin, left: MaxProtocolInput}
		return credentials.HandleCommand(helperAdapter{ctx: ctx, r: r}, action, in, stdout)
	}()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stdout, OneLine(protocolError(action, err), 0))
	return 1
}

// protocolError makes the library's bare decoding errors say what was wrong.
func protocolError(action string, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errInputTooLarge), errors.Is(err, bufio.ErrTooLong):
		return errInputTooLarge.Error()
	case action == credentials.ActionStore && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return `store: expected a JSON object {"ServerURL","Username","Secret"} on stdin`
	case action == credentials.ActionStore && errors.As(err, &syn):
		return "store: stdin is not valid JSON: " + syn.Error()
	case action == credentials.ActionStore && errors.As(err, &typ):
		return fmt.Sprintf("store: field %s must be a string", typ.Field)
	}
	return err.Error()
}

// OneLine folds s to one line of single spaces, cut at max bytes (no cut
// when max <= 0): for errors on the protocol's one stdout line and for text
// a server or a child process sent, which ends up in messages.
func OneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if max > 0 && len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// errInputTooLarge is built from constants: a fmt call at package init
// would run on every helper start.
var errInputTooLarge = errors.New("input larger than " + maxProtocolInputText)

const maxProtocolInputText = "64 KiB"

type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Probe for one more byte: exactly the limit is fine.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errInputTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
