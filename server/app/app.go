// Package app is keyportd's command line (urfave/cli/v2): serve, token and
// project commands. It never exits the process; cmd/keyportd does, so the
// whole command line runs inside tests.
package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/internal/cliargs"
	"github.com/keyport/keyport/registry"
	"github.com/keyport/keyport/server"
	"github.com/keyport/keyport/server/console"
	"github.com/keyport/keyport/server/seal"
	"github.com/keyport/keyport/server/storage"
)

// Version is set at build time with -ldflags "-X ...app.Version=...".
var Version = "dev"

// Env is how the app reads the environment; tests pass their own.
type Env func(string) string

// Run runs the keyportd command line on args (os.Args' shape). Flags may
// follow a command's argument, as in `keyportd project delete web --db DSN`.
func Run(ctx context.Context, stdout, stderr io.Writer, getenv Env, args []string) error {
	a := New(stdout, stderr, getenv)
	return a.RunContext(ctx, cliargs.Hoist(a.Commands, args))
}

// New builds the keyportd command line writing to stdout and stderr.
func New(stdout, stderr io.Writer, getenv Env) *cli.App {
	if getenv == nil {
		getenv = os.Getenv
	}
	dbFlag := &cli.StringFlag{
		Name:    "db",
		Usage:   "database: sqlite:PATH or postgres://... (default sqlite:$KEYPORT_HOME/keyportd.db)",
		EnvVars: []string{"KEYPORTD_DB"},
	}
	teamFlag := &cli.StringFlag{Name: "team", Value: server.DefaultTeam, Usage: "team id"}
	a := &cli.App{
		Name:    "keyportd",
		Usage:   "the keyport account API: registry credentials saved per team, restricted to projects",
		Version: Version,
		Writer:  stdout, ErrWriter: stderr,
		// Exiting is cmd/keyportd's job; never let urfave/cli call os.Exit.
		ExitErrHandler:  func(*cli.Context, error) {},
		HideHelpCommand: true,
		Commands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "serve the HTTP API",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", EnvVars: []string{"KEYPORTD_ADDR"}, Usage: "listen address HOST:PORT"},
					dbFlag,
					&cli.StringFlag{Name: "master-key-file", EnvVars: []string{"KEYPORTD_MASTER_KEY_FILE"},
						Usage: "file holding the base64 AES-256 master key (or set KEYPORTD_MASTER_KEY); with SQLite and neither set, DB.key is created beside the database"},
					&cli.IntFlag{Name: "rate-limit", Value: 1000, EnvVars: []string{"KEYPORTD_RATE_LIMIT"}, Usage: "requests per token per window; 0 disables"},
					&cli.DurationFlag{Name: "rate-window", Value: time.Hour, EnvVars: []string{"KEYPORTD_RATE_WINDOW"}, Usage: "rate-limit window"},
					&cli.StringFlag{Name: "log-format", Value: "json", Usage: "json or text"},
					&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error (warn silences the access log)"},
					&cli.StringFlag{Name: "registry-ca-file", EnvVars: []string{"KEYPORTD_REGISTRY_CA_FILE"}, Usage: "PEM CA bundle the console's test button trusts besides the system roots (a private registry)"},
					&cli.DurationFlag{Name: "session-ttl", Value: console.DefaultSessionTTL, EnvVars: []string{"KEYPORTD_SESSION_TTL"}, Usage: "how long a console sign-in lasts"},
					&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "how long in-flight requests may take to finish on SIGTERM"},
				},
				Action: func(c *cli.Context) error { return serve(c, stderr, getenv) },
			},
			{
				Name:  "master-key",
				Usage: "manage the master key that seals secrets at rest",
				Subcommands: []*cli.Command{{
					Name:  "rotate",
					Usage: "re-seal every secret under a new master key (stop every keyportd on the database first)",
					Flags: []cli.Flag{dbFlag,
						&cli.StringFlag{Name: "master-key-file", EnvVars: []string{"KEYPORTD_MASTER_KEY_FILE"},
							Usage: "file holding the current key (or set KEYPORTD_MASTER_KEY); with SQLite and neither set, DB.key beside the database"},
						&cli.StringFlag{Name: "new-key-file", Required: true,
							Usage: "file holding the new key; created with a random key (mode 0600) when it does not exist"},
					},
					Action: func(c *cli.Context) error { return rotateMasterKey(c, stderr, getenv) },
				}},
			},
			{
				Name:  "token",
				Usage: "create, list and revoke API tokens",
				Subcommands: []*cli.Command{
					{
						Name:  "create",
						Usage: "create a token and print it (alone, once) on stdout",
						Flags: []cli.Flag{dbFlag, teamFlag,
							&cli.StringFlag{Name: "name", Required: true, Usage: "what the token is for"},
							&cli.StringFlag{Name: "role", Required: true, Usage: "admin, reader or viewer"},
							&cli.StringSliceFlag{Name: "project", Usage: "bind the token to this project (repeatable)"},
						},
						Action: func(c *cli.Context) error {
							return withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
								projects := c.StringSlice("project")
								if len(projects) > 0 {
									missing, err := st.MissingProjects(ctx, c.String("team"), projects)
									if err != nil {
										return err
									}
									if len(missing) > 0 {
										fmt.Fprintf(stderr, "keyportd: warning: no project %s yet (create it with `keyportd project create`)\n", strings.Join(missing, ", "))
									}
								}
								token, t, err := server.NewToken(ctx, st, c.String("team"), c.String("name"), storage.Role(c.String("role")), projects)
								if err != nil {
									return err
								}
								fmt.Fprintln(stdout, token)
								fmt.Fprintf(stderr, "keyportd: created token %s (%s) for team %s%s; it is shown only this once\n",
									t.ID, t.Role, t.TeamID, boundText(t.Projects))
								return nil
							})
						},
					},
					{
						Name:  "list",
						Usage: "list tokens (never the tokens themselves)",
						Flags: []cli.Flag{dbFlag, &cli.StringFlag{Name: "team", Usage: "only this team's tokens"}},
						Action: func(c *cli.Context) error {
							return withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
								ts, err := st.ListTokens(ctx, c.String("team"))
								if err != nil {
									return err
								}
								tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
								fmt.Fprintln(tw, "ID\tNAME\tTEAM\tROLE\tPROJECTS\tCREATED\tREVOKED")
								for _, t := range ts {
									revoked := "-"
									if t.RevokedAt != nil {
										revoked = t.RevokedAt.Format(time.RFC3339)
									}
									fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.TeamID, t.Role,
										orDash(strings.Join(t.Projects, ",")), t.CreatedAt.Format(time.RFC3339), revoked)
								}
								return tw.Flush()
							})
						},
					},
					{
						Name:      "revoke",
						Usage:     "revoke a token by id (see token list)",
						ArgsUsage: "TOKEN_ID",
						Flags:     []cli.Flag{dbFlag},
						Action: func(c *cli.Context) error {
							id, err := oneArg(c, "TOKEN_ID")
							if err != nil {
								return err
							}
							return withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
								if err := st.RevokeToken(ctx, "", id); err != nil {
									return err
								}
								fmt.Fprintf(stderr, "keyportd: revoked token %s\n", id)
								return nil
							})
						},
					},
				},
			},
			{
				Name:  "project",
				Usage: "create, list and delete projects",
				Subcommands: []*cli.Command{
					{
						Name:  "create",
						Usage: "create a project and print its id",
						Flags: []cli.Flag{dbFlag, teamFlag,
							&cli.StringFlag{Name: "name", Required: true},
							&cli.StringFlag{Name: "description"},
						},
						Action: func(c *cli.Context) error {
							return withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
								p, err := server.CreateProject(ctx, st, c.String("team"), c.String("name"), c.String("description"))
								if err != nil {
									return err
								}
								fmt.Fprintln(stdout, p.ID)
								return nil
							})
						},
					},
					{
						Name:  "list",
						Usage: "list projects",
						Flags: []cli.Flag{dbFlag, teamFlag},
						Action: func(c *cli.Context) error {
							return withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
								ps, err := st.ListProjects(ctx, c.String("team"), nil, storage.Page{})
								if err != nil {
									return err
								}
								tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
								fmt.Fprintln(tw, "ID\tNAME\tDESCRIPTION")
								for _, p := range ps {
									fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name, orDash(p.Description))
								}
								return tw.Flush()
							})
						},
					},
					{
						Name:      "delete",
						Usage:     "delete a project (credentials restricted to it lose it from their list)",
						ArgsUsage: "PROJECT_ID",
						Flags:     []cli.Flag{dbFlag, teamFlag},
						Action: func(c *cli.Context) error {
							id, err := oneArg(c, "PROJECT_ID")
							if err != nil {
								return err
							}
							return withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
								return st.DeleteProject(ctx, c.String("team"), id)
							})
						},
					},
				},
			},
		},
	}
	return a
}

// oneArg returns the single positional argument. urfave/cli stops reading
// flags at the first argument, so a flag after it would be silently taken
// as an argument: say how to order them instead.
func oneArg(c *cli.Context, what string) (string, error) {
	args := c.Args().Slice()
	if len(args) != 1 {
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				return "", fmt.Errorf("want exactly one %s (an argument that starts with \"-\" goes after --)", what)
			}
		}
		return "", fmt.Errorf("want exactly one %s", what)
	}
	return args[0], nil
}

func boundText(projects []string) string {
	if len(projects) == 0 {
		return ""
	}
	return ", bound to projects " + strings.Join(projects, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// home is KEYPORT_HOME, else $XDG_CONFIG_HOME/keyport, else ~/.config/keyport.
func home(getenv Env) (string, error) {
	if h := getenv("KEYPORT_HOME"); h != "" {
		return h, nil
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "keyport"), nil
	}
	h := getenv("HOME")
	if h == "" {
		var err error
		if h, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("no KEYPORT_HOME and no home directory: %w", err)
		}
	}
	return filepath.Join(h, ".config", "keyport"), nil
}

func dsnOf(c *cli.Context, getenv Env) (string, error) {
	if d := c.String("db"); d != "" {
		return d, nil
	}
	h, err := home(getenv)
	if err != nil {
		return "", err
	}
	return "sqlite:" + filepath.Join(h, "keyportd.db"), nil
}

// withStore opens and migrates the database, so every command works on a
// new database, and runs fn.
func withStore(c *cli.Context, getenv Env, fn func(context.Context, storage.Store) error) error {
	dsn, err := dsnOf(c, getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Context, 60*time.Second)
	defer cancel()
	st, err := storage.OpenMigrated(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(ctx, st)
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json or text, not %q", format)
}

// rotateMasterKey re-seals every secret under the key in --new-key-file.
// The database commits first; then, when the current key is the default
// file beside a SQLite database, that file takes the new key. A crash in
// between leaves the database on the new key and the new key file in place:
// serve --master-key-file NEW starts it.
func rotateMasterKey(c *cli.Context, stderr io.Writer, getenv Env) error {
	dsn, err := dsnOf(c, getenv)
	if err != nil {
		return err
	}
	defaultPath := ""
	if p := storage.SQLitePath(dsn); p != "" {
		defaultPath = p + ".key"
	}
	explicit := c.String("master-key-file") != "" || getenv("KEYPORTD_MASTER_KEY") != ""
	if !explicit {
		if _, err := os.Stat(defaultPath); defaultPath == "" || err != nil {
			return errors.New("no current master key: set --master-key-file or KEYPORTD_MASTER_KEY (the default key file beside the SQLite database does not exist)")
		}
	}
	oldKey, _, err := seal.LoadKey(c.String("master-key-file"), getenv("KEYPORTD_MASTER_KEY"), defaultPath)
	if err != nil {
		return err
	}
	newPath := c.String("new-key-file")
	newKey, newSource, err := seal.LoadKey("", "", newPath)
	if err != nil {
		return fmt.Errorf("--new-key-file: %w", err)
	}
	if bytes.Equal(oldKey, newKey) {
		return errors.New("--new-key-file holds the current master key: nothing to rotate")
	}
	oldSealer, err := seal.New(oldKey)
	if err != nil {
		return err
	}
	newSealer, err := seal.New(newKey)
	if err != nil {
		return err
	}
	var n int
	err = withStore(c, getenv, func(ctx context.Context, st storage.Store) error {
		n, err = server.RotateMasterKey(ctx, st, oldSealer, newSealer)
		return err
	})
	if err != nil {
		return fmt.Errorf("nothing was changed: %w", err)
	}
	fmt.Fprintf(stderr, "re-sealed %d values under the new key from %s\n", n, newSource)
	if !explicit && filepath.Clean(newPath) != filepath.Clean(defaultPath) {
		if err := seal.ReplaceKeyFile(defaultPath, newKey); err != nil {
			return fmt.Errorf("the database now uses the key in %s, but replacing %s failed (start keyportd with --master-key-file %s): %w", newPath, defaultPath, newPath, err)
		}
		fmt.Fprintf(stderr, "%s now holds the new key; %s is a copy of it. Backups taken before now still need the old key.\n", defaultPath, newPath)
		return nil
	}
	fmt.Fprintf(stderr, "start every keyportd on this database with --master-key-file %s (or KEYPORTD_MASTER_KEY set to its content); one still on the old key can no longer read a secret. Backups taken before now still need the old key.\n", newPath)
	return nil
}

func serve(c *cli.Context, stderr io.Writer, getenv Env) error {
	log, err := newLogger(stderr, c.String("log-format"), c.String("log-level"))
	if err != nil {
		return err
	}
	dsn, err := dsnOf(c, getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	openCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	st, err := storage.OpenMigrated(openCtx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	genPath := ""
	if p := storage.SQLitePath(dsn); p != "" {
		genPath = p + ".key"
	}
	key, source, err := seal.LoadKey(c.String("master-key-file"), getenv("KEYPORTD_MASTER_KEY"), genPath)
	if err != nil {
		return err
	}
	sealer, err := seal.New(key)
	if err != nil {
		return err
	}
	if err := server.CheckMasterKey(openCtx, st, sealer); err != nil {
		return err
	}
	cancel()

	api, err := server.New(server.Config{
		Store: st, Sealer: sealer, Logger: log,
		RateLimit: c.Int("rate-limit"), RateWindow: c.Duration("rate-window"),
	})
	if err != nil {
		return err
	}
	if err := console.Mount(console.Config{
		Server: api, Logger: log, SessionTTL: c.Duration("session-ttl"),
		Registry: registry.Options{CAFile: c.String("registry-ca-file")},
	}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler: api,
		// Timeouts bound what a slow or stuck client can hold: headers must
		// arrive quickly, whole requests and responses within 30 s.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("listening", "addr", ln.Addr().String(), "db", storageKind(dsn), "master_key", string(source),
		"rate_limit", c.Int("rate-limit"), "rate_window", c.Duration("rate-window").String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutCtx, cancelShut := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancelShut()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// storageKind names the database for the log without its DSN, which may
// hold a password.
func storageKind(dsn string) string {
	if p := storage.SQLitePath(dsn); p != "" {
		return "sqlite:" + p
	}
	return "postgres"
}
