// Package storetest is the contract every keyport store passes: run Run from
// each backend's tests with a constructor for an empty store.
package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/credhelper"
)

// GCRKeyfile is a realistic service-account keyfile (~2.3 KB): the largest
// secret a registry takes, and too big for one Windows credential.
var GCRKeyfile = `{"type":"service_account","project_id":"keyport-test","private_key_id":"0123456789abcdef0123456789abcdef01234567","private_key":"-----BEGIN PRIVATE KEY-----\n` +
	strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n", 26) +
	`-----END PRIVATE KEY-----\n","client_email":"puller@keyport-test.iam.gserviceaccount.com","client_id":"123456789012345678901","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token"}`

// Run checks the Store contract on a fresh, empty store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) credhelper.Store) {
	ctx := context.Background()
	t.Run("empty", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "ghcr.io"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Fatalf("Get on empty store: err = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "ghcr.io"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Fatalf("Delete on empty store: err = %v, want ErrNotFound", err)
		}
		m, err := s.List(ctx)
		if err != nil || len(m) != 0 {
			t.Fatalf("List on empty store = %v, %v; want empty", m, err)
		}
		if s.Name() == "" {
			t.Fatal("Name is empty")
		}
	})
	t.Run("round trip", func(t *testing.T) {
		s := newStore(t)
		creds := []credhelper.Credentials{
			{ServerURL: "docker.io", Username: "hubuser", Secret: "dckr_pat_abc"},
			{ServerURL: "ghcr.io/acme", Username: "octo", Secret: "ghp_ns"},
			{ServerURL: "ghcr.io", Username: "octo", Secret: "ghp_host"},
			{ServerURL: "localhost:5000", Username: credhelper.IdentityTokenUser, Secret: "identity-token"},
			{ServerURL: "gcr.io", Username: credhelper.KeyfileUser, Secret: GCRKeyfile},
			{ServerURL: "registry.example.com", Username: "ünïcödé", Secret: "pa:ss\"word\n\\ with ✓"},
		}
		for _, c := range creds {
			mustPut(t, s, c)
		}
		want := map[string]string{}
		for _, c := range creds {
			got, err := s.Get(ctx, c.ServerURL)
			if err != nil {
				t.Fatalf("Get %s: %v", c.ServerURL, err)
			}
			if got != c {
				t.Errorf("Get %s = %+v, want %+v", c.ServerURL, got, c)
			}
			want[c.ServerURL] = c.Username
		}
		assertList(t, s, want)
		// Keys are exact: the store does no prefix matching of its own.
		if _, err := s.Get(ctx, "ghcr.io/acme/app"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Errorf("Get of an unsaved longer key: err = %v, want ErrNotFound", err)
		}
	})
	t.Run("overwrite and delete", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, credhelper.Credentials{ServerURL: "gcr.io", Username: credhelper.KeyfileUser, Secret: GCRKeyfile})
		// A shorter value replaces a chunked one completely.
		short := credhelper.Credentials{ServerURL: "gcr.io", Username: "other", Secret: "short"}
		mustPut(t, s, short)
		if got, err := s.Get(ctx, "gcr.io"); err != nil || got != short {
			t.Fatalf("after overwrite Get = %+v, %v; want %+v", got, err, short)
		}
		mustPut(t, s, credhelper.Credentials{ServerURL: "quay.io", Username: "q", Secret: "q"})
		if err := s.Delete(ctx, "gcr.io"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(ctx, "gcr.io"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "gcr.io"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Fatalf("second Delete: err = %v, want ErrNotFound", err)
		}
		assertList(t, s, map[string]string{"quay.io": "q"})
	})
}

func mustPut(t *testing.T, s credhelper.Store, c credhelper.Credentials) {
	t.Helper()
	if err := s.Put(context.Background(), c); err != nil {
		t.Fatalf("Put %s: %v", c.ServerURL, err)
	}
}

func assertList(t *testing.T, s credhelper.Store, want map[string]string) {
	t.Helper()
	got, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for k, u := range want {
		if got[k] != u {
			t.Fatalf("List[%s] = %q, want %q (all: %v)", k, got[k], u, got)
		}
	}
}

// RunReader checks the read half of the contract on any store, writable or
// not: newReader returns a store holding exactly seed (for a read-only store,
// built from it; for a writable one, filled through Put).
func RunReader(t *testing.T, newReader func(t *testing.T, seed []credhelper.Credentials) credhelper.Reader) {
	ctx := context.Background()
	seed := []credhelper.Credentials{
		{ServerURL: "docker.io", Username: "hubuser", Secret: "dckr_pat_abc"},
		{ServerURL: "localhost:5000", Username: "me", Secret: "pa:ss:with:colons"},
		{ServerURL: "europe-docker.pkg.dev", Username: credhelper.KeyfileUser, Secret: GCRKeyfile},
	}
	t.Run("empty", func(t *testing.T) {
		r := newReader(t, nil)
		if _, err := r.Get(ctx, "ghcr.io"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Fatalf("Get on empty store: err = %v, want ErrNotFound", err)
		}
		if m, err := r.List(ctx); err != nil || len(m) != 0 {
			t.Fatalf("List on empty store = %v, %v; want empty", m, err)
		}
	})
	t.Run("seeded", func(t *testing.T) {
		r := newReader(t, seed)
		want := map[string]string{}
		for _, c := range seed {
			got, err := r.Get(ctx, c.ServerURL)
			if err != nil || got != c {
				t.Fatalf("Get %s = %+v, %v; want %+v", c.ServerURL, got, err, c)
			}
			want[c.ServerURL] = c.Username
		}
		if _, err := r.Get(ctx, "docker.io/library/nginx"); !errors.Is(err, credhelper.ErrNotFound) {
			t.Errorf("Get of an unsaved longer key: err = %v, want ErrNotFound", err)
		}
		got, err := r.List(ctx)
		if err != nil || len(got) != len(want) {
			t.Fatalf("List = %v, %v; want %v", got, err, want)
		}
		for k, u := range want {
			if got[k] != u {
				t.Fatalf("List[%s] = %q, want %q", k, got[k], u)
			}
		}
	})
}

// Filled adapts a writable store's constructor to RunReader.
func Filled(newStore func(t *testing.T) credhelper.Store) func(*testing.T, []credhelper.Credentials) credhelper.Reader {
	return func(t *testing.T, seed []credhelper.Credentials) credhelper.Reader {
		s := newStore(t)
		for _, c := range seed {
			mustPut(t, s, c)
		}
		return s
	}
}
