package app

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/dockerconfig"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "save every credential in a Docker config.json's auths (\"authenticate with JSON\")",
		Description: "Reads --from (default: docker's config.json) and saves each auths entry. Malformed\n" +
			"entries are reported and skipped. --remove then deletes the imported plaintext from the file,\n" +
			"leaving every other key as it was.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "config.json to read (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)"},
			&cli.BoolFlag{Name: "remove", Usage: "delete the imported entries from the file afterwards"},
		},
		Action: importAuths,
	}
}

func importAuths(c *cli.Context) error {
	path := c.String("from")
	if path == "" {
		var err error
		if path, err = dockerConfigPath(); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	entries, problems, err := dockerconfig.ParseAuths(data)
	if err != nil {
		return fmt.Errorf("import: %s: %w", path, err)
	}
	s, err := openSession(c)
	if err != nil {
		return err
	}
	var imported []string
	for _, e := range entries {
		creds := credhelper.Credentials{ServerURL: e.Key, Username: e.Username, Secret: e.Secret}
		if err := s.resolver.Put(c.Context, creds); err != nil {
			var bad *credhelper.InvalidServerURLError
			if errors.As(err, &bad) {
				problems = append(problems, &dockerconfig.AuthProblem{Key: e.Key, Err: err})
				continue
			}
			return fmt.Errorf("import: saving %s: %w", e.Key, err) // a broken store stops everything
		}
		key, _ := credhelper.NormalizeServerURL(e.Key)
		fmt.Fprintf(c.App.Writer, "imported %s as %s\n", key, e.Username)
		imported = append(imported, e.Key)
	}
	for _, p := range problems {
		fmt.Fprintf(c.App.ErrWriter, "keyport: skipped %v\n", p)
	}
	if c.Bool("remove") && len(imported) > 0 {
		res, err := dockerconfig.Update(c.Context, path, dockerconfig.EditConfig(func(cfg *dockerconfig.Config) error {
			_, err := cfg.RemoveAuths(imported...)
			return err
		}))
		if err != nil {
			return fmt.Errorf("imported %d credentials, but removing them from %s failed: %w", len(imported), path, err)
		}
		fmt.Fprintf(c.App.Writer, "removed %d plaintext entries from %s\n", len(imported), res.Path)
	}
	switch {
	case len(problems) > 0:
		return fmt.Errorf("imported %d, skipped %d malformed entries", len(imported), len(problems))
	case len(imported) == 0:
		fmt.Fprintf(c.App.Writer, "no credentials in %s\n", path)
	}
	return nil
}
