package smallfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	big := bytes.Repeat([]byte("0123456789"), 10_000) // past any one read
	for _, want := range [][]byte{{}, []byte("x"), big} {
		if err := os.WriteFile(path, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, _, err := ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadFile of %d bytes = %d bytes, %v", len(want), len(got), err)
		}
	}
	_, _, err := ReadFile(filepath.Join(dir, "absent"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) {
		t.Fatalf("missing file: %v (%T), want an *fs.PathError wrapping ErrNotExist", err, err)
	}
	if _, _, err := ReadFile(dir); err == nil {
		t.Fatal("reading a directory succeeded")
	}
}

func TestStamp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	write := func(data string) {
		t.Helper()
		tmp := filepath.Join(dir, "tmp")
		if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		// The same modification time, so only the file's identity differs.
		if err := os.Chtimes(tmp, time.Unix(1e9, 0), time.Unix(1e9, 0)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	stamp := func() Stamp {
		t.Helper()
		_, s, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	write("one")
	first := stamp()
	if !first.Same(stamp()) {
		t.Fatal("two reads of an unchanged file have different stamps")
	}
	write("two") // same size and time, a new file by rename
	if first.Same(stamp()) {
		t.Fatal("a file replaced by rename kept its stamp")
	}
	replaced := stamp()
	if err := os.WriteFile(path, []byte("three"), 0o600); err != nil { // rewritten in place
		t.Fatal(err)
	}
	if replaced.Same(stamp()) {
		t.Fatal("a file rewritten in place kept its stamp")
	}
}
