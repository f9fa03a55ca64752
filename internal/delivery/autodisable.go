package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/relaydesk/relaydesk/internal/store"
)

// FailingFor is how long an endpoint's attempts must all have failed before it is
// disabled (docs/architecture.md §2). Any success resets the clock.
const FailingFor = 5 * 24 * time.Hour

// ReasonFailing is the disabled reason the workspace sees.
const ReasonFailing = "every delivery failed for 5 days"

func (s *Service) workAutoDisable(ctx context.Context, _ *river.Job[autoDisableArgs]) error {
	_, err := s.AutoDisable(ctx)
	return err
}

// AutoDisable disables every endpoint whose attempts have all failed since at least
// FailingFor ago (the first failure after its last success is that old, and it is still
// being tried: an attempt failed within the last day). It returns the endpoints disabled.
// It runs as a periodic job on the elected leader.
func (s *Service) AutoDisable(ctx context.Context) ([][2]string, error) {
	targets, err := s.targets()
	if err != nil {
		return nil, err
	}
	now := s.now()
	rows, err := s.DB.Query(ctx, `SELECT a.workspace_id, a.endpoint_id FROM attempts a
		WHERE a.started_at > COALESCE((SELECT MAX(d.delivered_at) FROM deliveries d WHERE d.endpoint_id = a.endpoint_id), 0)
		GROUP BY a.workspace_id, a.endpoint_id
		HAVING MIN(a.started_at) <= ? AND MAX(a.started_at) >= ?`,
		store.Micros(now.Add(-FailingFor)), store.Micros(now.Add(-24*time.Hour)))
	cands, err := store.Collect(rows, err, func(r store.Scanner) ([2]string, error) {
		var c [2]string
		return c, r.Scan(&c[0], &c[1])
	})
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, c := range cands {
		t, err := targets.Target(ctx, c[0], c[1])
		if errors.Is(err, store.ErrNotFound) || (err == nil && !t.Enabled) {
			continue
		}
		if err != nil {
			return out, err
		}
		if err := targets.Disable(ctx, c[0], c[1], ReasonFailing); err != nil {
			return out, err
		}
		s.Log.Warn("endpoint disabled: every delivery failed for 5 days", "workspace", c[0], "endpoint", c[1])
		s.disabled(ctx, c[0], c[1], ReasonFailing)
		out = append(out, c)
	}
	return out, nil
}
