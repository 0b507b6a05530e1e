// Package testkit builds keyport's binaries and runs keyportd for end-to-end
// tests, so every suite starts the real programs the same way.
package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/syncbuf"
)

// BuildBinaries builds every command under cmd/ into dir, as `make build` does.
func BuildBinaries(dir string) error {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("finding the module: %w", err)
	}
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./cmd/...")
	build.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if msg, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/...: %w\n%s", err, msg)
	}
	return nil
}

// Daemon is a running `keyportd serve`.
type Daemon struct {
	URL  string
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	// exited is closed once the process has been waited for; waitErr is
	// its result then.
	exited  chan struct{}
	waitErr error
}

// Logs is what keyportd wrote to stderr so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// StartKeyportd runs `keyportd serve --addr 127.0.0.1:0 ARGS...` and waits
// until it listens. It is killed when the test ends.
func StartKeyportd(t testing.TB, bin string, env []string, args ...string) *Daemon {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.logs.WriteString(line + "\n")
			d.mu.Unlock()
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "listening" {
				if a, ok := m["addr"].(string); ok {
					addr <- a
				}
			}
		}
		d.waitErr = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() { d.Kill() })
	select {
	case a := <-addr:
		d.URL = "http://" + a
	case <-d.exited:
		t.Fatalf("keyportd serve exited: %v\n%s", d.waitErr, d.Logs())
	case <-time.After(30 * time.Second):
		t.Fatal("keyportd serve did not start listening")
	}
	return d
}

// Kill stops keyportd at once (an outage), and waits for it to exit.
func (d *Daemon) Kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// Env is os.Environ with overrides.
func Env(overrides ...string) []string {
	return append(os.Environ(), overrides...)
}

// Main is a TestMain for suites that run the real programs: it builds every
// command into a temporary directory, puts that first on PATH, tells found
// where it is, runs the tests, cleans up and exits.
func Main(m *testing.M, found func(dir string)) {
	dir, err := os.MkdirTemp("", "keyport-bin-")
	if err == nil {
		err = BuildBinaries(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	found(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// SyncBuffer collects output (a logger's, say) from concurrent writers.
type SyncBuffer = syncbuf.Buffer

// CallAPI makes one request to the account API with a bearer token and a
// JSON body (nil: none), and returns the status and the decoded answer.
func CallAPI(t testing.TB, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}
