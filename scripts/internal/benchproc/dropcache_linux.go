package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to forget f's cached pages (written back first).
func dropCache(f *os.File) error {
	return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
