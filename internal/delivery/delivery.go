// Package delivery is the delivery engine: it stores accepted events and their deliveries
// — a delivery row is also its queue entry — and works them in batches: claim the due ones,
// sign and POST each through the guarded client, record the outcomes, then succeed, retry
// on the schedule (docs/architecture.md, "Wire contract"), or give up. The attempt log,
// manual retry and recover live here too.
//
// Where things are:
//   - schedule.go: the retry schedule, Retry-After, what an answer means (Classify).
//   - send.go: one signed HTTP attempt (Sender).
//   - publish.go: events in, deliveries out (Publish).
//   - claim.go: handing due deliveries to a process, leases.
//   - attempt.go: an attempt's outcome and the batched write that records outcomes.
//   - run.go: the loop of one process: dispatcher, senders, recorder, wake-ups.
//   - queue.go: options, River for the background jobs, graceful stop.
//   - log.go: the attempt log, manual retry, recover.
//   - fifo.go: per-endpoint publish order (one head at a time), skip.
//   - ratelimit.go: per-endpoint send slots (maxPerSecond), the throttled state.
//   - autodisable.go: the periodic job that disables endpoints failing for 5 days.
package delivery

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"

	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/webhook"
)

// State is a delivery's state (docs/architecture.md §1).
type State string

const (
	Pending    State = "pending"
	Delivering State = "delivering"
	Succeeded  State = "succeeded"
	Retrying   State = "retrying"
	Failed     State = "failed"
	Cancelled  State = "cancelled"
	Skipped    State = "skipped"
	// Throttled: the endpoint's rate limit holds the delivery until its reserved send slot
	// (next_attempt_at); no attempt is used up (ratelimit.go).
	Throttled State = "throttled"
)

// Valid reports whether s is one of the states.
func (s State) Valid() bool {
	switch s {
	case Pending, Delivering, Succeeded, Retrying, Failed, Cancelled, Skipped, Throttled:
		return true
	}
	return false
}

// Final reports whether no job will work the delivery again on its own.
func (s State) Final() bool {
	switch s {
	case Succeeded, Failed, Cancelled, Skipped:
		return true
	}
	return false
}

// Target is where an endpoint's deliveries go and how they are signed.
type Target struct {
	URL            string
	Enabled        bool
	DisabledReason string
	// Refused, when not empty, is why the current address policy refuses the endpoint's URL
	// (saved while private endpoints were allowed, say): its deliveries are not attempted.
	Refused string
	// Secrets: the current secret first, then previous ones still in their grace window.
	// Empty means the workspace has no signing secret.
	Secrets []webhook.Secret
	// Keys sign v1a (ed25519) entries besides: the current key pair first, then the previous
	// one still in its grace window. Empty when the workspace has no key pair (issue 15).
	Keys []webhook.SigningKey
	// FIFO: the endpoint gets one delivery at a time, in publish order (fifo.go).
	FIFO bool
	// MaxPerSecond, when above 0, caps the endpoint's sends per second across all
	// instances (ratelimit.go).
	MaxPerSecond int
}

// Targets resolves endpoints. *endpoint.Service implements it; delivery never imports
// endpoint (app wires them together).
type Targets interface {
	// Target returns store.ErrNotFound when the endpoint is gone.
	Target(ctx context.Context, workspaceID, endpointID string) (Target, error)
	Disable(ctx context.Context, workspaceID, endpointID, reason string) error
}

// Event is an accepted event: Body is the exact envelope sent on every attempt.
type Event struct {
	ID, WorkspaceID, Name, DataType string
	Body                            []byte
	CreatedAt                       time.Time
	IdempotencyKey                  string
}

// Delivery is one event to one endpoint.
type Delivery struct {
	ID            string     `json:"id"`
	WorkspaceID   string     `json:"workspaceId"`
	EventID       string     `json:"eventId"`
	EndpointID    string     `json:"endpointId"`
	EventName     string     `json:"eventName"`
	State         State      `json:"status" enum:"pending,delivering,succeeded,retrying,failed,cancelled,skipped,throttled"`
	Reason        string     `json:"reason,omitempty" doc:"Why the delivery was skipped or cancelled."`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
	LastStatus    int        `json:"lastStatus,omitempty" doc:"HTTP status of the last attempt (0: no response)."`
	LastError     string     `json:"lastError,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	UpdatedAt     time.Time  `json:"updatedAt"`
	DeliveredAt   *time.Time `json:"deliveredAt,omitempty"`

	fifo bool // its endpoint delivers in publish order: inserted waiting (fifo.go)
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	ID              string              `json:"id"`
	Number          int                 `json:"number"`
	StartedAt       time.Time           `json:"startedAt"`
	DurationMs      float64             `json:"durationMs"`
	RequestHeaders  map[string][]string `json:"requestHeaders" doc:"As sent; signature values masked."`
	Status          int                 `json:"status" doc:"HTTP status; 0 when no response came."`
	ResponseHeaders map[string][]string `json:"responseHeaders"`
	ResponseBody    string              `json:"responseBody" doc:"The first 16 KiB of the response body."`
	Error           string              `json:"error,omitempty"`
}

// Service is the delivery engine.
type Service struct {
	DB      *store.DB
	Targets Targets
	Sender  *Sender
	Log     *slog.Logger
	// Now and Rand are the clock and the jitter source (tests replace them).
	Now  clock.Clock
	Rand func() float64
	// Lease is how long a claim holds without renewal (Options.Lease).
	Lease time.Duration
	// Notifier, when set, hears when an endpoint starts failing, recovers or is disabled
	// (transition.go).
	Notifier Notifier

	river    *river.Client[*sql.Tx]
	worker   string        // this process, as attempts record it: host/pid
	wakeCh   chan struct{} // this process's dispatcher: deliveries were queued
	notifyCh chan struct{} // other instances' dispatchers (PostgreSQL NOTIFY)
	health   healthMemo
	work     bool
	opts     Options
	metrics  *metrics
}

var errNoTargets = errors.New("delivery: no Targets wired")

func (s *Service) now() time.Time { return s.Now.Now() }

func (s *Service) rand() float64 {
	if s.Rand != nil {
		return s.Rand()
	}
	return rand.Float64()
}

func (s *Service) targets() (Targets, error) {
	if s.Targets == nil {
		return nil, errNoTargets
	}
	return s.Targets, nil
}

const deliveryCols = `id, workspace_id, event_id, endpoint_id, event_name, state, reason, attempts, next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at`

func scanDelivery(sc store.Scanner) (Delivery, error) {
	var d Delivery
	var next, delivered sql.NullInt64
	var created, updated int64
	err := sc.Scan(&d.ID, &d.WorkspaceID, &d.EventID, &d.EndpointID, &d.EventName, &d.State, &d.Reason, &d.Attempts,
		&next, &d.LastStatus, &d.LastError, &created, &updated, &delivered)
	if errors.Is(err, sql.ErrNoRows) {
		return d, store.ErrNotFound
	}
	d.NextAttemptAt, d.DeliveredAt = store.NullTime(next), store.NullTime(delivered)
	if d.State == Delivering {
		d.NextAttemptAt = nil // it holds the worker's lease, not a scheduled attempt
	}
	d.CreatedAt, d.UpdatedAt = store.Time(created), store.Time(updated)
	return d, err
}
