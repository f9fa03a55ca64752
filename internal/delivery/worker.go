package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/relaydesk/relaydesk/internal/store"
)

// claimed is a delivery an attempt is about to be made for.
type claimed struct {
	Delivery
	seq, roundStart int
	prev            State // state before the claim
	leaseUntil      time.Time
	body            []byte
}

// workAttempt is the River worker of attemptArgs.
func (s *Service) workAttempt(ctx context.Context, job *river.Job[attemptArgs]) error {
	return s.attempt(ctx, job.Args)
}

// attempt makes one attempt of a delivery and records it. Its error tells River what to do
// with the job: nil (done), JobSnooze (next attempt of the schedule), JobCancel (410, or
// nowhere to deliver), or an error (internal trouble: River retries the job).
func (s *Service) attempt(ctx context.Context, a attemptArgs) error {
	targets, err := s.targets()
	if err != nil {
		return err
	}
	c, err := s.load(ctx, a.DeliveryID)
	if errors.Is(err, store.ErrNotFound) {
		return river.JobCancel(fmt.Errorf("delivery %s: %w", a.DeliveryID, err))
	}
	if err != nil {
		return err
	}
	if !a.Once && (c.seq != a.Seq || c.State.Final()) {
		return nil // another job owns this delivery now, or it is finished
	}
	now := s.now()
	if c.State == Delivering && c.lease(now) {
		// Another job is making an attempt right now; come back when its lease ends.
		return river.JobSnooze(c.NextLeaseEnd(now))
	}

	t, err := targets.Target(ctx, c.WorkspaceID, c.EndpointID)
	reason := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		reason = ReasonEndpointGone
	case err != nil:
		return fmt.Errorf("endpoint %s: %w", c.EndpointID, err)
	case !t.Enabled:
		reason = disabledReason(t)
	case t.Refused != "":
		reason = ReasonRefused + ": " + t.Refused
	case len(t.Secrets) == 0:
		reason = ReasonNoSecret
	}
	if reason != "" {
		if err := s.cancel(ctx, c.ID, reason); err != nil {
			return err
		}
		s.metrics.result(Cancelled)
		return river.JobCancel(errors.New(reason))
	}

	ok, err := s.claim(ctx, c, a.Once, now)
	if err != nil {
		return err
	}
	if !ok {
		return nil // someone else finished or claimed it meanwhile
	}
	number := c.Attempts + 1
	started := s.now()
	res := s.Sender.Send(ctx, Request{URL: t.URL, EventID: c.EventID, EventName: c.EventName, DeliveryID: c.ID,
		Attempt: number, Body: c.body, Secrets: t.Secrets, Now: started})
	if ctx.Err() != nil && res.Err != nil {
		// Stopping (or the job ran past its lease): this is not the receiver's failure.
		// Release the delivery at once; a fresh job makes the attempt again.
		s.release(c.ID)
		return river.JobSnooze(0)
	}
	s.metrics.attempt(res)

	// What happens next.
	out := res.Outcome()
	next := c.prev
	var nextAt *time.Time
	var snooze time.Duration
	roundStart := c.roundStart
	if a.Once {
		roundStart++ // a manual retry does not use up the schedule
		if c.prev == Pending || c.prev == Retrying || c.prev == Delivering {
			next, nextAt = Retrying, c.NextAttemptAt
		}
	}
	switch out {
	case Delivered:
		next, nextAt = Succeeded, nil
	case Gone:
		next, nextAt = Cancelled, nil
	case Retry:
		if !a.Once {
			n := number - roundStart
			if d, more := NextDelay(n, s.rand); more {
				snooze = max(d, res.MinDelay())
				at := s.now().Add(snooze)
				next, nextAt = Retrying, &at
			} else {
				next, nextAt = Failed, nil
			}
		}
	}
	if err := s.record(ctx, c, number, roundStart, started, &res, next, nextAt); err != nil {
		return err
	}
	s.metrics.result(next)

	switch {
	case out == Gone:
		s.gone(ctx, c.WorkspaceID, c.EndpointID)
		return river.JobCancel(errors.New(ReasonGone))
	case snooze > 0:
		return river.JobSnooze(snooze)
	}
	return nil
}

func (c *claimed) lease(now time.Time) bool { return c.leaseUntil.After(now) }

// NextLeaseEnd is how long until the current lease ends (at least a second).
func (c *claimed) NextLeaseEnd(now time.Time) time.Duration {
	return max(c.leaseUntil.Sub(now), time.Second)
}

func (s *Service) load(ctx context.Context, id string) (*claimed, error) {
	var c claimed
	var lease sql.NullInt64
	var body string
	row := s.DB.QueryRow(ctx, `SELECT d.id, d.workspace_id, d.event_id, d.endpoint_id, d.event_name, d.state, d.reason, d.attempts,
		d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.updated_at, d.delivered_at, d.seq, d.round_start, d.lease_until, e.body
		FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?`, id)
	var next, delivered sql.NullInt64
	var created, updated int64
	err := row.Scan(&c.ID, &c.WorkspaceID, &c.EventID, &c.EndpointID, &c.EventName, &c.State, &c.Reason, &c.Attempts,
		&next, &c.LastStatus, &c.LastError, &created, &updated, &delivered, &c.seq, &c.roundStart, &lease, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	c.NextAttemptAt, c.DeliveredAt = store.NullTime(next), store.NullTime(delivered)
	c.CreatedAt, c.UpdatedAt = store.Time(created), store.Time(updated)
	if lease.Valid {
		c.leaseUntil = store.Time(lease.Int64)
	}
	c.prev = c.State
	c.body = []byte(body)
	return &c, nil
}

// claim marks the delivery as being delivered by this job until the lease ends. It fails
// when the state changed since load (another job got there first). Claims and records go
// through the store's group commit: under load many share one transaction.
func (s *Service) claim(ctx context.Context, c *claimed, once bool, now time.Time) (bool, error) {
	q := `UPDATE deliveries SET state = ?, lease_until = ?, updated_at = ? WHERE id = ? AND state = ? AND attempts = ?`
	args := []any{Delivering, store.Micros(now.Add(s.Lease)), store.Micros(now), c.ID, c.State, c.Attempts}
	if !once {
		q += ` AND seq = ?`
		args = append(args, c.seq)
	}
	var n int64
	err := s.DB.Batch(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// release gives up an attempt that was interrupted: its lease ends now, so the sweep hands
// the delivery to a fresh job (and the snoozed job may pick it up first).
func (s *Service) release(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := store.Micros(s.now())
	if _, err := s.DB.Exec(ctx, `UPDATE deliveries SET lease_until = ?, updated_at = ? WHERE id = ? AND state = ?`, now, now, id, Delivering); err != nil {
		s.Log.Warn("release delivery", "delivery", id, "err", err)
	}
}

func (s *Service) cancel(ctx context.Context, id, reason string) error {
	now := store.Micros(s.now())
	_, err := s.DB.Exec(ctx, `UPDATE deliveries SET state = ?, reason = ?, lease_until = NULL, next_attempt_at = NULL, updated_at = ? WHERE id = ? AND state <> ?`,
		Cancelled, reason, now, id, Succeeded)
	return err
}

// record stores the attempt and the delivery's new state in one transaction.
func (s *Service) record(ctx context.Context, c *claimed, number, roundStart int, started time.Time, res *Result, next State, nextAt *time.Time) error {
	reqH, _ := json.Marshal(res.RequestHeaders)
	respH, _ := json.Marshal(res.ResponseHeaders)
	if res.ResponseHeaders == nil {
		respH = []byte("{}")
	}
	errText := ""
	if res.Err != nil {
		errText = attemptError(res.Err)
	}
	lastError := errText
	if errText == "" && res.Outcome() != Delivered {
		lastError = fmt.Sprintf("HTTP %d", res.Status)
	}
	now := s.now()
	var deliveredAt any
	if next == Succeeded {
		deliveredAt = store.Micros(now)
	}
	reason := c.Reason
	if next == Cancelled && res.Outcome() == Gone {
		reason = ReasonGone
	}
	var tr *Transition
	err := s.DB.Batch(ctx, func(tx *store.Tx) error {
		tr = nil
		if _, err := tx.Exec(ctx, `INSERT INTO attempts (id, delivery_id, workspace_id, endpoint_id, number, started_at, duration_us, request_headers, status, response_headers, response_body, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			store.NewID(), c.ID, c.WorkspaceID, c.EndpointID, number, store.Micros(started), res.Duration.Microseconds(),
			string(reqH), res.Status, string(respH), validUTF8(res.ResponseBody), errText); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE deliveries SET state = ?, reason = ?, attempts = ?, round_start = ?, lease_until = NULL, next_attempt_at = ?,
			last_status = ?, last_error = ?, updated_at = ?, delivered_at = COALESCE(?, delivered_at) WHERE id = ?`,
			next, reason, number, roundStart, store.NullMicros(nextAt), res.Status, lastError, store.Micros(now), deliveredAt, c.ID)
		if err != nil {
			return err
		}
		tr, err = s.markHealth(ctx, tx, c, res.Outcome(), lastError, now)
		return err
	})
	if err == nil {
		s.health.set(c.EndpointID, res.Outcome() != Delivered, now)
		s.notify(ctx, tr)
	}
	return err
}

// gone handles a 410: the endpoint is disabled and its waiting deliveries cancelled. Their
// jobs find them cancelled and stop.
func (s *Service) gone(ctx context.Context, workspaceID, endpointID string) {
	ctx = context.WithoutCancel(ctx)
	if err := s.Targets.Disable(ctx, workspaceID, endpointID, ReasonGone); err != nil {
		s.Log.Error("disable endpoint after 410", "endpoint", endpointID, "err", err)
	} else {
		s.disabled(ctx, workspaceID, endpointID, ReasonGone)
	}
	now := store.Micros(s.now())
	res, err := s.DB.Exec(ctx, `UPDATE deliveries SET state = ?, reason = ?, next_attempt_at = NULL, updated_at = ?
		WHERE workspace_id = ? AND endpoint_id = ? AND state IN (?, ?)`, Cancelled, ReasonGone, now, workspaceID, endpointID, Pending, Retrying)
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
	return strings.ToValidUTF8(msg, "\uFFFD")
}

// validUTF8 makes a response body storable as TEXT on both engines (PostgreSQL refuses NUL
// and invalid UTF-8).
func validUTF8(b []byte) string {
	s := string(b)
	if !utf8.Valid(b) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
