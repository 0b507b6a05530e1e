package server

import (
	"sync"
	"time"

	"github.com/keyport/keyport/server/storage"
)

// rateLimiter counts requests per token in fixed windows that start at a
// token's first request (as the hosted API does: "resets one hour after the
// first request"). Counters live in this process only: behind a load
// balancer each keyportd process allows the limit on its own.
type rateLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	windows   map[string]*window
	lastSweep time.Time
}

type window struct {
	start time.Time
	n     int
}

// Rate is one request's place in its token's window.
type Rate struct {
	OK        bool          // the request may proceed
	Limit     int           // requests per window
	Remaining int           // left in this window after this request
	Reset     time.Duration // until the window resets
}

// TakeRate counts one request by tok against its rate limit. limited is
// false when the server has no limit (then rate is zero and the request
// proceeds). The API counts every request; the console counts every page a
// signed-in token loads or posts, so the console is no way around the limit.
func (s *Server) TakeRate(tok storage.Token) (rate Rate, limited bool) {
	if s.limiter == nil {
		return Rate{}, false
	}
	ok, remaining, reset := s.limiter.take(tok.ID)
	return Rate{OK: ok, Limit: s.limiter.limit, Remaining: remaining, Reset: reset}, true
}

// ResetSeconds is Reset in whole seconds, rounded up: the value of
// Retry-After and x-ratelimit-reset.
func (r Rate) ResetSeconds() int64 { return ceilSeconds(r.Reset) }

func newRateLimiter(limit int, w time.Duration, now func() time.Time) *rateLimiter {
	return &rateLimiter{limit: limit, window: w, now: now, windows: map[string]*window{}, lastSweep: now()}
}

// take counts one request for key and says whether it is allowed, how many
// remain and when the window resets.
func (l *rateLimiter) take(key string) (ok bool, remaining int, reset time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.window {
		// Forget finished windows so revoked or idle tokens do not pile up.
		for k, w := range l.windows {
			if now.Sub(w.start) >= l.window {
				delete(l.windows, k)
			}
		}
		l.lastSweep = now
	}
	w := l.windows[key]
	if w == nil || now.Sub(w.start) >= l.window {
		w = &window{start: now}
		l.windows[key] = w
	}
	reset = w.start.Add(l.window).Sub(now)
	if w.n >= l.limit {
		return false, 0, reset
	}
	w.n++
	return true, l.limit - w.n, reset
}
