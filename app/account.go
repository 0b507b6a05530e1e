package app

import "github.com/urfave/cli/v2"

// accountCommand is replaced by the remote store's account commands.
func accountCommand() *cli.Command { return &cli.Command{Name: "account", Hidden: true} }
