//go:build !linux

package main

import "os"

// dropCache is a no-op where fadvise is not available: copies still rotate.
func dropCache(*os.File) error { return nil }
