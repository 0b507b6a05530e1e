package app

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/credhelper"
)

// runCLI runs the management commands.
func runCLI(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var notFound bool
	a := &cli.App{
		Name:      credhelper.HelperName,
		Usage:     "registry credentials from the OS keychain, an encrypted file, the environment or your account",
		Version:   credhelper.VersionString(),
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, below; urfave must not exit the process.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       commands(),
		CommandNotFound: func(c *cli.Context, name string) {
			// Callers of the protocol read stdout; say it there too.
			fmt.Fprintf(stdout, "unknown command %q: run %s --help\n", name, credhelper.HelperName)
			notFound = true
		},
		UsageText: credhelper.HelperName + " store|get|erase|list|version   (the docker credential-helper protocol)\n" +
			credhelper.HelperName + " COMMAND [options]",
	}
	err := a.RunContext(ctx, args)
	if notFound {
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyport: %s\n", strings.TrimSpace(err.Error()))
		return 1
	}
	return 0
}

func commands() []*cli.Command { return nil }
