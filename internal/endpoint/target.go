package endpoint

import (
	"context"
	"errors"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// Service is what the delivery engine resolves endpoints with.
var _ delivery.Targets = (*Service)(nil)

// Target is what a delivery attempt needs: the endpoint's URL and state, and the
// secrets and signing keys that sign now. Both halves come from the in-process cache (see targetCache), so
// a steady stream of deliveries costs no query and no decryption per attempt.
// It returns store.ErrNotFound when the endpoint is gone.
func (s *Service) Target(ctx context.Context, workspaceID, endpointID string) (delivery.Target, error) {
	ce, err := s.cachedEndpoint(ctx, workspaceID, endpointID)
	if err != nil {
		return delivery.Target{}, err
	}
	if ce.missing {
		return delivery.Target{}, store.ErrNotFound
	}
	cs, err := s.cachedSecrets(ctx, workspaceID)
	if err != nil {
		return delivery.Target{}, err
	}
	now := s.now()
	return delivery.Target{URL: ce.e.URL, Enabled: ce.e.Enabled, DisabledReason: ce.e.DisabledReason, Refused: ce.e.Refused,
		Secrets: cs.active(now), Keys: cs.activeKeys(now), FIFO: ce.e.Ordering == OrderingFIFO, MaxPerSecond: ce.e.MaxPerSecond}, nil
}

// MaxReason bounds a disabled reason.
const MaxReason = 500

// Disable turns an endpoint off on relaydesk's own decision (the receiver answered 410
// Gone, or it failed for 5 days), keeping reason for the workspace to see, and records it in
// the audit log as "system" whatever principal ctx carries. Disabling an endpoint already
// disabled for the same reason does nothing.
func (s *Service) Disable(ctx context.Context, workspaceID, endpointID, reason string) error {
	reason = strings.TrimSpace(reason)
	if r := []rune(reason); len(r) > MaxReason {
		reason = string(r[:MaxReason])
	}
	if reason == "" {
		reason = "disabled by relaydesk"
	}
	ctx = access.With(ctx, nil) // the actor is the system, not whoever triggered the attempt
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		e, err := getTx(ctx, tx, workspaceID, endpointID)
		if err != nil {
			return err
		}
		if !e.Enabled && e.DisabledReason == reason {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE endpoints SET enabled = FALSE, disabled_reason = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			reason, store.Micros(s.now()), workspaceID, endpointID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "endpoint.disable", "endpoint", endpointID, map[string]any{"reason": reason})
	})
	s.cache.endpoints.forget(endpointKey{workspaceID, endpointID})
	return err
}
