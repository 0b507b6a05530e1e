package backends

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyport/keyport/backends/file"
	"github.com/keyport/keyport/backends/keychain"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
)

// AccountTokenItem is the name the account API token is saved under in the
// local secure store. Names starting with '.' are outside the registry key
// space, so it can never collide with a credential or show in `list`.
const AccountTokenItem = ".account-token"

// Environment variables of the remote store beyond those Config reads.
const (
	EnvAPIToken       = "KEYPORT_API_TOKEN"
	EnvAPITokenFile   = "KEYPORT_API_TOKEN_FILE"
	EnvAPICAFile      = "KEYPORT_API_CA_FILE"
	EnvAPITimeout     = "KEYPORT_API_TIMEOUT"
	EnvConnectTimeout = "KEYPORT_API_CONNECT_TIMEOUT"
	EnvCacheTTL       = "KEYPORT_CACHE_TTL"
	EnvCacheGrace     = "KEYPORT_CACHE_GRACE"
)

// maxTokenFile bounds KEYPORT_API_TOKEN_FILE; tokens are ~50 bytes.
const maxTokenFile = 16 << 10

// ItemStore is a local secure store that keeps keyport's own secrets
// besides registry credentials: the keychain and file stores.
type ItemStore interface {
	Name() string
	GetItem(ctx context.Context, name string) (string, error)
	SetItem(ctx context.Context, name, value string) error
	DeleteItem(ctx context.Context, name string) error
}

// RemoteCacheDir is where the remote store's caches live.
func RemoteCacheDir(cfg credhelper.Config) string {
	return filepath.Join(cfg.Home, "cache", "remote")
}

// OpenRemote builds the remote store from cfg and the KEYPORT_* variables.
func OpenRemote(cfg credhelper.Config, opts Options) (*remote.Store, error) {
	o, err := RemoteOptions(cfg, opts)
	if err != nil {
		return nil, err
	}
	return remote.New(o), nil
}

// RemoteOptions are the remote store's options from cfg and the KEYPORT_*
// variables (account login swaps in the token it is proving).
func RemoteOptions(cfg credhelper.Config, opts Options) (remote.Options, error) {
	o := remote.Options{
		APIURL: cfg.APIURL, Team: cfg.Team, Project: cfg.Project,
		Token:    TokenSource(cfg),
		CacheDir: RemoteCacheDir(cfg),
		CAFile:   os.Getenv(EnvAPICAFile),
		Logger:   opts.Logger,
		NewAPI:   opts.RemoteAPI,
	}
	for env, d := range map[string]*time.Duration{
		EnvAPITimeout: &o.Timeout, EnvConnectTimeout: &o.ConnectTimeout,
		EnvCacheTTL: &o.TTL, EnvCacheGrace: &o.Grace,
	} {
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed <= 0 {
			return o, fmt.Errorf("%s=%q is not a positive duration (e.g. 3s, 5m, 24h)", env, v)
		}
		*d = parsed
	}
	return o, nil
}

// TokenSource finds the API token: KEYPORT_API_TOKEN, else the file
// KEYPORT_API_TOKEN_FILE names, else what `account login` saved in the local
// secure store. It runs only when the remote store is first used.
func TokenSource(cfg credhelper.Config) remote.TokenSource {
	return func(ctx context.Context) (string, error) {
		if t := os.Getenv(EnvAPIToken); t != "" {
			return t, nil
		}
		if path := os.Getenv(EnvAPITokenFile); path != "" {
			return readTokenFile(path)
		}
		var errs []error
		for _, s := range tokenStores(cfg) {
			t, err := s.GetItem(ctx, AccountTokenItem)
			if err == nil {
				return t, nil
			}
			if !errors.Is(err, credhelper.ErrNotFound) {
				errs = append(errs, fmt.Errorf("reading the API token from the %s store: %w", s.Name(), err))
			}
		}
		if len(errs) > 0 {
			return "", errors.Join(errs...)
		}
		return "", fmt.Errorf("no API token: run `%s account login` or set %s or %s", credhelper.HelperName, EnvAPIToken, EnvAPITokenFile)
	}
}

// TokenOrigin says where TokenSource looks first, for `account status`.
func TokenOrigin(cfg credhelper.Config) string {
	if os.Getenv(EnvAPIToken) != "" {
		return EnvAPIToken
	}
	if p := os.Getenv(EnvAPITokenFile); p != "" {
		return EnvAPITokenFile + " (" + p + ")"
	}
	var names []string
	for _, s := range tokenStores(cfg) {
		names = append(names, s.Name())
	}
	return "saved by account login (" + strings.Join(names, " or ") + " store)"
}

func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvAPITokenFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", EnvAPITokenFile, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("%s %s is larger than %d bytes: not a token", EnvAPITokenFile, path, maxTokenFile)
	}
	t := strings.TrimSpace(string(data))
	if t == "" {
		return "", fmt.Errorf("%s %s is empty", EnvAPITokenFile, path)
	}
	return t, nil
}

// tokenStores are where a saved token may be: the chain's own local secure
// store; without one, the file store and then (only where a keychain is
// likely, so a headless runner never waits) the keychain.
func tokenStores(cfg credhelper.Config) []ItemStore {
	if s := chainItemStore(cfg); s != nil {
		return []ItemStore{s}
	}
	out := []ItemStore{fileStore(cfg)}
	if keychainLikely() {
		out = append(out, keychainStore(cfg))
	}
	return out
}

// TokenStoreForLogin picks where `account login` saves the token: the
// chain's local secure store, else the one this machine would default to
// (keychain if one answers, else the encrypted file).
func TokenStoreForLogin(ctx context.Context, cfg credhelper.Config) ItemStore {
	if s := chainItemStore(cfg); s != nil {
		return s
	}
	if DefaultBackend(ctx, cfg) == "keychain" {
		return keychainStore(cfg)
	}
	return fileStore(cfg)
}

// TokenStores are every store a saved token may be in (for logout).
func TokenStores(cfg credhelper.Config) []ItemStore { return tokenStores(cfg) }

func chainItemStore(cfg credhelper.Config) ItemStore {
	for _, n := range cfg.Backends() {
		switch n {
		case "keychain":
			return keychainStore(cfg)
		case "file":
			return fileStore(cfg)
		}
	}
	return nil
}

func fileStore(cfg credhelper.Config) *file.Store {
	return file.New(cfg.Home, file.Options{Passphrase: os.Getenv("KEYPORT_PASSPHRASE")})
}

func keychainStore(cfg credhelper.Config) *keychain.Store {
	return keychain.New(keychain.Options{Dir: cfg.Home})
}
