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

// List returns a workspace's entries newest first, before the cursor id when given.
func List(ctx context.Context, db *store.DB, workspaceID, before string, limit int) ([]Entry, error) {
	q := `SELECT id, workspace_id, actor_user_id, actor, action, target_type, target_id, detail, ip, created_at
		FROM audit_log WHERE workspace_id = ?`
	args := []any{workspaceID}
	if before != "" {
		q += ` AND id < ?`
		args = append(args, before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := db.Query(ctx, q, args...)
	return store.Collect(rows, err, func(r store.Scanner) (Entry, error) {
		var e Entry
		var uid sql.NullString
		var detail string
		var at int64
		err := r.Scan(&e.ID, &e.WorkspaceID, &uid, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &detail, &e.IP, &at)
		e.ActorUserID, e.Detail, e.CreatedAt = uid.String, json.RawMessage(detail), store.Time(at)
		return e, err
	})
}
