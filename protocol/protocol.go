// Package protocol runs the credential-helper verbs (store, get, erase,
// list, version) over the configured stores. It is the whole of
// docker-credential-keyport's hot path, so it must stay free of the
// command-line framework and of registry clients: every package linked into
// the helper costs start-up time on each image pull.
package protocol

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/credhelper"
)

// Main runs one protocol action and returns the exit code. Answers and
// errors go to stdout as the protocol wants; warnings go to stderr.
//
// It installs no signal handler: stores write by atomic rename, so being
// interrupted never leaves a half-written file, and a handler costs start-up.
func Main(ctx context.Context, action string, stdin io.Reader, stdout, stderr io.Writer) int {
	return credhelper.ServeProtocol(ctx, action, stdin, stdout, func() (*credhelper.Resolver, error) {
		return Open(ctx, stderr)
	})
}

// Open loads the configuration from the environment and builds the store
// chain, with store warnings (a stale cache served, say) going to stderr.
func Open(ctx context.Context, stderr io.Writer) (*credhelper.Resolver, error) {
	cfg, err := credhelper.LoadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	log := Logger(stderr)
	log.Debug("keyport", "home", cfg.Home, "backend", cfg.Backend, "project", cfg.Project)
	return backends.OpenWith(ctx, cfg, backends.Options{Logger: log, RemoteAPI: CompanionAPI})
}

// DebugVar turns on diagnostics on stderr: the configuration used, each
// store asked for each key and what it answered. Secrets are never logged.
const DebugVar = "KEYPORT_DEBUG"

// Logger writes warnings (and, with KEYPORT_DEBUG=1, diagnostics) as short
// text lines without timestamps: they end up in a terminal or a CI log next
// to docker's own output.
func Logger(w io.Writer) *slog.Logger {
	if w == nil {
		w = io.Discard
	}
	level := slog.LevelWarn
	if os.Getenv(DebugVar) != "" && os.Getenv(DebugVar) != "0" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}
