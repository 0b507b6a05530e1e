// Package keychain stores credentials in the OS keychain through
// go-keyring: macOS Keychain, Windows Credential Manager, or a Secret Service
// (gnome-keyring, KWallet) on Linux.
//
// go-keyring cannot list, so an index file beside the lock (Dir) maps every
// key to its username. Neither is a secret, and a file keeps list fast and
// spares the Secret Service, which rewrites its keyring on every change.
// The index is written before an item and after its removal, so it always
// names every item keyport holds: a get for a key it does not name is a miss
// answered without a keychain round trip (the namespace keys a repository
// lookup tries first, say).
// Windows caps one secret near 2.5 KB, so larger items are split into chunks.
// go-keyring calls cannot be cancelled; each runs under a deadline so a
// missing or locked Secret Service fails fast instead of hanging a pull.
package keychain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/dockerconfig"
	"github.com/keyport/keyport/internal/filelock"
	"github.com/keyport/keyport/internal/smallfile"
)

// Service is the go-keyring service name of every keyport item.
const Service = "keyport"

// indexUser was the keychain item holding the index before it moved to a
// file; the name stays reserved.
const indexUser = ".index"

// Files under Options.Dir.
const (
	IndexFile = "keychain-index.json"
	lockFile  = "keychain.lock"
)

// chunkPrefix marks an item whose value lives in numbered chunk items.
const chunkPrefix = "chunked:"

// DefaultChunkSize keeps every item under Windows' 2560-byte secret limit.
const DefaultChunkSize = 2000

// lockTimeout bounds the wait for another process's index update.
const lockTimeout = 10 * time.Second

// DefaultTimeout bounds each keychain call.
const DefaultTimeout = 2 * time.Second

// Options configure a Store; zero values are the defaults.
type Options struct {
	// Dir holds the index file and the lock that serialises its updates
	// across processes (KEYPORT_HOME). List, Put and Delete need it.
	Dir       string
	Timeout   time.Duration
	ChunkSize int
}

// Store is the OS keychain store.
type Store struct{ opts Options }

// New returns a keychain store.
func New(opts Options) *Store {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ChunkSize == 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	return &Store{opts: opts}
}

// Name implements credhelper.Reader.
func (s *Store) Name() string { return "keychain" }

// UnavailableError means no keychain answered: the Secret Service is missing,
// locked, or too slow. Its message names the way out.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the OS keychain is not available (%v); on a host without a desktop session use the encrypted file store: KEYPORT_BACKEND=file", e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

type item struct {
	Username string `json:"u"`
	Secret   string `json:"s"`
}

// call runs one go-keyring operation under the deadline.
func (s *Store) call(ctx context.Context, op func() (string, error)) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	type result struct {
		v   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := op()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && !errors.Is(r.err, keyring.ErrNotFound) {
			return "", &UnavailableError{Err: r.err}
		}
		return r.v, r.err
	case <-ctx.Done():
		return "", &UnavailableError{Err: fmt.Errorf("no answer in time (deadline %s): %w", s.opts.Timeout, ctx.Err())}
	}
}

// vanished reports the Secret Service's answer for an item another process
// deleted between go-keyring finding it and reading its secret: a miss, not
// an outage. Only reads map it (see get); nothing else is excused.
func vanished(err error) bool {
	var derr dbus.Error
	if !errors.As(err, &derr) {
		return false
	}
	return derr.Name == "org.freedesktop.DBus.Error.UnknownObject" || derr.Name == "org.freedesktop.Secret.Error.NoSuchObject"
}

func (s *Store) get(ctx context.Context, user string) (string, error) {
	v, err := s.call(ctx, func() (string, error) { return keyring.Get(Service, user) })
	var unavailable *UnavailableError
	if errors.As(err, &unavailable) && vanished(unavailable.Err) {
		return "", keyring.ErrNotFound
	}
	return v, err
}

func (s *Store) set(ctx context.Context, user, value string) error {
	_, err := s.call(ctx, func() (string, error) { return "", keyring.Set(Service, user, value) })
	return err
}

func (s *Store) del(ctx context.Context, user string) error {
	_, err := s.call(ctx, func() (string, error) { return "", keyring.Delete(Service, user) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

// Probe reports whether a keychain answers, within the store's deadline.
func (s *Store) Probe(ctx context.Context) error {
	_, err := s.call(ctx, func() (string, error) { return keyring.Get(Service, indexUser) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return err
}

// load reads an item's value, following its chunk pointer. A writer may
// replace the value between reading the pointer and its chunks; chunks of a
// new value have new names, so the reader sees the chunks vanish rather than
// a torn mix, and reads again.
func (s *Store) load(ctx context.Context, user string) (string, error) {
	for attempt := 0; ; attempt++ {
		v, err := s.get(ctx, user)
		if err != nil {
			return "", err
		}
		p, chunked, err := parsePointer(user, v)
		if err != nil || !chunked {
			return v, err
		}
		var b strings.Builder
		for i := 1; i <= p.count; i++ {
			part, err := s.get(ctx, p.chunk(i))
			if errors.Is(err, keyring.ErrNotFound) && attempt < 3 {
				b.Reset()
				break // replaced while we read: start over
			}
			if err != nil {
				// Damage, not a miss: it must not read as ErrNotFound and
				// send the resolver on to a weaker store.
				return "", fmt.Errorf("keychain item %s is missing chunk %d of %d: %v", user, i, p.count, err)
			}
			b.WriteString(part)
			if i == p.count {
				return b.String(), nil
			}
		}
	}
}

// pointer is a chunked item's value: "chunked:COUNT:GENERATION".
type pointer struct {
	user  string
	count int
	gen   string
}

func (p pointer) String() string { return fmt.Sprintf("%s%d:%s", chunkPrefix, p.count, p.gen) }

// chunk names chunk i (from 1) of this generation.
func (p pointer) chunk(i int) string { return p.user + "#" + p.gen + "#" + strconv.Itoa(i) }

func parsePointer(user, v string) (pointer, bool, error) {
	rest, chunked := strings.CutPrefix(v, chunkPrefix)
	if !chunked {
		return pointer{}, false, nil
	}
	count, gen, _ := strings.Cut(rest, ":")
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 || n > maxChunks || gen == "" {
		return pointer{}, false, fmt.Errorf("keychain item %s has a damaged chunk pointer", user)
	}
	return pointer{user: user, count: n, gen: gen}, true, nil
}

// save writes value under user, in chunks when it is too large for one
// item, and then drops the chunks of the value it replaced.
func (s *Store) save(ctx context.Context, user, value string) error {
	old, _ := s.get(ctx, user)
	chunks := split(value, s.opts.ChunkSize)
	if len(chunks) > maxChunks {
		return fmt.Errorf("keychain item %s is too large (%d bytes)", user, len(value))
	}
	if len(chunks) == 1 {
		if err := s.set(ctx, user, value); err != nil {
			return err
		}
	} else {
		var gen [4]byte
		if _, err := rand.Read(gen[:]); err != nil {
			return err
		}
		p := pointer{user: user, count: len(chunks), gen: hex.EncodeToString(gen[:])}
		// Chunks first, the pointer last: a reader never follows a pointer
		// to chunks that are not written yet.
		for i, part := range chunks {
			if err := s.set(ctx, p.chunk(i+1), part); err != nil {
				return err
			}
		}
		if err := s.set(ctx, user, p.String()); err != nil {
			return err
		}
	}
	s.dropChunks(ctx, user, old)
	return nil
}

// dropChunks deletes the chunks the value old points to, if any.
func (s *Store) dropChunks(ctx context.Context, user, old string) {
	p, chunked, err := parsePointer(user, old)
	if err != nil || !chunked {
		return
	}
	for i := 1; i <= p.count; i++ {
		_ = s.del(ctx, p.chunk(i))
	}
}

// maxChunks bounds an item at 128 KB, far above any registry credential.
const maxChunks = 64

// Get implements credhelper.Reader.
func (s *Store) Get(ctx context.Context, key string) (credhelper.Credentials, error) {
	if !s.mayHold(key) {
		return credhelper.Credentials{}, notStored(key)
	}
	v, err := s.load(ctx, key)
	if errors.Is(err, keyring.ErrNotFound) {
		return credhelper.Credentials{}, notStored(key)
	}
	if err != nil {
		return credhelper.Credentials{}, err
	}
	var it item
	if err := json.Unmarshal([]byte(v), &it); err != nil {
		return credhelper.Credentials{}, fmt.Errorf("keychain item for %s is not a keyport item: %w", key, err)
	}
	return credhelper.Credentials{ServerURL: key, Username: it.Username, Secret: it.Secret}, nil
}

// notStored is the miss for key (or item name): it wraps ErrNotFound.
func notStored(key string) error { return fmt.Errorf("keychain: %s: %w", key, credhelper.ErrNotFound) }

// mayHold is false only when the index is readable and does not name key.
// Without an index (none written yet, or no Dir) or with a damaged one, the
// keychain itself is asked: the index may save a round trip, never hide an
// item.
func (s *Store) mayHold(key string) bool {
	if s.opts.Dir == "" {
		return true
	}
	idx, exists, err := s.readIndex()
	if err != nil || !exists {
		return true
	}
	_, ok := idx[key]
	return ok
}

// List implements credhelper.Reader from the index file.
func (s *Store) List(ctx context.Context) (map[string]string, error) {
	if s.opts.Dir == "" {
		return nil, errors.New("keychain: no directory for the index")
	}
	idx, _, err := s.readIndex()
	return idx, err
}

// readIndex reads the index file; exists is false (and idx empty) when
// none has been written yet.
func (s *Store) readIndex() (idx map[string]string, exists bool, err error) {
	idx = map[string]string{}
	path := filepath.Join(s.opts.Dir, IndexFile)
	data, _, err := smallfile.ReadFile(path) // on the get path: no poller
	if errors.Is(err, fs.ErrNotExist) {
		return idx, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("keychain index: %w", err)
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, true, fmt.Errorf("keychain index %s is damaged: %w", path, err)
	}
	return idx, true, nil
}

// Put implements credhelper.Store.
func (s *Store) Put(ctx context.Context, c credhelper.Credentials) error {
	value, err := json.Marshal(item{Username: c.Username, Secret: c.Secret})
	if err != nil {
		return err
	}
	// The index names the key before the item exists (see the package
	// comment), and stops naming it again if the item was not saved. A call
	// that ran out of time may still land (go-keyring cannot cancel it), so
	// after a deadline the key stays named.
	return s.withIndex(ctx, func(idx map[string]string, write func() error) error {
		before, listed := idx[c.ServerURL]
		idx[c.ServerURL] = c.Username
		if err := write(); err != nil {
			return err
		}
		if err := s.save(ctx, c.ServerURL, string(value)); err != nil {
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
				return err
			case listed:
				idx[c.ServerURL] = before
			default:
				delete(idx, c.ServerURL)
			}
			return errors.Join(err, write())
		}
		return nil
	})
}

// Delete implements credhelper.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.withIndex(ctx, func(idx map[string]string, write func() error) error {
		old, err := s.get(ctx, key)
		if errors.Is(err, keyring.ErrNotFound) {
			if _, listed := idx[key]; !listed {
				return notStored(key)
			}
		} else if err != nil {
			return err
		}
		if err := s.del(ctx, key); err != nil {
			return err
		}
		s.dropChunks(ctx, key, old)
		delete(idx, key)
		return write()
	})
}

// withIndex serialises read-modify-write of the index file across
// processes (a file lock beside it). fn edits the index and calls write to
// save it, at the point its order of writes needs.
func (s *Store) withIndex(ctx context.Context, fn func(idx map[string]string, write func() error) error) error {
	if s.opts.Dir == "" {
		return errors.New("keychain: no directory for the index")
	}
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("keychain: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	unlock, err := filelock.Acquire(lctx, filepath.Join(s.opts.Dir, lockFile))
	if err != nil {
		return fmt.Errorf("keychain: %w", err)
	}
	defer unlock()
	idx, err := s.List(ctx)
	if err != nil {
		return err
	}
	return fn(idx, func() error {
		data, err := json.Marshal(idx)
		if err != nil {
			return err
		}
		return dockerconfig.WriteFileAtomic(filepath.Join(s.opts.Dir, IndexFile), append(data, '\n'), 0o600)
	})
}

// split cuts s into pieces of at most size bytes on rune boundaries.
func split(s string, size int) []string {
	var out []string
	for len(s) > size {
		cut := size
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}
