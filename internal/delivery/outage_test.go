package delivery_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/webhook"
)

// TestDatabaseOutageMidDelivery: the database goes away for 5 s while attempts are in
// flight. The workers pause (no attempt fails because of the outage), the outcomes of the
// attempts already made wait in memory and are written when it is back, work resumes
// within seconds without a restart, every delivery succeeds with no attempt recorded twice,
// and stopping leaves no goroutine behind.
func TestDatabaseOutageMidDelivery(t *testing.T) {
	f := newFixture(t, "postgres")
	ctx := context.Background()
	const n = 300
	f.publish(t, n)
	f.recv.Delay(200 * time.Millisecond) // attempts in flight when the cut comes

	proxy, proxied := storetest.NewProxy(t, f.dbURL)
	before := runtime.NumGoroutine()

	db, err := store.Open(ctx, proxied, "")
	if err != nil {
		t.Fatal(err)
	}
	policy := egress.Policy{AllowPrivate: true}
	eps, err := endpoint.New(db, []byte("0123456789abcdef0123456789abcdef"), policy, &delivery.Sender{Client: policy.Client(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := delivery.New(delivery.Options{DB: db, Targets: eps, Work: true, Workers: 20, Timeout: 2 * time.Second, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(runCtx) }()

	deadline := time.Now().Add(30 * time.Second)
	for len(f.recv.Counts(webhook.HeaderDelivery)) < 40 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d deliveries arrived before the cut", len(f.recv.Counts(webhook.HeaderDelivery)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	proxy.Cut()
	cutAt := len(f.recv.Counts(webhook.HeaderDelivery))
	time.Sleep(5 * time.Second)
	during := len(f.recv.Counts(webhook.HeaderDelivery))
	proxy.Restore()
	restored := time.Now()
	t.Logf("cut with %d delivered; %d arrived during the 5 s outage (attempts already in flight)", cutAt, during-cutAt)
	if during-cutAt > 4*20 { // a process holds at most 4 × workers
		t.Errorf("%d attempts were made while the database was away; at most the %d held ones may finish", during-cutAt, 4*20)
	}
	f.recv.Delay(0)
	f.waitSucceeded(t, n, 60*time.Second)
	t.Logf("all %d succeeded %s after the database came back", n, time.Since(restored).Round(time.Millisecond))

	// No attempt burnt by the outage, none recorded twice.
	var failedAttempts, twice int
	if err := f.db.QueryRow(ctx, `SELECT COUNT(*) FROM attempts WHERE status < 200 OR status > 299`).Scan(&failedAttempts); err != nil {
		t.Fatal(err)
	}
	if err := f.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT delivery_id, number FROM attempts GROUP BY delivery_id, number HAVING COUNT(*) > 1) x`).Scan(&twice); err != nil {
		t.Fatal(err)
	}
	if failedAttempts != 0 || twice != 0 {
		t.Errorf("%d failed attempts (the outage is not the receiver's failure), %d attempt numbers recorded twice", failedAttempts, twice)
	}
	dups := 0
	for _, c := range f.recv.Counts(webhook.HeaderDelivery) {
		dups += c - 1
	}
	t.Logf("duplicates at the receiver: %d of %d", dups, n)

	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	db.Close()
	var after int
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if after = runtime.NumGoroutine(); after <= before+2 {
			break
		}
	}
	if after > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after stopping\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
