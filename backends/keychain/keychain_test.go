package keychain_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/keyport/keyport/backends/file"
	"github.com/keyport/keyport/backends/keychain"
	"github.com/keyport/keyport/backends/storetest"
	"github.com/keyport/keyport/credhelper"
)

// requireKeyring fails (never skips) when the real Secret Service the test
// needs was not started: run the tests through scripts/with-keyring.sh.
func requireKeyring(t *testing.T) {
	t.Helper()
	if os.Getenv("KEYPORT_TEST_KEYRING") == "" {
		t.Fatal("no Secret Service session: run the tests through scripts/with-keyring.sh (make test does)")
	}
}

// fresh empties keyport's items in the real keyring before a case.
func fresh(t *testing.T) *keychain.Store {
	t.Helper()
	if err := keyring.DeleteAll(keychain.Service); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("clearing the keyring: %v", err)
	}
	return keychain.New(keychain.Options{Dir: t.TempDir()})
}

func TestContractRealSecretService(t *testing.T) {
	requireKeyring(t)
	storetest.Run(t, func(t *testing.T) credhelper.Store { return fresh(t) })
}

func TestReaderContractRealSecretService(t *testing.T) {
	requireKeyring(t)
	storetest.RunReader(t, storetest.Filled(func(t *testing.T) credhelper.Store { return fresh(t) }))
}

// TestIndexAnswersMisses: a key the index does not name is a miss without
// asking the keychain, so an item put there behind keyport's back stays
// unseen while an index exists, and is found again once there is none (or
// only a damaged one) to trust.
func TestIndexAnswersMisses(t *testing.T) {
	requireKeyring(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := keyring.DeleteAll(keychain.Service); err != nil && !errors.Is(err, keyring.ErrNotFound) {
		t.Fatal(err)
	}
	s := keychain.New(keychain.Options{Dir: dir})
	if err := s.Put(ctx, credhelper.Credentials{ServerURL: "ghcr.io", Username: "me", Secret: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := keyring.Set(keychain.Service, "quay.io", `{"u":"behind","s":"s2"}`); err != nil {
		t.Fatal(err)
	}
	index := filepath.Join(dir, keychain.IndexFile)
	for _, tc := range []struct {
		name      string
		index     string // "" removes the index file
		wantFound bool
	}{
		{"index without the key", `{"ghcr.io":"me"}`, false},
		{"no index", "", true},
		{"damaged index", "{", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.index == "" {
				if err := os.Remove(index); err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(index, []byte(tc.index), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := s.Get(ctx, "quay.io")
			switch {
			case tc.wantFound && (err != nil || c.Username != "behind"):
				t.Fatalf("Get(quay.io) = %+v, %v; want the item in the keychain", c, err)
			case !tc.wantFound && !errors.Is(err, credhelper.ErrNotFound):
				t.Fatalf("Get(quay.io) = %+v, %v; want ErrNotFound from the index", c, err)
			}
			if tc.index != "{" {
				if c, err := s.Get(ctx, "ghcr.io"); err != nil || c.Secret != "s1" {
					t.Fatalf("Get(ghcr.io) = %+v, %v", c, err)
				}
			}
		})
	}
}

// TestTimedOutPutStaysIndexed: a keychain write that ran out of time may
// still land, so the index keeps naming its key; a get must never be
// answered "not found" by the index for an item that exists.
func TestTimedOutPutStaysIndexed(t *testing.T) {
	requireKeyring(t)
	dir := t.TempDir()
	slow := keychain.New(keychain.Options{Dir: dir, Timeout: time.Nanosecond})
	err := slow.Put(context.Background(), credhelper.Credentials{ServerURL: "ghcr.io", Username: "me", Secret: "s"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put = %v, want a deadline error", err)
	}
	idx, err := slow.List(context.Background())
	if err != nil || idx["ghcr.io"] != "me" {
		t.Fatalf("index after a timed-out Put = %v, %v; want it to name ghcr.io", idx, err)
	}
}

// putChunked stores a GCR keyfile, too large for one item, in a fresh
// store and returns the store, the credential and the raw pointer item.
func putChunked(t *testing.T) (*keychain.Store, credhelper.Credentials, string) {
	t.Helper()
	requireKeyring(t)
	s := fresh(t)
	c := credhelper.Credentials{ServerURL: "gcr.io", Username: credhelper.KeyfileUser, Secret: storetest.GCRKeyfile}
	if err := s.Put(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	raw, err := keyring.Get(keychain.Service, "gcr.io")
	if err != nil || !strings.HasPrefix(raw, "chunked:") {
		t.Fatalf("raw item = %.40q, %v; want a chunk pointer", raw, err)
	}
	return s, c, raw
}

func TestLargeSecretIsChunked(t *testing.T) {
	s, c, raw := putChunked(t)
	ctx := context.Background()
	// Every raw item stays under the Windows limit.
	var count int
	var gen string
	if _, err := fmt.Sscanf(strings.Replace(strings.TrimPrefix(raw, "chunked:"), ":", " ", 1), "%d %s", &count, &gen); err != nil || count < 2 {
		t.Fatalf("pointer %q: %v", raw, err)
	}
	chunk := func(i int) string { return fmt.Sprintf("gcr.io#%s#%d", gen, i) }
	for i := 1; i <= count; i++ {
		part, err := keyring.Get(keychain.Service, chunk(i))
		if err != nil || len(part) > keychain.DefaultChunkSize {
			t.Fatalf("chunk %d: %d bytes, %v", i, len(part), err)
		}
	}
	// Rewriting makes a new generation and removes the old one's chunks.
	if err := s.Put(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get(keychain.Service, chunk(1)); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("old generation's chunk left behind: %v", err)
	}
	// Deleting removes the chunks too.
	if err := s.Delete(ctx, "gcr.io"); err != nil {
		t.Fatal(err)
	}
	raw, _ = keyring.Get(keychain.Service, "gcr.io")
	if raw != "" {
		t.Fatalf("item left after Delete: %.40q", raw)
	}
}

// TestMissingChunkFailsClosed removes one chunk of a stored value behind
// the store's back: the read must fail, not answer "not found", or the
// resolver would move on to a weaker store and hand out its credential.
func TestMissingChunkFailsClosed(t *testing.T) {
	s, _, raw := putChunked(t)
	ctx := context.Background()
	gen := raw[strings.LastIndexByte(raw, ':')+1:]
	if err := keyring.Delete(keychain.Service, "gcr.io#"+gen+"#2"); err != nil {
		t.Fatalf("deleting chunk 2 of %q: %v", raw, err)
	}

	_, err := s.Get(ctx, "gcr.io")
	if err == nil || errors.Is(err, credhelper.ErrNotFound) {
		t.Fatalf("Get with a chunk missing = %v; want a damage error that is not ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), "missing chunk 2") || strings.Contains(err.Error(), storetest.GCRKeyfile[:40]) {
		t.Fatalf("error %q should name the missing chunk and hold no secret", err)
	}
	weaker := file.New(t.TempDir(), file.Options{})
	if err := weaker.Put(ctx, credhelper.Credentials{ServerURL: "gcr.io", Username: "other", Secret: "weaker"}); err != nil {
		t.Fatal(err)
	}
	if got, err := credhelper.NewResolver(s, weaker).Get(ctx, "gcr.io"); err == nil {
		t.Fatalf("resolver fell through to the next store and answered %q", got.Username)
	}
}

// TestNoSecretServiceFailsFast points the store at a bus that does not exist
// and at no bus at all. godbus keeps one session connection per process, so
// each case runs in a fresh copy of the test binary.
func TestNoSecretServiceFailsFast(t *testing.T) {
	if os.Getenv("KEYPORT_TEST_CHILD") == "1" {
		s := keychain.New(keychain.Options{Dir: t.TempDir()})
		_, err := s.Get(context.Background(), "ghcr.io")
		var unavailable *keychain.UnavailableError
		if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "KEYPORT_BACKEND=file") {
			t.Fatalf("err = %v, want UnavailableError naming the fix", err)
		}
		if errors.Is(err, credhelper.ErrNotFound) {
			t.Fatal("an unavailable keychain must not read as not-found")
		}
		// A store that failed leaves the index naming nothing new, so the
		// index still answers misses truthfully once the keychain is back.
		if err := s.Put(context.Background(), credhelper.Credentials{ServerURL: "ghcr.io", Username: "me", Secret: "s"}); !errors.As(err, &unavailable) {
			t.Fatalf("Put = %v, want UnavailableError", err)
		}
		if idx, err := s.List(context.Background()); err != nil || len(idx) != 0 {
			t.Fatalf("index after a failed Put = %v, %v; want it empty", idx, err)
		}
		return
	}
	for name, addr := range map[string]string{
		"no bus":        "unix:path=/nonexistent/keyport-test-bus",
		"unset address": "",
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNoSecretServiceFailsFast$", "-test.v")
			cmd.Env = append(os.Environ(), "KEYPORT_TEST_CHILD=1", "DBUS_SESSION_BUS_ADDRESS="+addr, "XDG_RUNTIME_DIR="+t.TempDir())
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if took := time.Since(start); took > 2*keychain.DefaultTimeout {
				t.Errorf("took %v, want under %v", took, 2*keychain.DefaultTimeout)
			}
			if err != nil {
				t.Fatalf("child failed: %v\n%s", err, out)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	// go-keyring's mock provider with a hook is not available; a store whose
	// deadline is shorter than any D-Bus round trip shows the timeout path.
	requireKeyring(t)
	s := keychain.New(keychain.Options{Timeout: time.Nanosecond})
	_, err := s.Get(context.Background(), "ghcr.io")
	var unavailable *keychain.UnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "no answer in time") {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}
