//go:build !linux

package smallfile

import (
	"io"
	"os"
)

type fileID struct{ info os.FileInfo }

func (a fileID) same(b fileID) bool {
	return a.info != nil && b.info != nil && os.SameFile(a.info, b.info)
}

// ReadFile reads the whole file at path, as os.ReadFile does, and returns
// its stamp. Errors are *fs.PathError, as from os.ReadFile.
func ReadFile(path string) ([]byte, Stamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Stamp{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, Stamp{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, Stamp{}, err
	}
	return data, Stamp{id: fileID{fi}, size: fi.Size(), modTime: fi.ModTime()}, nil
}
