package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

// outcome is what became of one claimed delivery, waiting to be recorded with others.
type outcome struct {
	c *claimed
	// res is the attempt made; nil when none was (cancelled before sending, or released).
	res        *Result
	started    time.Time
	number     int // the attempt's number (c.Attempts+1), or c.Attempts when none was made
	roundStart int
	next       State
	nextAt     *time.Time
	reason     string
	lastError  string
	lastStatus int
}

// wait is how long until the next attempt (0: none scheduled).
func (o *outcome) wait(now time.Time) time.Duration {
	if o.nextAt == nil {
		return 0
	}
	return o.nextAt.Sub(now)
}

// attempt makes one attempt of a claimed delivery and decides what happens next; nothing
// is written here (record writes outcomes in batches). A delivery whose endpoint is gone or
// disabled, or whose workspace has no secret, is cancelled with the reason, unsent.
func (s *Service) attempt(ctx context.Context, c *claimed) outcome {
	o := outcome{c: c, number: c.Attempts, roundStart: c.roundStart, lastStatus: c.LastStatus, lastError: c.LastError, reason: c.Reason}
	targets, err := s.targets()
	if err != nil {
		return s.release(c, err)
	}
	t, err := targets.Target(ctx, c.WorkspaceID, c.EndpointID)
	reason, err := undeliverable(t, err)
	if err != nil {
		return s.release(c, fmt.Errorf("endpoint %s: %w", c.EndpointID, err))
	}
	if reason != "" {
		o.next, o.reason = Cancelled, reason
		return o
	}
	if t.MaxPerSecond > 0 {
		if held, ok := s.limit(ctx, c, t.MaxPerSecond); !ok {
			return held
		}
	}

	number := c.Attempts + 1
	started := s.now()
	res := s.Sender.Send(ctx, Request{URL: t.URL, EventID: c.EventID, EventName: c.EventName, DeliveryID: c.ID,
		Attempt: number, Body: c.body, Secrets: t.Secrets, Keys: t.Keys, Now: started})
	if ctx.Err() != nil && res.Err != nil {
		// Stopping: this is not the receiver's failure. Give the delivery back; it is
		// attempted again at once, by this process after a restart or by another.
		return s.release(c, nil)
	}
	o.res, o.started, o.number = &res, started, number

	out := res.Outcome()
	o.next = c.resting()
	if c.manual {
		o.roundStart++ // a manual retry does not use up the schedule
		if !c.prev.Final() {
			// The schedule resumes where it was.
			o.next, o.nextAt = Retrying, c.resumeAt
			if o.nextAt == nil {
				o.nextAt = c.prevNext
			}
		}
	}
	switch out {
	case Delivered:
		o.next, o.nextAt = Succeeded, nil
	case Gone:
		o.next, o.nextAt, o.reason = Cancelled, nil, ReasonGone
	case Retry:
		if !c.manual {
			if d, more := NextDelay(number-o.roundStart, s.rand); more {
				at := s.now().Add(max(d, res.MinDelay()))
				o.next, o.nextAt = Retrying, &at
			} else {
				o.next, o.nextAt = Failed, nil
			}
		}
	}
	o.lastStatus = res.Status
	o.lastError = ""
	if res.Err != nil {
		o.lastError = attemptError(res.Err)
	} else if out != Delivered {
		o.lastError = fmt.Sprintf("HTTP %d", res.Status)
	}
	return o
}

// release gives a claimed delivery back unattempted: due again now, in its old state.
func (s *Service) release(c *claimed, err error) outcome {
	if err != nil {
		s.Log.Warn("delivery released without an attempt", "delivery", c.ID, "err", err)
	}
	now := s.now()
	return outcome{c: c, number: c.Attempts, roundStart: c.roundStart, next: c.resting(), nextAt: &now,
		reason: c.Reason, lastStatus: c.LastStatus, lastError: c.LastError}
}

// resting is the state an attempt that changes nothing leaves the delivery in: the one it
// was claimed from, except that an attempt cut off by a dead process counts as failed, and
// a throttled delivery's slot is used (it was pending, or retrying after failures).
func (c *claimed) resting() State {
	switch c.prev {
	case Delivering:
		return Retrying
	case Throttled:
		if c.Attempts > c.roundStart {
			return Retrying
		}
		return Pending
	}
	return c.prev
}

// updateCols is the arguments per row of updateDeliveries.
const updateCols = 11

// record writes a batch of outcomes in one transaction on the Engine pool: one UPDATE of
// the deliveries (only where the claim that made the outcome is still the live one: a
// stale outcome, whose lease ran out and whose delivery another claim took, is dropped and
// that claim's attempt counts), one INSERT of the attempts, and the endpoints' health. It
// returns the outcomes that were applied, and runs their after-effects (metrics, health
// memory, notifications, 410 handling) once the transaction has committed.
func (s *Service) record(ctx context.Context, outs []outcome) (applied []outcome, err error) {
	now := s.now()
	var trs []*Transition
	promoted := false
	err = s.DB.InEngineTx(ctx, func(tx *store.Tx) error {
		applied, trs = applied[:0], trs[:0]
		ok := map[string]bool{}
		for chunk := range chunks(outs, rowsPerInsert) {
			if err := updateDeliveries(ctx, tx, chunk, now, ok); err != nil {
				return fmt.Errorf("record deliveries: %w", err)
			}
		}
		for _, o := range outs {
			if ok[o.c.ID] {
				applied = append(applied, o)
			}
		}
		if err := insertAttempts(ctx, tx, applied, s.worker); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		// Health: the last attempt of this batch per endpoint says where it stands.
		last := map[string]*outcome{}
		var order []string
		for i := range applied {
			o := &applied[i]
			if o.res == nil {
				continue
			}
			if _, seen := last[o.c.EndpointID]; !seen {
				order = append(order, o.c.EndpointID)
			}
			last[o.c.EndpointID] = o
		}
		for _, ep := range order {
			tr, err := s.markHealth(ctx, tx, last[ep].c, last[ep].res.Outcome(), last[ep].lastError, now)
			if err != nil {
				return err
			}
			if tr != nil {
				trs = append(trs, tr)
			}
		}
		// Ordered endpoints whose head is done: the next delivery goes (fifo.go).
		var heads []string
		for _, o := range applied {
			if o.c.fifo && o.next.Final() {
				heads = append(heads, o.c.EndpointID)
			}
		}
		var err error
		promoted, err = promote(ctx, tx, now, heads)
		return err
	})
	if err != nil {
		return nil, err
	}
	if promoted {
		s.wake()
	}
	if stale := len(outs) - len(applied); stale > 0 {
		s.Log.Warn("outcomes dropped: their lease ran out and another claim took the delivery", "count", stale)
	}
	for _, o := range applied {
		if o.res != nil {
			s.metrics.attempt(*o.res)
			s.health.set(o.c.EndpointID, o.res.Outcome() != Delivered, now)
		}
		if o.res != nil || o.next == Cancelled || o.next == Throttled {
			s.metrics.result(o.next)
		}
		if o.next == Succeeded {
			s.metrics.delivered(now.Sub(o.c.CreatedAt))
		}
	}
	for _, tr := range trs {
		s.notify(ctx, tr)
	}
	for _, o := range applied {
		if o.res != nil && o.res.Outcome() == Gone {
			s.gone(ctx, o.c.WorkspaceID, o.c.EndpointID)
		}
	}
	return applied, nil
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			c := s[:min(len(s), n)]
			s = s[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

// updateDeliveries is one UPDATE … FROM (VALUES …) for a chunk; VALUES columns are
// column1… on both engines, and cast so PostgreSQL knows their types. ok gets the ids the
// statement changed.
func updateDeliveries(ctx context.Context, tx *store.Tx, outs []outcome, now time.Time, ok map[string]bool) error {
	var q strings.Builder
	q.WriteString(`UPDATE deliveries AS d SET state = v.column3, reason = v.column4, attempts = v.column5, round_start = v.column6,
		next_attempt_at = v.column7, last_status = v.column8, last_error = v.column9, updated_at = v.column10,
		delivered_at = COALESCE(v.column11, d.delivered_at), resume_at = NULL
		FROM (VALUES `)
	args := make([]any, 0, len(outs)*updateCols)
	for i, o := range outs {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS INTEGER),
			CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))`)
		var delivered any
		if o.next == Succeeded {
			delivered = store.Micros(now)
		}
		args = append(args, o.c.ID, o.c.seq, string(o.next), o.reason, o.number, o.roundStart,
			store.NullMicros(o.nextAt), o.lastStatus, o.lastError, store.Micros(now), delivered)
	}
	q.WriteString(`) AS v WHERE d.id = v.column1 AND d.seq = v.column2 AND d.state = 'delivering' RETURNING id`)
	rows, err := tx.Query(ctx, q.String(), args...)
	return store.Each(rows, err, func(r store.Scanner) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		ok[id] = true
		return nil
	})
}

func insertAttempts(ctx context.Context, tx *store.Tx, outs []outcome, worker string) error {
	var made []outcome
	for _, o := range outs {
		if o.res != nil {
			made = append(made, o)
		}
	}
	return store.InsertRows(ctx, tx, `attempts (id, delivery_id, workspace_id, endpoint_id, number, started_at, duration_us, request_headers, status, response_headers, response_body, error, worker)`,
		rowsPerInsert, made, func(o outcome) []any {
			res := o.res
			reqH, _ := json.Marshal(res.RequestHeaders)
			respH := []byte("{}")
			if res.ResponseHeaders != nil {
				respH, _ = json.Marshal(res.ResponseHeaders)
			}
			errText := ""
			if res.Err != nil {
				errText = o.lastError
			}
			return []any{store.NewID(), o.c.ID, o.c.WorkspaceID, o.c.EndpointID, o.number, store.Micros(o.started), res.Duration.Microseconds(),
				string(reqH), res.Status, string(respH), store.Text(string(res.ResponseBody)), errText, worker}
		})
}

// gone handles a 410: the endpoint is disabled and its waiting deliveries cancelled.
func (s *Service) gone(ctx context.Context, workspaceID, endpointID string) {
	ctx = context.WithoutCancel(ctx)
	if err := s.Targets.Disable(ctx, workspaceID, endpointID, ReasonGone); err != nil {
		s.Log.Error("disable endpoint after 410", "endpoint", endpointID, "err", err)
	} else {
		s.disabled(ctx, workspaceID, endpointID, ReasonGone)
	}
	now := store.Micros(s.now())
	res, err := s.DB.Exec(ctx, `UPDATE deliveries SET state = ?, reason = ?, next_attempt_at = NULL, manual = FALSE, updated_at = ?
		WHERE workspace_id = ? AND endpoint_id = ? AND state IN (?, ?, ?)`, Cancelled, ReasonGone, now, workspaceID, endpointID, Pending, Retrying, Throttled)
	if err != nil {
		s.Log.Error("cancel deliveries after 410", "endpoint", endpointID, "err", err)
		return
	}
	n, _ := res.RowsAffected()
	s.Log.Info("endpoint answered 410 Gone: disabled, pending deliveries cancelled", "workspace", workspaceID, "endpoint", endpointID, "cancelled", n)
}

// attemptError is the attempt log's text for a transport error, without the Go noise.
func attemptError(err error) string {
	msg := err.Error()
	// *url.Error reads `Post "https://…": dial tcp …`; the URL is already known.
	if i := strings.Index(msg, `": `); i > 0 && strings.HasPrefix(msg, `Post "`) {
		msg = msg[i+3:]
	}
	if IsTimeout(err) {
		msg = "timeout: " + msg
	}
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return store.Text(msg)
}
