// Package app is the docker-credential-keyport program: the protocol verbs
// docker calls and the commands people type. main only calls Main.
package app

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/credhelper"
)

// Main runs the program and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The protocol verbs take the shortest path: no command-line framework,
	// nothing opened that the action does not need.
	if len(args) == 2 && credhelper.ProtocolActions[args[1]] {
		return credhelper.ServeProtocol(ctx, args[1], stdin, stdout, func() (*credhelper.Resolver, error) {
			return openResolver(ctx, stderr)
		})
	}
	return runCLI(ctx, args, stdin, stdout, stderr)
}

// openResolver loads the configuration from the environment and builds the
// chain; stores warn on stderr (the protocol keeps stdout for answers).
func openResolver(ctx context.Context, stderr io.Writer) (*credhelper.Resolver, error) {
	cfg, err := credhelper.LoadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	return backends.OpenWith(ctx, cfg, backends.Options{Logger: warnLogger(stderr)})
}
