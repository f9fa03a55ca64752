// Package bench is `relaydesk bench`: an end-to-end benchmark of relaydesk (docs/architecture.md §11).
//
// It starts relaydesk (or targets a running one), sets up a workspace whose endpoints point
// at a receiver in this process, publishes MessageReceived events through the producer API
// and counts what arrives. Every delivery is verified like a real receiver would and
// recorded in a Ledger slot per (event, endpoint), so each run ends with
//
//	published == delivered + failed + missing   (duplicates counted apart)
//
// and is VOID (an error) when that does not balance, something is missing at the timeout,
// or a signature fails. In the same run a bare loop of signed 1 KiB POSTs to the same
// receiver measures the ceiling; delivered/s is reported as a ratio of it, because
// absolute numbers on a shared 2-core machine drift and ratios hold.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Modes.
const (
	ModeThroughput = "throughput"
	ModeRate       = "rate"
	ModeBacklog    = "backlog"
)

// Config is one benchmark run. Zero fields take the defaults of the mode (or of Short).
type Config struct {
	Mode        string        // throughput (default), rate or backlog
	Store       string        // sqlite (default) or postgres, for a server the run starts
	DatabaseURL string        // postgres: use this database instead of a throwaway one
	AdminURL    string        // postgres: where the throwaway database is created
	Target      string        // an already-running server; Token is then required
	Token       string        // platform token for Target
	ServerPID   int           // with Target: the server's pid, for its memory figures
	Binary      string        // the relaydesk binary to start (default: this executable)
	Events      int           // events published (throughput; the empty-queue run of backlog)
	Batch       int           // events per request (1 = single-event requests)
	Concurrency int           // publishing requests in flight; the ceiling loop's workers
	Fanout      int           // endpoints each event goes to (1–20)
	Ordering    string        // endpoint 0's ordering: "" or none, fifo (the others stay unordered)
	RateLimit   int           // endpoint 0's maxPerSecond (0: none)
	Workers     int           // the server's --workers (0: its default)
	Instances   int           // postgres: relaydesk serve processes sharing the database (default 1)
	Rate        int           // rate mode: events per second
	Duration    time.Duration // rate mode: for how long
	Backlog     int           // backlog mode: events queued while nothing delivers
	Timeout     time.Duration // how long deliveries may take to finish after publishing starts
	CeilingFor  time.Duration // how long the bare signed-POST loop runs
	Short       bool          // a few-second run (CI)
	KeepData    bool          // keep the data directory (logs, SQLite file)
	ServerEnv   []string      // extra KEY=VALUE for the server, e.g. RELAYDESK_PPROF=127.0.0.1:6060
	Progress    io.Writer     // progress lines (default stderr)
}

func (c *Config) defaults() error {
	if c.Mode == "" {
		c.Mode = ModeThroughput
	}
	if c.Store == "" {
		c.Store = "sqlite"
	}
	if c.Progress == nil {
		c.Progress = os.Stderr
	}
	set := func(dst *int, long, short int) {
		if *dst == 0 {
			*dst = long
			if c.Short {
				*dst = short
			}
		}
	}
	setD := func(dst *time.Duration, long, short time.Duration) {
		if *dst == 0 {
			*dst = long
			if c.Short {
				*dst = short
			}
		}
	}
	if c.Mode == ModeRate {
		c.Batch = 1
		set(&c.Concurrency, 32, 32) // in flight at most; the rate sets the pace
	}
	set(&c.Events, 20000, 300)
	set(&c.Batch, 100, 50)
	set(&c.Concurrency, 8, 4)
	set(&c.Fanout, 1, 2)
	set(&c.Instances, 1, 1)
	set(&c.Rate, 500, 100)
	set(&c.Backlog, 1000000, 300)
	setD(&c.Duration, 30*time.Second, 3*time.Second)
	setD(&c.CeilingFor, 5*time.Second, time.Second)
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Minute
		switch {
		case c.Short:
			c.Timeout = time.Minute
		case c.Mode == ModeBacklog:
			c.Timeout = time.Duration(c.Backlog/100+600) * time.Second
		}
	}
	switch {
	case c.Mode != ModeThroughput && c.Mode != ModeRate && c.Mode != ModeBacklog:
		return fmt.Errorf("--mode %q: want throughput, rate or backlog", c.Mode)
	case c.Store != "sqlite" && c.Store != "postgres":
		return fmt.Errorf("--store %q: want sqlite or postgres", c.Store)
	case c.Target != "" && c.Token == "":
		return errors.New("--target needs --token (a platform token of that server)")
	case c.Target != "" && c.Mode == ModeBacklog:
		return errors.New("backlog mode restarts the server, so it cannot use --target")
	case c.Instances > 1 && (c.Store != "postgres" || c.Target != ""):
		return errors.New("--instances above 1 needs --store postgres (SQLite is one process) and no --target")
	case c.Instances > 8:
		return fmt.Errorf("--instances %d: at most 8", c.Instances)
	case c.Fanout < 1 || c.Fanout > 20:
		return fmt.Errorf("--fanout %d: want 1 to 20 (a workspace has at most 20 endpoints)", c.Fanout)
	case c.Ordering != "" && c.Ordering != "none" && c.Ordering != "fifo":
		return fmt.Errorf("--ordering %q: want none or fifo", c.Ordering)
	case c.RateLimit < 0 || c.RateLimit > 10000:
		return fmt.Errorf("--rate-limit %d: want 0 (none) to 10000", c.RateLimit)
	case c.Batch < 1 || c.Batch > 500:
		return fmt.Errorf("--batch %d: want 1 to 500", c.Batch)
	case c.Events < 1 || c.Concurrency < 1 || c.Rate < 1 || c.Backlog < 1 || c.Duration <= 0:
		return errors.New("--events, --concurrency, --rate, --backlog and --duration must be positive")
	}
	if c.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the relaydesk binary: %w", err)
		}
		c.Binary = exe
	}
	return nil
}

// Run runs one benchmark. The report is returned even when the run is void; the error
// then says why (errors.Is(err, ErrVoid)).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rep := newReport(cfg)
	r := &runner{cfg: cfg, rep: rep}
	err := r.run(ctx)
	rep.ledger = r.ledger
	for i := len(r.in.cleanup) - 1; i >= 0; i-- {
		r.in.cleanup[i]()
	}
	if err != nil {
		return rep, err
	}
	rep.judge()
	if rep.Void {
		return rep, fmt.Errorf("%w: %s", ErrVoid, strings.Join(rep.VoidReasons, "; "))
	}
	return rep, nil
}

// ErrVoid: the ledger did not balance, deliveries did not finish, or a signature failed.
var ErrVoid = errVoid

type runner struct {
	cfg    Config
	rep    *Report
	in     instance
	rc     *Receiver
	ledger *Ledger
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", args...)
}

func (r *runner) run(ctx context.Context) error {
	cfg := r.cfg
	rc, err := NewReceiver()
	if err != nil {
		return err
	}
	defer rc.Close()
	r.rc = rc
	r.in.bin = cfg.Binary
	if cfg.Target == "" {
		r.logf("preparing a %s server (%s)", cfg.Store, cfg.Binary)
		if err := prepare(ctx, &r.cfg, &r.in); err != nil {
			return err
		}
		if _, err := r.in.start(ctx, "all"); err != nil {
			return err
		}
		defer func() {
			if r.in.srv != nil {
				r.rep.RSS = r.rep.RSS.max(r.in.srv.stop())
				r.in.srv = nil
			}
		}()
		// More instances on the same PostgreSQL: they claim deliveries too. Publishing
		// goes to the first; the report's memory and server CPU are the first's.
		for range cfg.Instances - 1 {
			first, url := r.in.srv, r.in.url
			extra, err := r.in.start(ctx, "all")
			r.in.srv, r.in.url = first, url
			if err != nil {
				return err
			}
			defer extra.stop()
		}
	} else {
		r.in.url, r.in.token = strings.TrimRight(cfg.Target, "/"), cfg.Token
		if cfg.ServerPID > 0 {
			s := startRSS(cfg.ServerPID)
			defer func() { r.rep.RSS = r.rep.RSS.max(s.stop()) }()
		}
	}
	first := map[string]any{}
	if cfg.Ordering != "" {
		first["ordering"] = cfg.Ordering
	}
	if cfg.RateLimit > 0 {
		first["maxPerSecond"] = cfg.RateLimit
	}
	if err := setupWorkspace(ctx, &r.in, rc.URL, cfg.Fanout, first); err != nil {
		return err
	}
	total := cfg.Events
	switch cfg.Mode {
	case ModeRate:
		total = int(int64(cfg.Rate) * int64(cfg.Duration) / int64(time.Second))
	case ModeBacklog:
		total = cfg.Events + cfg.Backlog
	}
	r.ledger = NewLedger(total, cfg.Fanout)
	rc.Use(r.in.secret, r.ledger)
	r.logf("server %s, %d endpoint(s) → receiver %s", r.in.url, cfg.Fanout, rc.URL)

	r.logf("ceiling: signed 1 KiB POSTs for %s, concurrency %d", cfg.CeilingFor, cfg.Concurrency)
	r.rep.Ceiling = runCeiling(ctx, rc, r.in.secret, cfg.Concurrency, cfg.CeilingFor)
	r.logf("ceiling: %.0f/s", r.rep.Ceiling.PerSec)

	switch cfg.Mode {
	case ModeThroughput, ModeBacklog:
		r.logf("publishing %d events (batch %d, concurrency %d, fanout %d)", cfg.Events, cfg.Batch, cfg.Concurrency, cfg.Fanout)
		ph, err := r.phase(ctx, 0, cfg.Events, func(p *publisher) { p.burst(ctx, 0, cfg.Events, cfg.Batch, cfg.Concurrency) })
		if err != nil {
			return err
		}
		r.rep.main(ph)
		r.split(ph)
		if cfg.Mode == ModeBacklog {
			return r.backlog(ctx)
		}
	case ModeRate:
		r.logf("publishing %d events/s for %s, one per request (%d events)", cfg.Rate, cfg.Duration, total)
		ph, err := r.phase(ctx, 0, total, func(p *publisher) { p.steady(ctx, 0, total, cfg.Rate, cfg.Concurrency) })
		if err != nil {
			return err
		}
		r.rep.main(ph)
		r.split(ph)
	}
	return nil
}

// split reports endpoint 0 apart from the others when the run orders or limits it.
func (r *runner) split(ph phaseResult) {
	if r.cfg.Ordering != "fifo" && r.cfg.RateLimit == 0 {
		return
	}
	r.rep.Split = &SplitReport{Ordering: r.cfg.Ordering, RateLimit: r.cfg.RateLimit,
		Endpoint0: r.ledger.sideReport(0, ph.start), Others: r.ledger.sideReport(1, ph.start)}
}

// phaseResult is one publish-and-deliver phase.
type phaseResult struct {
	Events, Refused   int
	FirstRefusal      string
	PublishSeconds    float64
	Expected          int
	Delivered, Failed int
	DeliverSeconds    float64 // first publish → last delivery
	DrainSeconds      float64 // first delivery → last delivery
	Latency           Percentiles
	LatencyN          int
	TimedOut          bool
	CPU               cpuSample     // used during the phase
	start             time.Duration // the phase's first publish, as a ledger offset
}

// phase publishes events [from, to) with pub and waits until their deliveries are done
// (delivered, or final on the server's side) or the timeout.
func (r *runner) phase(ctx context.Context, from, to int, pub func(*publisher)) (phaseResult, error) {
	var ph phaseResult
	base, err := counters(ctx, r.in.url)
	if err != nil {
		return ph, err
	}
	latFrom := r.ledger.latencyCount()
	r.ledger.MarkPhase()
	p := newPublisher(r.in.url, r.in.token, r.in.workspaceID, r.ledger, r.cfg.Concurrency)
	pid := 0
	if r.in.srv != nil {
		pid = r.in.srv.cmd.Process.Pid
	}
	cpu0 := sampleCPU(pid)
	start := r.ledger.Since()
	ph.start = time.Duration(start)
	deadline := time.Now().Add(r.cfg.Timeout)
	pub(p)
	ph.PublishSeconds = time.Duration(r.ledger.Since() - start).Seconds()
	ph.Events, ph.Refused, ph.FirstRefusal = int(p.accepted.Load()), int(p.refused.Load()), p.firstErr
	ph.Expected = ph.Events * r.cfg.Fanout
	r.logf("published %d events in %.2f s (%d refused)", ph.Events, ph.PublishSeconds, ph.Refused)
	if ph.Refused > 0 {
		r.logf("first refusal: %s", ph.FirstRefusal)
	}
	ph.Delivered, ph.Failed, ph.TimedOut = r.wait(ctx, from, to, ph.Expected, base, deadline)
	ph.CPU = sampleCPU(pid).sub(cpu0)
	last, first := r.ledger.LastDelivery(), r.ledger.FirstDelivery()
	ph.DeliverSeconds = (last - time.Duration(start)).Seconds()
	ph.DrainSeconds = (last - first).Seconds()
	ph.Latency, ph.LatencyN = r.ledger.latencies(latFrom)
	return ph, nil
}

// wait polls the ledger (and, when it stalls, the server's counters of final states)
// until every expected delivery is accounted for or the deadline.
func (r *runner) wait(ctx context.Context, from, to, expected int, base map[string]float64, deadline time.Time) (delivered, failed int, timedOut bool) {
	uniqueAtStart := r.ledger.Unique() - int64(r.ledger.countIn(from, to))
	lastScrape, lastProgress := time.Time{}, time.Now()
	for {
		delivered = int(r.ledger.Unique() - uniqueAtStart)
		if delivered >= expected {
			break
		}
		now := time.Now()
		if now.Sub(lastScrape) > 2*time.Second {
			lastScrape = now
			if c, err := counters(ctx, r.in.url); err == nil {
				failed = finalNotDelivered(c, base)
				if delivered+failed >= expected {
					break
				}
			}
		}
		if now.Sub(lastProgress) > 5*time.Second {
			lastProgress = now
			r.logf("delivered %d/%d", delivered, expected)
		}
		if now.After(deadline) || ctx.Err() != nil {
			timedOut = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Stragglers (duplicates, late arrivals) get a moment to show up in the ledger.
	time.Sleep(200 * time.Millisecond)
	if c, err := counters(ctx, r.in.url); err == nil {
		failed = finalNotDelivered(c, base)
	}
	return r.ledger.countIn(from, to), failed, timedOut
}

// finalNotDelivered is how many deliveries the server finished without delivering since
// base: failed (attempts exhausted), cancelled and skipped.
func finalNotDelivered(now, base map[string]float64) int {
	n := 0.0
	for _, k := range []string{"failed", "cancelled", "skipped"} {
		n += now[k] - base[k]
	}
	return int(n)
}

// backlog queues cfg.Backlog events while no worker runs (the server restarted with
// --role api), then restarts it with workers and measures the drain.
func (r *runner) backlog(ctx context.Context) error {
	cfg := r.cfg
	r.rep.RSS = r.rep.RSS.max(r.in.srv.stop())
	r.in.srv = nil
	r.logf("restarting the server with --role api (nothing delivers) to queue %d events", cfg.Backlog)
	if _, err := r.in.start(ctx, "api"); err != nil {
		return err
	}
	from, to := cfg.Events, cfg.Events+cfg.Backlog
	p := newPublisher(r.in.url, r.in.token, r.in.workspaceID, r.ledger, cfg.Concurrency)
	start := time.Now()
	p.burst(ctx, from, to, cfg.Batch, cfg.Concurrency)
	queueSecs := time.Since(start).Seconds()
	queued := int(p.accepted.Load())
	r.logf("queued %d events in %.1f s (%d refused)", queued, queueSecs, p.refused.Load())
	r.rep.RSS = r.rep.RSS.max(r.in.srv.stop())
	r.in.srv = nil

	r.logf("restarting the server with workers: draining %d deliveries", queued*cfg.Fanout)
	r.ledger.MarkPhase()
	base := map[string]float64{} // a new process: its counters start at zero
	startOff := r.ledger.Since()
	if _, err := r.in.start(ctx, "all"); err != nil {
		return err
	}
	delivered, failed, timedOut := r.wait(ctx, from, to, queued*cfg.Fanout, base, time.Now().Add(cfg.Timeout))
	last, first := r.ledger.LastDelivery(), r.ledger.FirstDelivery()
	b := &BacklogReport{Events: queued, Refused: int(p.refused.Load()), Deliveries: queued * cfg.Fanout, QueueSeconds: queueSecs,
		Delivered: delivered, Failed: failed, TimedOut: timedOut, FirstRefusal: p.firstErr,
		StartToFirstSeconds: (first - time.Duration(startOff)).Seconds(), DrainSeconds: (last - first).Seconds(),
		EmptyPerSec: r.rep.Delivery.PerSec}
	if queueSecs > 0 {
		b.QueuedPerSec = float64(queued) / queueSecs
	}
	if b.DrainSeconds > 0 {
		b.DrainPerSec = float64(delivered) / b.DrainSeconds
	}
	if b.EmptyPerSec > 0 {
		b.Ratio = b.DrainPerSec / b.EmptyPerSec
	}
	r.rep.Backlog = b
	r.logf("drained %d in %.1f s: %.0f/s (%.2f × empty-queue)", delivered, b.DrainSeconds, b.DrainPerSec, b.Ratio)
	return nil
}

// machine describes where the run happened.
func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb float64
				if _, err := fmt.Sscan(strings.TrimSpace(v), &kb); err == nil {
					m.MemGiB = kb / (1 << 20)
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}
