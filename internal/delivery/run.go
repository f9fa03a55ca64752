package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

// The delivery loop of one process (docs/architecture.md, "The delivery queue"):
//
//	dispatcher ──claim(n)──▶ work ──▶ Workers senders ──outcome──▶ recorder ──record(batch)──▶ slots
//
// One claim statement hands over up to as many deliveries as the process has free slots;
// the senders make the attempts; the recorder writes every outcome that has arrived while
// its previous write ran in one transaction, and only then frees their slots. So under load
// claims and records grow into batches by themselves, and nothing waits to fill one.
const (
	// maxRecord bounds the outcomes one record transaction writes.
	maxRecord = 500
	// recordWait is how long the recorder waits for more outcomes of deliveries still in
	// flight before it writes a small batch; claims likewise wait for a quarter of the slots
	// while anything is in flight. Without it, under load every stage keeps up with batches
	// of a few rows and each delivery costs about a round trip again.
	recordWait = 2 * time.Millisecond
	// idlePoll is the longest an idle dispatcher sleeps without a signal: a safety net for
	// a missed notification, not the latency path (publishes wake it at once).
	idlePoll = time.Second
	// notifyGap spaces this process's NOTIFYs to other instances under a stream of
	// publishes; a busy instance claims without waiting for one anyway.
	notifyGap = 5 * time.Millisecond
	// notifyChannel is the PostgreSQL channel publishes notify on.
	notifyChannel = "relaydesk_deliveries"
)

// wake tells the workers that deliveries were queued: this process's at once, other
// instances' through PostgreSQL NOTIFY. Registered with Tx.AfterCommit so it never
// outruns the rows it announces.
func (s *Service) wake() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
	select {
	case s.notifyCh <- struct{}{}:
	default:
	}
}

type runner struct {
	s       *Service
	slots   slots
	work    chan *claimed
	results chan outcome
	paused  atomic.Bool // the last record failed (database away): claim nothing new

	mu   sync.Mutex
	held map[string]int // claimed and not yet recorded (id → seq of the live claim): leases renewed
}

// runDeliveries claims, attempts and records deliveries until ctx ends, then gives the
// in-flight attempts ShutdownGrace, records what they did, and returns.
func (s *Service) runDeliveries(ctx context.Context) {
	inFlight := 4 * s.opts.Workers // room to claim and record batches while others are sent
	r := &runner{s: s, slots: slots{free: inFlight, total: inFlight, freed: make(chan struct{}, 1)}, work: make(chan *claimed, inFlight),
		results: make(chan outcome, inFlight), held: map[string]int{}}
	// Sends outlive ctx by ShutdownGrace; records and lease renewals outlive the sends.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	bookCtx, stopBooks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBooks()
	if s.DB.Dialect == store.Postgres {
		go s.listen(ctx)
	}

	var senders, books sync.WaitGroup
	for range s.opts.Workers {
		senders.Go(func() { r.send(ctx, sendCtx) })
	}
	books.Go(func() { r.record(bookCtx) }) // one: the machine, not the pipeline, is the limit (see the commit)
	renewDone := make(chan struct{})
	go func() { defer close(renewDone); r.renew(bookCtx) }()

	r.dispatch(ctx)
	close(r.work)
	grace := time.AfterFunc(s.opts.ShutdownGrace, func() {
		s.Log.Warn("in-flight deliveries did not finish in time; cancelling and releasing them", "grace", s.opts.ShutdownGrace)
		cancelSends()
	})
	senders.Wait()
	grace.Stop()
	close(r.results)
	// The last outcomes get a bounded time to reach the database.
	time.AfterFunc(10*time.Second, stopBooks)
	books.Wait()
	stopBooks()
	<-renewDone
	s.Sender.Client.CloseIdleConnections()
}

// dispatch claims deliveries whenever slots are free and something is due.
func (r *runner) dispatch(ctx context.Context) {
	s := r.s
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		n := r.slots.take(ctx, r.slots.total/4, r.inFlight)
		if n == 0 {
			return
		}
		var cs []*claimed
		var err error
		if !r.paused.Load() {
			cs, err = s.claim(ctx, n, "")
		}
		r.slots.put(n - len(cs))
		if err != nil && ctx.Err() == nil {
			s.Log.Warn("claim deliveries", "err", err)
		}
		if err != nil || r.paused.Load() {
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		fresh := r.hold(cs)
		r.slots.put(len(cs) - len(fresh)) // re-claims of our own already hold a slot
		for _, c := range fresh {
			r.work <- c
		}
		if len(cs) < n {
			r.idle(ctx)
		}
	}
}

// idle sleeps until the earliest queued delivery is due, a publish wakes it, or idlePoll.
func (r *runner) idle(ctx context.Context) {
	s := r.s
	d := idlePoll
	if at, ok, err := s.nextDue(ctx); err == nil && ok {
		d = min(d, max(at.Sub(s.now()), 0))
	}
	if d == 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.wakeCh:
	case <-t.C:
	}
}

// send makes the attempts; once stopping, what is still queued goes back unattempted.
func (r *runner) send(ctx, sendCtx context.Context) {
	for c := range r.work {
		if ctx.Err() != nil {
			r.results <- r.s.release(c, nil)
			continue
		}
		r.results <- r.s.attempt(sendCtx, c)
	}
}

// record writes outcomes in batches: whatever arrived while the last write ran. A failed
// write (database away) is retried with backoff — the outcomes wait in memory, bounded by
// the slots, and no new delivery is claimed meanwhile — until it succeeds or, when
// stopping, ctx ends; their leases then run out and the attempts are made again.
func (r *runner) record(ctx context.Context) {
	s := r.s
	batch := make([]outcome, 0, maxRecord)
	for o := range r.results {
		batch = append(batch[:0], o)
		wait := time.NewTimer(recordWait)
	fill:
		for len(batch) < maxRecord {
			select {
			case o, ok := <-r.results:
				if !ok {
					break fill
				}
				batch = append(batch, o)
				continue
			default:
			}
			// Nothing more queued: write now unless a fuller batch is on its way.
			if len(batch) >= maxRecord/10 || len(batch) >= r.inFlight() {
				break
			}
			select {
			case o, ok := <-r.results:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			case <-wait.C:
				break fill
			}
		}
		wait.Stop()
		backoff := 50 * time.Millisecond
		for {
			r.liveSeq(batch)
			_, err := s.record(ctx, batch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				s.Log.Error("outcomes not recorded before stopping; their deliveries will be attempted again", "count", len(batch), "err", err)
				break
			}
			if !r.paused.Swap(true) {
				s.Log.Warn("recording deliveries failed; pausing new claims until it succeeds", "err", err)
			}
			sleep(ctx, backoff)
			backoff = min(2*backoff, 2*time.Second)
		}
		if r.paused.Swap(false) {
			s.Log.Info("recording deliveries again; claims resume")
		}
		r.unhold(batch)
		r.slots.put(len(batch))
	}
}

// renew keeps the leases of the held deliveries until ctx ends.
func (r *runner) renew(ctx context.Context) {
	t := time.NewTicker(r.s.Lease / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		ids := make([]string, 0, len(r.held))
		for id := range r.held {
			ids = append(ids, id)
		}
		r.mu.Unlock()
		if err := r.s.renew(ctx, ids); err != nil && ctx.Err() == nil {
			r.s.Log.Warn("renew delivery leases", "err", err)
		}
	}
}

// slots counts the deliveries this process may still claim. A recorded batch frees its
// slots at once and the dispatcher takes all that are free, so claims stay as large as
// the batches that freed them (a channel of tokens would wake it for the first one).
type slots struct {
	mu          sync.Mutex
	free, total int
	freed       chan struct{} // signalled when free grows
}

func (sl *slots) put(n int) {
	if n <= 0 {
		return
	}
	sl.mu.Lock()
	sl.free += n
	sl.mu.Unlock()
	select {
	case sl.freed <- struct{}{}:
	default:
	}
}

// take waits until at least least slots are free, or any is while nothing is in flight,
// and takes every free one; 0 when ctx ends.
func (sl *slots) take(ctx context.Context, least int, inFlight func() int) int {
	for {
		sl.mu.Lock()
		n := sl.free
		if n >= max(least, 1) || (n > 0 && inFlight() == 0) {
			sl.free = 0
		} else {
			n = 0
		}
		sl.mu.Unlock()
		if n > 0 {
			return n
		}
		select {
		case <-ctx.Done():
			return 0
		case <-sl.freed:
		}
	}
}

// inFlight is how many deliveries this process holds (claimed, not yet recorded).
func (r *runner) inFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// hold records claims and returns those to attempt. A delivery this process already holds
// came back because its lease ran out while the database was away (renewals failed): its
// attempt is still in flight or its outcome waiting, so it is not sent again; that outcome
// is recorded under the new claim instead (liveSeq), which keeps an outage from turning
// into duplicates.
func (r *runner) hold(cs []*claimed) (fresh []*claimed) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fresh = cs[:0:0]
	for _, c := range cs {
		if _, ok := r.held[c.ID]; !ok {
			fresh = append(fresh, c)
		}
		r.held[c.ID] = c.seq
	}
	return fresh
}

// liveSeq points each outcome at the live claim of its delivery (see hold).
func (r *runner) liveSeq(outs []outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range outs {
		if seq, ok := r.held[outs[i].c.ID]; ok {
			outs[i].c.seq = seq
		}
	}
}

func (r *runner) unhold(outs []outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range outs {
		delete(r.held, o.c.ID)
	}
}

// listen wakes this process's dispatcher on other instances' NOTIFYs, reconnecting while
// the database is away (and waking once after, for what it missed).
func (s *Service) listen(ctx context.Context) {
	for ctx.Err() == nil {
		conn, err := s.DB.Pgx.Acquire(ctx)
		if err == nil {
			pc := conn.Hijack() // held for as long as it listens; closed, not pooled, after
			if _, err = pc.Exec(ctx, "LISTEN "+notifyChannel); err == nil {
				s.wakeLocal()
				for err == nil {
					if _, err = pc.WaitForNotification(ctx); err == nil {
						s.wakeLocal()
					}
				}
			}
			closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = pc.Close(closeCtx)
			cancel()
		}
		if ctx.Err() == nil {
			s.Log.Warn("delivery listener lost its connection; reconnecting", "err", err)
			sleep(ctx, time.Second)
		}
	}
}

func (s *Service) wakeLocal() {
	select {
	case s.wakeCh <- struct{}{}:
	default:
	}
}

// notifyLoop sends the NOTIFYs that wake() asks for, coalesced and spaced by notifyGap.
func (s *Service) notifyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notifyCh:
		}
		if _, err := s.DB.Pgx.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel); err != nil && ctx.Err() == nil {
			s.Log.Debug("notify deliveries", "err", err)
		}
		sleep(ctx, notifyGap)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
