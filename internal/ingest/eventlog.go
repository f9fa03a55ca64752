package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
)

// StoredEvent is an accepted event as the event log shows it.
type StoredEvent struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	DataType   string    `json:"dataType"`
	CreatedAt  time.Time `json:"createdAt"`
	Deliveries int       `json:"deliveries" doc:"How many deliveries the event got."`
	// Envelope is the exact body delivered (only on GET /v1/events/{id}).
	Envelope json.RawMessage `json:"envelope,omitempty"`
}

// EventQuery filters and pages the event log. Zero values do not filter.
type EventQuery struct {
	Name         string
	Since, Until time.Time // created at, inclusive
	Cursor       string
	Limit        int // 1..100, default 50
}

// eventCursorKind names the event log in its cursors (store.Cursor).
const eventCursorKind = "e"

// Events returns a page of the workspace's events, newest first, and the cursor of the
// next page (empty on the last).
func (s *Service) Events(ctx context.Context, workspaceID string, q EventQuery) ([]StoredEvent, string, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 100)
	var where strings.Builder
	where.WriteString("e.workspace_id = ?")
	args := []any{workspaceID}
	add := func(cond string, v any) {
		where.WriteString(" AND " + cond)
		args = append(args, v)
	}
	if q.Cursor != "" {
		id, err := store.CursorID(eventCursorKind, q.Cursor)
		if err != nil {
			return nil, "", err
		}
		add("e.id < ?", id)
	}
	if q.Name != "" {
		add("e.name = ?", q.Name)
	}
	if !q.Since.IsZero() {
		add("e.created_at >= ?", store.Micros(q.Since))
	}
	if !q.Until.IsZero() {
		add("e.created_at <= ?", store.Micros(q.Until))
	}
	args = append(args, q.Limit+1)
	rows, err := s.DB.Query(ctx, `SELECT e.id, e.name, e.data_type, e.created_at,
		(SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id)
		FROM events e WHERE `+where.String()+` ORDER BY e.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := []StoredEvent{}
	for rows.Next() {
		var e StoredEvent
		var at int64
		if err := rows.Scan(&e.ID, &e.Name, &e.DataType, &at, &e.Deliveries); err != nil {
			return nil, "", err
		}
		e.CreatedAt = store.Time(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = store.Cursor(eventCursorKind, out[q.Limit-1].ID)
	}
	return out, next, nil
}

// Event returns one event of the workspace with its envelope and its deliveries.
func (s *Service) Event(ctx context.Context, workspaceID, id string) (StoredEvent, []delivery.Delivery, error) {
	var e StoredEvent
	var at int64
	var body string
	err := s.DB.QueryRow(ctx, `SELECT id, name, data_type, created_at, body FROM events WHERE workspace_id = ? AND id = ?`, workspaceID, id).
		Scan(&e.ID, &e.Name, &e.DataType, &at, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return e, nil, store.ErrNotFound
	}
	if err != nil {
		return e, nil, err
	}
	e.CreatedAt, e.Envelope = store.Time(at), json.RawMessage(body)
	rows, err := s.DB.Query(ctx, `SELECT id, workspace_id, event_id, endpoint_id, event_name, state, reason, attempts,
		next_attempt_at, last_status, last_error, created_at, updated_at, delivered_at
		FROM deliveries WHERE workspace_id = ? AND event_id = ? ORDER BY id`, workspaceID, id)
	ds, err := store.Collect(rows, err, func(r store.Scanner) (delivery.Delivery, error) {
		var d delivery.Delivery
		var next, delivered sql.NullInt64
		var created, updated int64
		err := r.Scan(&d.ID, &d.WorkspaceID, &d.EventID, &d.EndpointID, &d.EventName, &d.State, &d.Reason, &d.Attempts,
			&next, &d.LastStatus, &d.LastError, &created, &updated, &delivered)
		d.NextAttemptAt, d.DeliveredAt = store.NullTime(next), store.NullTime(delivered)
		d.CreatedAt, d.UpdatedAt = store.Time(created), store.Time(updated)
		return d, err
	})
	if err != nil {
		return e, nil, err
	}
	e.Deliveries = len(ds)
	return e, ds, nil
}
