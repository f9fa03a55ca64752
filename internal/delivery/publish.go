package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/relaydesk/relaydesk/internal/store"
)

// Skip reasons, shown to the workspace.
const (
	ReasonEndpointGone     = "the endpoint no longer exists"
	ReasonEndpointDisabled = "the endpoint is disabled"
	ReasonNoSecret         = "the workspace has no signing secret"
	ReasonGone             = "the receiver answered 410 Gone"
	ReasonRefused          = "the address policy refuses the endpoint's URL"
)

// rowsPerInsert keeps multi-row INSERTs well under both engines' parameter limits.
const rowsPerInsert = 500

// Publication is one event to store and the endpoints it goes to.
type Publication struct {
	Event       Event
	EndpointIDs []string
}

// Publish stores ev and one delivery per endpoint id (duplicates ignored), in tx: a
// delivery row is its queue entry, so nothing the caller commits can be lost between commit
// and enqueue, and the workers are woken once tx commits. An endpoint that is gone or
// disabled, or a workspace without a signing secret, gets a delivery recorded as skipped
// with the reason, never queued. A delivery to a fifo endpoint waits behind the endpoint's
// head (fifo.go). ev.ID and ev.CreatedAt are filled in when empty.
func (s *Service) Publish(ctx context.Context, tx *store.Tx, ev Event, endpointIDs []string) ([]Delivery, error) {
	out, err := s.PublishMany(ctx, tx, []Publication{{Event: ev, EndpointIDs: endpointIDs}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// PublishMany is Publish for a whole request: its events and deliveries are written with
// one multi-row statement each (per 500 rows), not two statements per event.
func (s *Service) PublishMany(ctx context.Context, tx *store.Tx, pubs []Publication) ([][]Delivery, error) {
	targets, err := s.targets()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	evs := make([]Event, len(pubs))
	for i, p := range pubs {
		ev := p.Event
		if ev.WorkspaceID == "" || ev.Name == "" {
			return nil, errors.New("delivery: event needs a workspace and a name")
		}
		if ev.ID == "" {
			ev.ID = store.NewID()
		}
		if ev.CreatedAt.IsZero() {
			ev.CreatedAt = now
		}
		evs[i] = ev
	}
	if err := insertEvents(ctx, tx, evs); err != nil {
		return nil, err
	}

	out := make([][]Delivery, len(pubs))
	var all []Delivery
	var ordered []string // fifo endpoints: their deliveries wait for promote
	queued := false
	for i, p := range pubs {
		ev := evs[i]
		seen := make(map[string]bool, len(p.EndpointIDs))
		ds := make([]Delivery, 0, len(p.EndpointIDs))
		for _, epID := range p.EndpointIDs {
			if epID == "" || seen[epID] {
				continue
			}
			seen[epID] = true
			d := Delivery{ID: store.NewID(), WorkspaceID: ev.WorkspaceID, EventID: ev.ID, EndpointID: epID, EventName: ev.Name,
				State: Pending, CreatedAt: now, UpdatedAt: now}
			t, err := targets.Target(ctx, ev.WorkspaceID, epID)
			reason, err := undeliverable(t, err)
			switch {
			case err != nil:
				return nil, fmt.Errorf("endpoint %s: %w", epID, err)
			case reason != "":
				d.State, d.Reason = Skipped, reason
			case t.FIFO:
				d.fifo = true // waiting, next_attempt_at NULL
				ordered = append(ordered, epID)
			default:
				next := now
				d.NextAttemptAt = &next
				queued = true
			}
			ds = append(ds, d)
		}
		out[i] = ds
		all = append(all, ds...)
	}
	if err := insertDeliveries(ctx, tx, all); err != nil {
		return nil, err
	}
	if len(ordered) > 0 {
		promoted, err := promote(ctx, tx, now, ordered)
		if err != nil {
			return nil, err
		}
		queued = queued || promoted
	}
	if queued {
		tx.AfterCommit(s.wake)
	}
	s.metrics.published(all)
	return out, nil
}

func insertEvents(ctx context.Context, tx *store.Tx, evs []Event) error {
	// Bodies are up to 256 KiB each: fewer rows per statement keeps one statement's size sane.
	return store.InsertRows(ctx, tx, `events (id, workspace_id, name, data_type, body, idempotency_key, created_at)`, 50, evs, func(ev Event) []any {
		var idem any
		if ev.IdempotencyKey != "" {
			idem = ev.IdempotencyKey
		}
		return []any{ev.ID, ev.WorkspaceID, ev.Name, ev.DataType, string(ev.Body), idem, store.Micros(ev.CreatedAt)}
	})
}

// undeliverable says why nothing can be delivered to the target a Targets lookup returned
// ("" when it can), or the lookup's own error. Publish skips with the reason, an attempt
// cancels with it, a manual retry refuses with it.
func undeliverable(t Target, err error) (string, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ReasonEndpointGone, nil
	case err != nil:
		return "", err
	case !t.Enabled:
		return disabledReason(t), nil
	case t.Refused != "":
		return ReasonRefused + ": " + t.Refused, nil
	case len(t.Secrets) == 0:
		return ReasonNoSecret, nil
	}
	return "", nil
}

func disabledReason(t Target) string {
	if t.DisabledReason != "" {
		return ReasonEndpointDisabled + ": " + t.DisabledReason
	}
	return ReasonEndpointDisabled
}

func insertDeliveries(ctx context.Context, tx *store.Tx, ds []Delivery) error {
	return store.InsertRows(ctx, tx, `deliveries (id, workspace_id, event_id, endpoint_id, event_name, state, reason, next_attempt_at, created_at, updated_at, fifo)`,
		rowsPerInsert, ds, func(d Delivery) []any {
			return []any{d.ID, d.WorkspaceID, d.EventID, d.EndpointID, d.EventName, d.State, d.Reason,
				store.NullMicros(d.NextAttemptAt), store.Micros(d.CreatedAt), store.Micros(d.UpdatedAt), d.fifo}
		})
}
