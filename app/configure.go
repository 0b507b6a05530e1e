package app

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/dockerconfig"
)

func configureCommand() *cli.Command {
	// urfave/cli keeps parsed values in flags: each command gets its own.
	dryRun := func() cli.Flag {
		return &cli.BoolFlag{Name: "dry-run", Usage: "print the change as a diff and write nothing"}
	}
	registries := func() cli.Flag {
		return &cli.StringSliceFlag{Name: "registry", Usage: "use keyport for this registry (repeatable)"}
	}
	return &cli.Command{
		Name:  "configure",
		Usage: "make docker, podman, buildah and skopeo use keyport",
		Subcommands: []*cli.Command{
			{
				Name:  "docker",
				Usage: "set credHelpers (with --registry) or credsStore (without) in docker's config.json",
				Flags: []cli.Flag{
					registries(),
					&cli.BoolFlag{Name: "store", Usage: "set credsStore: keyport for every registry"},
					&cli.StringFlag{Name: "config", Usage: "config.json to edit (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)"},
					dryRun(),
				},
				Action: configureDocker,
			},
			{
				Name:  "containers",
				Usage: "set credHelpers in containers-auth.json and/or credential-helpers in registries.conf",
				Flags: []cli.Flag{
					registries(),
					&cli.StringFlag{Name: "auth-file", Usage: "auth.json to edit (default $REGISTRY_AUTH_FILE or $XDG_RUNTIME_DIR/containers/auth.json)"},
					&cli.StringFlag{Name: "registries-conf", Usage: "registries.conf whose credential-helpers list gets keyport (every registry)"},
					dryRun(),
				},
				Action: configureContainers,
			},
		},
	}
}

// helperKeys turns --registry values into credHelpers keys: registry hosts,
// docker's own key for Docker Hub when forDocker.
func helperKeys(c *cli.Context, forDocker bool) ([]string, error) {
	var keys []string
	for _, r := range c.StringSlice("registry") {
		key, err := credhelper.NormalizeServerURL(r)
		if err != nil {
			return nil, err
		}
		host := credhelper.Host(key)
		if forDocker {
			host = credhelper.DisplayServerURL(host)
		}
		keys = append(keys, host)
	}
	return keys, nil
}

func configureDocker(c *cli.Context) error {
	keys, err := helperKeys(c, true)
	if err != nil {
		return err
	}
	path := c.String("config")
	if path == "" {
		if path, err = dockerConfigPath(); err != nil {
			return err
		}
	}
	store := c.Bool("store") || len(keys) == 0
	edit := dockerconfig.EditConfig(func(cfg *dockerconfig.Config) error {
		if store {
			if err := cfg.SetCredsStore(helperName); err != nil {
				return err
			}
		}
		for _, k := range keys {
			if err := cfg.SetCredHelper(k, helperName); err != nil {
				return err
			}
		}
		return nil
	})
	return applyEdit(c, path, edit)
}

func configureContainers(c *cli.Context) error {
	keys, err := helperKeys(c, false)
	if err != nil {
		return err
	}
	conf := c.String("registries-conf")
	if len(keys) == 0 && conf == "" {
		return errors.New("name registries with --registry, or pass --registries-conf FILE to use keyport for every registry")
	}
	if len(keys) > 0 {
		path := c.String("auth-file")
		if path == "" {
			path = containersAuthPath()
		}
		err := applyEdit(c, path, dockerconfig.EditConfig(func(cfg *dockerconfig.Config) error {
			for _, k := range keys {
				if err := cfg.SetCredHelper(k, helperName); err != nil {
					return err
				}
			}
			return nil
		}))
		if err != nil {
			return err
		}
	}
	if conf != "" {
		return applyEdit(c, conf, dockerconfig.EditRegistriesConf(helperName))
	}
	return nil
}

// applyEdit writes the edit (or, with --dry-run, prints it) and says what happened.
func applyEdit(c *cli.Context, path string, edit dockerconfig.EditFunc) error {
	if c.Bool("dry-run") {
		res, err := dockerconfig.Preview(path, edit)
		if err != nil {
			return err
		}
		if !res.Changed {
			fmt.Fprintf(c.App.Writer, "%s is already configured\n", res.Path)
			return nil
		}
		fmt.Fprint(c.App.Writer, res.Diff())
		return nil
	}
	res, err := dockerconfig.Update(c.Context, path, edit)
	if err != nil {
		return err
	}
	if res.Changed {
		fmt.Fprintf(c.App.Writer, "configured %s\n", res.Path)
	} else {
		fmt.Fprintf(c.App.Writer, "%s is already configured\n", res.Path)
	}
	return nil
}
