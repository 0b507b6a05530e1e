package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends/file"
	"github.com/keyport/keyport/backends/storetest"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/internal/sealedfile"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) credhelper.Store { return file.New(t.TempDir(), file.Options{}) })
}

func TestContractPassphrase(t *testing.T) {
	storetest.Run(t, func(t *testing.T) credhelper.Store {
		return file.New(t.TempDir(), file.Options{Passphrase: "correct horse", ScryptN: 1 << 10})
	})
}

func TestAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := file.New(dir, file.Options{})
	secret := "plaintext-canary-7f3a"
	if err := s.Put(ctx, credhelper.Credentials{ServerURL: "ghcr.io", Username: "octo-canary", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{file.StoreFile, file.KeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", name, st.Mode().Perm())
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, file.StoreFile))
	for _, plain := range []string{secret, "octo-canary", "ghcr.io"} {
		if strings.Contains(string(data), plain) {
			t.Errorf("store file holds %q in plaintext", plain)
		}
	}
}

func TestWrongKeyAndDamage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		damage  func(dir string)
		reopen  file.Options
		wantErr string
	}{
		{"wrong passphrase", nil, file.Options{Passphrase: "wrong", ScryptN: 1 << 10}, "wrong KEYPORT_PASSPHRASE"},
		{"no passphrase", nil, file.Options{}, "set KEYPORT_PASSPHRASE"},
		{"garbage file", func(dir string) { os.WriteFile(filepath.Join(dir, file.StoreFile), []byte("{nope"), 0o600) },
			file.Options{Passphrase: "pw"}, "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := file.New(dir, file.Options{Passphrase: "pw", ScryptN: 1 << 10})
			if err := s.Put(ctx, credhelper.Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"}); err != nil {
				t.Fatal(err)
			}
			if tt.damage != nil {
				tt.damage(dir)
			}
			before, _ := os.ReadFile(filepath.Join(dir, file.StoreFile))
			r := file.New(dir, tt.reopen)
			_, err := r.Get(ctx, "ghcr.io")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Get err = %v, want it to mention %q", err, tt.wantErr)
			}
			// A write through a store that cannot read must change nothing.
			if err := r.Put(ctx, credhelper.Credentials{ServerURL: "quay.io", Username: "u", Secret: "s"}); err == nil {
				t.Fatal("Put succeeded on a store it cannot decrypt")
			}
			after, _ := os.ReadFile(filepath.Join(dir, file.StoreFile))
			if string(before) != string(after) {
				t.Fatal("failed Put changed the store file")
			}
		})
	}
}

func TestUnwritableHome(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory modes; use a path under a regular file instead.
		parent := filepath.Join(t.TempDir(), "not-a-dir")
		os.WriteFile(parent, nil, 0o600)
		s := file.New(filepath.Join(parent, "home"), file.Options{})
		err := s.Put(context.Background(), credhelper.Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"})
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("Put err = %v, want a clear filesystem error", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	s := file.New(filepath.Join(dir, "home"), file.Options{})
	if err := s.Put(context.Background(), credhelper.Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"}); err == nil {
		t.Fatal("Put into an unwritable home succeeded")
	}
}

// BenchmarkGet is one `get` against a store of 50 registries in a fresh
// Store each time, as a new helper process sees it (no cached decryption).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s := file.New(dir, file.Options{})
	for i := range 50 {
		c := credhelper.Credentials{ServerURL: fmt.Sprintf("r%d.example.com", i), Username: "u", Secret: "secret-value"}
		if err := s.Put(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := file.New(dir, file.Options{}).Get(ctx, "r7.example.com"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	s := file.New(b.TempDir(), file.Options{})
	for b.Loop() {
		if err := s.Put(ctx, credhelper.Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReaderContract(t *testing.T) {
	storetest.RunReader(t, storetest.Filled(func(t *testing.T) credhelper.Store { return file.New(t.TempDir(), file.Options{}) }))
}

// TestReadsJSONForm: a store written in the JSON form (keyport before the
// compact form) still opens, and the next write turns it compact.
func TestReadsJSONForm(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := file.New(dir, file.Options{})
	if err := s.Put(ctx, credhelper.Credentials{ServerURL: "ghcr.io", Username: "u", Secret: "s"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file.StoreFile)
	data, _ := os.ReadFile(path)
	h, err := sealedfile.Parse(data)
	if err != nil || !strings.HasPrefix(string(data), "KPSEAL1\n") {
		t.Fatalf("new store is not compact: %.20q, %v", data, err)
	}
	if err := sealedfile.Write(path, h); err != nil { // the JSON form
		t.Fatal(err)
	}
	if c, err := file.New(dir, file.Options{}).Get(ctx, "ghcr.io"); err != nil || c.Secret != "s" {
		t.Fatalf("JSON form: %+v, %v", c, err)
	}
	if err := s.Put(ctx, credhelper.Credentials{ServerURL: "quay.io", Username: "q", Secret: "q"}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !strings.HasPrefix(string(data), "KPSEAL1\n") {
		t.Fatal("the next write did not turn the store compact")
	}
}
