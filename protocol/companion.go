package protocol

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/internal/syncbuf"
)

// CompanionName is the program that carries the management commands and
// the HTTP client, installed beside docker-credential-keyport.
const CompanionName = "keyport"

// Companion finds the keyport program: beside this binary first, then on PATH.
func Companion() (string, error) {
	if self, err := os.Executable(); err == nil {
		if self, err = filepath.EvalSymlinks(self); err == nil {
			beside := filepath.Join(filepath.Dir(self), CompanionName)
			if _, err := os.Stat(beside); err == nil {
				return beside, nil
			}
		}
	}
	if path, err := exec.LookPath(CompanionName); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("the %q program, which carries the management commands and the account API client, is not installed beside %s nor on PATH (install both: make build puts them in bin/)", CompanionName, credhelper.HelperName)
}

// companionAPI reaches the account API through one `keyport api session`
// child per helper run, started on the first call: the token goes on its
// stdin (never argv), then each call is a remote.Request line answered by a
// remote.Reply line. A cold get (a list, then one secret) so costs one
// program start and one connection (one TLS handshake), not two.
type companionAPI struct {
	cfg remote.APIConfig

	mu sync.Mutex
	s  *session // nil until the first call, and again after a failure
}

// CompanionAPI is the helper's remote.Options.NewAPI.
func CompanionAPI(cfg remote.APIConfig) (remote.API, error) {
	return &companionAPI{cfg: cfg}, nil
}

// EnvAPIBase passes the API root to `keyport api`; the CA file and the
// deadlines go in the variables people set (backends.EnvAPICAFile, ...).
const EnvAPIBase = "KEYPORT_API_BASE"

func (a *companionAPI) List(ctx context.Context, project string) ([]remote.Credential, remote.RateInfo, error) {
	r, err := a.call(ctx, remote.Request{Op: remote.RequestList, Project: project})
	if err != nil {
		return nil, r.Rate, err
	}
	return r.Credentials, r.Rate, nil
}

func (a *companionAPI) Get(ctx context.Context, id string) (remote.Credential, remote.RateInfo, error) {
	r, err := a.call(ctx, remote.Request{Op: remote.RequestGet, ID: id})
	if err == nil && r.Credential == nil {
		err = fmt.Errorf("%w: keyport api answered no credential", remote.ErrUnavailable)
	}
	if err != nil {
		return remote.Credential{}, r.Rate, err
	}
	return *r.Credential, r.Rate, nil
}

// call sends req and waits for its reply within the API's budget (plus a
// second for the child's start). A child that has gone away (its idle
// timeout) is replaced once; one that answers late or garbage is killed.
func (a *companionAPI) call(ctx context.Context, req remote.Request) (remote.Reply, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.cfg.Timeout+time.Second)
		defer cancel()
	}
	if err := ctx.Err(); err != nil {
		return remote.Reply{}, fmt.Errorf("%w: %w", remote.ErrUnavailable, err)
	}
	line, err := json.Marshal(req)
	if err != nil {
		return remote.Reply{}, err
	}
	for attempt := 0; ; attempt++ {
		fresh := a.s == nil
		if fresh {
			if a.s, err = startSession(a.cfg); err != nil {
				return remote.Reply{}, err
			}
		}
		reply, err := a.s.roundTrip(ctx, line)
		if err == nil {
			if reply.Error != nil {
				return reply, reply.Error.Err()
			}
			return reply, nil
		}
		detail := a.s.close()
		a.s = nil
		if errors.Is(err, errSessionGone) && !fresh && attempt == 0 {
			continue // it idled out between calls: start another
		}
		return remote.Reply{}, fmt.Errorf("%w: keyport api: %w %s", remote.ErrUnavailable, err, credhelper.OneLine(detail, 300))
	}
}

// session is one running `keyport api session`.
type session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *syncbuf.Buffer
}

var errSessionGone = errors.New("the api session ended")

func startSession(cfg remote.APIConfig) (*session, error) {
	// The token is the first line the child reads: a line break inside it
	// would shift every answer onto the wrong question.
	if strings.ContainsFunc(cfg.Token, unicode.IsControl) {
		return nil, errors.New("the account API token contains a line break or another control character: check KEYPORT_API_TOKEN or the token file")
	}
	path, err := Companion()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", remote.ErrUnavailable, err)
	}
	cmd := exec.Command(path, "api", "session")
	cmd.Env = append(os.Environ(),
		EnvAPIBase+"="+cfg.Base, backends.EnvAPICAFile+"="+cfg.CAFile,
		backends.EnvAPITimeout+"="+cfg.Timeout.String(), backends.EnvConnectTimeout+"="+cfg.ConnectTimeout.String())
	s := &session{cmd: cmd, stderr: &syncbuf.Buffer{Limit: 4096}}
	cmd.Stderr = s.stderr
	// Once the child is killed, Wait stops waiting for its pipes shortly
	// after, even if something it started still holds them.
	cmd.WaitDelay = 200 * time.Millisecond
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%w: keyport api: %w", remote.ErrUnavailable, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		_ = s.stdin.Close()
		return nil, fmt.Errorf("%w: keyport api: %w", remote.ErrUnavailable, err)
	}
	s.stdout = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting keyport api: %w", remote.ErrUnavailable, err)
	}
	// The pipe holds far more than a token line: this write does not block.
	if _, err := io.WriteString(s.stdin, cfg.Token+"\n"); err != nil {
		detail := s.close()
		return nil, fmt.Errorf("%w: keyport api: %w %s", remote.ErrUnavailable, errSessionGone, credhelper.OneLine(detail, 300))
	}
	return s, nil
}

// roundTrip writes one request line and reads one reply line before ctx
// ends.
func (s *session) roundTrip(ctx context.Context, line []byte) (remote.Reply, error) {
	type result struct {
		reply remote.Reply
		err   error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		if _, err := s.stdin.Write(append(line, '\n')); err != nil {
			r.err = errSessionGone
		} else if out, err := s.stdout.ReadBytes('\n'); err != nil {
			r.err = errSessionGone
		} else if err := json.Unmarshal(out, &r.reply); err != nil {
			r.err = fmt.Errorf("an answer that is not a reply: %w", err)
		}
		done <- r
	}()
	select {
	case r := <-done:
		return r.reply, r.err
	case <-ctx.Done():
		_ = s.cmd.Process.Kill() // unblocks the goroutine
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return remote.Reply{}, fmt.Errorf("no answer in time: %w", ctx.Err())
		}
		return remote.Reply{}, ctx.Err()
	}
}

// close stops the child and returns what it wrote on stderr.
func (s *session) close() string {
	_ = s.stdin.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	return s.stderr.String()
}
