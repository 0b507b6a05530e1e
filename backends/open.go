// Package backends builds the store chain the configuration asks for.
package backends

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/keyport/keyport/backends/env"
	"github.com/keyport/keyport/backends/keychain"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/credhelper"
)

// Names of the stores KEYPORT_BACKEND may list.
var Names = []string{"keychain", "file", "env", "remote"}

// Options are what the stores take from the program beyond Config.
type Options struct {
	// Logger receives warnings meant for the person or the CI log (the
	// remote store serving a stale cache). Nil discards them.
	Logger *slog.Logger
	// RemoteAPI reaches the account API for the remote store: httpapi.New in
	// the keyport program, the route through keyport in the helper.
	RemoteAPI func(remote.APIConfig) (remote.API, error)
}

// probeTimeout bounds the one-time check for a working keychain.
const probeTimeout = time.Second

// Open builds the resolver for cfg. When no backend is configured it decides
// once — keychain if one answers, else file — and records the choice in the
// config file, so later calls never wait on a probe.
func Open(ctx context.Context, cfg credhelper.Config) (*credhelper.Resolver, error) {
	return OpenWith(ctx, cfg, Options{})
}

// OpenWith is Open with the program's logger.
func OpenWith(ctx context.Context, cfg credhelper.Config, opts Options) (*credhelper.Resolver, error) {
	names := cfg.Backends()
	if len(names) == 0 {
		chosen := DefaultBackend(ctx, cfg)
		// Best effort: an unwritable home only means deciding again next time.
		_ = credhelper.SaveConfig(cfg.Home, func(c *credhelper.Config) { c.Backend = chosen })
		names = []string{chosen}
	}
	var readers []credhelper.Reader
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("KEYPORT_BACKEND names %q twice", n)
		}
		seen[n] = true
		r, err := openOne(n, cfg, opts)
		if err != nil {
			return nil, err
		}
		readers = append(readers, r)
	}
	r := credhelper.NewResolver(readers...)
	r.SetLogger(opts.Logger)
	return r, nil
}

func openOne(name string, cfg credhelper.Config, opts Options) (credhelper.Reader, error) {
	switch name {
	case "remote":
		return OpenRemote(cfg, opts)
	case "keychain":
		return keychainStore(cfg), nil
	case "file":
		return fileStore(cfg), nil
	case "env":
		return env.New(os.Environ()), nil
	}
	return nil, fmt.Errorf("unknown backend %q in KEYPORT_BACKEND (known: %s)", name, strings.Join(Names, ", "))
}

// DefaultBackend is "keychain" when an OS keychain answers within a second,
// else "file". On Linux without a session bus it does not even try.
func DefaultBackend(ctx context.Context, cfg credhelper.Config) string {
	if !keychainLikely() {
		return "file"
	}
	kc := keychain.New(keychain.Options{Timeout: probeTimeout})
	if err := kc.Probe(ctx); err != nil {
		return "file"
	}
	return "keychain"
}

// keychainLikely says whether asking the OS keychain could work without a
// wait: always on macOS and Windows, on Linux only with a session bus.
func keychainLikely() bool { return keychainLikelyOn(runtime.GOOS, os.Getenv, fileExists) }

// keychainLikelyOn is keychainLikely for a given OS and environment. On
// Linux, godbus finds the session bus from DBUS_SESSION_BUS_ADDRESS or the
// systemd user bus socket, $XDG_RUNTIME_DIR/bus.
func keychainLikelyOn(goos string, getenv func(string) string, exists func(string) bool) bool {
	if goos != "linux" {
		return true
	}
	if getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return true
	}
	dir := getenv("XDG_RUNTIME_DIR")
	return dir != "" && exists(filepath.Join(dir, "bus"))
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
