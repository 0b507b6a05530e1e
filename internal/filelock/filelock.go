// Package filelock takes an exclusive lock on a file across processes, with a
// deadline. It blocks in the kernel rather than polling, so many waiting
// processes are served as the lock frees instead of by lucky retries.
package filelock

import (
	"context"
	"fmt"

	"github.com/gofrs/flock"
)

// Acquire locks path exclusively, waiting until ctx is done. The returned
// function releases the lock.
func Acquire(ctx context.Context, path string) (unlock func(), err error) {
	l := flock.New(path, flock.SetPermissions(0o600))
	done := make(chan error, 1)
	go func() { done <- l.Lock() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		return func() { _ = l.Unlock() }, nil
	case <-ctx.Done():
		// The lock may still be granted later: release it then.
		go func() {
			if <-done == nil {
				_ = l.Unlock()
			}
		}()
		return nil, fmt.Errorf("waiting for the lock %s: %w", path, ctx.Err())
	}
}
