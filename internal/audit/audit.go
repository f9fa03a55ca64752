// Package audit records who did what, when and from where in a workspace.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Entry is one line of the audit log.
type Entry struct {
	ID          string          `json:"id"`
	WorkspaceID string          `json:"workspaceId"`
	ActorUserID string          `json:"actorUserId,omitempty"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"` // e.g. "endpoint.create", "secret.rotate"
	TargetType  string          `json:"targetType,omitempty"`
	TargetID    string          `json:"targetId,omitempty"`
	Detail      json.RawMessage `json:"detail,omitempty"`
	IP          string          `json:"ip,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
}

// Record writes an entry for the principal in ctx, inside the caller's transaction when q
// is one, so the action and its record commit together. detail must hold no secrets.
func Record(ctx context.Context, q store.Querier, workspaceID, action, targetType, targetID string, detail any) error {
	p := access.From(ctx)
	var userID sql.NullString
	ip := ""
	if p != nil {
		userID = sql.NullString{String: p.UserID, Valid: p.UserID != ""}
		ip = p.IP
	}
	d := []byte("{}")
	if detail != nil {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return err
		}
	}
	_, err := q.Exec(ctx, `INSERT INTO audit_log (id, workspace_id, actor_user_id, actor, action, target_type, target_id, detail, ip, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		store.NewID(), workspaceID, userID, p.Actor(), action, targetType, targetID, string(d), ip, store.Micros(time.Now()))
	return err
}

// cursorKind names the audit log in its cursors (store.Cursor).
const cursorKind = "a"

// MaxPage is the largest page List returns.
const MaxPage = 100

// List returns a page of a workspace's entries, newest first, after cursor (the next cursor
// of the previous page, "" for the first), and the cursor of the next page ("" on the last).
func List(ctx context.Context, db *store.DB, workspaceID, cursor string, limit int) ([]Entry, string, error) {
	pq, err := store.NewPageQuery(cursorKind, "id", cursor, limit, MaxPage)
	if err != nil {
		return nil, "", err
	}
	pq.And("workspace_id = ?", workspaceID)
	tail, args := pq.Tail()
	rows, err := db.Query(ctx, `SELECT id, workspace_id, actor_user_id, actor, action, target_type, target_id, detail, ip, created_at
		FROM audit_log `+tail, args...)
	entries, err := store.Collect(rows, err, func(r store.Scanner) (Entry, error) {
		var e Entry
		var uid sql.NullString
		var detail string
		var at int64
		err := r.Scan(&e.ID, &e.WorkspaceID, &uid, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &detail, &e.IP, &at)
		e.ActorUserID, e.Detail, e.CreatedAt = uid.String, json.RawMessage(detail), store.Time(at)
		return e, err
	})
	if err != nil {
		return nil, "", err
	}
	entries, next := store.Page(pq, entries, func(e Entry) string { return e.ID })
	return entries, next, nil
}
