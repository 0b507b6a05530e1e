//go:build unix

package main

import (
	"fmt"
	"os"
	"syscall"
)

// execCompanion replaces this process with the companion: one process, the
// same PID, so a kill or a signal reaches the command that is running.
func execCompanion(path string, args []string) int {
	err := syscall.Exec(path, append([]string{path}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "keyport: running %s: %v\n", path, err)
	return 1
}
