// Package backends builds the store chain the configuration asks for.
package backends

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/keyport/keyport/backends/env"
	"github.com/keyport/keyport/backends/file"
	"github.com/keyport/keyport/backends/keychain"
	"github.com/keyport/keyport/credhelper"
)

// Names of the stores KEYPORT_BACKEND may list.
var Names = []string{"keychain", "file", "env"}

// probeTimeout bounds the one-time check for a working keychain.
const probeTimeout = time.Second

// Open builds the resolver for cfg. When no backend is configured it decides
// once — keychain if one answers, else file — and records the choice in the
// config file, so later calls never wait on a probe.
func Open(ctx context.Context, cfg credhelper.Config) (*credhelper.Resolver, error) {
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
		r, err := openOne(n, cfg)
		if err != nil {
			return nil, err
		}
		readers = append(readers, r)
	}
	return credhelper.NewResolver(readers...), nil
}

func openOne(name string, cfg credhelper.Config) (credhelper.Reader, error) {
	switch name {
	case "keychain":
		return keychain.New(keychain.Options{LockDir: cfg.Home}), nil
	case "file":
		return file.New(cfg.Home, file.Options{Passphrase: os.Getenv("KEYPORT_PASSPHRASE")}), nil
	case "env":
		return env.New(os.Environ()), nil
	}
	return nil, fmt.Errorf("unknown backend %q in KEYPORT_BACKEND (known: keychain, file, env)", name)
}

// DefaultBackend is "keychain" when an OS keychain answers within a second,
// else "file". On Linux without a session bus it does not even try.
func DefaultBackend(ctx context.Context, cfg credhelper.Config) string {
	if runtime.GOOS == "linux" && !sessionBusLikely() {
		return "file"
	}
	kc := keychain.New(keychain.Options{Timeout: probeTimeout})
	if err := kc.Probe(ctx); err != nil {
		return "file"
	}
	return "keychain"
}

// sessionBusLikely says whether godbus could find a session bus: from the
// environment, or the systemd user bus socket.
func sessionBusLikely() bool {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return true
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "bus")); err == nil {
			return true
		}
	}
	return false
}
