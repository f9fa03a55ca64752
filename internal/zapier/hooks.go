// Package zapier is Zapier's REST hooks on relaydesk's side (docs/architecture.md §7): the
// zapier_hooks table, subscribing and unsubscribing, and hooks as delivery targets. The
// Zapier Platform app itself is integrations/zapier.
package zapier

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// HookIDPrefix starts every Zapier hook id. Deliveries name their target by id; the
// prefix is how a delivery target that is a hook is told from an endpoint.
const HookIDPrefix = "hook_"

// MaxHooksPerWorkspace bounds the subscriptions of one workspace.
const MaxHooksPerWorkspace = 100

// HookLevel is what a hook's owner needs, at subscription and at every delivery.
const HookLevel = access.Editor

// IsHookID reports whether a delivery target id names a Zapier hook.
func IsHookID(id string) bool { return strings.HasPrefix(id, HookIDPrefix) }

// Hook is a Zapier REST hook: deliveries of one event name to one target URL.
type Hook struct {
	ID         string    `json:"id"`
	TargetURL  string    `json:"targetUrl"`
	Event      string    `json:"event"`
	UserID     string    `json:"userId"`
	OwnerEmail string    `json:"ownerEmail"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Hooks stores Zapier hooks.
type Hooks struct {
	DB *store.DB
	// Policy is the outbound address policy checked when a hook is saved (the delivery
	// client checks it again at dial time).
	Policy egress.Policy
}

// Subscribe saves a hook owned by userID (made with apiKeyID, empty for a session) and
// records it in the audit log. The target URL must pass the address policy and the event
// must be in the catalog.
func (h *Hooks) Subscribe(ctx context.Context, workspaceID, userID, apiKeyID, targetURL, eventName string) (Hook, error) {
	if _, ok := event.Lookup(eventName); !ok {
		names := []string{}
		for _, t := range event.Types() {
			names = append(names, t.Name)
		}
		return Hook{}, &input.Error{Reason: "event: unknown event " + quote(eventName) + "; known events are " + strings.Join(names, ", ")}
	}
	u, err := h.Policy.CheckURL(ctx, targetURL)
	if err != nil {
		return Hook{}, &input.Error{Reason: "targetUrl: " + err.Error()}
	}
	hk := Hook{ID: HookIDPrefix + store.NewID(), TargetURL: u.String(), Event: eventName, UserID: userID,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	err = h.DB.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM zapier_hooks WHERE workspace_id = ?`, workspaceID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxHooksPerWorkspace {
			return &input.Error{Reason: "this workspace has too many Zapier hooks; remove some first"}
		}
		if err := tx.QueryRow(ctx, `SELECT email FROM users WHERE id = ?`, userID).Scan(&hk.OwnerEmail); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO zapier_hooks (id, workspace_id, user_id, api_key_id, target_url, event, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, hk.ID, workspaceID, userID, sql.NullString{String: apiKeyID, Valid: apiKeyID != ""},
			hk.TargetURL, eventName, store.Micros(hk.CreatedAt)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "zapier_hook.create", "zapier_hook", hk.ID,
			map[string]any{"event": eventName, "targetUrl": redactURL(hk.TargetURL)})
	})
	return hk, err
}

const hookColumns = `h.id, h.target_url, h.event, h.user_id, u.email, h.created_at`

func scanHook(sc store.Scanner) (Hook, error) {
	var hk Hook
	var created int64
	if err := sc.Scan(&hk.ID, &hk.TargetURL, &hk.Event, &hk.UserID, &hk.OwnerEmail, &created); err != nil {
		return hk, err
	}
	hk.CreatedAt = store.Time(created)
	return hk, nil
}

// List returns the workspace's hooks, newest first: only userID's when it is not empty.
func (h *Hooks) List(ctx context.Context, workspaceID, userID string) ([]Hook, error) {
	q := `SELECT ` + hookColumns + ` FROM zapier_hooks h JOIN users u ON u.id = h.user_id WHERE h.workspace_id = ?`
	args := []any{workspaceID}
	if userID != "" {
		q += ` AND h.user_id = ?`
		args = append(args, userID)
	}
	rows, err := h.DB.Query(ctx, q+` ORDER BY h.id DESC`, args...)
	return store.Collect(rows, err, scanHook)
}

// Get returns one hook of the workspace; with userID set, only if it is that member's.
func (h *Hooks) Get(ctx context.Context, workspaceID, id, userID string) (Hook, error) {
	q := `SELECT ` + hookColumns + ` FROM zapier_hooks h JOIN users u ON u.id = h.user_id WHERE h.workspace_id = ? AND h.id = ?`
	args := []any{workspaceID, id}
	if userID != "" {
		q += ` AND h.user_id = ?`
		args = append(args, userID)
	}
	hk, err := scanHook(h.DB.QueryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return hk, store.ErrNotFound
	}
	return hk, err
}

// Unsubscribe deletes a hook; with userID set, only that member's. Deliveries already
// queued for it are skipped when their turn comes (the target is gone).
func (h *Hooks) Unsubscribe(ctx context.Context, workspaceID, id, userID string) error {
	return h.DB.InTx(ctx, func(tx *store.Tx) error {
		q := `DELETE FROM zapier_hooks WHERE workspace_id = ? AND id = ?`
		args := []any{workspaceID, id}
		if userID != "" {
			q += ` AND user_id = ?`
			args = append(args, userID)
		}
		var ev, target string
		err := tx.QueryRow(ctx, q+` RETURNING event, target_url`, args...).Scan(&ev, &target)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "zapier_hook.delete", "zapier_hook", id,
			map[string]any{"event": ev, "targetUrl": redactURL(target)})
	})
}

// SubscribedIDs returns the ids of the workspace's hooks subscribed to eventName whose
// owner currently holds developer ≥ editor there. The producer API adds them to the
// target ids of a published event, inside its transaction (q).
func (h *Hooks) SubscribedIDs(ctx context.Context, q store.Querier, workspaceID, eventName string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT h.id, r.levels FROM zapier_hooks h
		JOIN members m ON m.workspace_id = h.workspace_id AND m.user_id = h.user_id
		JOIN roles r ON r.id = m.role_id
		WHERE h.workspace_id = ? AND h.event = ? ORDER BY h.id`, workspaceID, eventName)
	var out []string
	err = store.Each(rows, err, func(r store.Scanner) error {
		var id, levels string
		if err := r.Scan(&id, &levels); err != nil {
			return err
		}
		if ls, err := access.DecodeLevels(levels); err == nil && ls.Of(access.Developer) >= HookLevel {
			out = append(out, id)
		}
		return nil
	})
	return out, err
}

// HookTarget is where a hook's delivery goes and whether it may go now.
type HookTarget struct {
	URL string
	// Enabled is false when the hook's owner is no longer a member or no longer holds
	// developer ≥ editor in the workspace; Reason then says why (shown with the skipped
	// delivery).
	Enabled bool
	Reason  string
}

// Target resolves a hook id for the delivery engine, checking its owner's level afresh.
// It returns store.ErrNotFound when the hook was removed.
func (h *Hooks) Target(ctx context.Context, workspaceID, id string) (HookTarget, error) {
	var url string
	var levels sql.NullString
	err := h.DB.QueryRow(ctx, `SELECT h.target_url, r.levels FROM zapier_hooks h
		LEFT JOIN members m ON m.workspace_id = h.workspace_id AND m.user_id = h.user_id
		LEFT JOIN roles r ON r.id = m.role_id
		WHERE h.workspace_id = ? AND h.id = ?`, workspaceID, id).Scan(&url, &levels)
	if errors.Is(err, sql.ErrNoRows) {
		return HookTarget{}, store.ErrNotFound
	}
	if err != nil {
		return HookTarget{}, err
	}
	t := HookTarget{URL: url}
	if !levels.Valid {
		t.Reason = "the Zapier hook's owner is no longer a member of the workspace"
		return t, nil
	}
	ls, err := access.DecodeLevels(levels.String)
	if err != nil {
		return HookTarget{}, err
	}
	if ls.Of(access.Developer) < HookLevel {
		t.Reason = "the Zapier hook's owner no longer has developer ≥ editor"
		return t, nil
	}
	t.Enabled = true
	return t, nil
}

// Remove deletes a hook on relaydesk's own decision (its target answered 410 Gone, which
// in the REST hook contract means "unsubscribe", or it failed for days), recording the
// reason in the audit log. A hook already gone is not an error.
func (h *Hooks) Remove(ctx context.Context, workspaceID, id, reason string) error {
	ctx = access.With(ctx, nil) // the actor is the system, not whoever triggered the attempt
	return h.DB.InTx(ctx, func(tx *store.Tx) error {
		var ev, target string
		err := tx.QueryRow(ctx, `DELETE FROM zapier_hooks WHERE workspace_id = ? AND id = ? RETURNING event, target_url`,
			workspaceID, id).Scan(&ev, &target)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "zapier_hook.remove", "zapier_hook", id,
			map[string]any{"event": ev, "targetUrl": redactURL(target), "reason": reason})
	})
}

// RecentEvents returns up to limit of the workspace's latest events of that name, newest
// first, as the exact envelopes receivers got (the samples Zapier shows).
func (h *Hooks) RecentEvents(ctx context.Context, workspaceID, name string, limit int) ([]json.RawMessage, error) {
	rows, err := h.DB.Query(ctx, `SELECT body FROM events WHERE workspace_id = ? AND name = ? ORDER BY id DESC LIMIT ?`,
		workspaceID, name, limit)
	return store.Collect(rows, err, func(r store.Scanner) (json.RawMessage, error) {
		var body string
		err := r.Scan(&body)
		return json.RawMessage(body), err
	})
}

// redactURL keeps a target URL's scheme, host and path for the audit log: Zapier's hook
// URLs carry no credentials in the query, but others might.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

func quote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return `"` + s + `"`
}

// RemoveForKey deletes, in tx, the hooks subscribed with an API key that is being revoked
// and says how many there were: a hook belongs to the key that subscribed it.
func RemoveForKey(ctx context.Context, tx *store.Tx, workspaceID, apiKeyID string) (int64, error) {
	res, err := tx.Exec(ctx, `DELETE FROM zapier_hooks WHERE workspace_id = ? AND api_key_id = ?`, workspaceID, apiKeyID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RemoveForMember deletes, in tx, the hooks of a member who is being removed from the
// workspace.
func RemoveForMember(ctx context.Context, tx *store.Tx, workspaceID, userID string) error {
	_, err := tx.Exec(ctx, `DELETE FROM zapier_hooks WHERE workspace_id = ? AND user_id = ?`, workspaceID, userID)
	return err
}
