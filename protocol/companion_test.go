package protocol

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/remote"
)

// fakeCompanion puts a `keyport` on PATH that speaks the session protocol
// the way script says, logging each start ("start ARGS") and each line it
// reads to log. The real program is exercised end to end by the remote
// store's e2e tests; this covers the session's own logic.
func fakeCompanion(t *testing.T, script string) (log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	body := "#!/bin/sh\necho \"start $*\" >>" + log + "\n" + script
	if err := os.WriteFile(filepath.Join(dir, CompanionName), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

const listReply = `{"credentials":[{"id":"hub","name":"hub"}],"rate":{}}`

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}

func newAPI(t *testing.T, timeout time.Duration) remote.API {
	t.Helper()
	api, err := CompanionAPI(remote.APIConfig{Base: "http://127.0.0.1:9/", Token: "tok-secret", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestCompanionSessionServesEveryCallFromOneChild(t *testing.T) {
	log := fakeCompanion(t, `
while read -r line; do
  echo "read $line" >>`+"$0.log"+`
  case "$line" in
    *'"op":"list"'*) echo '`+listReply+`' ;;
    *'"op":"get"'*) echo '{"credential":{"id":"hub","username":"u","password":"p"},"rate":{}}' ;;
    tok-*) ;;
  esac
done`)
	api := newAPI(t, 2*time.Second)
	ctx := context.Background()
	creds, _, err := api.List(ctx, "web")
	if err != nil || len(creds) != 1 || creds[0].ID != "hub" {
		t.Fatalf("List = %v, %v", creds, err)
	}
	if _, _, err := api.Get(ctx, "hub"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	starts := strings.Count(readLog(t, log), "start ")
	if starts != 1 {
		t.Fatalf("%d children started for two calls, want 1:\n%s", starts, readLog(t, log))
	}
	if strings.Contains(readLog(t, log), "tok-secret") {
		t.Fatal("the token reached the child's argv")
	}
	lines := readLog(t, filepath.Join(filepath.Dir(log), CompanionName+".log"))
	if !strings.HasPrefix(lines, "read tok-secret\n") || !strings.Contains(lines, `"project":"web"`) {
		t.Fatalf("the child read:\n%s\nwant the token first, then the requests", lines)
	}
}

func TestCompanionSessionRestartsAChildThatIdledOut(t *testing.T) {
	// Answers one request, then exits, as an idle session does.
	log := fakeCompanion(t, `read -r token; read -r line; echo '`+listReply+`'`)
	api := newAPI(t, 2*time.Second)
	for i := range 2 {
		if _, _, err := api.List(context.Background(), ""); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if starts := strings.Count(readLog(t, log), "start "); starts != 2 {
		t.Fatalf("%d starts, want 2 (one replacement)", starts)
	}
}

func TestCompanionSessionFailures(t *testing.T) {
	tests := []struct {
		name, script, want string
	}{
		{"no answer", `read -r token; read -r line; sleep 30`, "no answer in time"},
		{"garbage", `read -r token; read -r line; echo 'boom from keyport' >&2; echo 'not json'; sleep 30`, "boom from keyport"},
		{"exits at once", `echo 'cannot start' >&2; exit 3`, "cannot start"},
		{"an API error travels as itself", `read -r token; read -r line; echo '{"error":{"status":401,"message":"bad token","text":"x"},"rate":{}}'`, "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeCompanion(t, tt.script)
			api := newAPI(t, 300*time.Millisecond)
			start := time.Now()
			_, _, err := api.List(context.Background(), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if tt.want != "401" && !errors.Is(err, remote.ErrUnavailable) {
				t.Fatalf("err = %v, want it to wrap ErrUnavailable", err)
			}
			if tt.want == "401" && !errors.Is(err, remote.ErrTokenRejected) {
				t.Fatalf("err = %v, want ErrTokenRejected", err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("took %v: the deadline (0.3 s + 1 s) did not hold", took)
			}
		})
	}
}
