package main_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/zalando/go-keyring"

	"github.com/keyport/keyport/backends/keychain"
	"github.com/keyport/keyport/backends/storetest"
)

// program runs the built helper the way docker does, through the client package.
func program(env []string) client.ProgramFunc {
	return func(args ...string) client.Program {
		cmd := exec.Command(helperBin, args...)
		cmd.Env = env
		return &shellProgram{cmd: cmd}
	}
}

type shellProgram struct{ cmd *exec.Cmd }

func (p *shellProgram) Output() ([]byte, error) { return p.cmd.Output() }
func (p *shellProgram) Input(in io.Reader)      { p.cmd.Stdin = in }

// TestProtocolThroughDockerClient drives every action through the client
// package docker itself uses, on each local store.
func TestProtocolThroughDockerClient(t *testing.T) {
	backends := []string{"file"}
	if os.Getenv("KEYPORT_TEST_KEYRING") != "" {
		backends = append(backends, "keychain")
	} else {
		t.Error("keychain case not run: run the tests through scripts/with-keyring.sh (make test does)")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			if backend == "keychain" {
				if err := keyring.DeleteAll(keychain.Service); err != nil && !errors.Is(err, keyring.ErrNotFound) {
					t.Fatal(err)
				}
			}
			p := program(helperEnv(t, backend))
			// docker's Hub key and an identity token.
			hub := &credentials.Credentials{ServerURL: "https://index.docker.io/v1/", Username: "hubber", Secret: "dckr_pat_1"}
			tok := &credentials.Credentials{ServerURL: "localhost:5000", Username: "<token>", Secret: "idtoken"}
			gcr := &credentials.Credentials{ServerURL: "https://gcr.io", Username: "_json_key", Secret: storetest.GCRKeyfile}
			for _, c := range []*credentials.Credentials{hub, tok, gcr} {
				if err := client.Store(p, c); err != nil {
					t.Fatalf("store %s: %v", c.ServerURL, err)
				}
			}
			// Every alias answers, echoing the ServerURL the client sent.
			for _, ask := range []string{"https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"} {
				got, err := client.Get(p, ask)
				if err != nil || got.Username != "hubber" || got.Secret != "dckr_pat_1" || got.ServerURL != ask {
					t.Fatalf("get %s = %+v, %v", ask, got, err)
				}
			}
			if got, err := client.Get(p, "localhost:5000"); err != nil || got.Username != "<token>" || got.Secret != "idtoken" {
				t.Fatalf("identity token = %+v, %v", got, err)
			}
			if got, err := client.Get(p, "gcr.io/proj/img"); err != nil || got.Secret != storetest.GCRKeyfile {
				t.Fatalf("gcr keyfile did not round-trip: %v", err)
			}
			if _, err := client.Get(p, "https://index.docker.io/v1/access-token"); !credentials.IsErrCredentialsNotFound(err) {
				t.Fatalf("access-token key: err = %v, want not found", err)
			}
			if _, err := client.Get(p, "quay.io"); !credentials.IsErrCredentialsNotFound(err) {
				t.Fatalf("missing: err = %v, want the not-found docker recognises", err)
			}
			list, err := client.List(p)
			if err != nil || len(list) != 3 || list["https://index.docker.io/v1/"] != "hubber" || list["localhost:5000"] != "<token>" {
				t.Fatalf("list = %v, %v", list, err)
			}
			if err := client.Erase(p, "registry-1.docker.io"); err != nil {
				t.Fatalf("erase: %v", err)
			}
			if _, err := client.Get(p, "docker.io"); !credentials.IsErrCredentialsNotFound(err) {
				t.Fatalf("after erase: err = %v", err)
			}
		})
	}
}

// TestBadInput feeds hostile stdin to each verb: exit 1, one line on stdout,
// nothing on stdout echoing the secret, the store unchanged.
func TestBadInput(t *testing.T) {
	env := helperEnv(t, "file")
	home := homeOf(env)
	run := func(stdin []byte, args ...string) (string, string, int) {
		cmd := exec.Command(helperBin, args...)
		cmd.Env = env
		cmd.Stdin = bytes.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if _, _, code := run([]byte(`{"ServerURL":"ghcr.io","Username":"keep","Secret":"keepme"}`), "store"); code != 0 {
		t.Fatal("seed store failed")
	}
	snapshot := func() string {
		data, _ := os.ReadFile(filepath.Join(home, "credentials.enc"))
		return string(data)
	}
	before := snapshot()
	huge := bytes.Repeat([]byte("A"), 10<<20)
	tests := []struct {
		name  string
		args  []string
		stdin []byte
		want  string
	}{
		{"empty store", []string{"store"}, nil, "expected a JSON object"},
		{"invalid json", []string{"store"}, []byte("{\"ServerURL\": SECRET-CANARY"), "not valid JSON"},
		{"missing server url", []string{"store"}, []byte(`{"Username":"u","Secret":"SECRET-CANARY"}`), "no credentials server URL"},
		{"missing username", []string{"store"}, []byte(`{"ServerURL":"ghcr.io","Secret":"SECRET-CANARY"}`), "no credentials username"},
		{"10 MB store", []string{"store"}, huge, "input larger than"},
		{"10 MB get", []string{"get"}, huge, "input larger than"},
		{"NUL in key", []string{"store"}, []byte("{\"ServerURL\":\"ghcr.io\\u0000x\",\"Username\":\"u\",\"Secret\":\"SECRET-CANARY\"}"), "invalid server URL"},
		{"NUL bytes raw", []string{"get"}, []byte("ghcr\x00.io"), "invalid server URL"},
		{"userinfo", []string{"store"}, []byte(`{"ServerURL":"https://u:SECRET-CANARY@ghcr.io","Username":"u","Secret":"SECRET-CANARY"}`), "must not contain a username or password"},
		{"erase userinfo", []string{"erase"}, []byte("https://u:SECRET-CANARY@ghcr.io"), "must not contain a username or password"},
		{"unknown action", []string{"frobnicate"}, nil, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := run(tt.stdin, tt.args...)
			if code != 1 {
				t.Errorf("exit = %d, want 1", code)
			}
			if strings.Count(out, "\n") != 1 || !strings.Contains(out, tt.want) {
				t.Errorf("stdout = %q, want one line mentioning %q", out, tt.want)
			}
			if strings.Contains(out+stderr, "SECRET-CANARY") {
				t.Errorf("secret echoed: stdout %q stderr %q", out, stderr)
			}
			if snapshot() != before {
				t.Error("store changed")
			}
		})
	}
	// The seeded credential is still intact.
	if out, _, code := run([]byte("ghcr.io"), "get"); code != 0 || !strings.Contains(out, `"Secret":"keepme"`) {
		t.Fatalf("seed lost: %q", out)
	}
}

func TestUnwritableHome(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "file-not-dir")
	os.WriteFile(parent, nil, 0o600)
	cmd := exec.CommandContext(context.Background(), helperBin, "store")
	cmd.Env = append(helperEnv(t, "file"), "KEYPORT_HOME="+filepath.Join(parent, "home"))
	cmd.Stdin = strings.NewReader(`{"ServerURL":"ghcr.io","Username":"u","Secret":"SECRET-CANARY"}`)
	out, err := cmd.Output()
	if err == nil || strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "not a directory") {
		t.Fatalf("out = %q, err = %v; want one clear line", out, err)
	}
	if strings.Contains(string(out), "SECRET-CANARY") {
		t.Fatal("secret echoed")
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(helperBin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "docker-credential-keyport (github.com/keyport/keyport) ") {
		t.Fatalf("version = %q, %v", out, err)
	}
}
