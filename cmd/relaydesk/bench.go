package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/relaydesk/relaydesk/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var cfg bench.Config
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "End-to-end benchmark: publish events, count verified deliveries, compare with bare signed POSTs",
		Long: `bench starts relaydesk (a subprocess on a fresh data directory, or --target a running one),
points --fanout endpoints at a verifying receiver in this process, publishes MessageReceived
events through POST /v1/platform/events and reports accepted events/s, delivered/s,
publish→delivery p50/p95/p99, the server's peak RSS, and delivered/s as a ratio of a bare
loop of signed 1 KiB POSTs to the same receiver (the ceiling), timed in the same run.

The ledger (published = delivered + failed + missing; duplicates apart) must balance: when
it does not, or deliveries do not finish within --timeout, the run is VOID and exits 1.

Modes: throughput (as fast as possible), rate (--rate events/s for --duration, one event
per request, for latency), backlog (queue --backlog events while no worker runs, then
measure the drain against the empty-queue run).`,
		Example: `  relaydesk bench --short                      # a few seconds (CI)
  relaydesk bench --store postgres --events 50000 --batch 100 --concurrency 8
  relaydesk bench --mode rate --rate 500 --duration 30s
  relaydesk bench --mode backlog --backlog 1000000 --json
  RELAYDESK_PPROF=127.0.0.1:6060 relaydesk bench --events 200000   # then go tool pprof`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Mode, "mode", "throughput", "throughput, rate or backlog")
	f.StringVar(&cfg.Store, "store", "sqlite", "sqlite or postgres (for the server bench starts)")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "postgres: this database instead of a throwaway one created on 127.0.0.1:5432 and dropped after")
	f.StringVar(&cfg.Target, "target", "", "URL of a running relaydesk (private endpoints allowed) instead of starting one")
	f.StringVar(&cfg.Token, "token", os.Getenv("RELAYDESK_BENCH_TOKEN"), "platform token for --target (RELAYDESK_BENCH_TOKEN)")
	f.IntVar(&cfg.ServerPID, "server-pid", 0, "with --target: the server's pid, to report its memory")
	f.IntVar(&cfg.Events, "events", 0, "events to publish (default 20000; --short 300)")
	f.IntVar(&cfg.Batch, "batch", 0, "events per publish request, 1 = single-event requests (default 100; --short 50)")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "publish requests in flight, and the ceiling loop's workers (default 8; --short 4; rate mode 32)")
	f.IntVar(&cfg.Fanout, "fanout", 0, "endpoints each event is delivered to, 1–20 (default 1; --short 2)")
	f.StringVar(&cfg.Ordering, "ordering", "", "endpoint 0's ordering: none or fifo (one at a time, in publish order); the other endpoints stay unordered, and the report sets endpoint 0 apart")
	f.IntVar(&cfg.RateLimit, "rate-limit", 0, "endpoint 0's maxPerSecond (0: none); the report gives its delivered/s and the most it received in one second")
	f.IntVar(&cfg.Workers, "workers", 0, "the server's concurrent deliveries (default: the server's own)")
	f.IntVar(&cfg.Instances, "instances", 0, "postgres: relaydesk serve processes sharing the database (default 1)")
	f.IntVar(&cfg.Rate, "rate", 0, "rate mode: events per second (default 500; --short 100)")
	f.DurationVar(&cfg.Duration, "duration", 0, "rate mode: how long to publish (default 30s; --short 3s)")
	f.IntVar(&cfg.Backlog, "backlog", 0, "backlog mode: events queued before the drain (default 1000000; --short 300)")
	f.DurationVar(&cfg.Timeout, "timeout", 0, "deliveries must finish within this after publishing starts (default 5m; --short 1m)")
	f.DurationVar(&cfg.CeilingFor, "ceiling-for", 0, "how long the bare signed-POST loop runs (default 5s; --short 1s)")
	f.BoolVar(&cfg.Short, "short", false, "a few-second run, as CI runs it")
	f.BoolVar(&cfg.KeepData, "keep-data", false, "keep the server's data directory and logs")
	f.StringArrayVar(&cfg.ServerEnv, "server-env", nil, "KEY=VALUE added to the server's environment (repeatable)")
	f.StringVar(&cfg.Binary, "server-binary", "", "relaydesk binary to start (default: this one)")
	_ = f.MarkHidden("server-binary")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg.Progress = cmd.ErrOrStderr()
		rep, err := bench.Run(cmd.Context(), cfg)
		if rep != nil {
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if e := enc.Encode(rep); e != nil {
					return e
				}
			} else {
				rep.Print(cmd.OutOrStdout())
			}
		}
		if errors.Is(err, bench.ErrVoid) {
			return fmt.Errorf("bench: %w", err)
		}
		return err
	}
	return cmd
}
