package delivery

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

// claimed is a delivery handed to this process for one attempt.
type claimed struct {
	Delivery
	seq, roundStart int
	prev            State      // state before the claim
	prevNext        *time.Time // next_attempt_at before the claim
	resumeAt        *time.Time // a manual retry's: where the schedule resumes if it fails
	manual          bool       // a manual retry asked for this attempt
	fifo            bool       // its endpoint delivers in order: promote the next when it is done
	body            []byte
}

// claimCols are what a claim hands over, in scanClaimed's order.
const claimCols = `d.id, d.workspace_id, d.event_id, d.endpoint_id, d.event_name, d.reason, d.attempts, d.last_status, d.last_error,
	d.created_at, d.delivered_at, d.seq, d.round_start, d.resume_at, d.fifo`

// claim hands this process up to n due deliveries (with their bodies) in one statement:
// each becomes delivering, with a lease that ends at now+Lease (renewed while the attempt
// runs, see renew), and its seq counts the claim so that only this claim's result is
// recorded. Due means next_attempt_at has passed — a scheduled attempt, a manual retry, or
// a lease whose process died. only, when set, restricts the claim to one delivery (tests).
func (s *Service) claim(ctx context.Context, n int, only string) ([]*claimed, error) {
	now := s.now()
	if s.DB.Dialect == store.Postgres {
		return s.claimPostgres(ctx, n, only, now)
	}
	return s.claimSQLite(ctx, n, only, now)
}

// claimPostgres: SKIP LOCKED lets several processes claim at once without waiting on each
// other; the CTE returns the pre-claim state and the event body in the same round trip.
func (s *Service) claimPostgres(ctx context.Context, n int, only string, now time.Time) ([]*claimed, error) {
	filter, args := "", dueArgs(now)
	if only != "" {
		filter, args = " AND id = ?", append(args, only)
	}
	args = append(args, n, Delivering, store.Micros(now.Add(s.Lease)), store.Micros(now))
	rows, err := s.DB.Engine.QueryContext(ctx, s.DB.Q(`WITH due AS (
			SELECT id, state, next_attempt_at, manual FROM deliveries
			WHERE `+dueCond+filter+` ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED
		), c AS (
			UPDATE deliveries d SET state = ?, seq = d.seq + 1, next_attempt_at = ?, manual = FALSE, updated_at = ?
			FROM due WHERE d.id = due.id
			RETURNING `+claimCols+`, due.state AS prev, due.next_attempt_at AS prev_next, due.manual AS was_manual
		)
		SELECT c.*, e.body FROM c JOIN events e ON e.id = c.event_id`), args...)
	out, err := store.Collect(rows, err, scanClaimed(0))
	if err != nil {
		return nil, err
	}
	for _, c := range out {
		c.UpdatedAt = store.Time(store.Micros(now))
	}
	return out, nil
}

// claimSQLite: one process owns the file, so the due rows are read on the reader pool
// (bodies and all, without holding the one writer) and claimed by one UPDATE whose guard
// repeats the due condition; RETURNING says which rows it took.
func (s *Service) claimSQLite(ctx context.Context, n int, only string, now time.Time) ([]*claimed, error) {
	filter, args := "", dueArgs(now)
	if only != "" {
		filter, args = " AND d.id = ?", append(args, only)
	}
	rows, err := s.DB.Query(ctx, `SELECT `+claimCols+`, d.state, d.next_attempt_at, d.manual, e.body
		FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE `+strings.ReplaceAll(dueCond, "next_attempt_at", "d.next_attempt_at")+filter+` ORDER BY d.next_attempt_at LIMIT ?`, append(args, n)...)
	due, err := store.Collect(rows, err, scanClaimed(1))
	if err != nil || len(due) == 0 {
		return nil, err
	}
	var q strings.Builder
	q.WriteString(`UPDATE deliveries SET state = ?, seq = seq + 1, next_attempt_at = ?, manual = FALSE, updated_at = ? WHERE ` + dueCond + ` AND id IN (`)
	uargs := append([]any{Delivering, store.Micros(now.Add(s.Lease)), store.Micros(now)}, dueArgs(now)...)
	byID := make(map[string]*claimed, len(due))
	for i, c := range due {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteByte('?')
		uargs = append(uargs, c.ID)
		byID[c.ID] = c
	}
	q.WriteString(`) RETURNING id, seq`)
	urows, err := s.DB.Engine.QueryContext(ctx, q.String(), uargs...)
	out := make([]*claimed, 0, len(due))
	err = store.Each(urows, err, func(r store.Scanner) error {
		var id string
		var seq int
		if err := r.Scan(&id, &seq); err != nil {
			return err
		}
		if c := byID[id]; c != nil && c.seq == seq {
			c.UpdatedAt = store.Time(store.Micros(now))
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dueCond is what a claim takes: deliveries whose next_attempt_at has passed, and
// throttled ones up to claimAhead before their send slot, so that the sender waits for the
// slot itself (ratelimit.go) instead of a claim arriving late for it. Its arguments are
// dueArgs(now).
const dueCond = `next_attempt_at <= ? AND (next_attempt_at <= ? OR state = 'throttled')`

func dueArgs(now time.Time) []any {
	return []any{store.Micros(now.Add(claimAhead)), store.Micros(now)}
}

// scanClaimed reads claimCols, the pre-claim state, next_attempt_at and manual, and the body.
// seqAhead is what the claim adds to the seq read (1 when the row was read before its claim).
func scanClaimed(seqAhead int) func(store.Scanner) (*claimed, error) {
	return func(r store.Scanner) (*claimed, error) {
		c := &claimed{}
		var delivered, resume, prevNext sql.NullInt64
		var created int64
		var body string
		if err := r.Scan(&c.ID, &c.WorkspaceID, &c.EventID, &c.EndpointID, &c.EventName, &c.Reason, &c.Attempts, &c.LastStatus, &c.LastError,
			&created, &delivered, &c.seq, &c.roundStart, &resume, &c.fifo, &c.prev, &prevNext, &c.manual, &body); err != nil {
			return nil, err
		}
		c.seq += seqAhead
		c.State = Delivering
		c.CreatedAt, c.DeliveredAt = store.Time(created), store.NullTime(delivered)
		c.resumeAt, c.prevNext = store.NullTime(resume), store.NullTime(prevNext)
		c.body = []byte(body)
		return c, nil
	}
}

// nextDue is when the earliest queued delivery becomes due (false: none is queued), so an
// idle worker sleeps exactly until then.
func (s *Service) nextDue(ctx context.Context) (time.Time, bool, error) {
	var at int64
	var state State
	err := s.DB.QueryRow(ctx, `SELECT next_attempt_at, state FROM deliveries WHERE next_attempt_at IS NOT NULL ORDER BY next_attempt_at LIMIT 1`).Scan(&at, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	if state == Throttled {
		at -= claimAhead.Microseconds()
	}
	return store.Time(at), true, nil
}

// renew extends the leases of the deliveries this process is working on, so that only a
// dead process's deliveries become due again. One statement per 500, whatever the load.
func (s *Service) renew(ctx context.Context, ids []string) error {
	until := store.Micros(s.now().Add(s.Lease))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), rowsPerInsert)]
		ids = ids[len(chunk):]
		args := make([]any, 0, len(chunk)+2)
		args = append(args, until, Delivering)
		q := `UPDATE deliveries SET next_attempt_at = ? WHERE state = ? AND id IN (` + strings.Repeat("?,", len(chunk)-1) + `?)`
		for _, id := range chunk {
			args = append(args, id)
		}
		if _, err := s.DB.Engine.ExecContext(ctx, s.DB.Q(q), args...); err != nil {
			return err
		}
	}
	return nil
}
