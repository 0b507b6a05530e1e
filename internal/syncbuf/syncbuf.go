// Package syncbuf is a bytes.Buffer safe for concurrent writers: a
// logger's output, or a child process's stderr that exec copies from its
// own goroutine while the child runs.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer collects writes under a lock. With Limit > 0 it keeps the first
// Limit bytes and drops the rest (still reporting them written), for
// output that is only ever quoted in an error.
type Buffer struct {
	Limit int

	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Limit > 0 {
		if room := s.Limit - s.b.Len(); room < len(p) {
			s.b.Write(p[:max(room, 0)])
			return len(p), nil
		}
	}
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
