package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// MaxInWindow is the most arrivals within any window of length w (arrivals in order).
func MaxInWindow(arrivals []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range arrivals {
		for arrivals[i].Sub(arrivals[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		ms   []int
		want int
	}{{nil, 0}, {[]int{0}, 1}, {[]int{0, 999}, 2}, {[]int{0, 1000}, 1}, {[]int{0, 500, 999, 1000, 1400}, 4}} {
		if got := MaxInWindow(at(c.ms...), time.Second); got != c.want {
			t.Errorf("%v: %d, want %d", c.ms, got, c.want)
		}
	}
}

// TestRateLimitInTheLoop: a backlog to an endpoint limited to 25/s drains through the real
// loop at no more than 25 in any one-second window, each delivery with exactly one
// attempt (waiting throttled uses none up), while an unlimited endpoint is not held back.
//
// The limit is low so that it, not the machine, bounds the limited endpoint even on a
// loaded CI machine (seen there: the whole loop at 70 deliveries/s); only then does "the
// unlimited one finished in well under the limited one's time" say anything.
func TestRateLimitInTheLoop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const n, rate = 125, 25 // ≥ 4 s for the limited endpoint
		ctx := context.Background()
		limited, plain := NewOrderedReceiver(t, nil), NewOrderedReceiver(t, nil)
		runLoop(t, db, n, map[string]Target{
			"limited": {URL: limited.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}, MaxPerSecond: rate},
			"plain":   {URL: plain.URL, Enabled: true, Secrets: []webhook.Secret{engSecret}},
		})
		start := time.Now() // after the publish: both clocks measure the drain alone
		sawThrottled := false
		var plainDone time.Duration
		deadline := time.Now().Add(30 * time.Second)
		for limited.Delivered() < n {
			if time.Now().After(deadline) {
				t.Fatalf("delivered %d of %d to the limited endpoint", limited.Delivered(), n)
			}
			if plainDone == 0 && plain.Delivered() == n {
				plainDone = time.Since(start)
			}
			var throttled int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE state = 'throttled'`).Scan(&throttled); err != nil {
				t.Fatal(err)
			}
			sawThrottled = sawThrottled || throttled > 0
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(start)
		peak := MaxInWindow(limited.Arrivals(), time.Second)
		t.Logf("%d deliveries at ≤ %d/s in %s (%.0f/s), at most %d in one second; the unlimited endpoint took %s",
			n, rate, took.Round(time.Millisecond), float64(n)/took.Seconds(), peak, plainDone.Round(time.Millisecond))
		if peak > rate {
			t.Errorf("%d deliveries within one second, limit %d", peak, rate)
		}
		if !sawThrottled {
			t.Error("no delivery was ever throttled")
		}
		if plainDone == 0 || plainDone > took/2 {
			t.Errorf("the unlimited endpoint took %s of the limited one's %s: it was held back", plainDone, took)
		}
		// The receiver has the last request before its outcome is recorded (records are
		// batched): wait for the records, then check them.
		var attempts, over int
		testkit.Until(10*time.Second, func() bool {
			if err := db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN attempts <> 1 THEN 1 ELSE 0 END), 0) FROM deliveries WHERE endpoint_id = 'limited' AND state = 'succeeded'`).Scan(&attempts, &over); err != nil {
				t.Fatal(err)
			}
			return attempts == n
		})
		if attempts != n || over != 0 {
			t.Errorf("%d limited deliveries succeeded, %d with other than one attempt; want %d, 0", attempts, over, n)
		}
	})
}
