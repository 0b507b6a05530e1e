package credhelper

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// withLazyDeadline is context.WithDeadline that arms no timer until someone
// waits: Done (directly, or through a derived context) arms it. A timer
// starts the runtime's network poller, and most helper calls never wait on
// anything (a file-store get reads two small files), so they should not
// pay for one. The bound is the same as WithDeadline's.
func withLazyDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	if pd, ok := parent.Deadline(); ok && !pd.After(d) {
		return context.WithCancel(parent) // the parent's bound comes first
	}
	c := &lazyDeadline{Context: parent, deadline: d}
	return c, c.stop
}

type lazyDeadline struct {
	context.Context // the parent
	deadline        time.Time

	once    sync.Once
	isArmed atomic.Bool // armed and cancel are set
	armed   context.Context
	cancel  context.CancelFunc
}

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) Done() <-chan struct{} { return c.arm().Done() }

// Err answers without arming while the deadline is ahead: until then only
// the parent can have ended an unarmed context.
func (c *lazyDeadline) Err() error {
	if !c.isArmed.Load() && time.Now().Before(c.deadline) {
		return c.Context.Err()
	}
	return c.arm().Err()
}

func (c *lazyDeadline) arm() context.Context {
	c.once.Do(func() {
		c.armed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		c.isArmed.Store(true)
	})
	return c.armed
}

// stop ends the context and releases the timer if one was armed; if none
// was, it does not arm one just to cancel it.
func (c *lazyDeadline) stop() {
	c.once.Do(func() {
		c.armed, c.cancel = context.WithCancel(c.Context)
		c.isArmed.Store(true)
	})
	c.cancel()
}
