package credhelper

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// FuzzServeProtocol feeds any stdin to every action. The protocol's promises
// must hold: exit 0 or 1, errors on exactly one stdout line, a failed call
// leaves the store as it was, and stored secrets never appear in an error.
func FuzzServeProtocol(f *testing.F) {
	for _, seed := range []struct {
		action string
		stdin  string
	}{
		{"store", `{"ServerURL":"https://index.docker.io/v1/","Username":"u","Secret":"s"}`},
		{"store", `{"ServerURL":"ghcr.io/acme","Username":"<token>","Secret":"t"}`},
		{"store", "{\"ServerURL\":\"a\\u0000b\"}"},
		{"get", "registry-1.docker.io\n"},
		{"get", "https://u:p@ghcr.io"},
		{"erase", "ghcr.io"},
		{"list", ""},
		{"version", ""},
		{"bogus", "x"},
	} {
		f.Add(seed.action, seed.stdin)
	}
	const canary = "fuzz-canary-secret"
	f.Fuzz(func(t *testing.T, action, stdin string) {
		store := newMem("m", Credentials{ServerURL: "docker.io", Username: "hub", Secret: canary})
		var out bytes.Buffer
		code := ServeProtocol(context.Background(), action, strings.NewReader(stdin), &out, func() (*Resolver, error) {
			return NewResolver(store), nil
		})
		switch code {
		case 0:
		case 1:
			if strings.Count(out.String(), "\n") != 1 || !strings.HasSuffix(out.String(), "\n") {
				t.Fatalf("error output is not one line: %q", out.String())
			}
			if strings.Contains(out.String(), canary) {
				t.Fatalf("error leaks the stored secret: %q", out.String())
			}
			if c := store.m["docker.io"]; len(store.m) != 1 || c.Secret != canary {
				t.Fatalf("failed %s changed the store: %v", action, store.m)
			}
		default:
			t.Fatalf("exit code %d", code)
		}
	})
}
