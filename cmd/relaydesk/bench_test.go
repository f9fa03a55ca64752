package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/bench"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// TestBenchShort runs `relaydesk bench --short` end to end on both stores, as CI does:
// a real server process, the producer API, verified deliveries, a balanced ledger.
func TestBenchShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts relaydesk processes")
	}
	bin := testkit.Binary(t)
	for _, st := range []string{"sqlite", "postgres"} {
		t.Run(st, func(t *testing.T) {
			cfg := bench.Config{Short: true, Store: st, Binary: bin, Progress: &bytes.Buffer{}}
			if st == "postgres" {
				cfg.DatabaseURL = storetest.PostgresURL(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			rep, err := bench.Run(ctx, cfg)
			if err != nil {
				t.Fatalf("bench: %v\n%s", err, cfg.Progress)
			}
			var out bytes.Buffer
			rep.Print(&out)
			t.Log("\n" + out.String())
			L := rep.Ledger
			if !L.Balanced || rep.Void || L.Published != 600 || L.Delivered != 600 || L.Missing != 0 || L.BadSignatures != 0 {
				t.Fatalf("ledger %+v void=%v %v", L, rep.Void, rep.VoidReasons)
			}
			if rep.Delivery.PerSec <= 0 || rep.Ceiling.PerSec <= 0 || rep.Delivery.Ratio <= 0 || rep.Delivery.Latency.P99 <= 0 {
				t.Fatalf("figures missing: %+v %+v", rep.Delivery, rep.Ceiling)
			}
			if rep.RSS.PeakMB <= 0 {
				t.Fatalf("no server memory figure: %+v", rep.RSS)
			}
			if !strings.Contains(out.String(), "balanced") {
				t.Fatalf("table: %s", out.String())
			}
			b, err := json.Marshal(rep)
			if err != nil || !bytes.Contains(b, []byte(`"balanced":true`)) {
				t.Fatalf("json: %v %s", err, b)
			}
		})
	}
}

// TestBenchBacklogShort: the backlog mode queues with no workers, restarts and drains.
func TestBenchBacklogShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts relaydesk processes")
	}
	bin := testkit.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := bench.Config{Short: true, Mode: bench.ModeBacklog, Events: 100, Backlog: 200, Fanout: 1, Binary: bin, Progress: &bytes.Buffer{}}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, cfg.Progress)
	}
	b := rep.Backlog
	if b == nil || b.Delivered != 200 || b.DrainPerSec <= 0 || b.Ratio <= 0 || rep.Ledger.Published != 300 || !rep.Ledger.Balanced {
		t.Fatalf("backlog %+v ledger %+v", b, rep.Ledger)
	}
}
