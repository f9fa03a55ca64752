package store

import (
	"context"
	"strings"
)

// InsertRows writes rows with multi-row INSERTs, perStatement rows at a time: into is
// "table (col, …)", and values gives one row's arguments, one per column. One statement per
// chunk instead of one per row is most of what batching buys; perStatement keeps a statement
// under both engines' parameter limits (and its size sane for large rows).
func InsertRows[T any](ctx context.Context, tx *Tx, into string, perStatement int, rows []T, values func(T) []any) error {
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), perStatement)]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString("INSERT INTO " + into + " VALUES ")
		var args []any
		for i, r := range chunk {
			v := values(r)
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(" + strings.Repeat("?, ", len(v)-1) + "?)")
			args = append(args, v...)
		}
		if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
