package delivery

import (
	"context"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueStats is the operators' read-only view of River's job queue (GET /ops/queue).
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

// QueueStats reads the queue through River's own client (both drivers) plus one grouped
// count over river_job.
func (s *Service) QueueStats(ctx context.Context) (QueueStats, error) {
	st := QueueStats{ByState: map[string]int{}}
	rows, err := s.DB.Query(ctx, `SELECT kind, CAST(state AS TEXT), COUNT(*) FROM river_job GROUP BY kind, state`)
	if err != nil {
		return st, err
	}
	for rows.Next() {
		var k KindCount
		if err := rows.Scan(&k.Kind, &k.State, &k.Count); err != nil {
			rows.Close()
			return st, err
		}
		st.ByKind = append(st.ByKind, k)
		st.ByState[k.State] += k.Count
	}
	rows.Close()
	if err := rows.Err(); err != nil {
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
	if len(due.Jobs) > 0 {
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
