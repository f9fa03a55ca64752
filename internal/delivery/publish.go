package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"

	"github.com/relaydesk/relaydesk/internal/store"
)

// Skip reasons, shown to the workspace.
const (
	ReasonEndpointGone     = "the endpoint no longer exists"
	ReasonEndpointDisabled = "the endpoint is disabled"
	ReasonNoSecret         = "the workspace has no signing secret"
	ReasonGone             = "the receiver answered 410 Gone"
)

// rowsPerInsert keeps multi-row INSERTs well under both engines' parameter limits.
const rowsPerInsert = 500

// Publish stores ev and one delivery per endpoint id (duplicates ignored), and inserts their
// jobs, all in tx: nothing the caller commits can be lost between commit and enqueue. An
// endpoint that is gone or disabled, or a workspace without a signing secret, gets a
// delivery recorded as skipped with the reason, and no job. ev.ID and ev.CreatedAt are
// filled in when empty.
func (s *Service) Publish(ctx context.Context, tx *store.Tx, ev Event, endpointIDs []string) ([]Delivery, error) {
	targets, err := s.targets()
	if err != nil {
		return nil, err
	}
	if ev.WorkspaceID == "" || ev.Name == "" {
		return nil, errors.New("delivery: event needs a workspace and a name")
	}
	now := s.now().UTC()
	if ev.ID == "" {
		ev.ID = store.NewID()
	}
	if ev.CreatedAt.IsZero() {
		ev.CreatedAt = now
	}
	var idem any
	if ev.IdempotencyKey != "" {
		idem = ev.IdempotencyKey
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events (id, workspace_id, name, data_type, body, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, ev.WorkspaceID, ev.Name, ev.DataType, string(ev.Body), idem, store.Micros(ev.CreatedAt)); err != nil {
		return nil, err
	}

	seen := make(map[string]bool, len(endpointIDs))
	out := make([]Delivery, 0, len(endpointIDs))
	for _, epID := range endpointIDs {
		if epID == "" || seen[epID] {
			continue
		}
		seen[epID] = true
		d := Delivery{ID: store.NewID(), WorkspaceID: ev.WorkspaceID, EventID: ev.ID, EndpointID: epID, EventName: ev.Name,
			State: Pending, CreatedAt: now, UpdatedAt: now}
		t, err := targets.Target(ctx, ev.WorkspaceID, epID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			d.State, d.Reason = Skipped, ReasonEndpointGone
		case err != nil:
			return nil, fmt.Errorf("endpoint %s: %w", epID, err)
		case !t.Enabled:
			d.State, d.Reason = Skipped, disabledReason(t)
		case len(t.Secrets) == 0:
			d.State, d.Reason = Skipped, ReasonNoSecret
		default:
			next := now
			d.NextAttemptAt = &next
		}
		out = append(out, d)
	}
	if err := insertDeliveries(ctx, tx, out); err != nil {
		return nil, err
	}
	var jobs []river.InsertManyParams
	for _, d := range out {
		if d.State == Pending {
			jobs = append(jobs, river.InsertManyParams{Args: attemptArgs{DeliveryID: d.ID, Seq: 1}})
		}
	}
	if len(jobs) > 0 {
		if _, err := s.river.InsertManyFastTx(ctx, tx.Tx, jobs); err != nil {
			return nil, fmt.Errorf("enqueue deliveries: %w", err)
		}
	}
	s.metrics.published(out)
	return out, nil
}

func disabledReason(t Target) string {
	if t.DisabledReason != "" {
		return ReasonEndpointDisabled + ": " + t.DisabledReason
	}
	return ReasonEndpointDisabled
}

func insertDeliveries(ctx context.Context, tx *store.Tx, ds []Delivery) error {
	const cols = 11
	for len(ds) > 0 {
		batch := ds[:min(len(ds), rowsPerInsert)]
		ds = ds[len(batch):]
		var q strings.Builder
		q.WriteString(`INSERT INTO deliveries (id, workspace_id, event_id, endpoint_id, event_name, state, reason, seq, next_attempt_at, created_at, updated_at) VALUES `)
		args := make([]any, 0, len(batch)*cols)
		for i, d := range batch {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			seq := 0
			if d.State == Pending {
				seq = 1
			}
			args = append(args, d.ID, d.WorkspaceID, d.EventID, d.EndpointID, d.EventName, d.State, d.Reason, seq,
				store.NullMicros(d.NextAttemptAt), store.Micros(d.CreatedAt), store.Micros(d.UpdatedAt))
		}
		if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
