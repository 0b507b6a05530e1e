// Package credhelper is the core of keyport: the credential type, the Store
// contract every backend implements, server-URL normalisation, the resolver
// that chains stores, and the adapter to the docker credential-helper protocol.
package credhelper

import (
	"context"
	"errors"
)

// Credentials is one registry credential. ServerURL is the canonical key
// (see NormalizeServerURL) when it comes from or goes to a Store.
type Credentials struct {
	ServerURL string
	Username  string
	Secret    string
}

// IdentityTokenUser is the username docker uses to mark Secret as an OAuth
// identity (refresh) token rather than a password.
const IdentityTokenUser = "<token>"

// ErrNotFound is wrapped by every store error that means "nothing is saved
// under this key". Resolution falls through to the next store on it.
var ErrNotFound = errors.New("credentials not found")

// ErrReadOnly is returned when a write reaches a store that cannot take one.
var ErrReadOnly = errors.New("store is read-only")

// Reader answers credential lookups by canonical key.
//
// Get returns an error wrapping ErrNotFound when it holds nothing for the key;
// any other error means the store is broken or unreachable and resolution must
// stop there (fail closed) rather than fall through to a weaker store.
type Reader interface {
	// Name is a short label for messages and `ls` ("keychain", "file", ...).
	Name() string
	Get(ctx context.Context, key string) (Credentials, error)
	// List maps every canonical key the store holds to its username.
	List(ctx context.Context) (map[string]string, error)
}

// Store is a Reader that can also persist credentials.
//
// Put saves c under c.ServerURL (a canonical key), replacing any earlier value.
// Delete returns an error wrapping ErrNotFound when nothing was saved under key.
type Store interface {
	Reader
	Put(ctx context.Context, c Credentials) error
	Delete(ctx context.Context, key string) error
}
