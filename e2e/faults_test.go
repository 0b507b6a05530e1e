package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/internal/testkit"
)

// TestDiskFull fills a small tmpfs KEYPORT_HOME until a store fails: the
// failure is one clear line, and every credential saved before it is intact.
func TestDiskFull(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	os.MkdirAll(home, 0o700)
	if err := syscall.Mount("tmpfs", home, "tmpfs", 0, "size=48k"); err != nil {
		t.Fatalf("mounting a small tmpfs (the suite runs as root, as make test does): %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(home, 0) })
	env := testkit.Env("KEYPORT_HOME="+home, "KEYPORT_BACKEND=file")
	secret := strings.Repeat("s", 2000) // a keyfile-sized secret fills the disk fast
	saved := 0
	var failure result
	for i := range 200 {
		body := fmt.Sprintf(`{"ServerURL":"r%d.example.com","Username":"u%d","Secret":"%s"}`, i, i, secret)
		r := run(t, env, []byte(body), helperBin, "store")
		if r.code != 0 {
			failure = r
			break
		}
		saved++
	}
	if failure.code == 0 {
		t.Fatal("the disk never filled up")
	}
	if !strings.Contains(failure.stdout, "no space left on device") || strings.Count(failure.stdout, "\n") != 1 {
		t.Fatalf("disk full: stdout %q, want one line naming the cause", failure.stdout)
	}
	if strings.Contains(failure.stdout+failure.stderr, secret[:50]) {
		t.Fatal("the secret was echoed")
	}
	for i := range saved {
		r := run(t, env, []byte(fmt.Sprintf("r%d.example.com", i)), helperBin, "get")
		if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf(`"Username":"u%d"`, i)) {
			t.Fatalf("credential %d of %d lost after the disk filled: %+v", i, saved, r)
		}
	}
	t.Logf("%d credentials saved before the disk filled; all readable afterwards", saved)
}

// TestKeychainDaemonKilled kills gnome-keyring mid-run, in a private session
// of its own: a later get answers a clear error within the deadline — not a
// hang, and not the not-found that would send docker on anonymously.
func TestKeychainDaemonKilled(t *testing.T) {
	script := `set -eu
echo '{"ServerURL":"ghcr.io","Username":"u","Secret":"s"}' | docker-credential-keyport store
echo ghcr.io | docker-credential-keyport get >/dev/null
pid=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
  org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets | awk '/uint32/ {print $2}')
kill -9 "$pid"
start=$(date +%s%N)
set +e
out=$(echo ghcr.io | docker-credential-keyport get)
code=$?
end=$(date +%s%N)
echo "code=$code ms=$(( (end - start) / 1000000 )) out=$out"
`
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	withKeyring := filepath.Join(filepath.Dir(strings.TrimSpace(string(root))), "scripts", "with-keyring.sh")
	cmd := exec.Command(withKeyring, "bash", "-c", script)
	cmd.Env = testkit.Env("KEYPORT_HOME="+t.TempDir(), "KEYPORT_BACKEND=keychain", "KEYPORT_KEYRING_SESSION=")
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("hung")
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var code, ms int
	var msg string
	line := string(out)[strings.LastIndex(string(out), "code="):]
	if _, err := fmt.Sscanf(line, "code=%d ms=%d", &code, &ms); err != nil {
		t.Fatalf("unexpected output: %s", out)
	}
	msg = line[strings.Index(line, "out=")+4:]
	if code != 1 || strings.Contains(msg, "credentials not found") || !strings.Contains(msg, "KEYPORT_BACKEND=file") {
		t.Fatalf("after the daemon died: exit %d, %q; want a clear keychain error", code, msg)
	}
	if ms > 5000 {
		t.Fatalf("took %d ms; the keychain deadline is 2 s", ms)
	}
	t.Logf("daemon killed: get failed in %d ms with %q", ms, strings.TrimSpace(msg))
}

// TestAPISessionStopsWhenTheHelperIsGone: a helper killed while `keyport
// api session` is paging through a slow API closes the child's stdin; the
// child must drop the request in flight rather than page on for minutes.
func TestAPISessionStopsWhenTheHelperIsGone(t *testing.T) {
	var requests atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select { // each page takes a while, and there is always another
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		n := requests.Load()
		fmt.Fprintf(w, `{"data":{"credentials":[{"id":"c%d","name":"c%d","registryUrl":"r%d.example.com"}]},"pagination":{"hasNextPage":true,"cursor":"c%d","count":1}}`, n, n, n, n)
	}))
	defer slow.Close()

	cmd := exec.Command(filepath.Join(filepath.Dir(helperBin), "keyport"), "api", "session")
	cmd.Env = append(os.Environ(), "KEYPORT_API_BASE="+slow.URL+"/v1", "KEYPORT_API_TIMEOUT=30s")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(stdin, "kp_token")
	fmt.Fprintln(stdin, `{"op":"list","project":"web"}`)
	time.Sleep(500 * time.Millisecond) // the list is paging now
	stdin.Close()                      // as when the helper dies
	closed := requests.Load()

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("keyport api session still running 5 s after its stdin closed (%d API requests)", requests.Load())
	}
	if extra := requests.Load() - closed; extra > 1 {
		t.Fatalf("%d more API requests after the helper went away, want at most the one in flight", extra)
	}
}

// TestAPISessionRefusesATokenWithALineBreak: the token is the session's
// first line, so a line break inside it would shift every answer onto the
// wrong request; the helper refuses it with a clear error instead.
func TestAPISessionRefusesATokenWithALineBreak(t *testing.T) {
	home := t.TempDir()
	env := append(os.Environ(), "KEYPORT_HOME="+home, "KEYPORT_BACKEND=remote",
		"KEYPORT_API_URL=http://127.0.0.1:9", "KEYPORT_PROJECT=web", "KEYPORT_API_TOKEN=kp_first\nsecond")
	r := run(t, env, []byte("ghcr.io"), helperBin, "get")
	if r.code == 0 || !strings.Contains(r.stdout, "line break") || strings.Contains(r.stdout+r.stderr, "kp_first") {
		t.Fatalf("get with a two-line token: exit %d, stdout %q, stderr %q; want a clear refusal that does not quote the token", r.code, r.stdout, r.stderr)
	}
}
