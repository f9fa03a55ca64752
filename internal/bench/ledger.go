package bench

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Ledger is what the receiver saw: one slot per (event, endpoint) the benchmark expects, so
// every delivery is either counted once, counted as a duplicate, or not expected at all.
// Publish times are monotonic offsets from the ledger's start, set by the publisher just
// before the event's request leaves (or, at a fixed rate, the moment it was due to leave).
type Ledger struct {
	start   time.Time
	fanout  int
	pubAt   []atomic.Int64 // per event: ns since start, 0 = not published yet
	slots   []atomic.Uint32
	unique  atomic.Int64
	dups    atomic.Int64
	unknown atomic.Int64 // deliveries of events or endpoints the run never published to
	badSig  atomic.Int64
	lastAt  atomic.Int64 // ns since start of the latest first delivery
	firstAt atomic.Int64 // ns since start of the first delivery since MarkPhase

	mu  sync.Mutex
	lat []time.Duration
	// Endpoint 0 apart from the others, for runs that order or limit it (--ordering,
	// --rate-limit): each side's deliveries, latencies and arrival times.
	sides [2]side
}

// side is one group of endpoints: 0 is endpoint 0, 1 the rest.
type side struct {
	last     time.Duration
	lat      []time.Duration
	arrivals []time.Duration
}

// NewLedger holds events × fanout slots.
func NewLedger(events, fanout int) *Ledger {
	return &Ledger{start: time.Now(), fanout: fanout, pubAt: make([]atomic.Int64, events),
		slots: make([]atomic.Uint32, events*fanout), lat: make([]time.Duration, 0, min(events*fanout, 1<<22))}
}

// Since is the monotonic offset of now from the ledger's start.
func (l *Ledger) Since() int64 { return int64(time.Since(l.start)) }

// Published notes that event seq left (at offset at, from Since).
func (l *Ledger) Published(seq int, at int64) {
	if at == 0 {
		at = 1
	}
	l.pubAt[seq].Store(at)
}

// Delivered counts one verified delivery of event seq to endpoint k.
func (l *Ledger) Delivered(seq, k int) {
	now := l.Since()
	if seq < 0 || seq >= len(l.pubAt) || k < 0 || k >= l.fanout {
		l.unknown.Add(1)
		return
	}
	if l.slots[seq*l.fanout+k].Add(1) > 1 {
		l.dups.Add(1)
		return
	}
	l.unique.Add(1)
	l.firstAt.CompareAndSwap(0, now)
	for {
		last := l.lastAt.Load()
		if now <= last || l.lastAt.CompareAndSwap(last, now) {
			break
		}
	}
	sd := &l.sides[min(k, 1)]
	l.mu.Lock()
	if p := l.pubAt[seq].Load(); p > 0 {
		l.lat = append(l.lat, time.Duration(now-p))
		sd.lat = append(sd.lat, time.Duration(now-p))
	}
	sd.last = max(sd.last, time.Duration(now))
	if k == 0 {
		sd.arrivals = append(sd.arrivals, time.Duration(now))
	}
	l.mu.Unlock()
}

// sideReport is what one side of the endpoints got since the phase began at start.
func (l *Ledger) sideReport(k int, start time.Duration) EndpointsReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	sd := &l.sides[k]
	r := EndpointsReport{Delivered: len(sd.lat), Latency: percentiles(slices.Clone(sd.lat))}
	if secs := (sd.last - start).Seconds(); secs > 0 {
		r.PerSec = float64(len(sd.lat)) / secs
	}
	if k == 0 {
		r.PeakPerSecond = maxInWindow(sd.arrivals, time.Second)
	}
	return r
}

// maxInWindow is the most arrivals (in order) within any window of length w.
func maxInWindow(at []time.Duration, w time.Duration) int {
	best, j := 0, 0
	for i := range at {
		for at[i]-at[j] >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// BadSignature counts a request whose signature did not verify.
func (l *Ledger) BadSignature() { l.badSig.Add(1) }

// Unique is the number of distinct (event, endpoint) pairs delivered.
func (l *Ledger) Unique() int64 { return l.unique.Load() }

// countIn counts the delivered (event, endpoint) slots of the events in [from, to).
func (l *Ledger) countIn(from, to int) (delivered int) {
	for i := from * l.fanout; i < to*l.fanout; i++ {
		if l.slots[i].Load() > 0 {
			delivered++
		}
	}
	return delivered
}

// MarkPhase starts a phase: FirstDelivery is measured from here on.
func (l *Ledger) MarkPhase() { l.firstAt.Store(0) }

// FirstDelivery is the offset of the first delivery since MarkPhase (0: none yet).
func (l *Ledger) FirstDelivery() time.Duration { return time.Duration(l.firstAt.Load()) }

// LastDelivery is the offset of the latest first delivery.
func (l *Ledger) LastDelivery() time.Duration { return time.Duration(l.lastAt.Load()) }

// Latencies returns publish→delivery percentiles of the deliveries recorded from index
// from on (so a phase can be measured on its own), and how many there were.
func (l *Ledger) latencies(from int) (Percentiles, int) {
	l.mu.Lock()
	lat := slices.Clone(l.lat[min(from, len(l.lat)):])
	l.mu.Unlock()
	return percentiles(lat), len(lat)
}

func (l *Ledger) latencyCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lat)
}

// Percentiles of publish→delivery, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50Ms"`
	P95 float64 `json:"p95Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q*float64(len(d))+0.5) - 1
		i = max(0, min(i, len(d)-1))
		return float64(d[i]) / 1e6
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: float64(d[len(d)-1]) / 1e6}
}
