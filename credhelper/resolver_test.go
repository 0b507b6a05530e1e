package credhelper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// memStore is a fake for the resolver's own logic. Its not-found wraps
// ErrNotFound exactly as the real stores do (they pass storetest).
type memStore struct {
	name string
	m    map[string]Credentials
	err  error // returned by every call when set: a broken store
}

func newMem(name string, creds ...Credentials) *memStore {
	s := &memStore{name: name, m: map[string]Credentials{}}
	for _, c := range creds {
		s.m[c.ServerURL] = c
	}
	return s
}

func (s *memStore) Name() string { return s.name }
func (s *memStore) Get(_ context.Context, k string) (Credentials, error) {
	if s.err != nil {
		return Credentials{}, s.err
	}
	c, ok := s.m[k]
	if !ok {
		return Credentials{}, fmt.Errorf("%s: %w", k, ErrNotFound)
	}
	return c, nil
}
func (s *memStore) List(context.Context) (map[string]string, error) {
	if s.err != nil {
		return nil, s.err
	}
	out := map[string]string{}
	for k, c := range s.m {
		out[k] = c.Username
	}
	return out, nil
}
func (s *memStore) Put(_ context.Context, c Credentials) error {
	if s.err != nil {
		return s.err
	}
	s.m[c.ServerURL] = c
	return nil
}
func (s *memStore) Delete(_ context.Context, k string) error {
	if _, ok := s.m[k]; !ok {
		return fmt.Errorf("%s: %w", k, ErrNotFound)
	}
	delete(s.m, k)
	return nil
}

// readerOnly hides Put and Delete, like the env and remote stores.
type readerOnly struct{ Reader }

func TestResolve(t *testing.T) {
	ctx := context.Background()
	broken := newMem("broken")
	broken.err = errors.New("daemon gone")
	hostInFirst := newMem("first", Credentials{ServerURL: "ghcr.io", Username: "host", Secret: "h"})
	nsInSecond := newMem("second", Credentials{ServerURL: "ghcr.io/acme", Username: "ns", Secret: "n"})
	hub := newMem("hub", Credentials{ServerURL: "docker.io", Username: "hubber", Secret: "x"})

	tests := []struct {
		name      string
		chain     []Reader
		ask       string
		wantUser  string
		wantStore string
		wantErr   string
	}{
		{"host key", []Reader{hostInFirst}, "https://ghcr.io", "host", "first", ""},
		{"namespace beats host across stores", []Reader{hostInFirst, nsInSecond}, "ghcr.io/acme/app", "ns", "second", ""},
		{"other namespace falls back to host", []Reader{hostInFirst, nsInSecond}, "ghcr.io/other/app", "host", "first", ""},
		{"not found falls through", []Reader{newMem("empty"), hub}, "https://index.docker.io/v1/", "hubber", "hub", ""},
		{"hub alias", []Reader{hub}, "registry-1.docker.io", "hubber", "hub", ""},
		{"token key does not fall back to hub", []Reader{hub}, "https://index.docker.io/v1/access-token", "", "", "not found"},
		{"broken store stops the chain", []Reader{broken, hub}, "docker.io", "", "", "broken store: daemon gone"},
		{"nothing anywhere", []Reader{newMem("a"), newMem("b")}, "quay.io", "", "", "not found"},
		{"invalid key", []Reader{hub}, "https://u:p@docker.io", "", "", "username or password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := NewResolver(tt.chain...).Resolve(ctx, tt.ask)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.wantErr == "not found" && !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want it to wrap ErrNotFound", err)
				}
				return
			}
			if err != nil || res.Username != tt.wantUser || res.Store != tt.wantStore {
				t.Fatalf("Resolve = %+v, %v; want user %q from %q", res, err, tt.wantUser, tt.wantStore)
			}
		})
	}
}

func TestWritesGoToFirstWritable(t *testing.T) {
	ctx := context.Background()
	ro := readerOnly{newMem("env")}
	w := newMem("file")
	r := NewResolver(ro, w)
	if err := r.Put(ctx, Credentials{ServerURL: "https://GHCR.io/", Username: "u", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.m["ghcr.io"]; !ok {
		t.Fatalf("Put did not land in the writable store under the canonical key: %v", w.m)
	}
	if err := r.Delete(ctx, "ghcr.io"); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(ctx, "ghcr.io"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete err = %v, want ErrNotFound", err)
	}
	onlyRemote := NewResolver(readerOnly{newMem("remote")})
	err := onlyRemote.Put(ctx, Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"})
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "account API") {
		t.Fatalf("Put on a read-only chain err = %v, want ErrReadOnly naming the account API", err)
	}
}

func TestEntriesShadowing(t *testing.T) {
	a := newMem("a", Credentials{ServerURL: "ghcr.io", Username: "first"})
	b := newMem("b", Credentials{ServerURL: "ghcr.io", Username: "second"}, Credentials{ServerURL: "quay.io", Username: "q"})
	r := NewResolver(a, b)
	m, err := r.List(context.Background())
	if err != nil || len(m) != 2 || m["ghcr.io"] != "first" || m["quay.io"] != "q" {
		t.Fatalf("List = %v, %v", m, err)
	}
	entries, _ := r.Entries(context.Background())
	shadowed := 0
	for _, e := range entries {
		if e.Shadowed {
			shadowed++
			if e.Store != "b" || e.Key != "ghcr.io" {
				t.Fatalf("wrong entry shadowed: %+v", e)
			}
		}
	}
	if shadowed != 1 {
		t.Fatalf("entries = %+v, want one shadowed", entries)
	}
}

func TestServeProtocol(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, action, stdin string
		wantCode            int
		wantOut             string // exact stdout
	}{
		{"store", "store", `{"ServerURL":"https://index.docker.io/v1/","Username":"me","Secret":"pw"}`, 0, ""},
		{"get as sent", "get", "https://index.docker.io/v1/\n", 0, `{"ServerURL":"https://index.docker.io/v1/","Username":"hub","Secret":"hubpw"}` + "\n"},
		{"get alias", "get", "registry-1.docker.io", 0, `{"ServerURL":"registry-1.docker.io","Username":"hub","Secret":"hubpw"}` + "\n"},
		{"not found", "get", "quay.io", 1, "credentials not found in native keychain\n"},
		{"erase missing", "erase", "quay.io", 1, "credentials not found in native keychain\n"},
		{"list", "list", "", 0, `{"https://index.docker.io/v1/":"hub"}` + "\n"},
		{"empty store stdin", "store", "", 1, `store: expected a JSON object {"ServerURL","Username","Secret"} on stdin` + "\n"},
		{"invalid json", "store", "{nope", 1, "store: stdin is not valid JSON: invalid character 'n' looking for beginning of object key string\n"},
		{"no server url", "store", `{"Username":"u","Secret":"s"}`, 1, "no credentials server URL\n"},
		{"no username", "store", `{"ServerURL":"ghcr.io","Secret":"s"}`, 1, "no credentials username\n"},
		{"wrong type", "store", `{"ServerURL":"ghcr.io","Username":1}`, 1, "store: field Username must be a string\n"},
		{"empty get", "get", "", 1, "no credentials server URL\n"},
		{"huge stdin", "get", strings.Repeat("a", MaxProtocolInput+10), 1, errInputTooLarge.Error() + "\n"},
		{"userinfo", "store", `{"ServerURL":"https://me:topsecret@ghcr.io","Username":"u","Secret":"topsecret"}`, 1, "invalid server URL: must not contain a username or password\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newMem("m", Credentials{ServerURL: "docker.io", Username: "hub", Secret: "hubpw"})
			var out bytes.Buffer
			code := ServeProtocol(ctx, tt.action, strings.NewReader(tt.stdin), &out, func() (*Resolver, error) {
				return NewResolver(hub), nil
			})
			if tt.wantOut != "" || tt.wantCode != 0 {
				if got := out.String(); got != tt.wantOut {
					t.Errorf("stdout = %q, want %q", got, tt.wantOut)
				}
			}
			if code != tt.wantCode {
				t.Errorf("exit = %d, want %d", code, tt.wantCode)
			}
			if tt.wantCode != 0 && len(hub.m) != 1 {
				t.Errorf("failed %s changed the store: %v", tt.action, hub.m)
			}
		})
	}
}
