package app

import (
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/credhelper/ggcr"
	"github.com/keyport/keyport/registry"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "prove the credential keyport hands out can pull IMAGE",
		ArgsUsage: "IMAGE",
		Flags:     registryFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return errors.New("check takes one image reference, e.g. nginx or ghcr.io/acme/app:1.0")
			}
			opts := registryOptions(c)
			ref, err := registry.ParseReference(c.Args().First(), opts)
			if err != nil {
				return err
			}
			s, err := openSession(c)
			if err != nil {
				return err
			}
			out := c.App.Writer
			fmt.Fprintf(out, "image:    %s\n", ref.Name())
			fmt.Fprintf(out, "registry: %s\n", ref.Context().RegistryStr())
			// Ask as go-containerregistry and docker do: repository first.
			res, err := s.resolver.Resolve(c.Context, ref.Context().String())
			var auth authn.Authenticator = authn.Anonymous
			switch {
			case errors.Is(err, credhelper.ErrNotFound):
				fmt.Fprintln(out, "username: (none saved: anonymous)")
			case err != nil:
				return err
			default:
				fmt.Fprintf(out, "username: %s (key %s, %s store)\n", res.Username, res.Key, res.Store)
				auth = ggcr.Authenticator(res.Credentials)
			}
			got, err := registry.Check(c.Context, ref, auth, opts)
			if err != nil {
				fmt.Fprintln(out, "result:   FAILED")
				return fmt.Errorf("cannot pull %s: %w", ref.Name(), err)
			}
			fmt.Fprintf(out, "result:   ok, can pull (%s, %s)\n", got.Digest, got.MediaType)
			return nil
		},
	}
}
