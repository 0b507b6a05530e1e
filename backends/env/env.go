// Package env is a read-only store for CI runners: credentials come from
// environment variables, so nothing is written on a throwaway machine.
//
// KEYPORT_AUTH_<LABEL>=user:secret, where LABEL is the canonical key upper-
// cased with every character other than a letter or digit turned into '_':
// ghcr.io → KEYPORT_AUTH_GHCR_IO, localhost:5000 → KEYPORT_AUTH_LOCALHOST_5000,
// Docker Hub → KEYPORT_AUTH_DOCKER_IO. The secret may contain ':'.
//
// KEYPORT_AUTH_CONFIG may hold a whole Docker config.json ({"auths": ...},
// as CI systems hand out in DOCKER_AUTH_CONFIG): its keys are exact, so it
// is the form to use for hosts whose label cannot be read back (a '-' or a
// namespace), and it wins over a KEYPORT_AUTH_<LABEL> for the same key.
package env

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/dockerconfig"
)

// Prefix starts every per-registry variable the store reads.
const Prefix = "KEYPORT_AUTH_"

// ConfigVar holds a Docker config.json whose "auths" the store serves.
const ConfigVar = "KEYPORT_AUTH_CONFIG"

// Store reads credentials from a snapshot of the environment.
type Store struct {
	vars   map[string]string                 // KEYPORT_AUTH_<LABEL> → user:secret
	config map[string]credhelper.Credentials // from KEYPORT_AUTH_CONFIG, by canonical key
	err    error                             // KEYPORT_AUTH_CONFIG did not parse
}

// New takes the environment as os.Environ gives it.
func New(environ []string) *Store {
	s := &Store{vars: map[string]string{}, config: map[string]credhelper.Credentials{}}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
		case k == ConfigVar:
			s.err = s.loadConfig(v)
		case strings.HasPrefix(k, Prefix):
			s.vars[k] = v
		}
	}
	return s
}

// loadConfig reads KEYPORT_AUTH_CONFIG. A malformed value is an error on
// every call rather than silently fewer credentials; it never quotes the value.
func (s *Store) loadConfig(v string) error {
	entries, problems, err := dockerconfig.ParseAuths([]byte(v))
	if err == nil && len(problems) > 0 {
		err = problems[0]
	}
	if err != nil {
		return fmt.Errorf("env: %s: %w", ConfigVar, err)
	}
	for _, e := range entries {
		key, err := credhelper.NormalizeServerURL(e.Key)
		if err != nil {
			return fmt.Errorf("env: %s: %w", ConfigVar, err)
		}
		s.config[key] = credhelper.Credentials{ServerURL: key, Username: e.Username, Secret: e.Secret}
	}
	return nil
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
	if s.err != nil {
		return credhelper.Credentials{}, s.err
	}
	if c, ok := s.config[key]; ok {
		return c, nil
	}
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
	if s.err != nil {
		return nil, s.err
	}
	out := map[string]string{}
	for name, v := range s.vars {
		user, _, ok := strings.Cut(v, ":")
		if !ok || user == "" {
			continue
		}
		out[guessKey(strings.TrimPrefix(name, Prefix))] = user
	}
	for k, c := range s.config {
		out[k] = c.Username
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
