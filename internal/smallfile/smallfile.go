// Package smallfile reads the small files on the helper's hot path (its
// settings, its key, its store) without the runtime's network poller.
//
// os.Open registers every file with the poller, and the first registration
// starts it: an epoll instance, an eventfd and, soon, a thread parked in
// epoll_wait. A helper lives about two milliseconds and reads two or three
// small regular files; on Linux it reads them with plain system calls.
package smallfile

import "time"

// Stamp identifies one version of a file: replacing it (by rename) or
// rewriting it changes the stamp, so a decoded copy can be reused while the
// stamp holds.
type Stamp struct {
	id      fileID
	size    int64
	modTime time.Time
}

// Same reports whether both stamps are of the same version of a file.
func (s Stamp) Same(o Stamp) bool {
	return s.id.same(o.id) && s.size == o.size && s.modTime.Equal(o.modTime)
}
