package delivery

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// fakeTargets is an in-memory Targets.
type fakeTargets struct {
	mu       sync.Mutex
	t        map[string]Target // endpoint id → target
	disabled map[string]string // endpoint id → reason given to Disable
}

func newFakeTargets() *fakeTargets {
	return &fakeTargets{t: map[string]Target{}, disabled: map[string]string{}}
}

func (f *fakeTargets) set(id string, t Target) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t[id] = t
}

func (f *fakeTargets) Target(_ context.Context, _, id string) (Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.t[id]
	if !ok {
		return Target{}, store.ErrNotFound
	}
	return t, nil
}

func (f *fakeTargets) Disable(_ context.Context, _, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.t[id]
	t.Enabled, t.DisabledReason = false, reason
	f.t[id] = t
	f.disabled[id] = reason
	return nil
}

var engSecret = webhook.MustParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

// engine is a delivery Service on a test database with a fixed clock and no jitter.
type engine struct {
	*Service
	targets *fakeTargets
	ws      string
	now     time.Time
}

func newEngine(t *testing.T, db *store.DB, timeout time.Duration) *engine {
	t.Helper()
	s, err := New(Options{DB: db, Timeout: timeout, AllowPrivate: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{Service: s, targets: newFakeTargets(), ws: store.NewID(), now: time.Now().UTC().Truncate(time.Microsecond)}
	s.Targets = e.targets
	s.Now = func() time.Time { return e.now }
	s.Rand = func() float64 { return 0.5 } // no jitter: exact schedule
	if _, err := db.Exec(context.Background(), `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, 0)`, e.ws, "Test"); err != nil {
		t.Fatal(err)
	}
	return e
}

// publish stores an event for the endpoints and returns its deliveries.
func (e *engine) publish(t *testing.T, endpoints ...string) []Delivery {
	t.Helper()
	var out []Delivery
	err := e.DB.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = e.Publish(context.Background(), tx, Event{WorkspaceID: e.ws, Name: "TestEvent", DataType: "Test", Body: []byte(`{"id":"x"}`)}, endpoints)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *engine) get(t *testing.T, id string) (Delivery, []Attempt) {
	t.Helper()
	d, atts, err := e.Get(context.Background(), e.ws, id)
	if err != nil {
		t.Fatal(err)
	}
	return d, atts
}

// attemptNow does for one delivery what the loop does (run.go): claims it if it is due on
// the engine's clock, makes the attempt and records the outcome. claimed is false when the
// delivery was not due (finished, cancelled, or held by another claim).
func (e *engine) attemptNow(t *testing.T, id string) (o outcome, claimed bool) {
	t.Helper()
	ctx := context.Background()
	cs, err := e.claim(ctx, 1, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		return outcome{}, false
	}
	o = e.attempt(ctx, cs[0])
	applied, err := e.record(ctx, []outcome{o})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 {
		t.Fatalf("outcome of a live claim not recorded")
	}
	return o, true
}

func TestAttemptOutcomes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		httpDate := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)
		cases := []struct {
			name    string
			handler http.HandlerFunc
			state   State
			status  int
			snooze  time.Duration // 0: not snoozed
			tol     time.Duration
			errPart string
		}{
			{name: "2xx", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, state: Succeeded, status: 204},
			{name: "3xx not followed", handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					t.Error("redirect followed")
				}
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			}, state: Retrying, status: 302, snooze: 5 * time.Second},
			{name: "4xx", handler: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad", 400) }, state: Retrying, status: 400, snooze: 5 * time.Second},
			{name: "429 no Retry-After", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, state: Retrying, status: 429, snooze: time.Minute},
			{name: "429 Retry-After seconds", handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(429)
			}, state: Retrying, status: 429, snooze: 120 * time.Second},
			{name: "429 Retry-After date", handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", httpDate)
				w.WriteHeader(429)
			}, state: Retrying, status: 429, snooze: 2 * time.Hour, tol: 5 * time.Second},
			{name: "429 Retry-After capped", handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", "999999")
				w.WriteHeader(429)
			}, state: Retrying, status: 429, snooze: 24 * time.Hour},
			{name: "500", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, state: Retrying, status: 500, snooze: 5 * time.Second},
			{name: "503", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, state: Retrying, status: 503, snooze: time.Minute},
			{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(3 * time.Second):
				}
			}, state: Retrying, snooze: time.Minute, errPart: "timeout"},
			{name: "connection reset", handler: func(w http.ResponseWriter, r *http.Request) {
				c, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				c.(*net.TCPConn).SetLinger(0) // RST, not FIN
				c.Close()
			}, state: Retrying, snooze: 5 * time.Second, errPart: "reset"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := newEngine(t, db, 300*time.Millisecond)
				srv := httptest.NewServer(tc.handler)
				defer srv.Close()
				e.targets.set("ep", Target{URL: srv.URL + "/hook", Enabled: true, Secrets: []webhook.Secret{engSecret}})
				ds := e.publish(t, "ep")
				o, _ := e.attemptNow(t, ds[0].ID)
				d, atts := e.get(t, ds[0].ID)
				if d.State != tc.state || d.Attempts != 1 || len(atts) != 1 {
					t.Fatalf("state %s attempts %d/%d rows, want %s after one attempt", d.State, d.Attempts, len(atts), tc.state)
				}
				a := atts[0]
				if a.Status != tc.status || a.Number != 1 {
					t.Errorf("attempt status %d number %d, want %d 1", a.Status, a.Number, tc.status)
				}
				if tc.errPart != "" && !strings.Contains(a.Error, tc.errPart) {
					t.Errorf("attempt error %q, want it to mention %q", a.Error, tc.errPart)
				}
				if got := a.RequestHeaders["X-Messagedesk-Signature"]; len(got) != 1 || strings.Contains(got[0], "=") {
					t.Errorf("signature not masked in the log: %q", got)
				}
				snooze := o.wait(e.now)
				if tc.snooze == 0 {
					if o.nextAt != nil || d.NextAttemptAt != nil {
						t.Fatalf("next %v (stored %v), want done", o.nextAt, d.NextAttemptAt)
					}
					return
				}
				if o.nextAt == nil || snooze < tc.snooze-tc.tol || snooze > tc.snooze+tc.tol {
					t.Fatalf("next attempt in %v, want %s", snooze, tc.snooze)
				}
				if want := e.now.Add(snooze).Truncate(time.Microsecond); d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(want) {
					t.Errorf("next attempt at %v, want %v", d.NextAttemptAt, want)
				}
			})
		}
	})
}

func TestAttemptGoneDisablesAndCancels(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db, time.Second)
		srv := testkit.NewReceiver(t).Reply(410, "")
		e.targets.set("ep", Target{URL: srv.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}})
		e.targets.set("other", Target{URL: srv.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}})
		first := e.publish(t, "ep", "other")
		second := e.publish(t, "ep")
		if o, _ := e.attemptNow(t, first[0].ID); o.next != Cancelled || o.nextAt != nil {
			t.Fatalf("410: %s next %v, want cancelled", o.next, o.nextAt)
		}
		if e.targets.disabled["ep"] != ReasonGone {
			t.Errorf("endpoint not disabled with the reason: %q", e.targets.disabled)
		}
		for _, id := range []string{first[0].ID, second[0].ID} {
			if d, _ := e.get(t, id); d.State != Cancelled || d.Reason != ReasonGone {
				t.Errorf("delivery %s: %s %q, want cancelled (%s)", id, d.State, d.Reason, ReasonGone)
			}
		}
		if d, _ := e.get(t, first[1].ID); d.State != Pending {
			t.Errorf("another endpoint's delivery: %s, want pending", d.State)
		}
		// The cancelled delivery is no longer queued: nothing claims it.
		if _, claimed := e.attemptNow(t, second[0].ID); claimed {
			t.Errorf("a cancelled delivery was claimed")
		}
		if _, atts := e.get(t, second[0].ID); len(atts) != 0 {
			t.Errorf("cancelled delivery was attempted")
		}
	})
}

func TestPublishSkipsAndDeduplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db, time.Second)
		e.targets.set("ok", Target{URL: "http://127.0.0.1:1", Enabled: true, Secrets: []webhook.Secret{engSecret}})
		e.targets.set("off", Target{URL: "http://127.0.0.1:1", Enabled: false, DisabledReason: "paused by Ann"})
		e.targets.set("nosecret", Target{URL: "http://127.0.0.1:1", Enabled: true})
		ds := e.publish(t, "ok", "off", "ok", "gone", "nosecret")
		want := map[string]struct {
			s State
			r string
		}{"ok": {Pending, ""}, "off": {Skipped, ReasonEndpointDisabled + ": paused by Ann"}, "gone": {Skipped, ReasonEndpointGone}, "nosecret": {Skipped, ReasonNoSecret}}
		if len(ds) != len(want) {
			t.Fatalf("%d deliveries, want %d (one per distinct endpoint)", len(ds), len(want))
		}
		for _, d := range ds {
			stored, _ := e.get(t, d.ID)
			if w := want[d.EndpointID]; stored.State != w.s || stored.Reason != w.r {
				t.Errorf("%s: %s %q, want %s %q", d.EndpointID, stored.State, stored.Reason, w.s, w.r)
			}
		}
		// A disabled endpoint at work time: the delivery is cancelled with the reason.
		e.targets.set("ok", Target{URL: "http://127.0.0.1:1", Enabled: false, DisabledReason: "paused"})
		if o, _ := e.attemptNow(t, ds[0].ID); o.next != Cancelled || o.res != nil {
			t.Errorf("%s (attempted: %v), want cancelled unsent", o.next, o.res != nil)
		}
		if d, _ := e.get(t, ds[0].ID); d.State != Cancelled || !strings.Contains(d.Reason, "paused") {
			t.Errorf("%s %q, want cancelled with the reason", d.State, d.Reason)
		}
	})
}

// TestScheduleThroughAttempts walks a delivery through all ten attempts on a fake clock:
// each wait is the schedule ±20 % jitter, and the tenth failure fails the delivery.
func TestScheduleThroughAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db, time.Second)
		srv := testkit.NewReceiver(t).Reply(500, "")
		e.targets.set("ep", Target{URL: srv.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}})
		ds := e.publish(t, "ep")
		rnds := []float64{0, 0.999999, 0.5}
		for n := 1; n <= MaxAttempts; n++ {
			r := rnds[n%len(rnds)]
			e.Rand = func() float64 { return r }
			o, _ := e.attemptNow(t, ds[0].ID)
			d, atts := e.get(t, ds[0].ID)
			if len(atts) != n || atts[n-1].Number != n {
				t.Fatalf("after attempt %d: %d attempt rows", n, len(atts))
			}
			if n == MaxAttempts {
				if o.nextAt != nil || d.State != Failed || d.NextAttemptAt != nil {
					t.Fatalf("after the last attempt: %s, next %v, want failed", d.State, o.nextAt)
				}
				break
			}
			base := retrySchedule[n-1]
			got, ok := o.wait(e.now), o.nextAt != nil
			lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)
			if !ok || got < lo || got > hi {
				t.Fatalf("attempt %d: wait %v, want within [%v, %v]", n, got, lo, hi)
			}
			if r == 0 && got != lo {
				t.Errorf("attempt %d: jitter 0 gives %v, want %v", n, got, lo)
			}
			if d.State != Retrying || !d.NextAttemptAt.Equal(e.now.Add(got).Truncate(time.Microsecond)) {
				t.Fatalf("attempt %d: %s next %v", n, d.State, d.NextAttemptAt)
			}
			e.now = e.now.Add(got) // the clock moves to the next attempt
		}
	})
}

// fixedResolver answers every name with one address.
type fixedResolver struct{ ip net.IP }

func (r fixedResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: r.ip}}, nil
}

// TestAttemptRefusedAtDialTime: a host name that resolves to 127.0.0.1 (DNS rebinding, say)
// is refused by the dialer when private endpoints are off; the attempt is logged as failed
// with the reason, and nothing reaches the receiver.
func TestAttemptRefusedAtDialTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEngine(t, db, time.Second)
		hit := make(chan struct{}, 1)
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{} }))
		defer srv.Close()
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		e.Sender = &Sender{Client: egress.Policy{Resolver: fixedResolver{net.IPv4(127, 0, 0, 1)}}.Client(time.Second), UserAgent: "relaydesk/test"}
		e.targets.set("ep", Target{URL: "https://rebind.example.com:" + port + "/hook", Enabled: true, Secrets: []webhook.Secret{engSecret}})
		ds := e.publish(t, "ep")
		if o, _ := e.attemptNow(t, ds[0].ID); o.nextAt == nil {
			t.Fatalf("%s, want a retry", o.next)
		}
		d, atts := e.get(t, ds[0].ID)
		if d.State != Retrying || len(atts) != 1 || atts[0].Status != 0 {
			t.Fatalf("%s with %d attempts, want retrying after one failed attempt", d.State, len(atts))
		}
		if msg := atts[0].Error; !strings.Contains(msg, "127.0.0.1") || !strings.Contains(msg, "only public internet addresses are allowed") {
			t.Errorf("attempt error %q should say the address is not allowed", msg)
		}
		select {
		case <-hit:
			t.Error("the receiver on loopback was reached")
		default:
		}
	})
}

// A claim holds a delivery for one lease; renewals extend it; once it runs out (the process
// died mid-attempt) the delivery is due again, the new claim's attempt is the one recorded
// and the dead claim's outcome, should it still arrive, is dropped.
func TestExpiredLeaseIsDueAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEngine(t, db, time.Second)
		srv := testkit.NewReceiver(t).Reply(204, "")
		e.targets.set("ep", Target{URL: srv.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}})
		ds := e.publish(t, "ep")
		first, err := e.claim(ctx, 10, "")
		if err != nil || len(first) != 1 || first[0].prev != Pending {
			t.Fatalf("claim: %d %v", len(first), err)
		}
		if d, _ := e.get(t, ds[0].ID); d.State != Delivering || d.NextAttemptAt != nil {
			t.Fatalf("claimed delivery: %s next %v, want delivering, no next attempt shown", d.State, d.NextAttemptAt)
		}
		e.now = e.now.Add(e.Lease - time.Second)
		if again, err := e.claim(ctx, 10, ""); len(again) != 0 || err != nil {
			t.Fatalf("claim during the lease: %d %v", len(again), err)
		}
		if err := e.renew(ctx, []string{ds[0].ID}); err != nil {
			t.Fatal(err)
		}
		e.now = e.now.Add(e.Lease - time.Second) // past the first lease, inside the renewed one
		if again, err := e.claim(ctx, 10, ""); len(again) != 0 || err != nil {
			t.Fatalf("claim during the renewed lease: %d %v", len(again), err)
		}
		e.now = e.now.Add(2 * time.Second) // the process died: no more renewals
		second, err := e.claim(ctx, 10, "")
		if err != nil || len(second) != 1 || second[0].prev != Delivering || second[0].seq != first[0].seq+1 {
			t.Fatalf("claim after the lease: %d %v", len(second), err)
		}
		// The dead claim's outcome is dropped; the live one's is recorded.
		stale := e.attempt(ctx, first[0])
		if applied, err := e.record(ctx, []outcome{stale}); err != nil || len(applied) != 0 {
			t.Fatalf("stale outcome: %d applied, %v", len(applied), err)
		}
		if _, atts := e.get(t, ds[0].ID); len(atts) != 0 {
			t.Fatal("the stale claim's attempt was recorded")
		}
		live := e.attempt(ctx, second[0])
		if applied, err := e.record(ctx, []outcome{live}); err != nil || len(applied) != 1 {
			t.Fatalf("live outcome: %d applied, %v", len(applied), err)
		}
		if d, atts := e.get(t, ds[0].ID); len(atts) != 1 || d.State != Succeeded || d.Attempts != 1 {
			t.Fatalf("%s with %d attempts (%d rows), want succeeded after one", d.State, d.Attempts, len(atts))
		}
	})
}
