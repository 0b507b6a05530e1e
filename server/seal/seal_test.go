package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("hunter2"), []byte("team/a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("sealed value holds the plaintext")
	}
	again, _ := s.Seal([]byte("hunter2"), []byte("team/a"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal: nonce reuse")
	}
	if pt, err := s.Open(sealed, []byte("team/a")); err != nil || string(pt) != "hunter2" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := s.Open(sealed, []byte("team/b")); !errors.Is(err, ErrOpen) {
		t.Fatalf("open with another aad: %v", err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(sealed, []byte("team/a")); !errors.Is(err, ErrOpen) {
		t.Fatalf("open with another key: %v", err)
	}
	check, _ := s.CheckValue()
	if err := s.VerifyCheckValue(check); err != nil {
		t.Fatal(err)
	}
	if err := other.VerifyCheckValue(check); err == nil {
		t.Fatal("wrong key passes the check")
	}
	if _, err := New(key[:16]); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{1}, KeySize)
	enc := base64.StdEncoding.EncodeToString(key)

	if k, _, err := LoadKey("", enc, ""); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("env: %v", err)
	}
	if _, _, err := LoadKey("", "bm90IGEga2V5", ""); err == nil || strings.Contains(err.Error(), "bm90") {
		t.Fatalf("bad env key: %v", err)
	}
	f := filepath.Join(dir, "k")
	if err := os.WriteFile(f, []byte(enc+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, _, err := LoadKey(f, "", ""); err != nil || !bytes.Equal(k, key) {
		t.Fatalf("file: %v", err)
	}
	if _, _, err := LoadKey(f, enc, ""); err == nil {
		t.Fatal("file and env together accepted")
	}
	if _, _, err := LoadKey(filepath.Join(dir, "missing"), "", filepath.Join(dir, "gen")); err == nil {
		t.Fatal("a missing explicit key file was not an error")
	}
	if _, _, err := LoadKey("", "", ""); err == nil {
		t.Fatal("no key source accepted")
	}

	// Generated beside the database: 0600, and concurrent starts agree.
	gen := filepath.Join(dir, "sub", "db.key")
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _, err := LoadKey("", "", gen)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("concurrent generation produced different keys")
		}
	}
	st, err := os.Stat(gen)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("generated key mode %v", st.Mode().Perm())
	}
	if k, _, _ := LoadKey("", "", gen); !bytes.Equal(k, keys[0]) {
		t.Fatal("generated key not reused")
	}
}
