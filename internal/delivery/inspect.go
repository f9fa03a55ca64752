package delivery

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/relaydesk/relaydesk/internal/store"
)

// QueueStats is the operators' read-only view of the queues (GET /ops/queue): deliveries
// (kind delivery_attempt, queued in the deliveries table: available = due, scheduled =
// waiting for a retry, running = being attempted) and River's background jobs.
type QueueStats struct {
	// ByState counts jobs per state; ByKind per kind and state.
	ByState map[string]int
	ByKind  []KindCount
	// OldestDue is the scheduled time of the oldest job that is due and not yet running
	// (nil: none waiting).
	OldestDue *time.Time
	// RecentErrors are the latest jobs with errors (retryable or discarded), newest first.
	RecentErrors []JobError
}

// KindCount is how many jobs of one kind are in one state.
type KindCount struct {
	Kind, State string
	Count       int
}

// JobError is a job's latest error.
type JobError struct {
	ID      int64
	Kind    string
	State   string
	Attempt int
	At      time.Time
	Error   string
}

// QueueStats counts the deliveries queue with one grouped query and reads River's jobs
// through its own client (both drivers) plus one grouped count over river_job.
func (s *Service) QueueStats(ctx context.Context) (QueueStats, error) {
	st := QueueStats{ByState: map[string]int{}}
	now := store.Micros(s.now())
	rows, err := s.DB.Query(ctx, `SELECT CASE WHEN state = ? THEN 'running' WHEN next_attempt_at <= ? THEN 'available' ELSE 'scheduled' END,
		COUNT(*), MIN(CASE WHEN state <> ? AND next_attempt_at <= ? THEN next_attempt_at END)
		FROM deliveries WHERE next_attempt_at IS NOT NULL GROUP BY 1`, Delivering, now, Delivering, now)
	err = store.Each(rows, err, func(r store.Scanner) error {
		k := KindCount{Kind: "delivery_attempt"}
		var oldest sql.NullInt64
		if err := r.Scan(&k.State, &k.Count, &oldest); err != nil {
			return err
		}
		st.ByKind = append(st.ByKind, k)
		st.ByState[k.State] += k.Count
		if t := store.NullTime(oldest); t != nil && (st.OldestDue == nil || t.Before(*st.OldestDue)) {
			st.OldestDue = t
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// Deliveries waiting behind an ordered endpoint's head are "pending" (not yet queued).
	var waiting int
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE fifo AND next_attempt_at IS NULL AND (state = 'pending' OR manual)`).Scan(&waiting); err != nil {
		return st, err
	}
	if waiting > 0 {
		st.ByKind = append(st.ByKind, KindCount{Kind: "delivery_attempt", State: "pending", Count: waiting})
		st.ByState["pending"] += waiting
	}
	rows, err = s.DB.Query(ctx, `SELECT kind, CAST(state AS TEXT), COUNT(*) FROM river_job GROUP BY kind, state`)
	err = store.Each(rows, err, func(r store.Scanner) error {
		var k KindCount
		if err := r.Scan(&k.Kind, &k.State, &k.Count); err != nil {
			return err
		}
		st.ByKind = append(st.ByKind, k)
		st.ByState[k.State] += k.Count
		return nil
	})
	if err != nil {
		return st, err
	}
	sort.Slice(st.ByKind, func(i, j int) bool {
		a, b := st.ByKind[i], st.ByKind[j]
		return a.Kind < b.Kind || (a.Kind == b.Kind && a.State < b.State)
	})
	due, err := s.river.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateAvailable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil {
		return st, err
	}
	if len(due.Jobs) > 0 && (st.OldestDue == nil || due.Jobs[0].ScheduledAt.Before(*st.OldestDue)) {
		t := due.Jobs[0].ScheduledAt
		st.OldestDue = &t
	}
	errs, err := s.river.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRetryable, rivertype.JobStateDiscarded).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(20))
	if err != nil {
		return st, err
	}
	for _, j := range errs.Jobs {
		e := JobError{ID: j.ID, Kind: j.Kind, State: string(j.State), Attempt: j.Attempt}
		if n := len(j.Errors); n > 0 {
			e.At, e.Error = j.Errors[n-1].At, j.Errors[n-1].Error
		}
		st.RecentErrors = append(st.RecentErrors, e)
	}
	return st, nil
}
