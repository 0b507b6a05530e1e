// Command docker-credential-keyport is the credential helper docker, podman,
// skopeo and go-containerregistry run on every pull. It answers the protocol
// verbs itself and hands every other command (login, ls, import, configure,
// check, account, --help) to the keyport program installed beside it, so the
// helper links nothing the protocol does not need.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyport/keyport/credhelper"
	"github.com/keyport/keyport/protocol"
)

func main() {
	if len(os.Args) == 2 && credhelper.ProtocolActions[os.Args[1]] {
		os.Exit(protocol.Main(context.Background(), os.Args[1], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(runCompanion(os.Args[1:]))
}

// runCompanion hands ARGS to the keyport program, which replaces this
// process where the OS allows (so signals and exit codes are its own), and
// returns an exit code only when that fails.
func runCompanion(args []string) int {
	path, err := protocol.Companion()
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyport: %v\n", err)
		return 1
	}
	return execCompanion(path, args)
}
