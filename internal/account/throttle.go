package account

import (
	"sync"
	"time"

	"github.com/relaydesk/relaydesk/internal/clock"
)

// Throttle slows password guessing. Failures are counted per (account, client IP): a
// guesser is slowed on that pair only, so nobody can lock a user out from elsewhere. It is
// in memory, per process (several instances each count their own), bounded in size.
type Throttle struct {
	// MaxFailures within Window before further attempts are refused until the window passes.
	MaxFailures int
	Window      time.Duration
	Now         clock.Clock

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	first    time.Time
}

const maxThrottleEntries = 100_000

// NewThrottle allows 5 wrong passwords per account and IP in 15 minutes.
func NewThrottle() *Throttle {
	return &Throttle{MaxFailures: 5, Window: 15 * time.Minute, entries: map[string]*throttleEntry{}}
}

func throttleKey(email, ip string) string { return email + "\x00" + ip }

// Wait returns how long the pair must wait before trying again; 0 means go ahead.
func (t *Throttle) Wait(email, ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[throttleKey(email, ip)]
	if e == nil || e.failures < t.MaxFailures {
		return 0
	}
	if left := e.first.Add(t.Window).Sub(t.Now.Now()); left > 0 {
		return left
	}
	delete(t.entries, throttleKey(email, ip))
	return 0
}

// Fail records a wrong password.
func (t *Throttle) Fail(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now.Now()
	k := throttleKey(email, ip)
	e := t.entries[k]
	if e == nil || now.Sub(e.first) > t.Window {
		if len(t.entries) >= maxThrottleEntries {
			t.sweep(now)
		}
		e = &throttleEntry{first: now}
		t.entries[k] = e
	}
	e.failures++
}

// Succeed clears the pair's failures.
func (t *Throttle) Succeed(email, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, throttleKey(email, ip))
}

func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if now.Sub(e.first) > t.Window {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= maxThrottleEntries { // all fresh: drop arbitrary ones rather than grow
		for k := range t.entries {
			delete(t.entries, k)
			if len(t.entries) < maxThrottleEntries/2 {
				break
			}
		}
	}
}
