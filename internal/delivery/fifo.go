package delivery

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Publish order per endpoint (issue 14; docs/architecture.md, "Ordering and rate limits").
//
// A fifo endpoint's deliveries are inserted waiting: pending with next_attempt_at NULL, so
// the claim never sees them. Exactly one of them, the head, has next_attempt_at set; it is
// claimed, retried and leased like any other delivery, and holds the rest back by being
// there. When the head becomes final (delivered, failed for good, cancelled, skipped) the
// transaction that makes it final promotes the oldest waiting delivery. Promotion runs
// under a per-endpoint lock (PostgreSQL: a transaction advisory lock; SQLite has one
// writer), and its statement starts after the lock is held, so it sees every head and
// waiting row committed before — two instances never queue two heads.

// ReasonSkipped is why a delivery a member skipped was cancelled.
const ReasonSkipped = "skipped by a member to release the deliveries behind it"

// Errors of the ordering operations.
var (
	ErrNotHead = errors.New("only the delivery at the head of the endpoint's ordered queue can be skipped")
	ErrWaiting = errors.New("this delivery waits its turn: its endpoint delivers in publish order, one at a time")
)

// FIFOQueue is where an ordered endpoint's queue stands.
type FIFOQueue struct {
	// Head is the delivery being delivered or retried now; nil when nothing waits.
	Head *Delivery `json:"head,omitempty"`
	// Waiting is how many deliveries wait behind it.
	Waiting int `json:"waiting"`
	// Blocked: the head has failed at least once and holds the rest back until it
	// succeeds, fails for good or is skipped.
	Blocked bool `json:"blocked"`
}

// lockEndpoints takes, in id order (so two transactions never wait on each other in a
// circle), each endpoint's ordering lock until tx ends.
func lockEndpoints(ctx context.Context, tx *store.Tx, eps []string) error {
	if tx.Dialect() != store.Postgres {
		return nil // one writer: the transaction is alone
	}
	for _, ep := range eps {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, "relaydesk.fifo."+ep); err != nil {
			return err
		}
	}
	return nil
}

// promote queues the next waiting delivery of each fifo endpoint that has no head, in tx.
// It reports whether any was queued.
func promote(ctx context.Context, tx *store.Tx, now time.Time, eps []string) (bool, error) {
	eps = slices.Compact(slices.Sorted(slices.Values(eps)))
	if err := lockEndpoints(ctx, tx, eps); err != nil {
		return false, err
	}
	queued := false
	for _, ep := range eps {
		// The literal predicates match the partial indexes deliveries_fifo_waiting and
		// deliveries_fifo_head (SQLite uses a partial index only for a query that repeats
		// its WHERE terms).
		res, err := tx.Exec(ctx, `UPDATE deliveries SET next_attempt_at = ?
			WHERE id = (SELECT id FROM deliveries WHERE endpoint_id = ? AND fifo AND next_attempt_at IS NULL AND (state = 'pending' OR manual)
				ORDER BY created_at, id LIMIT 1)
			AND NOT EXISTS (SELECT 1 FROM deliveries WHERE endpoint_id = ? AND fifo AND next_attempt_at IS NOT NULL)`,
			store.Micros(now), ep, ep)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			queued = true
		}
	}
	return queued, nil
}

// Queue says where an endpoint's ordered queue stands.
func (s *Service) Queue(ctx context.Context, workspaceID, endpointID string) (FIFOQueue, error) {
	var q FIFOQueue
	d, err := scanDelivery(s.DB.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries
		WHERE endpoint_id = ? AND fifo AND next_attempt_at IS NOT NULL AND workspace_id = ? LIMIT 1`, endpointID, workspaceID))
	switch {
	case err == nil:
		q.Head = &d
		q.Blocked = d.Attempts > 0 || d.State == Retrying
	case !errors.Is(err, store.ErrNotFound):
		return q, err
	}
	err = s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries
		WHERE endpoint_id = ? AND fifo AND next_attempt_at IS NULL AND (state = 'pending' OR manual) AND workspace_id = ?`,
		endpointID, workspaceID).Scan(&q.Waiting)
	return q, err
}

// Skip cancels the head of an ordered endpoint's queue and promotes the next delivery:
// what a member does when a delivery will never succeed and holds the rest back. A head
// with an attempt in flight cannot be skipped (ErrInFlight); any other delivery is not
// the head (ErrNotHead).
func (s *Service) Skip(ctx context.Context, workspaceID, deliveryID string) (Delivery, error) {
	var out Delivery
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		d, err := scanDelivery(tx.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE workspace_id = ? AND id = ?`, workspaceID, deliveryID))
		if err != nil {
			return err
		}
		if err := lockEndpoints(ctx, tx, []string{d.EndpointID}); err != nil {
			return err
		}
		// Read again under the lock: the head may have moved on meanwhile.
		var fifo bool
		var next *int64
		if err := tx.QueryRow(ctx, `SELECT fifo, next_attempt_at, state FROM deliveries WHERE id = ?`, deliveryID).Scan(&fifo, &next, &d.State); err != nil {
			return err
		}
		now := s.now()
		switch {
		case !fifo || next == nil || d.State.Final():
			return ErrNotHead
		case d.State == Delivering && *next > store.Micros(now):
			return ErrInFlight
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET state = ?, reason = ?, next_attempt_at = NULL, manual = FALSE, resume_at = NULL, updated_at = ? WHERE id = ?`,
			Cancelled, ReasonSkipped, store.Micros(now), deliveryID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, workspaceID, "delivery.skip", "delivery", deliveryID,
			map[string]any{"endpointId": d.EndpointID, "state": d.State, "attempts": d.Attempts}); err != nil {
			return err
		}
		if _, err := promote(ctx, tx, now, []string{d.EndpointID}); err != nil {
			return err
		}
		tx.AfterCommit(s.wake)
		d.State, d.Reason, d.NextAttemptAt, d.UpdatedAt = Cancelled, ReasonSkipped, nil, store.Time(store.Micros(now))
		out = d
		return nil
	})
	return out, err
}

// ReleaseOrder lets the waiting deliveries of an endpoint go, all due now, once it no
// longer delivers in order (the endpoint service calls it in the transaction that turns
// ordering off). What is in flight finishes as it is.
func (s *Service) ReleaseOrder(ctx context.Context, tx *store.Tx, endpointID string) error {
	if err := lockEndpoints(ctx, tx, []string{endpointID}); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE deliveries SET fifo = FALSE, next_attempt_at = COALESCE(next_attempt_at, ?)
		WHERE endpoint_id = ? AND fifo AND (next_attempt_at IS NOT NULL OR (next_attempt_at IS NULL AND (state = 'pending' OR manual)))`,
		store.Micros(s.now()), endpointID)
	if err == nil {
		tx.AfterCommit(s.wake)
	}
	return err
}
