package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/registry"
)

// loginProviders are the providers `login --provider` accepts.
var loginProviders = []credhelper.Provider{
	credhelper.ProviderDockerHub, credhelper.ProviderGCR, credhelper.ProviderGAR,
	credhelper.ProviderGitHub, credhelper.ProviderGitLab, credhelper.ProviderCustom,
}

// maxSecret bounds a secret read from stdin or a file; a keyfile is ~2.5 KB.
const maxSecret = 64 << 10

func registryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "ca-file", Usage: "PEM CA bundle to trust for the registry"},
		&cli.BoolFlag{Name: "insecure", Usage: "allow plain HTTP and skip TLS verification"},
	}
}

func registryOptions(c *cli.Context) registry.Options {
	return registry.Options{CAFile: c.String("ca-file"), Insecure: c.Bool("insecure")}
}

func loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "save a registry credential, after proving it against the registry",
		ArgsUsage: "[REGISTRY]",
		Description: "REGISTRY defaults to Docker Hub. The secret comes from stdin (--password-stdin),\n" +
			"a keyfile (--keyfile, Google registries), or a prompt on a terminal; never from the command line.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "registry username"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password or token from stdin"},
			&cli.StringFlag{Name: "keyfile", Usage: "Google service-account JSON keyfile (gcr.io, *-docker.pkg.dev); - for stdin"},
			&cli.StringFlag{Name: "provider", Usage: "dockerhub, gcr, gar, github, gitlab or custom (inferred from the host)"},
			&cli.BoolFlag{Name: "no-verify", Usage: "save without proving the credential against the registry"},
		}, registryFlags()...),
		Action: login,
	}
}

func login(c *cli.Context) error {
	if c.NArg() > 1 {
		return fmt.Errorf("login takes one registry, got %d arguments", c.NArg())
	}
	server := c.Args().First()
	if server == "" {
		server = credhelper.DockerHub
	}
	key, err := credhelper.NormalizeServerURL(server)
	if err != nil {
		return err
	}
	provider := credhelper.DetectProvider(key)
	if p := c.String("provider"); p != "" {
		provider = credhelper.Provider(strings.ToLower(p))
		if !slices.Contains(loginProviders, provider) {
			return fmt.Errorf("unknown provider %q (known: dockerhub, gcr, gar, github, gitlab, custom)", p)
		}
	}
	creds, err := readLogin(c, key, provider)
	if err != nil {
		return err
	}
	s, err := openSession(c)
	if err != nil {
		return err
	}
	if !c.Bool("no-verify") {
		if err := registry.Verify(c.Context, creds, registryOptions(c)); err != nil {
			return fmt.Errorf("login to %s failed, nothing saved: %w", key, err)
		}
	}
	if err := s.resolver.Put(c.Context, creds); err != nil {
		return err
	}
	if provider != credhelper.DetectProvider(key) || s.cfg.Providers[key] != "" {
		err := credhelper.SaveConfig(s.cfg.Home, func(cfg *credhelper.Config) {
			if cfg.Providers == nil {
				cfg.Providers = map[string]credhelper.Provider{}
			}
			cfg.Providers[key] = provider
		})
		if err != nil {
			return fmt.Errorf("credential saved, but recording its provider failed: %w", err)
		}
	}
	w, _ := s.resolver.Writable()
	verified := "verified"
	if c.Bool("no-verify") {
		verified = "not verified"
	}
	fmt.Fprintf(c.App.Writer, "Login Succeeded: %s as %s (%s, %s store)\n", key, creds.Username, verified, w.Name())
	return nil
}

// readLogin gathers the credential from the flags, stdin, a keyfile or a
// terminal prompt.
func readLogin(c *cli.Context, key string, provider credhelper.Provider) (credhelper.Credentials, error) {
	creds := credhelper.Credentials{ServerURL: key, Username: c.String("username")}
	if kf := c.String("keyfile"); kf != "" {
		if provider != credhelper.ProviderGCR && provider != credhelper.ProviderGAR {
			return creds, fmt.Errorf("--keyfile is for Google registries (gcr.io, *-docker.pkg.dev); %s is %s", key, provider)
		}
		if c.Bool("password-stdin") {
			return creds, errors.New("give either --keyfile or --password-stdin, not both")
		}
		data, err := readSecretFile(c, kf)
		if err != nil {
			return creds, err
		}
		_, compact, err := credhelper.ParseKeyfile(data)
		if err != nil {
			return creds, fmt.Errorf("keyfile %s: %w", kf, err)
		}
		if creds.Username != "" && creds.Username != credhelper.KeyfileUser {
			return creds, fmt.Errorf("a keyfile logs in as %s; drop -u", credhelper.KeyfileUser)
		}
		creds.Username, creds.Secret = credhelper.KeyfileUser, compact
		return creds, nil
	}
	in, tty := terminal(c.App.Reader)
	if creds.Username == "" {
		if !tty || c.Bool("password-stdin") {
			return creds, errors.New("no username: pass -u USER")
		}
		fmt.Fprint(c.App.ErrWriter, "Username: ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil {
			return creds, fmt.Errorf("reading the username: %w", err)
		}
		creds.Username = strings.TrimSpace(line)
	}
	switch {
	case c.Bool("password-stdin"):
		data, err := readLimited(c.App.Reader)
		if err != nil {
			return creds, fmt.Errorf("reading the password from stdin: %w", err)
		}
		creds.Secret = strings.TrimRight(string(data), "\r\n")
	case tty:
		fmt.Fprint(c.App.ErrWriter, "Password: ")
		pw, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return creds, fmt.Errorf("reading the password: %w", err)
		}
		creds.Secret = string(pw)
	default:
		return creds, errors.New("no password: pipe it in with --password-stdin (secrets are never taken on the command line)")
	}
	if creds.Secret == "" {
		return creds, errors.New("empty password")
	}
	if creds.Username == "" {
		return creds, errors.New("empty username")
	}
	return creds, nil
}

// terminal reports whether r is an interactive terminal, the only case in
// which keyport prompts.
func terminal(r io.Reader) (*os.File, bool) {
	f, ok := r.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecret {
		return nil, fmt.Errorf("more than %d bytes", maxSecret)
	}
	return data, nil
}

// readSecretFile reads a file holding a secret, "-" meaning stdin.
func readSecretFile(c *cli.Context, path string) ([]byte, error) {
	if path == "-" {
		return readLimited(c.App.Reader)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

func logoutCommand() *cli.Command {
	return &cli.Command{
		Name:      "logout",
		Usage:     "forget a registry credential",
		ArgsUsage: "[REGISTRY]",
		Action: func(c *cli.Context) error {
			server := c.Args().First()
			if server == "" {
				server = credhelper.DockerHub
			}
			key, err := credhelper.NormalizeServerURL(server)
			if err != nil {
				return err
			}
			s, err := openSession(c)
			if err != nil {
				return err
			}
			err = s.resolver.Delete(c.Context, key)
			if errors.Is(err, credhelper.ErrNotFound) {
				fmt.Fprintf(c.App.Writer, "Not logged in to %s\n", key)
				return nil
			}
			if err != nil {
				return err
			}
			if _, recorded := s.cfg.Providers[key]; recorded {
				_ = credhelper.SaveConfig(s.cfg.Home, func(cfg *credhelper.Config) { delete(cfg.Providers, key) })
			}
			fmt.Fprintf(c.App.Writer, "Removed the credential for %s\n", key)
			return nil
		},
	}
}
