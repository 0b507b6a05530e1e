// Command keyportd is the keyport account API server. The command line lives
// in package server/app; this is the one place that exits the process.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyport/keyport/server/app"
)

func main() {
	if err := app.Run(context.Background(), os.Stdout, os.Stderr, os.Getenv, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "keyportd:", err)
		os.Exit(1)
	}
}
