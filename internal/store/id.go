package store

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

var ids struct {
	sync.Mutex
	entropy *ulid.MonotonicEntropy
	lastMS  uint64
}

// NewID returns a new ULID, the id of every row and event: unique, and sortable by
// creation time, which list pagination and cursors rely on. IDs from one process are
// strictly increasing, even when called concurrently within one millisecond or when the
// wall clock steps back (the previous millisecond is reused).
func NewID() string {
	ids.Lock()
	defer ids.Unlock()
	if ids.entropy == nil {
		ids.entropy = ulid.Monotonic(rand.Reader, 0)
	}
	ms := ulid.Timestamp(time.Now())
	if ms < ids.lastMS {
		ms = ids.lastMS
	}
	id, err := ulid.New(ms, ids.entropy)
	if err != nil {
		// Entropy overflow within one millisecond (2^48 ids): move on to the next
		// millisecond, which resets the entropy.
		ms++
		id = ulid.MustNew(ms, ids.entropy)
	}
	ids.lastMS = ms
	return id.String()
}
