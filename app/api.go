package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/backends/remote/httpapi"
	"github.com/keyport/keyport/protocol"
)

// sessionIdle ends an `api session` nobody is asking anything: the helper
// that started it has normally exited (closing stdin) long before.
const sessionIdle = 30 * time.Second

// maxRequestLine bounds one request line; real ones are under 200 bytes.
const maxRequestLine = 64 << 10

// apiCommand is how the credential helper reaches the account API without
// linking an HTTP client: it starts `keyport api session`, writes the token
// and then one remote.Request per line on its stdin, and reads one
// remote.Reply per line from its stdout. One process and one connection
// serve every call of a helper run (a cold get lists, then fetches). Not
// for people.
func apiCommand() *cli.Command {
	return &cli.Command{
		Name:   "api",
		Hidden: true,
		Subcommands: []*cli.Command{{
			Name: "session",
			Action: func(c *cli.Context) error {
				return apiSession(c, c.App.Reader, c.App.Writer)
			},
		}},
	}
}

// apiSession answers requests until stdin ends or stays idle. Every
// failure, a bad token line included, travels inside a reply.
func apiSession(c *cli.Context, stdin io.Reader, stdout io.Writer) error {
	// The end of stdin means the helper is gone: stop the request in flight
	// too, not only the loop.
	ctx, helperGone := context.WithCancel(c.Context)
	defer helperGone()
	lines := make(chan []byte)
	go func() {
		defer close(lines)
		defer helperGone()
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 4096), maxRequestLine)
		for sc.Scan() {
			select {
			case lines <- append([]byte(nil), sc.Bytes()...):
			case <-ctx.Done():
				return
			}
		}
	}()
	next := func() ([]byte, bool) {
		select {
		case line, ok := <-lines:
			return line, ok
		case <-time.After(sessionIdle):
			return nil, false
		}
	}
	tokenLine, ok := next()
	if !ok {
		return nil
	}
	api, budget, setupErr := sessionClient(strings.TrimSpace(string(tokenLine)))
	enc := json.NewEncoder(stdout)
	for {
		line, ok := next()
		if !ok {
			return nil
		}
		var reply remote.Reply
		var req remote.Request
		switch {
		case setupErr != nil:
			reply.Error = remote.NewReplyError(setupErr)
		case json.Unmarshal(line, &req) != nil:
			reply.Error = remote.NewReplyError(fmt.Errorf("api session: a request line is not JSON (%d bytes)", len(line)))
		default:
			// The helper waits this long (and a second more) for the answer.
			rctx, cancel := context.WithTimeout(ctx, budget)
			reply = req.Answer(rctx, api)
			cancel()
		}
		if err := enc.Encode(reply); err != nil {
			return nil // the helper went away
		}
	}
}

// sessionClient builds the HTTP client from the helper's settings: the API
// root and deadlines in the environment, the token on the first line.
func sessionClient(token string) (remote.API, time.Duration, error) {
	if token == "" {
		return nil, 0, errors.New("api session: no token on the first line of stdin")
	}
	cfg := remote.APIConfig{Base: os.Getenv(protocol.EnvAPIBase), Token: token, CAFile: os.Getenv(backends.EnvAPICAFile)}
	cfg.Timeout, _ = time.ParseDuration(os.Getenv(backends.EnvAPITimeout))
	cfg.ConnectTimeout, _ = time.ParseDuration(os.Getenv(backends.EnvConnectTimeout))
	if cfg.Timeout <= 0 { // never unbounded, whatever the caller sent
		cfg.Timeout = remote.DefaultTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = min(remote.DefaultConnectTimeout, cfg.Timeout)
	}
	api, err := httpapi.New(cfg)
	return api, cfg.Timeout, err
}
