package app

import "github.com/urfave/cli/v2"

func importCommand() *cli.Command    { return &cli.Command{Name: "import", Hidden: true} }
func configureCommand() *cli.Command { return &cli.Command{Name: "configure", Hidden: true} }
