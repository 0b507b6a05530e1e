// Package file is keyport's store for headless hosts: one file under
// KEYPORT_HOME, sealed with NaCl secretbox, replaced atomically under a lock.
//
// The 32-byte key comes from a 0600 key file beside the store, or from
// KEYPORT_PASSPHRASE through scrypt when the store was created with one. The
// choice is written in the store's header, so later runs need no guess.
package file

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/scrypt"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/dockerconfig"
	"github.com/keyport/keyport/internal/sealedfile"
	"github.com/keyport/keyport/internal/smallfile"
)

// File names under the store's directory.
const (
	StoreFile = "credentials.enc"
	KeyFile   = "credentials.key"
	LockFile  = "credentials.lock"
)

// Key sources recorded in the header.
const (
	kdfKeyFile    = "keyfile"
	kdfPassphrase = "scrypt"
)

// DefaultScryptN is scrypt's cost for passphrase-protected stores (~50 ms here).
const DefaultScryptN = 1 << 15

// lockTimeout bounds how long a writer waits for another one.
const lockTimeout = 10 * time.Second

// Options configure a Store; zero values are the defaults.
type Options struct {
	// Passphrase, when set on a new store, derives the key with scrypt
	// instead of creating a key file. Required to open such a store.
	Passphrase string
	// ScryptN overrides the scrypt cost for new stores (tests lower it).
	ScryptN int
}

// Store is the encrypted file store. It is safe for concurrent use by
// goroutines and by processes.
type Store struct {
	dir  string
	opts Options

	mu     sync.Mutex
	cached *snapshot // last decrypted state, reused while the file is unchanged
}

// snapshot is one decrypted version of the store file. A get scans plain
// for its one record; the map of every entry is built only for a list or
// an edit.
type snapshot struct {
	stamp smallfile.Stamp
	plain []byte // the sealed entry list, decrypted; nil for no store; never modified

	once    sync.Once
	entries map[string]entry
	err     error
}

func (sn *snapshot) lookup(key string) (entry, bool, error) {
	switch {
	case sn.plain == nil:
		return entry{}, false, nil
	case isJSONEntries(sn.plain): // a store sealed before the binary form: decode it once
		m, err := sn.all()
		e, ok := m[key]
		return e, ok, err
	}
	return lookupEntry(sn.plain, key)
}

func (sn *snapshot) all() (map[string]entry, error) {
	sn.once.Do(func() {
		sn.entries = map[string]entry{}
		if sn.plain != nil {
			sn.entries, sn.err = decodeEntries(sn.plain)
		}
	})
	return sn.entries, sn.err
}

// header is the on-disk format (internal/sealedfile): everything but the KDF
// choice is sealed.
type header = sealedfile.Header

type entry struct {
	Username string `json:"u"`
	Secret   string `json:"s"`
}

// New returns the store kept in dir (created on first write, mode 0700).
func New(dir string, opts Options) *Store {
	if opts.ScryptN == 0 {
		opts.ScryptN = DefaultScryptN
	}
	return &Store{dir: dir, opts: opts}
}

// Name implements credhelper.Reader.
func (s *Store) Name() string { return "file" }

func (s *Store) path(name string) string { return filepath.Join(s.dir, name) }

// Get implements credhelper.Reader. It takes no lock: writers replace the
// file by rename, so a reader sees a whole old or a whole new file.
func (s *Store) Get(ctx context.Context, key string) (credhelper.Credentials, error) {
	sn, err := s.read()
	if err != nil {
		return credhelper.Credentials{}, err
	}
	e, ok, err := sn.lookup(key)
	if err != nil {
		return credhelper.Credentials{}, s.corrupt(err)
	}
	if !ok || isItemName(key) {
		return credhelper.Credentials{}, fmt.Errorf("file store: %s: %w", key, credhelper.ErrNotFound)
	}
	return credhelper.Credentials{ServerURL: key, Username: e.Username, Secret: e.Secret}, nil
}

// List implements credhelper.Reader.
func (s *Store) List(ctx context.Context) (map[string]string, error) {
	entries, err := s.entries()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(entries))
	for k, e := range entries {
		if !isItemName(k) {
			out[k] = e.Username
		}
	}
	return out, nil
}

// Put implements credhelper.Store.
func (s *Store) Put(ctx context.Context, c credhelper.Credentials) error {
	return s.update(ctx, func(m map[string]entry) error {
		m[c.ServerURL] = entry{Username: c.Username, Secret: c.Secret}
		return nil
	})
}

// Delete implements credhelper.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.update(ctx, func(m map[string]entry) error {
		if _, ok := m[key]; !ok {
			return fmt.Errorf("file store: %s: %w", key, credhelper.ErrNotFound)
		}
		delete(m, key)
		return nil
	})
}

// read returns the store's current snapshot; a missing store is empty.
func (s *Store) read() (*snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, stamp, err := smallfile.ReadFile(s.path(StoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &snapshot{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading file store: %w", err)
	}
	if s.cached != nil && stamp.Same(s.cached.stamp) {
		return s.cached, nil
	}
	h, err := sealedfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("file store %s is corrupt (not a keyport store): %w", s.path(StoreFile), err)
	}
	plain, err := s.open(h)
	if err != nil {
		return nil, err
	}
	s.cached = &snapshot{stamp: stamp, plain: plain}
	return s.cached, nil
}

// entries is every entry of the current snapshot, shared: copy before editing.
func (s *Store) entries() (map[string]entry, error) {
	sn, err := s.read()
	if err != nil {
		return nil, err
	}
	m, err := sn.all()
	if err != nil {
		return nil, s.corrupt(err)
	}
	return m, nil
}

func (s *Store) corrupt(err error) error {
	return fmt.Errorf("file store %s is corrupt: %w", s.path(StoreFile), err)
}

// open decrypts a header's box into the entry list.
func (s *Store) open(h header) ([]byte, error) {
	if !h.Valid() {
		return nil, fmt.Errorf("file store %s has an unknown format (version %d)", s.path(StoreFile), h.Version)
	}
	key, err := s.key(h, false)
	if err != nil {
		return nil, err
	}
	plain, ok := h.Open(key)
	if !ok {
		hint := "the key file does not match"
		if h.KDF == kdfPassphrase {
			hint = "wrong KEYPORT_PASSPHRASE"
		}
		return nil, fmt.Errorf("file store %s cannot be decrypted: %s, or the file is damaged", s.path(StoreFile), hint)
	}
	return plain, nil
}

// key finds the store key the header names; create makes a key file when
// there is none yet (only a writer under the lock may ask that).
func (s *Store) key(h header, create bool) (*[32]byte, error) {
	var key [32]byte
	switch h.KDF {
	case kdfPassphrase:
		if s.opts.Passphrase == "" {
			return nil, errors.New("the file store is protected by a passphrase: set KEYPORT_PASSPHRASE")
		}
		k, err := scrypt.Key([]byte(s.opts.Passphrase), h.Salt, h.N, 8, 1, 32)
		if err != nil {
			return nil, fmt.Errorf("deriving the file store key: %w", err)
		}
		copy(key[:], k)
		return &key, nil
	case kdfKeyFile:
		data, _, err := smallfile.ReadFile(s.path(KeyFile))
		if errors.Is(err, fs.ErrNotExist) && create {
			if _, err := rand.Read(key[:]); err != nil {
				return nil, err
			}
			if err := dockerconfig.WriteFileAtomic(s.path(KeyFile), key[:], 0o600); err != nil {
				return nil, fmt.Errorf("creating the file store key: %w", err)
			}
			return &key, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the file store key %s: %w", s.path(KeyFile), err)
		}
		if len(data) != 32 {
			return nil, fmt.Errorf("the file store key %s is damaged (%d bytes, want 32)", s.path(KeyFile), len(data))
		}
		copy(key[:], data)
		return &key, nil
	}
	return nil, fmt.Errorf("file store %s names an unknown key source %q", s.path(StoreFile), h.KDF)
}

// update applies fn to the current entries and replaces the file, all under
// an exclusive lock so concurrent writers never lose each other's changes.
func (s *Store) update(ctx context.Context, fn func(map[string]entry) error) error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	unlock, err := sealedfile.Lock(ctx, s.path(LockFile), s.path(StoreFile), lockTimeout)
	if err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	defer unlock()

	h, err := s.readHeader()
	if err != nil {
		return err
	}
	entries := map[string]entry{}
	if h.Box != nil {
		plain, err := s.open(h)
		if err != nil {
			return err
		}
		if entries, err = decodeEntries(plain); err != nil {
			return s.corrupt(err)
		}
	} else if err := s.newHeader(&h); err != nil {
		return err
	}
	if err := fn(entries); err != nil {
		return err
	}
	return s.write(h, entries)
}

// readHeader reads the header only; an absent store gives a zero header.
func (s *Store) readHeader() (header, error) {
	data, err := os.ReadFile(s.path(StoreFile))
	if errors.Is(err, fs.ErrNotExist) {
		return header{}, nil
	}
	if err != nil {
		return header{}, fmt.Errorf("reading file store: %w", err)
	}
	h, err := sealedfile.Parse(data)
	if err != nil {
		return h, fmt.Errorf("file store %s is corrupt (not a keyport store): %w", s.path(StoreFile), err)
	}
	return h, nil
}

// newHeader picks the key source for a store being created.
func (s *Store) newHeader(h *header) error {
	*h = header{Version: sealedfile.Version, KDF: kdfKeyFile}
	if s.opts.Passphrase != "" {
		h.KDF, h.N, h.Salt = kdfPassphrase, s.opts.ScryptN, make([]byte, 16)
		if _, err := rand.Read(h.Salt); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) write(h header, entries map[string]entry) error {
	key, err := s.key(h, true)
	if err != nil {
		return err
	}
	if err := h.Seal(key, encodeEntries(entries)); err != nil {
		return err
	}
	// A key-file store is read on every get: the compact form skips JSON
	// and base64. A passphrase store keeps JSON, which carries salt and cost.
	write := sealedfile.WriteCompact
	if h.KDF == kdfPassphrase {
		write = sealedfile.Write
	}
	if err := write(s.path(StoreFile), h); err != nil {
		return fmt.Errorf("file store: %w", err)
	}
	return nil
}
