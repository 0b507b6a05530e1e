package dockerconfig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/keyport/keyport/internal/filelock"
)

// DefaultLockTimeout bounds how long Update waits for another keyport
// process editing the same file when ctx has no deadline of its own: the
// helper must never hang.
const DefaultLockTimeout = 10 * time.Second

// maxSymlinks bounds symlink resolution, like the kernel's ELOOP limit.
const maxSymlinks = 40

// ErrReadOnly reports a file whose mode forbids writing. Checked explicitly
// because rename(2) would otherwise replace a read-only file in a writable
// directory, and root ignores permission bits.
var ErrReadOnly = errors.New("file is read-only")

// EditFunc computes a file's new content from its old content (nil when the
// file does not exist). Returning the old content unchanged means "no change".
type EditFunc func(old []byte) ([]byte, error)

// Result describes one Update or Preview.
type Result struct {
	Path    string // the file actually read and written: path with symlinks resolved
	Old     []byte // content before (nil if the file did not exist)
	New     []byte // content after
	Changed bool   // whether New differs from Old (and so was written, by Update)
}

// Diff is a unified-style diff of the change, with secrets masked (see Diff).
func (r Result) Diff() string {
	if !r.Changed {
		return ""
	}
	return "--- " + r.Path + "\n+++ " + r.Path + "\n" + Diff(r.Old, r.New)
}

// Update edits the file at path safely against crashes and concurrent
// editors: it takes an exclusive lock on "<target>.lock" next to the real
// file (waiting at most until ctx is done, or DefaultLockTimeout), reads the
// file, applies edit and, if the content changed, replaces the file with
// WriteFileAtomic. Reading under the lock is what makes concurrent updates
// lose nothing. Errors name the file; a failed edit changes nothing.
func Update(ctx context.Context, path string, edit EditFunc) (Result, error) {
	target, err := ResolvePath(path)
	if err != nil {
		return Result{}, err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return Result{}, fmt.Errorf("creating the directory of %s: %w", target, err)
	}
	unlock, err := lockFile(ctx, target)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	res, err := apply(target, edit)
	if err != nil || !res.Changed {
		return res, err
	}
	if err := writeResolved(target, res.New, 0o600, true); err != nil {
		return Result{}, err
	}
	return res, nil
}

// Preview runs edit on the current content of path without writing, for
// --dry-run. It takes no lock: nothing is written.
func Preview(path string, edit EditFunc) (Result, error) {
	target, err := ResolvePath(path)
	if err != nil {
		return Result{}, err
	}
	return apply(target, edit)
}

// apply reads target and runs edit on it.
func apply(target string, edit EditFunc) (Result, error) {
	old, err := readIfExists(target)
	if err != nil {
		return Result{}, err
	}
	updated, err := edit(old)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", target, err)
	}
	return Result{Path: target, Old: old, New: updated, Changed: !bytes.Equal(old, updated)}, nil
}

func readIfExists(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return data, nil
}

// lockFile takes the lock that serialises edits of target across goroutines
// and processes. The lock file is left in place: deleting it would let two
// editors lock different inodes.
func lockFile(ctx context.Context, target string) (unlock func(), err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultLockTimeout)
		defer cancel()
	}
	unlock, err = filelock.Acquire(ctx, target+".lock")
	if err != nil {
		return nil, fmt.Errorf("%w (another keyport may be editing %s)", err, target)
	}
	return unlock, nil
}

// ResolvePath follows symlinks from path to the file that holds the content,
// so that writing it leaves a symlinked config a symlink (dotfile managers
// rely on that). Unlike filepath.EvalSymlinks it also resolves a link whose
// target does not exist yet, which is then the file to create.
func ResolvePath(path string) (string, error) {
	p := path
	for range maxSymlinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", path, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("resolving %s: %w", path, err)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(p), link)
		}
		p = link
	}
	return "", fmt.Errorf("resolving %s: too many levels of symbolic links", path)
}

// WriteFileAtomic replaces the file at path with data so that readers see
// either the old or the new content, never a mix, even after a crash: it
// writes a temporary file in the same directory, fsyncs it, renames it over
// the target and fsyncs the directory. Symlinks are followed (the link stays,
// its target is replaced); an existing file keeps its mode (and, when run as
// root, its owner); perm is the mode of a new file. A read-only file is
// refused with ErrReadOnly. It takes no lock; use Update for
// read-modify-write.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	target, err := ResolvePath(path)
	if err != nil {
		return err
	}
	return writeResolved(target, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: readers still see the
// old or the new content, but a crash may leave either, or an empty or
// partial file. For copies that can always be rebuilt and are checked when
// read (the remote store's sealed cache), where two fsyncs would cost more
// than the rest of the write.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	target, err := ResolvePath(path)
	if err != nil {
		return err
	}
	return writeResolved(target, data, perm, false)
}

func writeResolved(target string, data []byte, perm os.FileMode, durable bool) error {
	mode, owner, err := existingMode(target, perm)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	tmpName := tmp.Name()
	if err := fillTemp(tmp, data, mode, owner, durable); err != nil {
		_ = os.Remove(tmpName)
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if err := os.Rename(tmpName, target); err != nil {
		_ = os.Remove(tmpName)
		return fmt.Errorf("writing %s: %w", target, err)
	}
	if durable {
		syncDir(dir)
	}
	return nil
}

// existingMode returns the mode and owner target must keep, refusing a file
// that is not writable.
func existingMode(target string, perm os.FileMode) (os.FileMode, fileOwner, error) {
	fi, err := os.Stat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return perm.Perm(), fileOwner{}, nil
	}
	if err != nil {
		return 0, fileOwner{}, fmt.Errorf("writing %s: %w", target, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fileOwner{}, fmt.Errorf("writing %s: not a regular file", target)
	}
	if fi.Mode().Perm()&0o200 == 0 {
		return 0, fileOwner{}, fmt.Errorf("writing %s (mode %04o): %w", target, fi.Mode().Perm(), ErrReadOnly)
	}
	f, err := os.OpenFile(target, os.O_WRONLY, 0) // catches ACLs, read-only mounts, other owners
	if err != nil {
		return 0, fileOwner{}, fmt.Errorf("writing %s: %w", target, err)
	}
	_ = f.Close()
	return fi.Mode().Perm(), ownerOf(fi), nil
}

func fillTemp(tmp *os.File, data []byte, mode os.FileMode, owner fileOwner, durable bool) error {
	defer tmp.Close()
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := owner.apply(tmp); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	return tmp.Close()
}

// syncDir makes the rename durable. Best effort: some platforms and file
// systems cannot fsync a directory, and the data itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
