package credhelper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// Resolver chains stores in the configured order. It normalises every key
// once, at its boundary, so stores only see canonical keys.
type Resolver struct {
	readers []Reader
	log     *slog.Logger // debug lines: which store answered which key
}

// NewResolver tries readers in the given order.
func NewResolver(readers ...Reader) *Resolver {
	return &Resolver{readers: readers}
}

// SetLogger sends a debug line per store asked to log; it never logs a secret.
func (r *Resolver) SetLogger(log *slog.Logger) { r.log = log }

func (r *Resolver) debug(msg string, args ...any) {
	if r.log != nil {
		r.log.Debug(msg, args...)
	}
}

// Stores returns the chain in order.
func (r *Resolver) Stores() []Reader { return r.readers }

// Resolved is a credential together with the key and store that answered.
type Resolved struct {
	Credentials
	Key   string // the canonical key that held it (may be less specific than asked)
	Store string // Name() of the store that answered
}

// Resolve finds the credential for serverURL. More specific keys win over
// less specific ones across the whole chain (a namespace credential in any
// store beats a host credential); for one key, stores answer in order.
// A not-found falls through; any other error stops resolution (fail closed).
// Nothing found yields an error wrapping ErrNotFound.
func (r *Resolver) Resolve(ctx context.Context, serverURL string) (Resolved, error) {
	key, err := NormalizeServerURL(serverURL)
	if err != nil {
		return Resolved{}, err
	}
	for _, k := range LookupKeys(key) {
		for _, s := range r.readers {
			c, err := s.Get(ctx, k)
			if err == nil {
				r.debug("found", "key", k, "store", s.Name(), "username", c.Username)
				return Resolved{Credentials: c, Key: k, Store: s.Name()}, nil
			}
			if !errors.Is(err, ErrNotFound) {
				r.debug("store failed, stopping", "key", k, "store", s.Name(), "error", err)
				return Resolved{}, fmt.Errorf("%s store: %w", s.Name(), err)
			}
			r.debug("not found", "key", k, "store", s.Name())
		}
	}
	return Resolved{}, fmt.Errorf("%s: %w", key, ErrNotFound)
}

// Get is Resolve without the provenance.
func (r *Resolver) Get(ctx context.Context, serverURL string) (Credentials, error) {
	res, err := r.Resolve(ctx, serverURL)
	return res.Credentials, err
}

// Writable returns the first store of the chain that can be written.
func (r *Resolver) Writable() (Store, error) {
	var names []string
	for _, s := range r.readers {
		if w, ok := s.(Store); ok {
			return w, nil
		}
		names = append(names, s.Name())
	}
	return nil, &ReadOnlyChainError{Stores: names}
}

// ReadOnlyChainError is returned for a write when no store in the chain takes one.
type ReadOnlyChainError struct{ Stores []string }

func (e *ReadOnlyChainError) Error() string {
	msg := fmt.Sprintf("no writable store: %s %s read-only", strings.Join(e.Stores, ", "), pluralIs(len(e.Stores)))
	for _, s := range e.Stores {
		if s == "remote" {
			msg += "; save credentials in the account API, or add a local store (KEYPORT_BACKEND=remote,keychain)"
			break
		}
	}
	return msg
}

func (e *ReadOnlyChainError) Unwrap() error { return ErrReadOnly }

func pluralIs(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// Put normalises c.ServerURL and saves c in the first writable store.
func (r *Resolver) Put(ctx context.Context, c Credentials) error {
	key, err := NormalizeServerURL(c.ServerURL)
	if err != nil {
		return err
	}
	if c.Username == "" {
		return errors.New("no credentials username")
	}
	w, err := r.Writable()
	if err != nil {
		return err
	}
	c.ServerURL = key
	if err := w.Put(ctx, c); err != nil {
		return fmt.Errorf("%s store: %w", w.Name(), err)
	}
	return nil
}

// Delete removes the exact key serverURL normalises to from the first
// writable store; it wraps ErrNotFound when that store held nothing there.
func (r *Resolver) Delete(ctx context.Context, serverURL string) error {
	key, err := NormalizeServerURL(serverURL)
	if err != nil {
		return err
	}
	w, err := r.Writable()
	if err != nil {
		return err
	}
	if err := w.Delete(ctx, key); err != nil {
		return fmt.Errorf("%s store: %w", w.Name(), err)
	}
	return nil
}

// Entry is one row of a merged listing.
type Entry struct {
	Key      string
	Username string
	Store    string
	// Shadowed is true when an earlier store holds the same key and answers instead.
	Shadowed bool
}

// Entries lists every store's keys in chain order; the first store holding a
// key wins and later copies are marked Shadowed. Any store error stops it.
func (r *Resolver) Entries(ctx context.Context) ([]Entry, error) {
	seen := map[string]bool{}
	var out []Entry
	for _, s := range r.readers {
		m, err := s.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s store: %w", s.Name(), err)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			out = append(out, Entry{Key: k, Username: m[k], Store: s.Name(), Shadowed: seen[k]})
			seen[k] = true
		}
	}
	return out, nil
}

// List merges the stores' listings: canonical key → username, the first
// store holding a key winning.
func (r *Resolver) List(ctx context.Context) (map[string]string, error) {
	entries, err := r.Entries(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		if !e.Shadowed {
			out[e.Key] = e.Username
		}
	}
	return out, nil
}
