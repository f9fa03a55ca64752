package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/relaydesk/relaydesk/internal/store"
)

// DefaultRetention is how long events, deliveries and attempts are kept
// (RELAYDESK_RETENTION).
const DefaultRetention = 30 * 24 * time.Hour

// RetentionBatch bounds the rows one DELETE removes: short transactions, so deliveries
// (and, on SQLite, the one writer) never wait long behind the cleanup.
const RetentionBatch = 1000

const kindRetention = "delivery_retention"

type retentionArgs struct{}

func (retentionArgs) Kind() string { return kindRetention }

func (s *Service) workRetention(ctx context.Context, _ *river.Job[retentionArgs]) error {
	_, err := s.Prune(ctx, s.opts.Retention, RetentionBatch)
	return err
}

// Pruned counts what Prune removed.
type Pruned struct {
	Attempts, Deliveries, Events, Notifications int
	// Batches is how many DELETE statements removed rows (each at most the batch size).
	Batches int
}

// Prune removes what is older than age (by the service clock): attempts made before the
// cutoff; deliveries created before it that are finished and untouched since; events
// created before it that no delivery refers to any more; notifications. It deletes in
// batches of at most batch rows, one short transaction each, yielding between them, until
// nothing old is left. It runs as a periodic job on the elected leader; River's own
// finished jobs are cleaned by River (see the retention periods in queue.go).
func (s *Service) Prune(ctx context.Context, age time.Duration, batch int) (Pruned, error) {
	return s.PruneAt(ctx, s.now(), age, batch)
}

// PruneAt is Prune as if the time were now (tests pass a fake clock).
func (s *Service) PruneAt(ctx context.Context, now time.Time, age time.Duration, batch int) (Pruned, error) {
	var p Pruned
	if age <= 0 {
		return p, nil
	}
	if batch <= 0 {
		batch = RetentionBatch
	}
	cutoff := store.Micros(now.Add(-age))
	steps := []struct {
		n   *int
		sql string
		arg []any
	}{
		{&p.Attempts, `DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE started_at < ? ORDER BY started_at LIMIT ?)`, []any{cutoff}},
		{&p.Deliveries, `DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE created_at < ? AND updated_at < ? AND state IN (?, ?, ?, ?) ORDER BY created_at LIMIT ?)`,
			[]any{cutoff, cutoff, Succeeded, Failed, Cancelled, Skipped}},
		{&p.Events, `DELETE FROM events WHERE id IN (SELECT e.id FROM events e WHERE e.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) ORDER BY e.created_at LIMIT ?)`, []any{cutoff}},
		{&p.Notifications, `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications WHERE created_at < ? ORDER BY created_at LIMIT ?)`, []any{cutoff}},
	}
	for _, st := range steps {
		for {
			res, err := s.DB.Exec(ctx, st.sql, append(st.arg, batch)...)
			if err != nil {
				return p, fmt.Errorf("retention: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return p, err
			}
			if n == 0 {
				break
			}
			*st.n += int(n)
			p.Batches++
			if n < int64(batch) {
				break
			}
			// Let deliveries have the database between batches.
			select {
			case <-ctx.Done():
				return p, ctx.Err()
			case <-time.After(s.opts.RetentionPause):
			}
		}
	}
	if p.Batches > 0 {
		s.Log.Info("retention: removed old rows", "attempts", p.Attempts, "deliveries", p.Deliveries, "events", p.Events,
			"notifications", p.Notifications, "batches", p.Batches, "olderThan", age.String())
	}
	return p, nil
}
