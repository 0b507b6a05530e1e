// Command floor is the benchmark's lower bound: the least a Go credential
// helper can do for `get` — read stdin, print one JSON line.
package main

import (
	"encoding/json"
	"io"
	"os"
	"strings"
)

func main() {
	in, _ := io.ReadAll(os.Stdin)
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{
		"ServerURL": strings.TrimSpace(string(in)), "Username": "user", "Secret": "secret",
	})
}
