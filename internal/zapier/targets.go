package zapier

import (
	"context"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/webhook"
)

// SecretSource gives the secrets that sign a workspace's deliveries now (the endpoint
// package's signing secret).
type SecretSource interface {
	Secrets(ctx context.Context, workspaceID string) ([]webhook.Secret, error)
}

// Targets is the delivery engine's delivery.Targets for both kinds of target: ids starting
// with HookIDPrefix are Zapier hooks, everything else goes to Endpoints. A hook delivers
// like an endpoint — the same signing secret, retries, attempt log and dial-time address
// policy — and is treated as disabled while its owner lacks developer ≥ editor.
type Targets struct {
	Endpoints delivery.Targets
	Hooks     *Hooks
	Secrets   SecretSource
}

// Target implements delivery.Targets.
func (t Targets) Target(ctx context.Context, workspaceID, id string) (delivery.Target, error) {
	if !IsHookID(id) {
		return t.Endpoints.Target(ctx, workspaceID, id)
	}
	ht, err := t.Hooks.Target(ctx, workspaceID, id)
	if err != nil {
		return delivery.Target{}, err
	}
	out := delivery.Target{URL: ht.URL, Enabled: ht.Enabled, DisabledReason: ht.Reason}
	if ht.Enabled {
		if out.Secrets, err = t.Secrets.Secrets(ctx, workspaceID); err != nil {
			return delivery.Target{}, err
		}
	}
	return out, nil
}

// Disable implements delivery.Targets. For a hook, being disabled by relaydesk (410 Gone,
// or failing for days) removes it: Zapier's REST hook contract reads 410 as "unsubscribe",
// and a Zap that is switched on again subscribes anew.
func (t Targets) Disable(ctx context.Context, workspaceID, id, reason string) error {
	if !IsHookID(id) {
		return t.Endpoints.Disable(ctx, workspaceID, id, reason)
	}
	return t.Hooks.Remove(ctx, workspaceID, id, reason)
}
