package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/health"
	"github.com/relaydesk/relaydesk/internal/notify"
	"github.com/relaydesk/relaydesk/webhook"
)

// retention maps the config (0 keeps everything) to delivery.Options (negative keeps
// everything, 0 is the default).
func retention(r time.Duration) time.Duration {
	if r == 0 {
		return -1
	}
	return r
}

// buildOperability wires endpoint health, notifications (in-app, email through the team
// mailer, the platform's operational webhook) and the operators' queue page (issue 11).
func (a *App) buildOperability(ctx context.Context) error {
	a.Health = &health.Service{DB: a.DB}
	a.Notify = &notify.Service{DB: a.DB, Log: a.Log, PublicURL: a.Config.PublicURL}
	if a.Team != nil && a.Team.Mailer != nil {
		a.Notify.Mailer = a.Team.Mailer
	}
	if a.Config.PlatformWebhookURL != "" {
		policy := a.Config.EgressPolicy()
		if _, err := policy.CheckURL(ctx, a.Config.PlatformWebhookURL); err != nil {
			return fmt.Errorf("%s: %w", EnvPlatformHook, err)
		}
		sec, err := webhook.ParseSecret(a.Config.PlatformWebhookSecret)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvPlatformKey, err)
		}
		a.Notify.Platform = &notify.Platform{URL: a.Config.PlatformWebhookURL, Secret: sec,
			Client: policy.Client(a.Config.DeliveryTimeout), UserAgent: "relaydesk/" + a.Config.Version}
	}
	a.Deliveries.Notifier = a.Notify

	// Queue inspection for operators: a platform token, never a member, never public.
	a.Routes.Add(access.Route{Kind: "ops", Method: http.MethodGet, Path: "/ops/queue", Need: access.ByPlatform})
	a.mux.Handle("GET /ops/queue", &health.QueuePage{Need: access.ByPlatform, Auth: a.Auth.Principal, Stats: a.Deliveries.QueueStats, Log: a.Log})
	return nil
}
