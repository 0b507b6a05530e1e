package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/remote"
	"github.com/keyport/keyport/backends/remote/httpapi"
	"github.com/keyport/keyport/protocol"
)

// apiCommand is how the credential helper reaches the account API without
// linking an HTTP client: it runs `keyport api list|get` with the token on
// stdin and reads a remote.Reply from stdout. Not for people.
func apiCommand() *cli.Command {
	return &cli.Command{
		Name:   "api",
		Hidden: true,
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Flags: []cli.Flag{&cli.StringFlag{Name: "project"}},
				Action: func(c *cli.Context) error {
					return apiReply(c, func(api remote.API) remote.Reply {
						creds, rate, err := api.List(c.Context, c.String("project"))
						return remote.Reply{Credentials: creds, Rate: rate, Error: replyError(err)}
					})
				},
			},
			{
				Name: "get",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("api get takes one credential id")
					}
					return apiReply(c, func(api remote.API) remote.Reply {
						cred, rate, err := api.Get(c.Context, c.Args().First())
						r := remote.Reply{Rate: rate, Error: replyError(err)}
						if err == nil {
							r.Credential = &cred
						}
						return r
					})
				},
			},
		},
	}
}

func replyError(err error) *remote.ReplyError {
	if err == nil {
		return nil
	}
	return remote.NewReplyError(err)
}

// apiReply builds the HTTP client from the helper's settings and prints
// what call returns; every failure travels inside the reply.
func apiReply(c *cli.Context, call func(remote.API) remote.Reply) error {
	reply := func() remote.Reply {
		line, err := bufio.NewReader(c.App.Reader).ReadString('\n')
		token := strings.TrimSpace(line)
		if token == "" {
			return remote.Reply{Error: remote.NewReplyError(errors.Join(errors.New("api: no token on stdin"), err))}
		}
		cfg := remote.APIConfig{Base: os.Getenv(protocol.EnvAPIBase), Token: token, CAFile: os.Getenv(backends.EnvAPICAFile)}
		cfg.Timeout, _ = time.ParseDuration(os.Getenv(backends.EnvAPITimeout))
		cfg.ConnectTimeout, _ = time.ParseDuration(os.Getenv(backends.EnvConnectTimeout))
		if cfg.Timeout <= 0 { // never unbounded, whatever the caller sent
			cfg.Timeout = remote.DefaultTimeout
		}
		if cfg.ConnectTimeout <= 0 {
			cfg.ConnectTimeout = min(remote.DefaultConnectTimeout, cfg.Timeout)
		}
		api, err := httpapi.New(cfg)
		if err != nil {
			return remote.Reply{Error: remote.NewReplyError(err)}
		}
		return call(api)
	}()
	return json.NewEncoder(c.App.Writer).Encode(reply)
}
