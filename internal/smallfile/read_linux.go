package smallfile

import (
	"io/fs"
	"syscall"
	"time"
)

type fileID struct{ dev, ino uint64 }

func (a fileID) same(b fileID) bool { return a == b }

// ReadFile reads the whole file at path, as os.ReadFile does, and returns
// its stamp. Errors are *fs.PathError, so errors.Is(err, fs.ErrNotExist)
// works as it does for os.ReadFile.
func ReadFile(path string) ([]byte, Stamp, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, Stamp{}, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := retry(func() error { return syscall.Fstat(fd, &st) }); err != nil {
		return nil, Stamp{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	stamp := Stamp{
		id:      fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, // field widths differ by GOARCH
		size:    st.Size,
		modTime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
	}
	// One byte more than the size, so a file that grew since the stat is
	// still read to its end in one pass.
	data := make([]byte, 0, st.Size+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		var n int
		err := retry(func() (err error) {
			n, err = syscall.Read(fd, data[len(data):cap(data)])
			return err
		})
		if err != nil {
			return nil, Stamp{}, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return data, stamp, nil
		}
		data = data[:len(data)+n]
	}
}

// retry repeats a system call interrupted by a signal, as package os does.
// The syscall package returns a bare Errno, so == is enough (and skips
// errors.Is's interface checks, which cost on a cold start).
func retry(call func() error) error {
	for {
		if err := call(); err != syscall.EINTR {
			return err
		}
	}
}
