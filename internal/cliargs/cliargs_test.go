package cliargs

import (
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestHoist(t *testing.T) {
	cmds := []*cli.Command{
		{Name: "login", Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}},
			&cli.BoolFlag{Name: "password-stdin"},
		}},
		{Name: "project", Subcommands: []*cli.Command{
			{Name: "delete", Flags: []cli.Flag{&cli.StringFlag{Name: "db"}}},
		}},
	}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after the argument", []string{"kp", "login", "ghcr.io", "-u", "me", "--password-stdin"},
			[]string{"kp", "login", "-u", "me", "--password-stdin", "--", "ghcr.io"}},
		{"flags already first", []string{"kp", "login", "-u", "me", "ghcr.io"},
			[]string{"kp", "login", "-u", "me", "--", "ghcr.io"}},
		{"a subcommand's flag", []string{"kd", "project", "delete", "web", "--db", "sqlite:x"},
			[]string{"kd", "project", "delete", "--db", "sqlite:x", "--", "web"}},
		{"flag=value stays one word", []string{"kd", "project", "delete", "web", "--db=sqlite:x"},
			[]string{"kd", "project", "delete", "--db=sqlite:x", "--", "web"}},
		{"a bool flag takes no value", []string{"kp", "login", "--password-stdin", "ghcr.io"},
			[]string{"kp", "login", "--password-stdin", "--", "ghcr.io"}},
		{"after --, dashes are arguments", []string{"kp", "login", "--", "-odd"},
			[]string{"kp", "login", "--", "-odd"}},
		{"global flags before the command stay", []string{"kp", "--debug", "login", "ghcr.io", "-u", "me"},
			[]string{"kp", "--debug", "login", "-u", "me", "--", "ghcr.io"}},
		{"unknown command: untouched", []string{"kp", "frobnicate", "x", "-y"},
			[]string{"kp", "frobnicate", "x", "-y"}},
		{"no arguments", []string{"kp"}, []string{"kp"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Hoist(cmds, tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("Hoist(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
