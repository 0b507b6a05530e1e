// Package env is a read-only store for CI runners: credentials come from
// environment variables, so nothing is written on a throwaway machine.
//
// KEYPORT_AUTH_<LABEL>=user:secret, where LABEL is the canonical key upper-
// cased with every character other than a letter or digit turned into '_':
// ghcr.io → KEYPORT_AUTH_GHCR_IO, localhost:5000 → KEYPORT_AUTH_LOCALHOST_5000,
// Docker Hub → KEYPORT_AUTH_DOCKER_IO. The secret may contain ':'.
package env

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyport/keyport/credhelper"
)

// Prefix starts every variable the store reads.
const Prefix = "KEYPORT_AUTH_"

// Store reads credentials from a snapshot of the environment.
type Store struct{ vars map[string]string }

// New takes the environment as os.Environ gives it.
func New(environ []string) *Store {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, Prefix) {
			vars[k] = v
		}
	}
	return &Store{vars: vars}
}

// Name implements credhelper.Reader.
func (s *Store) Name() string { return "env" }

// Variable is the environment variable that holds the credential for a canonical key.
func Variable(key string) string {
	var b strings.Builder
	b.WriteString(Prefix)
	for _, r := range strings.ToUpper(key) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Get implements credhelper.Reader. A variable without "user:" is an error,
// not a miss: a typo in CI should fail loudly rather than pull anonymously.
func (s *Store) Get(ctx context.Context, key string) (credhelper.Credentials, error) {
	name := Variable(key)
	v, ok := s.vars[name]
	if !ok {
		return credhelper.Credentials{}, fmt.Errorf("env: %s: %w", name, credhelper.ErrNotFound)
	}
	user, secret, ok := strings.Cut(v, ":")
	if !ok || user == "" {
		return credhelper.Credentials{}, fmt.Errorf("env: %s must hold user:secret", name)
	}
	return credhelper.Credentials{ServerURL: key, Username: user, Secret: secret}, nil
}

// List implements credhelper.Reader. A label cannot always be turned back
// into its key, so the listing shows the variable's best reading: labels
// lower-cased, "_" as ".", a trailing "_<digits>" as a port.
func (s *Store) List(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	for name, v := range s.vars {
		user, _, ok := strings.Cut(v, ":")
		if !ok || user == "" {
			continue
		}
		out[guessKey(strings.TrimPrefix(name, Prefix))] = user
	}
	return out, nil
}

func guessKey(label string) string {
	label = strings.ToLower(label)
	if i := strings.LastIndexByte(label, '_'); i > 0 && i < len(label)-1 && strings.Trim(label[i+1:], "0123456789") == "" {
		return strings.ReplaceAll(label[:i], "_", ".") + ":" + label[i+1:]
	}
	return strings.ReplaceAll(label, "_", ".")
}
