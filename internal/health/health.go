// Package health answers "are this workspace's webhooks healthy?" per endpoint (issue
// 11): its state (active, failing, disabled and why), the success rate of its attempts,
// delivered-vs-failed attempts per hour over 24 h and per day over 7 days, and its latest
// attempts — plus Chart, a small server-rendered SVG of those buckets (no script, no CDN).
// queue.go is the operators' read-only view of the job queue.
package health

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/store"
)

// State is an endpoint's health.
type State string

const (
	Active   State = "active"
	Failing  State = "failing"
	Disabled State = "disabled"
)

// Bucket counts the attempts that started in [Start, Start+width).
type Bucket struct {
	Start     time.Time
	Delivered int // 2xx
	Failed    int // everything else
}

// Attempt is one of the latest attempts.
type Attempt struct {
	DeliveryID string
	EventName  string
	Number     int
	Status     int
	Error      string
	StartedAt  time.Time
	DurationMs float64
	OK         bool
}

// Endpoint is one endpoint's health.
type Endpoint struct {
	EndpointID string
	State      State
	// Reason: why it is disabled, or the error of its latest failed attempt while failing.
	Reason string
	// FailingSince: the first failed attempt after its last success.
	FailingSince *time.Time
	// SuccessRate is delivered / attempts over the last 7 days, in percent; -1 without
	// attempts.
	SuccessRate float64
	Delivered7d int
	Failed7d    int
	// Waiting counts the deliveries not yet done (pending, retrying, throttled, being
	// delivered), Throttled those held by the endpoint's rate limit, and OldestWaiting is
	// when the oldest of them was published: a backlog shows here before it shows in the
	// attempts (issue 14).
	Waiting, Throttled int
	OldestWaiting      *time.Time
	Hourly             []Bucket // 24, oldest first, the last one is the current hour
	Daily              []Bucket // 7, oldest first, the last one is today (UTC)
	Latest             []Attempt
}

// Service reads endpoint health.
type Service struct {
	DB  *store.DB
	Now clock.Clock
}

// LatestAttempts is how many attempts Endpoint returns.
const LatestAttempts = 8

// Endpoint returns the health of one endpoint of the workspace (store.ErrNotFound when
// there is no such endpoint).
func (s *Service) Endpoint(ctx context.Context, workspaceID, endpointID string) (Endpoint, error) {
	h := Endpoint{EndpointID: endpointID, SuccessRate: -1}
	var enabled bool
	var reason string
	var failing sql.NullInt64
	err := s.DB.QueryRow(ctx, `SELECT enabled, disabled_reason, failing_since FROM endpoints WHERE workspace_id = ? AND id = ?`,
		workspaceID, endpointID).Scan(&enabled, &reason, &failing)
	if errors.Is(err, sql.ErrNoRows) {
		return h, store.ErrNotFound
	}
	if err != nil {
		return h, err
	}
	h.FailingSince = store.NullTime(failing)
	switch {
	case !enabled:
		h.State, h.Reason = Disabled, reason
		if h.Reason == "" {
			h.Reason = "turned off by a member"
		}
	case failing.Valid:
		h.State = Failing
	default:
		h.State = Active
	}

	now := s.Now.Now().UTC()
	hourStart := now.Truncate(time.Hour).Add(-23 * time.Hour)
	dayStart := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -6)
	if h.Hourly, err = s.buckets(ctx, workspaceID, endpointID, hourStart, time.Hour, 24); err != nil {
		return h, err
	}
	if h.Daily, err = s.buckets(ctx, workspaceID, endpointID, dayStart, 24*time.Hour, 7); err != nil {
		return h, err
	}
	for _, b := range h.Daily {
		h.Delivered7d += b.Delivered
		h.Failed7d += b.Failed
	}
	if total := h.Delivered7d + h.Failed7d; total > 0 {
		h.SuccessRate = float64(h.Delivered7d) * 100 / float64(total)
	}
	if h.Latest, err = s.latest(ctx, workspaceID, endpointID); err != nil {
		return h, err
	}
	if err := s.backlog(ctx, workspaceID, endpointID, &h); err != nil {
		return h, err
	}
	if h.State == Failing {
		for _, a := range h.Latest {
			if !a.OK {
				h.Reason = attemptReason(a)
				break
			}
		}
		if h.Reason == "" {
			h.Reason = "the latest attempt failed"
		}
	}
	return h, nil
}

func attemptReason(a Attempt) string {
	if a.Error != "" {
		return a.Error
	}
	return "HTTP " + itoa(a.Status)
}

// buckets counts attempts per bucket of width from start, n buckets, in one grouped query
// over the attempts_endpoint index.
func (s *Service) buckets(ctx context.Context, workspaceID, endpointID string, start time.Time, width time.Duration, n int) ([]Bucket, error) {
	out := make([]Bucket, n)
	for i := range out {
		out[i].Start = start.Add(time.Duration(i) * width)
	}
	from, w := store.Micros(start), width.Microseconds()
	rows, err := s.DB.Query(ctx, `SELECT (started_at - ?) / ? AS b,
			SUM(CASE WHEN status >= 200 AND status < 300 THEN 1 ELSE 0 END), COUNT(*)
		FROM attempts WHERE endpoint_id = ? AND workspace_id = ? AND started_at >= ? AND started_at < ?
		GROUP BY 1`,
		from, w, endpointID, workspaceID, from, from+int64(n)*w)
	err = store.Each(rows, err, func(r store.Scanner) error {
		var b, ok, all int64
		if err := r.Scan(&b, &ok, &all); err != nil {
			return err
		}
		if b >= 0 && b < int64(n) {
			out[b].Delivered, out[b].Failed = int(ok), int(all-ok)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) latest(ctx context.Context, workspaceID, endpointID string) ([]Attempt, error) {
	rows, err := s.DB.Query(ctx, `SELECT a.delivery_id, d.event_name, a.number, a.status, a.error, a.started_at, a.duration_us
		FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
		WHERE a.endpoint_id = ? AND a.workspace_id = ? ORDER BY a.started_at DESC, a.id DESC LIMIT ?`, endpointID, workspaceID, LatestAttempts)
	return store.Collect(rows, err, func(r store.Scanner) (Attempt, error) {
		var a Attempt
		var started, dur int64
		err := r.Scan(&a.DeliveryID, &a.EventName, &a.Number, &a.Status, &a.Error, &started, &dur)
		a.StartedAt, a.DurationMs = store.Time(started), float64(dur)/1000
		a.OK = a.Status >= 200 && a.Status < 300
		return a, err
	})
}

// backlog fills in the endpoint's unfinished deliveries, over the deliveries_endpoint index.
func (s *Service) backlog(ctx context.Context, workspaceID, endpointID string, h *Endpoint) error {
	var oldest sql.NullInt64
	var throttled sql.NullInt64
	err := s.DB.QueryRow(ctx, `SELECT COUNT(*), SUM(CASE WHEN state = 'throttled' THEN 1 ELSE 0 END), MIN(created_at)
		FROM deliveries WHERE workspace_id = ? AND endpoint_id = ? AND state IN ('pending', 'retrying', 'throttled', 'delivering')`,
		workspaceID, endpointID).Scan(&h.Waiting, &throttled, &oldest)
	h.Throttled, h.OldestWaiting = int(throttled.Int64), store.NullTime(oldest)
	return err
}
