package delivery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// Lease is how long a claimed delivery stays this process's without a renewal; renewed
	// every Lease/4 while its attempt runs, so it only runs out when the process is gone,
	// and then the delivery is due again. Default 8 s.
	Lease time.Duration
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

// Job kinds. River runs the engine's background jobs; deliveries themselves are queued in
// the deliveries table (run.go).
const (
	kindRecover     = "delivery_recover"
	kindAutoDisable = "delivery_auto_disable"
)

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

// retryPolicy spaces River's retries of a background job that errored (database down).
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
	if opts.Lease <= 0 {
		opts.Lease = 8 * time.Second
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
		Lease:  opts.Lease,
		wakeCh: make(chan struct{}, 1), notifyCh: make(chan struct{}, 1), worker: workerName(),
	}
	s.metrics = newMetrics(s)
	if opts.Metrics != nil {
		if err := s.metrics.register(opts.Metrics); err != nil {
			return nil, err
		}
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(s.workRecover))
	river.AddWorker(workers, river.WorkFunc(s.workAutoDisable))
	river.AddWorker(workers, river.WorkFunc(s.workRetention))

	cfg := &river.Config{
		Workers:     workers,
		Logger:      opts.Log.With("component", "river"),
		MaxAttempts: jobMaxAttempts,
		RetryPolicy: retryPolicy{s},
		// River's finished jobs are the engine's background jobs only (recover,
		// auto-disable, retention); deliveries and attempts are the record users see.
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
	}
	if opts.Work {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}}
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
		// database/sql for the transactions we share with River (Recover's audit record and
		// job); the pgx pool listens, so new jobs are picked up by LISTEN/NOTIFY.
		driver = riverdatabasesql.NewWithPgxListener(opts.DB.Writer, opts.DB.Pgx)
	} else {
		// SQLite: River shares the one writer connection, as its docs ask, and polls (its
		// default, once a second: nothing on the delivery path waits for River).
		driver = riversqlite.New(opts.DB.Writer)
	}
	c, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	s.river = c
	return s, nil
}

// Run works deliveries and River's background jobs (when this process is a worker) until
// ctx ends, then stops: in-flight attempts get ShutdownGrace to finish, after which their
// contexts are cancelled and the deliveries given back to be attempted again.
func (s *Service) Run(ctx context.Context) error {
	if s.DB.Dialect == store.Postgres {
		go s.notifyLoop(ctx) // wakes other instances' workers, this one may be api-only
	}
	if !s.work {
		<-ctx.Done()
		return nil
	}
	if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	s.runDeliveries(ctx)
	soft, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.river.Stop(soft); err != nil && !errors.Is(err, context.Canceled) {
		if errors.Is(err, context.DeadlineExceeded) {
			hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = s.river.StopAndCancel(hard)
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("stop river: %w", err)
		}
	}
	return nil
}

// workerName names this process in the attempt log: host/pid.
func workerName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}
