package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Errors of the attempt-log operations.
var (
	ErrInFlight = errors.New("an attempt of this delivery is in progress")
)

// NotDeliverableError says why a delivery cannot be retried now.
type NotDeliverableError struct{ Reason string }

func (e *NotDeliverableError) Error() string { return "cannot deliver: " + e.Reason }

// MaxPage is the largest page List returns.
const MaxPage = 100

// ListParams filter and page the delivery log. Zero values do not filter.
type ListParams struct {
	State        State
	EndpointID   string
	EventName    string
	Since, Until time.Time // created at, inclusive
	Cursor       string    // from Page.Next
	Limit        int       // 1..MaxPage, default 50
}

// Page is one page of deliveries, newest first.
type Page struct {
	Deliveries []Delivery
	Next       string // cursor of the next page; empty on the last
}

// cursorKind names the delivery log in its cursors (store.Cursor).
const cursorKind = "d"

// List returns a page of the workspace's deliveries, newest first.
func (s *Service) List(ctx context.Context, workspaceID string, p ListParams) (Page, error) {
	q, err := store.NewPageQuery(cursorKind, "id", p.Cursor, p.Limit, MaxPage)
	if err != nil {
		return Page{}, err
	}
	q.And("workspace_id = ?", workspaceID)
	if p.State != "" {
		q.And("state = ?", p.State)
	}
	if p.EndpointID != "" {
		q.And("endpoint_id = ?", p.EndpointID)
	}
	if p.EventName != "" {
		q.And("event_name = ?", p.EventName)
	}
	q.Between("created_at", p.Since, p.Until)
	tail, args := q.Tail()
	rows, err := s.DB.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries `+tail, args...)
	ds, err := store.Collect(rows, err, scanDelivery)
	if err != nil {
		return Page{}, err
	}
	var out Page
	out.Deliveries, out.Next = store.Page(q, ds, func(d Delivery) string { return d.ID })
	return out, nil
}

// ForEvent returns the deliveries of one event of the workspace, oldest first (the event view).
func (s *Service) ForEvent(ctx context.Context, workspaceID, eventID string) ([]Delivery, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE workspace_id = ? AND event_id = ? ORDER BY id`, workspaceID, eventID)
	return store.Collect(rows, err, scanDelivery)
}

// Get returns one delivery of the workspace with its attempts, oldest first.
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Delivery, []Attempt, error) {
	d, err := scanDelivery(s.DB.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE workspace_id = ? AND id = ?`, workspaceID, id))
	if err != nil {
		return d, nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT id, number, started_at, duration_us, request_headers, status, response_headers, response_body, error
		FROM attempts WHERE delivery_id = ? ORDER BY number, id`, id)
	atts, err := store.Collect(rows, err, func(r store.Scanner) (Attempt, error) {
		var a Attempt
		var started, dur int64
		var reqH, respH string
		if err := r.Scan(&a.ID, &a.Number, &started, &dur, &reqH, &a.Status, &respH, &a.ResponseBody, &a.Error); err != nil {
			return a, err
		}
		a.StartedAt, a.DurationMs = store.Time(started), float64(dur)/1000
		_ = json.Unmarshal([]byte(reqH), &a.RequestHeaders)
		_ = json.Unmarshal([]byte(respH), &a.ResponseHeaders)
		return a, nil
	})
	return d, atts, err
}

// Retry makes one more attempt of a delivery now, whatever its state (failed and cancelled
// included). It does not change the delivery's schedule: a retrying delivery keeps its
// next attempt unless this one succeeds.
func (s *Service) Retry(ctx context.Context, workspaceID, id string) (Delivery, error) {
	targets, err := s.targets()
	if err != nil {
		return Delivery{}, err
	}
	d, _, err := s.Get(ctx, workspaceID, id)
	if err != nil {
		return d, err
	}
	t, err := targets.Target(ctx, workspaceID, d.EndpointID)
	switch reason, err := undeliverable(t, err); {
	case err != nil:
		return d, err
	case reason != "":
		return d, &NotDeliverableError{reason}
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if t.FIFO {
			if err := lockEndpoints(ctx, tx, []string{d.EndpointID}); err != nil {
				return err
			}
		}
		var state State
		var next *int64
		now := store.Micros(s.now())
		if err := tx.QueryRow(ctx, `SELECT state, next_attempt_at FROM deliveries WHERE workspace_id = ? AND id = ?`, workspaceID, id).Scan(&state, &next); err != nil {
			return err
		}
		if state == Delivering && next != nil && *next > now {
			return ErrInFlight
		}
		if t.FIFO && next == nil && !state.Final() {
			return ErrWaiting
		}
		if err := audit.Record(ctx, tx, workspaceID, "delivery.retry", "delivery", id, map[string]any{"endpointId": d.EndpointID, "state": state}); err != nil {
			return err
		}
		if t.FIFO && next == nil {
			// A finished delivery of an ordered endpoint: it waits, as a manual attempt,
			// for the head to be done, and goes before the others (it is older).
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET manual = TRUE, fifo = TRUE WHERE id = ?`, id); err != nil {
				return err
			}
			_, err := promote(ctx, tx, s.now(), []string{d.EndpointID})
			tx.AfterCommit(s.wake)
			return err
		}
		// Due now, as a manual attempt; a scheduled next attempt still ahead is kept in
		// resume_at and resumes if this one fails.
		var resume any
		if !state.Final() && next != nil && *next > now {
			resume = *next
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET manual = TRUE, next_attempt_at = ?, resume_at = COALESCE(resume_at, ?), fifo = ? WHERE id = ?`, now, resume, t.FIFO, id); err != nil {
			return err
		}
		tx.AfterCommit(s.wake)
		return nil
	})
	return d, err
}

// recoverable is what Recover re-queues: failed deliveries, and those cancelled because the
// endpoint answered 410 Gone or was disabled (issue 11: after Re-enable, Recover resends
// what the outage stopped).
const recoverable = `(state = ? OR (state = ? AND (reason = ? OR reason LIKE ?)))`

var recoverableArgs = []any{Failed, Cancelled, ReasonGone, ReasonEndpointDisabled + "%"}

// Recover re-queues, in a background job, the failed deliveries (and those cancelled by
// the endpoint's 410 or disable) of an endpoint created between since and until
// (inclusive), each for a new round of the schedule. It returns how many deliveries that is.
func (s *Service) Recover(ctx context.Context, workspaceID, endpointID string, since, until time.Time) (int, error) {
	if until.Before(since) {
		return 0, errors.New("until is before since")
	}
	a := recoverArgs{WorkspaceID: workspaceID, EndpointID: endpointID, Since: store.Micros(since), Until: store.Micros(until), Before: store.Micros(s.now())}
	n := 0
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE workspace_id = ? AND endpoint_id = ? AND `+recoverable+` AND created_at >= ? AND created_at <= ? AND updated_at <= ?`,
			append(append([]any{workspaceID, endpointID}, recoverableArgs...), a.Since, a.Until, a.Before)...).Scan(&n); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, workspaceID, "endpoint.recover", "endpoint", endpointID,
			map[string]any{"since": since.UTC(), "until": until.UTC(), "count": n}); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		_, err := s.river.InsertTx(ctx, tx.Tx, a, nil)
		return err
	})
	return n, err
}

// recoverBatch bounds how many deliveries one statement of a recover re-queues.
const recoverBatch = 500

// workRecover re-queues the deliveries a Recover asked for, in batches: each is due now,
// pending, for a new round of the schedule.
func (s *Service) workRecover(ctx context.Context, job *river.Job[recoverArgs]) error {
	a := job.Args
	targets, err := s.targets()
	if err != nil {
		return err
	}
	// An ordered endpoint's recovered deliveries wait their turn, oldest first.
	t, err := targets.Target(ctx, a.WorkspaceID, a.EndpointID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("recover: %w", err)
	}
	total := 0
	for {
		var n int64
		err := s.DB.InTx(ctx, func(tx *store.Tx) error {
			now := s.now()
			var due any = store.Micros(now)
			if t.FIFO {
				due = nil
			}
			res, err := tx.Exec(ctx, `UPDATE deliveries SET state = ?, round_start = attempts, reason = '', next_attempt_at = ?, fifo = ?, updated_at = ?
				WHERE id IN (SELECT id FROM deliveries WHERE workspace_id = ? AND endpoint_id = ? AND `+recoverable+` AND created_at >= ? AND created_at <= ? AND updated_at <= ? LIMIT ?)
				AND `+recoverable,
				slices.Concat([]any{Pending, due, t.FIFO, store.Micros(now), a.WorkspaceID, a.EndpointID}, recoverableArgs, []any{a.Since, a.Until, a.Before, recoverBatch}, recoverableArgs)...)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil || n == 0 {
				return err
			}
			if t.FIFO {
				if _, err := promote(ctx, tx, now, []string{a.EndpointID}); err != nil {
					return err
				}
			}
			tx.AfterCommit(s.wake)
			return nil
		})
		if err != nil {
			return fmt.Errorf("recover: %w", err)
		}
		total += int(n)
		if n < recoverBatch {
			break
		}
	}
	s.Log.Info("recovered failed deliveries", "workspace", a.WorkspaceID, "endpoint", a.EndpointID, "count", total)
	return nil
}
