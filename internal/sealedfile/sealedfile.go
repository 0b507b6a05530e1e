// Package sealedfile is the on-disk form keyport shares between its
// encrypted files (the file store, the remote store's cache): a small JSON
// header naming where the key comes from, and a NaCl secretbox holding
// everything else; written to a temp file, fsynced and renamed (0600), with a
// lock file serialising writers across processes.
//
// It knows nothing about what is sealed or where keys come from: callers
// derive the 32-byte key (a key file, scrypt, the API token) and record the
// choice in Header.KDF so later runs need no guess.
package sealedfile

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/nacl/secretbox"

	"github.com/keyport/keyport/dockerconfig"
	"github.com/keyport/keyport/internal/filelock"
)

// Version is the header version this package writes and reads.
const Version = 1

// KeySize is the secretbox key size.
const KeySize = 32

// Header is the whole file: only KDF, Salt and N are in the clear.
type Header struct {
	Version int    `json:"v"`
	KDF     string `json:"kdf"`
	Salt    []byte `json:"salt,omitempty"`
	N       int    `json:"n,omitempty"`
	Nonce   []byte `json:"nonce"`
	Box     []byte `json:"box"`
}

// ErrFormat is wrapped when a file is not a sealed file of this version.
var ErrFormat = errors.New("not a keyport sealed file")

// Parse reads a header from data in either form: compact (see
// MarshalCompact) or JSON.
func Parse(data []byte) (Header, error) {
	if bytes.HasPrefix(data, []byte(compactMagic)) {
		return ParseCompact(data)
	}
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return h, nil
}

// Valid reports whether h is a sealed header this version can open.
func (h Header) Valid() bool { return h.Version == Version && len(h.Nonce) == 24 }

// Open decrypts the box; false means the key is wrong or the file damaged
// (secretbox cannot tell the two apart).
func (h Header) Open(key *[KeySize]byte) ([]byte, bool) {
	if !h.Valid() {
		return nil, false
	}
	var nonce [24]byte
	copy(nonce[:], h.Nonce)
	return secretbox.Open(nil, h.Box, &nonce, key)
}

// Seal puts plain in h's box under key with a fresh random nonce.
func (h *Header) Seal(key *[KeySize]byte, plain []byte) error {
	var nonce [24]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return err
	}
	h.Version = Version
	h.Nonce = nonce[:]
	h.Box = secretbox.Seal(nil, plain, &nonce, key)
	return nil
}

// Write replaces path with h atomically, mode 0600.
func Write(path string, h Header) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return dockerconfig.WriteFileAtomic(path, append(data, '\n'), 0o600)
}

// Lock takes the exclusive lock file at path, waiting at most timeout (and
// no longer than ctx allows). Under it, temp files a killed writer left
// beside target are removed: they will never be renamed into place.
func Lock(ctx context.Context, path, target string, timeout time.Duration) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	unlock, err = filelock.Acquire(lctx, path)
	if err != nil {
		return nil, err
	}
	if target != "" {
		stale, _ := filepath.Glob(filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*"))
		for _, f := range stale {
			os.Remove(f)
		}
	}
	return unlock, nil
}

// compactMagic starts the compact form: files read on every helper call
// (the remote store's cache) skip JSON and base64 entirely.
const compactMagic = "KPSEAL1\n"

// MarshalCompact is the binary form of h: magic, KDF name, a NUL, the
// 24-byte nonce, the box. It has no room for Salt/N: compact files take
// their key from elsewhere.
func (h Header) MarshalCompact() []byte {
	out := make([]byte, 0, len(compactMagic)+len(h.KDF)+1+len(h.Nonce)+len(h.Box))
	out = append(out, compactMagic...)
	out = append(out, h.KDF...)
	out = append(out, 0)
	out = append(out, h.Nonce...)
	return append(out, h.Box...)
}

// ParseCompact reads what MarshalCompact wrote. The box aliases data.
func ParseCompact(data []byte) (Header, error) {
	rest, ok := bytes.CutPrefix(data, []byte(compactMagic))
	if !ok {
		return Header{}, ErrFormat
	}
	kdf, rest, ok := bytes.Cut(rest, []byte{0})
	if !ok || len(kdf) > 64 || len(rest) < 24 {
		return Header{}, ErrFormat
	}
	return Header{Version: Version, KDF: string(kdf), Nonce: rest[:24], Box: rest[24:]}, nil
}

// WriteCompact replaces path with h's compact form atomically and durably,
// mode 0600.
func WriteCompact(path string, h Header) error {
	return dockerconfig.WriteFileAtomic(path, h.MarshalCompact(), 0o600)
}

// WriteCompactCache is WriteCompact without the fsyncs, for a cache: after
// a crash it may hold the old, the new, or a damaged file, and a damaged
// one fails authentication on read and is fetched again.
func WriteCompactCache(path string, h Header) error {
	return dockerconfig.ReplaceFile(path, h.MarshalCompact(), 0o600)
}
