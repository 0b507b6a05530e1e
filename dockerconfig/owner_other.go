//go:build !unix

package dockerconfig

import (
	"io/fs"
	"os"
)

// fileOwner is a no-op where files have no Unix owner to keep.
type fileOwner struct{}

func ownerOf(fs.FileInfo) fileOwner { return fileOwner{} }

func (fileOwner) apply(*os.File) error { return nil }
