// Package app is the keyport program: the commands people type (login, ls,
// import, configure, check, account), which docker-credential-keyport hands
// over to, and the protocol verbs as well. main only calls Main.
package app

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/protocol"
)

// Main runs the program and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The protocol verbs take the shortest path: no command-line framework,
	// nothing opened that the action does not need.
	if len(args) == 2 && credhelper.ProtocolActions[args[1]] {
		return protocol.Main(ctx, args[1], stdin, stdout, stderr)
	}
	return runCLI(ctx, args, stdin, stdout, stderr)
}
