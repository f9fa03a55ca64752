package store

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"
)

// ErrBadCursor is returned for a cursor that no list of the kind asked for made.
var ErrBadCursor = errors.New("invalid cursor")

// Cursor is the one page cursor of every list the API and pages show (deliveries,
// events, the audit log): opaque, URL-safe base64 of "<kind>1:<id>", id being the last
// row of the page before. Lists are ordered by id (a ULID, NewID), so the next page is
// the rows with smaller ids.
func Cursor(kind, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + "1:" + id))
}

// CursorID returns the id in a cursor that Cursor(kind, …) made; ErrBadCursor otherwise.
func CursorID(kind, c string) (string, error) {
	prefix := kind + "1:"
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), prefix) || len(b) != len(prefix)+26 {
		return "", ErrBadCursor
	}
	return string(b[len(prefix):]), nil
}

// PageQuery is the query of one page of a list read newest first by id (the delivery and
// event logs): ANDed conditions, id below the cursor's, ORDER BY id DESC, and a LIMIT one
// past the page, the extra row telling that another page follows.
type PageQuery struct {
	kind, id string
	limit    int
	conds    []string
	args     []any
}

// DefaultPage is the page size of a list asked for without one.
const DefaultPage = 50

// NewPageQuery starts the query of the page after cursor ("" for the first) of the list of
// kind, whose id column is id. limit is clamped to max; 0 or less is DefaultPage. A cursor
// that no list of the kind made is ErrBadCursor.
func NewPageQuery(kind, id, cursor string, limit, max int) (*PageQuery, error) {
	if limit <= 0 {
		limit = DefaultPage
	}
	q := &PageQuery{kind: kind, id: id, limit: min(limit, max)}
	if cursor != "" {
		after, err := CursorID(kind, cursor)
		if err != nil {
			return nil, err
		}
		q.And(id+" < ?", after)
	}
	return q, nil
}

// And adds a condition with its one argument.
func (q *PageQuery) And(cond string, arg any) {
	q.conds = append(q.conds, cond)
	q.args = append(q.args, arg)
}

// Between keeps the rows whose col (microseconds, as Micros stores) lies in [since, until];
// a zero bound does not filter.
func (q *PageQuery) Between(col string, since, until time.Time) {
	if !since.IsZero() {
		q.And(col+" >= ?", Micros(since))
	}
	if !until.IsZero() {
		q.And(col+" <= ?", Micros(until))
	}
}

// Tail returns the end of the query, from WHERE through LIMIT, and all its arguments.
func (q *PageQuery) Tail() (string, []any) {
	where := ""
	if len(q.conds) > 0 {
		where = "WHERE " + strings.Join(q.conds, " AND ") + " "
	}
	return where + "ORDER BY " + q.id + " DESC LIMIT ?", append(slices.Clip(q.args), q.limit+1)
}

// Page cuts rows, read with q's query, to the page, and returns the cursor of the next page
// (empty on the last); id gives a row's id.
func Page[T any](q *PageQuery, rows []T, id func(T) string) ([]T, string) {
	if len(rows) <= q.limit {
		return rows, ""
	}
	rows = rows[:q.limit]
	return rows, Cursor(q.kind, id(rows[q.limit-1]))
}
