package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
	pq, err := store.NewPageQuery(eventCursorKind, "e.id", q.Cursor, q.Limit, 100)
	if err != nil {
		return nil, "", err
	}
	pq.And("e.workspace_id = ?", workspaceID)
	if q.Name != "" {
		pq.And("e.name = ?", q.Name)
	}
	pq.Between("e.created_at", q.Since, q.Until)
	tail, args := pq.Tail()
	rows, err := s.DB.Query(ctx, `SELECT e.id, e.name, e.data_type, e.created_at,
		(SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id)
		FROM events e `+tail, args...)
	out, err := store.Collect(rows, err, func(r store.Scanner) (StoredEvent, error) {
		var e StoredEvent
		var at int64
		err := r.Scan(&e.ID, &e.Name, &e.DataType, &at, &e.Deliveries)
		e.CreatedAt = store.Time(at)
		return e, err
	})
	if err != nil {
		return nil, "", err
	}
	out, next := store.Page(pq, out, func(e StoredEvent) string { return e.ID })
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
	ds, err := s.Deliveries.ForEvent(ctx, workspaceID, id)
	if err != nil {
		return e, nil, err
	}
	e.Deliveries = len(ds)
	return e, ds, nil
}
