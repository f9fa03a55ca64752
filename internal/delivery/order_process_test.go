package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/delivery"
)

// orderedFixture is a fixture whose endpoint is set to ordering and rate, with an
// OrderedReceiver behind it, and n events published.
func orderedFixture(t *testing.T, engine, ordering string, rate, n int, fail map[int]string) (*fixture, *delivery.OrderedReceiver) {
	t.Helper()
	f := newFixture(t, engine)
	recv := delivery.NewOrderedReceiver(t, fail)
	if _, err := f.db.Exec(context.Background(), `UPDATE endpoints SET url = ?, ordering = ?, max_per_second = ? WHERE id = ?`,
		recv.URL+"/hook", ordering, rate, f.ep); err != nil {
		t.Fatal(err)
	}
	relaydeskBin(t)
	f.publish(t, n)
	return f, recv
}

func waitDelivered(t *testing.T, recv *delivery.OrderedReceiver, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for recv.Delivered() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered after %s", recv.Delivered(), n, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFIFOOrderSurvivesKill: 1,000 events to an ordered endpoint arrive in publish order,
// one request at a time, while the receiver fails some first attempts (500s and a timeout,
// each holding the rest back until its retry) and the server is SIGKILLed and restarted.
func TestFIFOOrderSurvivesKill(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			const n = 1000
			f, recv := orderedFixture(t, engine, "fifo", 0, n, map[int]string{100: "500", 400: "500", 550: "hang", 700: "500"})
			env := []string{"RELAYDESK_WORKERS=8", "RELAYDESK_DELIVERY_TIMEOUT=1s"}
			start := time.Now()
			first := f.start(t, env...)
			waitDelivered(t, recv, 300, 60*time.Second)
			if err := first.cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			<-first.done
			t.Logf("killed after %d delivered", recv.Delivered())
			f.start(t, env...)
			// A 500 waits 5 s, the timeout 60 s (the schedule for a timeout), the kill one lease.
			waitDelivered(t, recv, n, 180*time.Second)
			t.Logf("%d delivered in %s", n, time.Since(start).Round(time.Millisecond))
			recv.CheckOrder(t, n)
			if m := recv.MaxInFlight(); m != 1 {
				t.Errorf("%d requests at once to the ordered endpoint, want 1", m)
			}
		})
	}
}

// TestFIFOTwoProcesses: two serve processes on one PostgreSQL, one of them SIGKILLed and
// restarted halfway, keep an ordered endpoint's 1,000 events in order, one at a time.
func TestFIFOTwoProcesses(t *testing.T) {
	const n = 1000
	f, recv := orderedFixture(t, "postgres", "fifo", 0, n, map[int]string{100: "500", 700: "500"})
	env := []string{"RELAYDESK_WORKERS=8"}
	start := time.Now()
	a := f.start(t, env...)
	f.start(t, env...)
	waitDelivered(t, recv, n/2, 60*time.Second)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	f.start(t, env...)
	waitDelivered(t, recv, n, 120*time.Second)
	t.Logf("%d delivered in %s", n, time.Since(start).Round(time.Millisecond))
	recv.CheckOrder(t, n)
	if m := recv.MaxInFlight(); m != 1 {
		t.Errorf("%d requests at once to the ordered endpoint, want 1", m)
	}
	logWorkers(t, f)
}

// TestRateLimitTwoProcesses: an endpoint limited to 50/s gets a 2,000-event backlog from two
// serve processes on one PostgreSQL: never more than 50 in any one-second window, and no
// delivery uses an attempt while it waits.
func TestRateLimitTwoProcesses(t *testing.T) {
	const n, rate = 2000, 50
	f, recv := orderedFixture(t, "postgres", "none", rate, n, nil)
	env := []string{"RELAYDESK_WORKERS=20"}
	start := time.Now()
	f.start(t, env...)
	f.start(t, env...)
	waitDelivered(t, recv, n, 90*time.Second)
	took := time.Since(start)
	peak := delivery.MaxInWindow(recv.Arrivals(), time.Second)
	t.Logf("%d delivered in %s (%.1f/s), at most %d in one second (limit %d)", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), peak, rate)
	if peak > rate {
		t.Errorf("%d deliveries within one second, limit %d", peak, rate)
	}
	f.waitSucceeded(t, n, 10*time.Second) // the last outcomes are recorded after the receiver has them
	var wrong int
	if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE state <> 'succeeded' OR attempts <> 1`).Scan(&wrong); err != nil {
		t.Fatal(err)
	}
	if wrong != 0 {
		t.Errorf("%d deliveries not succeeded at their first attempt", wrong)
	}
	logWorkers(t, f)
}

// logWorkers logs how the attempts split between processes.
func logWorkers(t *testing.T, f *fixture) { t.Logf("attempts per process: %v", workerSplit(t, f)) }

// workerSplit counts the attempts each process made (attempts.worker).
func workerSplit(t *testing.T, f *fixture) map[string]int {
	t.Helper()
	rows, err := f.db.Query(context.Background(), `SELECT worker, COUNT(*) FROM attempts GROUP BY worker`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	split := map[string]int{}
	for rows.Next() {
		var w string
		var c int
		if err := rows.Scan(&w, &c); err != nil {
			t.Fatal(err)
		}
		split[w] = c
	}
	return split
}
