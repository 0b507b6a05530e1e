// Command keyport carries keyport's management commands (login, logout, ls,
// import, configure, check, account); docker-credential-keyport hands them
// here. It answers the protocol verbs too.
package main

import (
	"os"

	"github.com/keyport/keyport/app"
)

func main() {
	os.Exit(app.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
