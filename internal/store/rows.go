package store

import "database/sql"

// Scanner is what *sql.Row and *sql.Rows share, so one scan function reads a row of either.
type Scanner interface {
	Scan(dest ...any) error
}

// Each calls fn for every row of a query, then closes the rows. It takes Query's two
// results as they came (rows, err := q.Query(…); return store.Each(rows, err, fn)), and is
// for rows that fold into something other than a list (a map, counts, a filtered list);
// Collect reads a list.
func Each(rows *sql.Rows, err error, fn func(Scanner) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Collect reads every row of a query through scan, as Each does. With no rows the slice is
// empty, never nil, so a list marshals as [] rather than null.
func Collect[T any](rows *sql.Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	out := []T{}
	err = Each(rows, err, func(r Scanner) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Affected returns none when a statement changed no row (the row is gone, or a concurrent
// change won), for the caller to name what that means. Like Collect it takes Exec's two
// results as they came.
func Affected(res sql.Result, err, none error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}
