package delivery

import (
	"context"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

// Rate limits per endpoint (issue 14; docs/architecture.md, "Ordering and rate limits").
//
// endpoint_rates.next_at is the earliest time the endpoint's next send may start, shared by
// every instance. Right before an attempt, the sender reserves a slot: one upsert moves
// next_at on by rateStep and returns the slot it passed (next_at, or now when that is
// past). Slots are therefore rateStep apart whoever takes them. A slot within rateHorizon
// is waited for in the sender; a later one is kept: the delivery goes back as throttled
// with next_attempt_at at its slot, which it uses when claimed again — no attempt is used
// up, and each delivery reserves once however deep the backlog. A send that would start
// more than rateSlack after its slot (a late claim, busy senders) reserves a new slot
// instead, so lateness can bunch sends by at most rateSlack.
const (
	// rateHorizon: a slot this close is waited for rather than handed back.
	rateHorizon = 50 * time.Millisecond
	// claimAhead: throttled deliveries are claimed this long before their slot (claim.go).
	claimAhead = rateHorizon
	// rateSlack is how late a send may start after its slot.
	rateSlack = 10 * time.Millisecond
	// rateMargin widens each slot beyond 1/maxPerSecond so that rateSlack and the jitter
	// between deciding a send and its arrival (scheduling, the network: measured up to
	// ~30 ms on a loaded 2-core machine) cannot fit one send too many into a second:
	// maxPerSecond slots span 1.05 s, so a limit of 50/s delivers about 47.6/s.
	rateMargin = 1.05
)

func rateStep(perSecond int) time.Duration {
	return time.Duration(rateMargin * float64(time.Second) / float64(perSecond))
}

// admit says when c may be sent under its endpoint's limit of perSecond: at the slot
// reserved when it was throttled, if that is still on time, or at a new slot.
func (s *Service) admit(ctx context.Context, c *claimed, perSecond int, fresh bool) (time.Time, error) {
	now := s.now()
	if !fresh && c.prev == Throttled && !c.manual && c.prevNext != nil && !now.After(c.prevNext.Add(rateSlack)) {
		return *c.prevNext, nil
	}
	step := rateStep(perSecond).Microseconds()
	n := store.Micros(now)
	var next int64
	err := s.DB.Engine.QueryRowContext(ctx, s.DB.Q(`INSERT INTO endpoint_rates (endpoint_id, next_at) VALUES (?, ?)
		ON CONFLICT (endpoint_id) DO UPDATE SET next_at = CASE WHEN endpoint_rates.next_at > ? THEN endpoint_rates.next_at ELSE ? END + ?
		RETURNING next_at`), c.EndpointID, n+step, n, n, step).Scan(&next)
	return store.Time(next - step), err
}

// throttle hands c back unattempted, due at its reserved slot.
func (s *Service) throttle(c *claimed, slot time.Time) outcome {
	return outcome{c: c, number: c.Attempts, roundStart: c.roundStart, next: Throttled, nextAt: &slot,
		reason: c.Reason, lastStatus: c.LastStatus, lastError: c.LastError}
}

// limit waits for c's send slot under perSecond. It returns false with the outcome to
// record when c must wait longer (throttled) or the slot could not be had (released).
func (s *Service) limit(ctx context.Context, c *claimed, perSecond int) (outcome, bool) {
	fresh := false
	for {
		slot, err := s.admit(ctx, c, perSecond, fresh)
		if err != nil {
			return s.release(c, err), false
		}
		wait := slot.Sub(s.now())
		if wait > rateHorizon {
			return s.throttle(c, slot), false
		}
		if wait > 0 {
			sleep(ctx, wait)
		}
		if ctx.Err() != nil {
			return s.release(c, nil), false
		}
		if !s.now().After(slot.Add(rateSlack)) {
			return outcome{}, true
		}
		fresh = true // woke too late for the slot: take a new one
	}
}
