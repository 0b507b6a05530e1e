package app

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/keyport/keyport/credhelper"
)

func lsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ls",
		Usage: "list saved registries (never secrets)",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			s, err := openSession(c)
			if err != nil {
				return err
			}
			entries, err := s.resolver.Entries(c.Context)
			if err != nil {
				return err
			}
			type row struct {
				Registry string              `json:"registry"`
				Username string              `json:"username"`
				Provider credhelper.Provider `json:"provider"`
				Store    string              `json:"store"`
				Shadowed bool                `json:"shadowed,omitempty"`
				// Source names the account credential answering (remote store).
				Source string `json:"source,omitempty"`
			}
			sources := remoteSources(c.Context, s.resolver)
			rows := make([]row, 0, len(entries))
			for _, e := range entries {
				r := row{e.Key, e.Username, s.cfg.ProviderOf(e.Key), e.Store, e.Shadowed, ""}
				if e.Store == "remote" {
					r.Source = sources[e.Key]
				}
				rows = append(rows, r)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REGISTRY\tUSERNAME\tPROVIDER\tSTORE")
			for _, r := range rows {
				store := r.Store
				if r.Source != "" {
					store += " (" + r.Source + ")"
				}
				if r.Shadowed {
					store += " (shadowed by an earlier store)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Registry, r.Username, r.Provider, store)
			}
			return tw.Flush()
		},
	}
}
