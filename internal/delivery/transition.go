package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

// Endpoint health transitions the engine reports to its Notifier (issue 11).
const (
	// EndpointFailing: the first failed attempt after a success (or ever).
	EndpointFailing = "endpoint.failing"
	// EndpointRecovered: the first successful attempt after failures.
	EndpointRecovered = "endpoint.recovered"
	// EndpointDisabled: relaydesk disabled the endpoint (410 Gone, or 5 days failing).
	EndpointDisabled = "endpoint.disabled"
)

// Transition is a change of an endpoint's health.
type Transition struct {
	Kind        string
	WorkspaceID string
	EndpointID  string
	// Reason: the failing attempt's error ("HTTP 500", "timeout: …") or why it was disabled.
	Reason string
	At     time.Time
}

// Notifier hears about transitions. It is called after the transaction that recorded the
// transition committed, once per transition (the endpoints row decides who reports it),
// and must not block: slow work (email, webhooks) belongs in the background.
type Notifier interface {
	EndpointChanged(ctx context.Context, t Transition)
}

// healthTTL bounds how long this process trusts its memory of an endpoint's health and
// skips the endpoints UPDATE. Another process may have flipped it meanwhile; after
// healthTTL this one writes again, so a wrong state lasts at most that long.
const healthTTL = 10 * time.Second

type healthMemo struct {
	mu sync.Mutex
	m  map[string]healthSeen
}

type healthSeen struct {
	failing bool
	at      time.Time
}

func (h *healthMemo) known(endpointID string, failing bool, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.m[endpointID]
	return ok && s.failing == failing && now.Sub(s.at) < healthTTL && now.Sub(s.at) >= 0
}

func (h *healthMemo) set(endpointID string, failing bool, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) > 100_000 {
		h.m = map[string]healthSeen{}
	}
	h.m[endpointID] = healthSeen{failing, now}
}

// markHealth records in tx whether the endpoint is failing after this attempt and returns
// the transition it caused, if any. Steady states cost nothing: while this process saw the
// same state within healthTTL it does not touch the endpoints row; otherwise it is one
// UPDATE by primary key that matches a row only on a transition.
func (s *Service) markHealth(ctx context.Context, tx *store.Tx, c *claimed, out Outcome, lastError string, now time.Time) (*Transition, error) {
	failing := out != Delivered
	if s.health.known(c.EndpointID, failing, now) {
		return nil, nil
	}
	q := `UPDATE endpoints SET failing_since = NULL WHERE workspace_id = ? AND id = ? AND failing_since IS NOT NULL`
	args := []any{c.WorkspaceID, c.EndpointID}
	kind := EndpointRecovered
	if failing {
		q = `UPDATE endpoints SET failing_since = ? WHERE workspace_id = ? AND id = ? AND failing_since IS NULL`
		args = append([]any{store.Micros(now)}, args...)
		kind = EndpointFailing
	}
	res, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	// The caller remembers the state (s.health.set) once tx has committed.
	if n == 0 || out == Gone { // a 410 is reported as disabled, not failing
		return nil, nil
	}
	reason := ""
	if failing {
		reason = lastError
	}
	return &Transition{Kind: kind, WorkspaceID: c.WorkspaceID, EndpointID: c.EndpointID, Reason: reason, At: now}, nil
}

// disabled reports that relaydesk disabled an endpoint, once per disable: the endpoints row
// remembers which disable (its updated_at) was reported.
func (s *Service) disabled(ctx context.Context, workspaceID, endpointID, reason string) {
	res, err := s.DB.Exec(ctx, `UPDATE endpoints SET disabled_notified_at = updated_at
		WHERE workspace_id = ? AND id = ? AND enabled = FALSE AND (disabled_notified_at IS NULL OR disabled_notified_at <> updated_at)`,
		workspaceID, endpointID)
	if err != nil {
		s.Log.Warn("mark endpoint disable notified", "endpoint", endpointID, "err", err)
		return
	}
	if n, _ := res.RowsAffected(); n == 1 {
		s.notify(ctx, &Transition{Kind: EndpointDisabled, WorkspaceID: workspaceID, EndpointID: endpointID, Reason: reason, At: s.now()})
	}
}

func (s *Service) notify(ctx context.Context, t *Transition) {
	if t == nil {
		return
	}
	if s.Notifier != nil {
		s.Notifier.EndpointChanged(context.WithoutCancel(ctx), *t)
	}
}
