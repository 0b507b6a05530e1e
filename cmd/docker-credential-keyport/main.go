// Command docker-credential-keyport is keyport's credential helper and its
// management commands.
package main

import (
	"os"

	"github.com/keyport/keyport/app"
)

func main() {
	os.Exit(app.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
