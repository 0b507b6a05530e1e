package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/remote/httpapi"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/internal/cliargs"
	"github.com/keyport/keyport/protocol"
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
		// Errors are printed once, below; urfave must never exit the process.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       commands(),
		Flags:          []cli.Flag{&cli.BoolFlag{Name: "debug", Usage: "diagnostics on stderr (or KEYPORT_DEBUG=1): the stores asked and what they answered; never a secret"}},
		Before: func(c *cli.Context) error {
			if c.Bool("debug") {
				return os.Setenv(protocol.DebugVar, "1")
			}
			return nil
		},
		CommandNotFound: func(c *cli.Context, name string) {
			// Callers of the protocol read stdout; say it there too.
			fmt.Fprintf(stdout, "unknown command %q: run %s --help\n", name, credhelper.HelperName)
			notFound = true
		},
		UsageText: credhelper.HelperName + " store|get|erase|list|version   (the docker credential-helper protocol)\n" +
			credhelper.HelperName + " COMMAND [options]",
	}
	quietUsageErrors(a.Commands)
	a.OnUsageError = usageError
	err := a.RunContext(ctx, cliargs.Hoist(a.Commands, args))
	if notFound {
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyport: %s\n", strings.TrimSpace(err.Error()))
		return 1
	}
	return 0
}

// usageError reports a bad flag in one line instead of the whole help page;
// `--help` still shows it.
func usageError(_ *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%w (add --help for usage)", err)
}

func quietUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = usageError
		quietUsageErrors(c.Subcommands)
	}
}

func commands() []*cli.Command {
	return []*cli.Command{loginCommand(), logoutCommand(), lsCommand(), importCommand(), configureCommand(), checkCommand(), accountCommand(), apiCommand()}
}

// session is what every command needs: configuration and the store chain.
type session struct {
	cfg      credhelper.Config
	resolver *credhelper.Resolver
}

func openSession(c *cli.Context) (*session, error) {
	cfg, err := credhelper.LoadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	r, err := backends.OpenWith(c.Context, cfg, backends.Options{Logger: protocol.Logger(c.App.ErrWriter), RemoteAPI: httpapi.New})
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, resolver: r}, nil
}
