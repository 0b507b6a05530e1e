package sealedfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpenBothForms(t *testing.T) {
	var key, wrong [KeySize]byte
	key[0], wrong[0] = 1, 2
	h := Header{KDF: "test"}
	if err := h.Seal(&key, []byte("secret payload")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, write := range map[string]func(string, Header) error{"json": Write, "compact": WriteCompact} {
		path := filepath.Join(dir, name)
		if err := write(path, h); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte("secret payload")) {
			t.Errorf("%s: plaintext on disk", name)
		}
		parse := Parse
		if name == "compact" {
			parse = ParseCompact
		}
		got, err := parse(data)
		if err != nil || got.KDF != "test" {
			t.Fatalf("%s: parse = %+v, %v", name, got, err)
		}
		if plain, ok := got.Open(&key); !ok || string(plain) != "secret payload" {
			t.Errorf("%s: open = %q, %v", name, plain, ok)
		}
		if _, ok := got.Open(&wrong); ok {
			t.Errorf("%s: opened with the wrong key", name)
		}
	}
	for _, bad := range []string{"", "KPSEAL1\n", "KPSEAL1\ntest", "KPSEAL1\ntest\x00short", "{}"} {
		if _, err := ParseCompact([]byte(bad)); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseCompact(%q) err = %v", bad, err)
		}
	}
}
