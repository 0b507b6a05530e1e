//go:build unix

package dockerconfig

import (
	"io/fs"
	"os"
	"syscall"
)

// fileOwner is the owner a replaced file must keep. It matters when root
// (sudo keyport configure ...) edits a user's file: without it the new file
// would belong to root and the user could no longer write it.
type fileOwner struct {
	uid, gid int
	known    bool
}

func ownerOf(fi fs.FileInfo) fileOwner {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileOwner{}
	}
	return fileOwner{uid: int(st.Uid), gid: int(st.Gid), known: true}
}

// apply gives f the recorded owner. Only root may give a file away, and only
// then does the owner differ from the process's, so other callers skip it.
func (o fileOwner) apply(f *os.File) error {
	if !o.known || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(o.uid, o.gid)
}
