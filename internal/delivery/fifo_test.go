package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/webhook"
)

// TestFIFOHeadHoldsTheRest walks an ordered endpoint's queue step by step on the engine's
// clock: only the head is due; a retrying head holds the rest back and the queue reports
// it as blocked; success promotes the next; Skip cancels the head and promotes the next;
// a waiting delivery cannot be retried out of turn; a replayed finished delivery goes
// before the newer ones; turning ordering off releases everything.
func TestFIFOHeadHoldsTheRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db, time.Second)
		var fail atomic.Bool
		fail.Store(true)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(204)
		}))
		defer srv.Close()
		e.targets.set("ep", Target{URL: srv.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}, FIFO: true})
		var ids []string
		for range 4 {
			ids = append(ids, e.publish(t, "ep")[0].ID)
		}
		queued := func() []string {
			t.Helper()
			rows, err := db.Query(ctx, `SELECT id FROM deliveries WHERE endpoint_id = 'ep' AND next_attempt_at IS NOT NULL ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				out = append(out, id)
			}
			return out
		}
		if q := queued(); len(q) != 1 || q[0] != ids[0] {
			t.Fatalf("queued %v, want only the first delivery %s", q, ids[0])
		}
		if _, claimed := e.attemptNow(t, ids[1]); claimed {
			t.Fatal("a delivery behind the head was claimed")
		}

		// The head fails: it retries in 5 s and blocks the others meanwhile.
		if o, _ := e.attemptNow(t, ids[0]); o.next != Retrying {
			t.Fatalf("head after a 500: %s, want retrying", o.next)
		}
		q, err := e.Queue(ctx, e.ws, "ep")
		if err != nil {
			t.Fatal(err)
		}
		if q.Head == nil || q.Head.ID != ids[0] || !q.Blocked || q.Waiting != 3 {
			t.Fatalf("queue %+v, want head %s blocked with 3 waiting", q, ids[0])
		}
		if err := retryErr(e, ids[2]); !errors.Is(err, ErrWaiting) {
			t.Fatalf("retry of a waiting delivery: %v, want ErrWaiting", err)
		}
		e.now = e.now.Add(6 * time.Second)
		fail.Store(false)
		if o, _ := e.attemptNow(t, ids[0]); o.next != Succeeded {
			t.Fatalf("head on its retry: %s, want succeeded", o.next)
		}
		if q := queued(); len(q) != 1 || q[0] != ids[1] {
			t.Fatalf("queued %v after the head succeeded, want the second %s", q, ids[1])
		}

		// Skip: only the head; it is cancelled and the next one goes.
		if _, err := e.Skip(ctx, e.ws, ids[2]); !errors.Is(err, ErrNotHead) {
			t.Fatalf("skip of a waiting delivery: %v, want ErrNotHead", err)
		}
		d, err := e.Skip(ctx, e.ws, ids[1])
		if err != nil || d.State != Cancelled || d.Reason != ReasonSkipped {
			t.Fatalf("skip: %+v %v", d, err)
		}
		if d, _ := e.get(t, ids[1]); d.State != Cancelled {
			t.Fatalf("skipped delivery stored as %s", d.State)
		}
		if q := queued(); len(q) != 1 || q[0] != ids[2] {
			t.Fatalf("queued %v after the skip, want the third %s", q, ids[2])
		}

		// A replay of the finished first delivery waits for the head, then goes before
		// the fourth: it is older.
		if err := retryErr(e, ids[0]); err != nil {
			t.Fatal(err)
		}
		if q := queued(); len(q) != 1 || q[0] != ids[2] {
			t.Fatalf("queued %v after the replay was asked, want still only %s", q, ids[2])
		}
		e.attemptNow(t, ids[2])
		if q := queued(); len(q) != 1 || q[0] != ids[0] {
			t.Fatalf("queued %v, want the replayed %s next", q, ids[0])
		}
		e.attemptNow(t, ids[0])
		if _, atts := e.get(t, ids[0]); len(atts) != 3 {
			t.Fatalf("replayed delivery has %d attempts, want 3", len(atts))
		}
		if q := queued(); len(q) != 1 || q[0] != ids[3] {
			t.Fatalf("queued %v, want the fourth %s", q, ids[3])
		}

		// Ordering off: every waiting delivery is due at once.
		more := []string{e.publish(t, "ep")[0].ID, e.publish(t, "ep")[0].ID}
		err = db.InTx(ctx, func(tx *store.Tx) error { return e.ReleaseOrder(ctx, tx, "ep") })
		if err != nil {
			t.Fatal(err)
		}
		if q := queued(); len(q) != 3 || q[0] != ids[3] || q[1] != more[0] || q[2] != more[1] {
			t.Fatalf("queued %v after ordering was turned off, want all three", q)
		}
	})
}

// runLoop publishes n events numbered 0…n-1 (the body {"n": i}) to each of targets and
// runs a real delivery loop until the test ends.
func runLoop(t *testing.T, db *store.DB, n int, targets map[string]Target) {
	t.Helper()
	ctx := context.Background()
	s, err := New(Options{DB: db, Work: true, Workers: 16, Timeout: 2 * time.Second, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	ws := store.NewID()
	if _, err := db.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES (?, 'T', 0)`, ws); err != nil {
		t.Fatal(err)
	}
	fake := newFakeTargets()
	var ids []string
	for id, tg := range targets {
		fake.set(id, tg)
		ids = append(ids, id)
	}
	s.Targets = fake
	for i := 0; i < n; i += 100 {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var pubs []Publication
			for j := i; j < min(i+100, n); j++ {
				pubs = append(pubs, Publication{Event: Event{WorkspaceID: ws, Name: "TestEvent", Body: []byte(`{"n":` + strconv.Itoa(j) + `}`)}, EndpointIDs: ids})
			}
			_, err := s.PublishMany(ctx, tx, pubs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})
}

func retryErr(e *engine, id string) error {
	_, err := e.Retry(context.Background(), e.ws, id)
	return err
}

// TestFIFOInTheLoop runs the real loop (claims, senders, recorder) on an ordered endpoint
// and a plain one: the ordered endpoint's receiver never has two requests at once and sees
// them in publish order, a 500 holding the rest back until its retry 5 s later; the plain
// endpoint's deliveries are all done meanwhile.
func TestFIFOInTheLoop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const n = 200
		ordered := NewOrderedReceiver(t, map[int]string{50: "500"})
		plain := NewOrderedReceiver(t, nil)
		runLoop(t, db, n, map[string]Target{
			"fifo":  {URL: ordered.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}, FIFO: true},
			"plain": {URL: plain.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}},
		})
		deadline := time.Now().Add(60 * time.Second)
		plainWhileBlocked := false // the plain endpoint was done while event 50 held the ordered one
		for ordered.Delivered() < n || plain.Delivered() < n {
			if time.Now().After(deadline) {
				t.Fatalf("delivered %d ordered, %d plain of %d", ordered.Delivered(), plain.Delivered(), n)
			}
			if plain.Delivered() == n && ordered.Delivered() <= 50 {
				plainWhileBlocked = true
			}
			time.Sleep(20 * time.Millisecond)
		}
		ordered.CheckOrder(t, n)
		if m := ordered.MaxInFlight(); m != 1 {
			t.Errorf("the ordered endpoint had %d requests at once, want 1", m)
		}
		if !plainWhileBlocked {
			t.Error("the plain endpoint's deliveries waited for the ordered endpoint's retry")
		}
	})
}

// OrderedReceiver records the requests of events numbered by their body ({"n": i}): in
// the order they arrived, with their answer and time, and how many were in flight at once.
// Fail makes the first attempt of an event answer 500 ("500") or hang until the client
// gives up ("hang").
type OrderedReceiver struct {
	srv         *httptest.Server
	URL         string
	mu          sync.Mutex
	log         []arrival
	ok          map[int]bool
	tried       map[int]bool
	inFlight    atomic.Int32
	maxInFlight atomic.Int32
}

type arrival struct {
	n      int
	status int
	at     time.Time
}

func NewOrderedReceiver(t testing.TB, fail map[int]string) *OrderedReceiver {
	r := &OrderedReceiver{ok: map[int]bool{}, tried: map[int]bool{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		cur := r.inFlight.Add(1)
		defer r.inFlight.Add(-1)
		for m := r.maxInFlight.Load(); cur > m && !r.maxInFlight.CompareAndSwap(m, cur); m = r.maxInFlight.Load() {
		}
		var body struct{ N int }
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			t.Errorf("receiver: %v", err)
		}
		r.mu.Lock()
		first := !r.tried[body.N]
		r.tried[body.N] = true
		r.mu.Unlock()
		status := http.StatusNoContent
		switch {
		case first && fail[body.N] == "500":
			status = http.StatusInternalServerError
		case first && fail[body.N] == "hang":
			<-req.Context().Done()
			status = 0
		}
		r.mu.Lock()
		r.log = append(r.log, arrival{n: body.N, status: status, at: now})
		if status/100 == 2 {
			r.ok[body.N] = true
		}
		r.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
		}
	}))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

// Delivered is how many events got a 2xx.
func (r *OrderedReceiver) Delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ok)
}

// MaxInFlight is the most requests the receiver had at once.
func (r *OrderedReceiver) MaxInFlight() int { return int(r.maxInFlight.Load()) }

// CheckOrder fails t unless events 0…n-1 all got a 2xx and the requests came in publish
// order: never an event before one published earlier got its 2xx (a repeat of the same
// event, a retry or a duplicate after a kill, is in order).
func (r *OrderedReceiver) CheckOrder(t testing.TB, n int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range n {
		if !r.ok[i] {
			t.Errorf("event %d never delivered", i)
		}
	}
	done := -1 // the events up to done have had their 2xx
	for i, rq := range r.log {
		if rq.n > done+1 {
			t.Fatalf("request %d was event %d while event %d had not been delivered yet (out of order)", i, rq.n, done+1)
		}
		if rq.status/100 == 2 && rq.n == done+1 {
			done++
		}
	}
	t.Logf("%d requests for %d events, in publish order", len(r.log), n)
}

// Arrivals are the times requests arrived, in order.
func (r *OrderedReceiver) Arrivals() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]time.Time, len(r.log))
	for i, rq := range r.log {
		out[i] = rq.at
	}
	return out
}
