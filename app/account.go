package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/backends/remote/httpapi"
	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/protocol"
)

func accountCommand() *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "use the registry credentials saved in your account (the remote store)",
		Description: "The remote store reads the registry credentials a team saved in its account\n" +
			"(keyportd, or the hosted API), keeps those the project may use, and caches them\n" +
			"encrypted under KEYPORT_HOME. KEYPORT_API_URL, KEYPORT_API_TOKEN (or _FILE),\n" +
			"KEYPORT_PROJECT and KEYPORT_TEAM override what account login saved.",
		Subcommands: []*cli.Command{accountLoginCommand(), accountStatusCommand(), accountLogoutCommand()},
	}
}

func accountLoginCommand() *cli.Command {
	return &cli.Command{
		Name:  "login",
		Usage: "prove an API token and save it in the local secure store (never in config.json)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "account API URL, e.g. https://keyport.internal:8080", Required: true},
			&cli.StringFlag{Name: "project", Usage: "project id whose credentials this machine uses", Required: true},
			&cli.StringFlag{Name: "team", Usage: "team id (answers under /v1/teams/{team}/)"},
			&cli.BoolFlag{Name: "token-stdin", Usage: "read the API token from stdin"},
		},
		Action: accountLogin,
	}
}

func accountLogin(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("account login takes no arguments; got %q", c.Args().First())
	}
	token, err := readAPIToken(c)
	if err != nil {
		return err
	}
	cfg, err := credhelper.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	cfg.APIURL, cfg.Project, cfg.Team = c.String("url"), c.String("project"), c.String("team")

	// Prove the token against the API before saving anything; the first
	// list also warms the cache.
	opts, err := backends.RemoteOptions(cfg, backends.Options{Logger: protocol.Logger(c.App.ErrWriter), RemoteAPI: httpapi.New})
	if err != nil {
		return err
	}
	opts.Token = func(context.Context) (string, error) { return token, nil }
	probe := remote.New(opts)
	if err := probe.Revalidate(c.Context); err != nil {
		return fmt.Errorf("account login failed, nothing saved: %w", err)
	}
	rows, _, err := probe.Describe(c.Context)
	if err != nil {
		return err
	}

	items := backends.TokenStoreForLogin(c.Context, cfg)
	if err := items.SetItem(c.Context, backends.AccountTokenItem, token); err != nil {
		return fmt.Errorf("saving the API token in the %s store: %w", items.Name(), err)
	}
	var chain string
	err = credhelper.SaveConfig(cfg.Home, func(f *credhelper.Config) {
		f.APIURL, f.Project, f.Team = cfg.APIURL, cfg.Project, cfg.Team
		f.Backend = withRemote(f.Backends(), items.Name())
		chain = f.Backend
	})
	if err != nil {
		return fmt.Errorf("token saved, but recording the account in config.json failed: %w", err)
	}
	out := c.App.Writer
	fmt.Fprintf(out, "Logged in to %s for project %s: %d registr%s available\n", probe.BaseURL(), cfg.Project, countKeys(rows), plural(countKeys(rows), "y", "ies"))
	fmt.Fprintf(out, "API token saved in the %s store; stores: %s\n", items.Name(), chain)
	if v := os.Getenv("KEYPORT_BACKEND"); v != "" && v != chain {
		fmt.Fprintf(c.App.ErrWriter, "note: KEYPORT_BACKEND=%s overrides the saved stores in this environment\n", v)
	}
	if os.Getenv(backends.EnvAPIToken) != "" || os.Getenv(backends.EnvAPITokenFile) != "" {
		fmt.Fprintf(c.App.ErrWriter, "note: %s / %s is set and overrides the saved token in this environment\n", backends.EnvAPIToken, backends.EnvAPITokenFile)
	}
	return nil
}

// withRemote puts "remote" first in the chain and makes sure the local
// store holding the token follows it, so `store` still has somewhere to go.
func withRemote(names []string, local string) string {
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "remote" })
	if !slices.Contains(names, local) && !slices.ContainsFunc(names, func(n string) bool { return n == "keychain" || n == "file" }) {
		names = append(names, local)
	}
	return strings.Join(append([]string{"remote"}, names...), ",")
}

// readAPIToken takes the token from stdin (--token-stdin) or a terminal
// prompt; never from the command line.
func readAPIToken(c *cli.Context) (string, error) {
	var token string
	in, tty := terminal(c.App.Reader)
	switch {
	case c.Bool("token-stdin"):
		data, err := readLimited(c.App.Reader)
		if err != nil {
			return "", fmt.Errorf("reading the API token from stdin: %w", err)
		}
		token = string(data)
	case tty:
		fmt.Fprint(c.App.ErrWriter, "API token: ")
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return "", fmt.Errorf("reading the API token: %w", err)
		}
		token = string(b)
	default:
		return "", errors.New("no API token: pipe it in with --token-stdin (secrets are never taken on the command line)")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", errors.New("empty API token")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r < '!' || r > '~' }) {
		return "", errors.New("the API token holds spaces or control characters: pipe in the token alone")
	}
	return token, nil
}

func accountStatusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the account API, project, token validity and cache state (never a secret)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "offline", Usage: "do not call the API: show the cache only"},
		},
		Action: accountStatus,
	}
}

func accountStatus(c *cli.Context) error {
	cfg, err := credhelper.LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	out := c.App.Writer
	show := func(v string) string {
		if v == "" {
			return "(not set)"
		}
		return v
	}
	fmt.Fprintf(out, "api:      %s\n", show(cfg.APIURL))
	if cfg.Team != "" {
		fmt.Fprintf(out, "team:     %s\n", cfg.Team)
	}
	fmt.Fprintf(out, "project:  %s\n", show(cfg.Project))
	fmt.Fprintf(out, "stores:   %s\n", show(cfg.Backend))
	if cfg.APIURL == "" {
		fmt.Fprintln(out, "not logged in: run account login --url URL --project ID --token-stdin")
		return nil
	}
	fmt.Fprintf(out, "token:    %s\n", backends.TokenOrigin(cfg))
	store, err := backends.OpenRemote(cfg, backends.Options{Logger: protocol.Logger(c.App.ErrWriter), RemoteAPI: httpapi.New})
	if err != nil {
		return err
	}
	var tokenErr error
	if !c.Bool("offline") {
		tokenErr = store.Revalidate(c.Context)
		switch {
		case tokenErr == nil:
			fmt.Fprintln(out, "          valid (the API answered just now)")
		case errors.Is(tokenErr, remote.ErrTokenRejected):
			fmt.Fprintf(out, "          REJECTED: %v\n", tokenErr)
		default:
			fmt.Fprintf(out, "          not checked: %v\n", tokenErr)
		}
	}
	rows, st, err := store.Describe(c.Context)
	if err != nil {
		return errors.Join(tokenErr, err)
	}
	writeCacheState(out, st, time.Now())
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REGISTRY\tUSERNAME\tCREDENTIAL\tRESTRICTED TO\tSECRET\tANSWERS")
		for _, r := range rows {
			restricted := "(all projects)"
			if r.Restricted {
				restricted = strings.Join(r.Projects, ",")
			}
			cached := "not fetched yet"
			if r.SecretCached {
				cached = "cached"
			}
			answers := "yes"
			if r.ShadowedBy != "" {
				answers = "no: " + r.ShadowedBy + " wins"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Key, r.Username, r.CredentialID, restricted, cached, answers)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return tokenErr
}

func writeCacheState(out io.Writer, st remote.CacheState, now time.Time) {
	fmt.Fprintf(out, "cache:    %s\n", st.Path)
	switch {
	case st.Validated.IsZero():
		fmt.Fprintln(out, "          empty (the next get asks the API)")
	case st.Fresh:
		fmt.Fprintf(out, "          fresh: confirmed %s ago, next revalidation in %s (TTL %s)\n",
			roundAgo(now.Sub(st.Validated)), roundAgo(st.Validated.Add(st.TTL).Sub(now)), st.TTL)
	case st.Usable:
		fmt.Fprintf(out, "          stale: confirmed %s ago; revalidated on the next get, served for %s more if the API fails\n",
			roundAgo(now.Sub(st.Validated)), roundAgo(st.Validated.Add(st.Grace).Sub(now)))
	default:
		fmt.Fprintf(out, "          expired: confirmed %s ago, beyond the %s grace window\n", roundAgo(now.Sub(st.Validated)), st.Grace)
	}
	if st.RetryAt.After(now) {
		fmt.Fprintf(out, "          rate limited: no API call before %s\n", st.RetryAt.Local().Format(time.TimeOnly))
	}
}

func roundAgo(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}

func accountLogoutCommand() *cli.Command {
	return &cli.Command{
		Name:  "logout",
		Usage: "forget the API token, the account settings and the cache",
		Action: func(c *cli.Context) error {
			cfg, err := credhelper.LoadConfig(os.Getenv)
			if err != nil {
				return err
			}
			out := c.App.Writer
			var errs []error
			stores := backends.TokenStores(cfg)
			for _, s := range stores {
				err := s.DeleteItem(c.Context, backends.AccountTokenItem)
				switch {
				case err == nil:
					fmt.Fprintf(out, "Removed the API token from the %s store\n", s.Name())
				case !errors.Is(err, credhelper.ErrNotFound):
					errs = append(errs, fmt.Errorf("removing the API token from the %s store: %w", s.Name(), err))
				}
			}
			if err := os.RemoveAll(backends.RemoteCacheDir(cfg)); err != nil {
				errs = append(errs, fmt.Errorf("removing the cache: %w", err))
			}
			err = credhelper.SaveConfig(cfg.Home, func(f *credhelper.Config) {
				f.APIURL, f.Project, f.Team = "", "", ""
				names := slices.DeleteFunc(f.Backends(), func(n string) bool { return n == "remote" })
				f.Backend = strings.Join(names, ",")
			})
			if err != nil {
				errs = append(errs, err)
			}
			if len(errs) == 0 {
				fmt.Fprintln(out, "Logged out of the account API; cached credentials removed")
			}
			return errors.Join(errs...)
		},
	}
}

// remoteSources says, for `ls`, which account credential answers for each
// key the remote store lists and which ones it shadows. Best effort: ls
// still lists without it.
func remoteSources(ctx context.Context, r *credhelper.Resolver) map[string]string {
	out := map[string]string{}
	for _, s := range r.Stores() {
		rs, ok := s.(*remote.Store)
		if !ok {
			continue
		}
		rows, _, err := rs.Describe(ctx)
		if err != nil {
			return out
		}
		for _, row := range rows {
			if row.ShadowedBy == "" {
				out[row.Key] = "credential " + row.CredentialID
			} else {
				out[row.Key] += ", over " + row.CredentialID
			}
		}
	}
	return out
}

func countKeys(rows []remote.Row) int {
	n := 0
	for _, r := range rows {
		if r.ShadowedBy == "" {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
