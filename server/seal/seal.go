// Package seal encrypts keyportd's secrets at rest with AES-256-GCM under one
// master key, and loads or creates that key.
//
// Each sealed value binds additional data naming where it belongs (team and
// credential id), so a ciphertext copied onto another row does not decrypt.
package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the master key length: AES-256.
const KeySize = 32

// version prefixes every sealed value so the format can change without
// guessing. A key change re-seals every value (server.RotateMasterKey), so
// values carry no key id.
const version byte = 1

// ErrOpen is wrapped when a sealed value does not decrypt: the wrong master
// key, or the value was altered or moved.
var ErrOpen = errors.New("cannot decrypt: wrong master key or altered data")

// Sealer seals and opens values. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// New returns a Sealer for a 32-byte key.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad: version || nonce || ciphertext+tag.
// Nonces are random (96 bits); far fewer than 2^32 values are ever sealed
// under one key here, so collisions are not a concern.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return s.aead.Seal(out, out[1:], plaintext, aad), nil
}

// Open decrypts a value made by Seal with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// checkPlaintext is sealed into the database on first start so that a later
// start with a different key fails at once instead of on the first read.
var checkPlaintext = []byte("keyportd master key check")

// CheckValue returns a fresh sealed check value for this key.
func (s *Sealer) CheckValue() ([]byte, error) {
	return s.Seal(checkPlaintext, []byte("keyport/meta/key-check"))
}

// VerifyCheckValue reports whether v was made by CheckValue under this key.
func (s *Sealer) VerifyCheckValue(v []byte) error {
	pt, err := s.Open(v, []byte("keyport/meta/key-check"))
	if err != nil || !bytes.Equal(pt, checkPlaintext) {
		return fmt.Errorf("the master key does not match the one this database was created with: %w", ErrOpen)
	}
	return nil
}

// ParseKey decodes a master key: base64 (standard or URL alphabet, padded
// or not) of 32 bytes, surrounding whitespace ignored. Errors never quote
// the input.
func ParseKey(text []byte) ([]byte, error) {
	s := strings.TrimSpace(string(text))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("master key must decode to %d bytes, got %d", KeySize, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("master key is not base64 of %d bytes", KeySize)
}

// KeySource says where LoadKey found (or put) the key, for the startup log.
type KeySource string

// LoadKey finds the master key. In order:
//   - file, when set: it must exist (a typo must not silently start a new key);
//   - envValue (KEYPORTD_MASTER_KEY), when set;
//   - generatePath, when set (beside a SQLite database): read it, or create it
//     with a new random key, mode 0600, atomically, so two processes starting
//     together agree on one key.
//
// file and envValue together are refused as ambiguous.
func LoadKey(file, envValue, generatePath string) ([]byte, KeySource, error) {
	switch {
	case file != "" && envValue != "":
		return nil, "", errors.New("both --master-key-file and KEYPORTD_MASTER_KEY are set; use one")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("read master key file: %w", err)
		}
		k, err := ParseKey(data)
		if err != nil {
			return nil, "", fmt.Errorf("master key file %s: %w", file, err)
		}
		return k, KeySource("file " + file), nil
	case envValue != "":
		k, err := ParseKey([]byte(envValue))
		if err != nil {
			return nil, "", fmt.Errorf("KEYPORTD_MASTER_KEY: %w", err)
		}
		return k, "environment KEYPORTD_MASTER_KEY", nil
	case generatePath != "":
		return loadOrCreate(generatePath)
	}
	return nil, "", errors.New("no master key: set --master-key-file or KEYPORTD_MASTER_KEY (required with PostgreSQL, where every keyportd process must share one key)")
}

// ReplaceKeyFile writes key to path (base64, mode 0600) so that readers see
// the old key or the new, never a partial file: a temporary file, fsynced,
// renamed over path, and the directory fsynced.
func ReplaceKeyFile(path string, key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("master key must be %d bytes, got %d", KeySize, len(key))
	}
	dir := filepath.Dir(path)
	tmp, err := writeKeyTemp(dir, key)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace master key file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// writeKeyTemp writes key to a new 0600 file in dir, synced, and returns its
// name.
func writeKeyTemp(dir string, key []byte) (string, error) {
	tmp, err := os.CreateTemp(dir, ".keyportd-key-*")
	if err != nil {
		return "", fmt.Errorf("create master key file: %w", err)
	}
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("write master key file: %w", err)
	}
	return tmp.Name(), nil
}

func loadOrCreate(path string) ([]byte, KeySource, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKey(data)
		if err != nil {
			return nil, "", fmt.Errorf("master key file %s: %w", path, err)
		}
		return k, KeySource("file " + path), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("read master key file: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("generate master key: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create master key directory: %w", err)
	}
	tmpName, err := writeKeyTemp(dir, key)
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(tmpName)
	// Link, unlike rename, fails when the target exists: if another process
	// won the race, use its key.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreate(path)
		}
		return nil, "", fmt.Errorf("create master key file: %w", err)
	}
	return key, KeySource("generated file " + path), nil
}
