package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Options configure New.
type Options struct {
	DB      *store.DB
	Targets Targets // may be set later on Service.Targets
	Log     *slog.Logger
	// Metrics, when not nil, gets the delivery metrics.
	Metrics prometheus.Registerer
	// Work makes this process work jobs (role worker or all); otherwise it only inserts.
	Work bool
	// Workers is how many attempts run at once in this process.
	Workers int
	// Timeout bounds one HTTP attempt (RELAYDESK_DELIVERY_TIMEOUT).
	Timeout time.Duration
	// AllowPrivate lets deliveries reach http:// and private addresses (dev and tests).
	AllowPrivate bool
	// Version goes in the User-Agent: relaydesk/<version>.
	Version string
	// ShutdownGrace is how long in-flight attempts may finish when stopping before they are
	// cancelled and released. Default: Timeout + 2 s.
	ShutdownGrace time.Duration
	// SweepInterval is how often a worker looks for attempts whose lease ran out. Default 5 s.
	SweepInterval time.Duration
	// AutoDisableInterval is how often the leader checks for endpoints failing 5 days
	// straight. Default 1 h.
	AutoDisableInterval time.Duration
	// Retention is how old events, deliveries, attempts and notifications get before the
	// leader removes them (RELAYDESK_RETENTION). Default DefaultRetention; negative keeps
	// everything.
	Retention time.Duration
	// RetentionInterval is how often the leader runs the retention job. Default 1 h.
	RetentionInterval time.Duration
	// RetentionPause is the pause between two retention batches. Default 50 ms.
	RetentionPause time.Duration
}

// Job kinds.
const (
	kindAttempt     = "delivery_attempt"
	kindRecover     = "delivery_recover"
	kindAutoDisable = "delivery_auto_disable"
)

// attemptArgs is the job that makes one attempt of a delivery.
//
// How jobs map to DESIGN §2: a delivery's attempt count and schedule live in the
// deliveries table, not in River's attempt counter, because manual retries and recover make
// attempts River never scheduled and because the wait depends on the receiver's answer
// (Retry-After, the 60 s floor after 429/5xx/timeouts) which a River retry policy cannot
// see. So the worker returns river.JobSnooze(wait) to schedule the next attempt of the
// same job, nil when the delivery is finished (succeeded or failed after 10 attempts) and
// river.JobCancel after 410. River's own retries (retryPolicy, the same schedule) only
// handle jobs that errored for internal reasons (database down, a panic).
//
// Seq makes one scheduled chain per delivery: recover and the lease sweep bump the
// delivery's seq and enqueue a new job; a job whose Seq is older does nothing. Once jobs
// (manual retry) make exactly one attempt whatever the seq.
type attemptArgs struct {
	DeliveryID string `json:"d"`
	Seq        int    `json:"s,omitempty"`
	Once       bool   `json:"once,omitempty"`
}

func (attemptArgs) Kind() string { return kindAttempt }

// recoverArgs re-queues the failed deliveries of an endpoint created in [Since, Until].
type recoverArgs struct {
	WorkspaceID string `json:"w"`
	EndpointID  string `json:"e"`
	Since       int64  `json:"since"`
	Until       int64  `json:"until"`
	Before      int64  `json:"before"` // only deliveries that had failed when recover was asked
}

func (recoverArgs) Kind() string { return kindRecover }

type autoDisableArgs struct{}

func (autoDisableArgs) Kind() string { return kindAutoDisable }

// jobMaxAttempts bounds River's retries of a job that errors for internal reasons.
const jobMaxAttempts = 25

// retryPolicy is DESIGN §2's schedule (±20 % jitter), used when a job errors.
type retryPolicy struct{ s *Service }

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	d, ok := NextDelay(min(job.Attempt, MaxAttempts-1), p.s.rand)
	if !ok {
		d = MaxRetryAfter
	}
	return time.Now().Add(d)
}

// New builds the service and its River client (insert-only unless opts.Work).
func New(opts Options) (*Service, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 15 * time.Second
	}
	if opts.Workers <= 0 {
		opts.Workers = 50
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = opts.Timeout + 2*time.Second
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = 5 * time.Second
	}
	if opts.AutoDisableInterval <= 0 {
		opts.AutoDisableInterval = time.Hour
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.RetentionInterval <= 0 {
		opts.RetentionInterval = time.Hour
	}
	if opts.RetentionPause <= 0 {
		opts.RetentionPause = 50 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		DB: opts.DB, Targets: opts.Targets, Log: opts.Log, work: opts.Work, opts: opts,
		Sender: &Sender{Client: egress.Policy{AllowPrivate: opts.AllowPrivate}.Client(opts.Timeout), UserAgent: "relaydesk/" + opts.Version},
		Lease:  opts.Timeout + 10*time.Second,
	}
	s.metrics = newMetrics(s)
	if opts.Metrics != nil {
		if err := s.metrics.register(opts.Metrics); err != nil {
			return nil, err
		}
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(s.workAttempt))
	river.AddWorker(workers, river.WorkFunc(s.workRecover))
	river.AddWorker(workers, river.WorkFunc(s.workAutoDisable))
	river.AddWorker(workers, river.WorkFunc(s.workRetention))

	cfg := &river.Config{
		Workers:     workers,
		Logger:      opts.Log.With("component", "river"),
		MaxAttempts: jobMaxAttempts,
		RetryPolicy: retryPolicy{s},
		// An attempt is bounded by the HTTP timeout; the job by the lease (its context
		// ends there and the attempt is released), and River rescues a job still
		// "running" well after that (its process died).
		JobTimeout:           s.Lease,
		RescueStuckJobsAfter: s.Lease + time.Minute,
		// River's own finished jobs (retention.go cleans our tables). Set explicitly: one
		// job per delivery makes river_job the fastest-growing table, and the deliveries
		// and attempts tables, not River's rows, are the record users see.
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
	}
	if opts.Work {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}}
		cfg.PeriodicJobs = []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(opts.AutoDisableInterval),
				func() (river.JobArgs, *river.InsertOpts) { return autoDisableArgs{}, nil },
				&river.PeriodicJobOpts{ID: kindAutoDisable}),
		}
		if opts.Retention > 0 {
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(opts.RetentionInterval),
				func() (river.JobArgs, *river.InsertOpts) { return retentionArgs{}, nil },
				&river.PeriodicJobOpts{ID: kindRetention}))
		}
	}
	var driver riverdriver.Driver[*sql.Tx]
	if opts.DB.Dialect == store.Postgres {
		// database/sql for the transactions we share with River; the pgx pool listens, so
		// new jobs are picked up by LISTEN/NOTIFY rather than by polling.
		driver = riverdatabasesql.NewWithPgxListener(opts.DB.Writer, opts.DB.Pgx)
	} else {
		// SQLite: River shares the one writer connection, as its docs ask; no LISTEN, so
		// poll often.
		driver = riversqlite.New(opts.DB.Writer)
		cfg.FetchPollInterval = 50 * time.Millisecond
	}
	// River fetches a new batch at most once per cooldown (default 100 ms), so MaxWorkers per
	// cooldown was the ceiling on deliveries per second (50 / 100 ms = 500/s). Attempts to a
	// healthy receiver take milliseconds; a short cooldown keeps the workers busy.
	cfg.FetchCooldown = 5 * time.Millisecond
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.river = c
	return s, nil
}

// Run works jobs (when this process is a worker) until ctx ends, then stops: in-flight
// attempts get ShutdownGrace to finish, after which their contexts are cancelled and the
// attempts released to be made again.
func (s *Service) Run(ctx context.Context) error {
	if !s.work {
		<-ctx.Done()
		return nil
	}
	if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		t := time.NewTicker(s.opts.SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.sweep(ctx); err != nil && ctx.Err() == nil {
					s.Log.Warn("delivery sweep", "err", err)
				}
			}
		}
	}()
	<-ctx.Done()
	<-sweepDone
	soft, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownGrace)
	defer cancel()
	err := s.river.Stop(soft)
	if errors.Is(err, context.DeadlineExceeded) {
		s.Log.Warn("in-flight deliveries did not finish in time; cancelling and releasing them", "grace", s.opts.ShutdownGrace)
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.river.StopAndCancel(hard)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop river: %w", err)
	}
	return nil
}

// sweepBatch bounds how many expired leases one sweep hands over.
const sweepBatch = 500

// sweep finds attempts whose lease ran out (their process died mid-attempt, or the
// attempt was released at shutdown) and gives each delivery a fresh job. The stale job, if
// River ever runs it again, sees an older seq and does nothing.
func (s *Service) sweep(ctx context.Context) (int, error) {
	now := store.Micros(s.now())
	n := 0
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE deliveries SET state = ?, seq = seq + 1, lease_until = NULL, next_attempt_at = ?, updated_at = ?
			WHERE id IN (SELECT id FROM deliveries WHERE state = ? AND lease_until < ? ORDER BY lease_until LIMIT ?)
			AND state = ? AND lease_until < ?
			RETURNING id, seq`, Retrying, now, now, Delivering, now, sweepBatch, Delivering, now)
		if err != nil {
			return err
		}
		n, err = s.requeueReturned(ctx, tx, rows)
		return err
	})
	if n > 0 && err == nil {
		s.Log.Info("re-queued deliveries whose attempt lease ran out", "count", n)
	}
	return n, err
}

// requeueReturned inserts one attempt job per (id, seq) row that an UPDATE … RETURNING gave,
// in the same transaction, and closes rows.
func (s *Service) requeueReturned(ctx context.Context, tx *store.Tx, rows *sql.Rows) (int, error) {
	var params []river.InsertManyParams
	for rows.Next() {
		var a attemptArgs
		if err := rows.Scan(&a.DeliveryID, &a.Seq); err != nil {
			rows.Close()
			return 0, err
		}
		params = append(params, river.InsertManyParams{Args: a})
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(params) == 0 {
		return 0, err
	}
	_, err := s.river.InsertManyFastTx(ctx, tx.Tx, params)
	return len(params), err
}
