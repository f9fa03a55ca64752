package store

import (
	"context"
	"testing"
)

// TestStmtCache: statements are reused across calls, a query run again while its own rows
// are still open (nested) gets a one-off statement and both results are right, and errors
// leave the cached statement usable.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Writer.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := db.Writer.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Writer.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 1, "dup"); err == nil || !IsUniqueViolation(err) {
		t.Fatalf("duplicate insert: %v", err)
	}
	if _, err := db.Writer.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 9, "after error"); err != nil {
		t.Fatalf("the cached statement after an error: %v", err)
	}
	const q = `SELECT id FROM t WHERE id >= ? ORDER BY id`
	err = db.InTx(ctx, func(tx *Tx) error {
		outer, err := tx.Query(ctx, q, 0)
		if err != nil {
			return err
		}
		defer outer.Close()
		n := 0
		for outer.Next() {
			var id int
			if err := outer.Scan(&id); err != nil {
				return err
			}
			var inner int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM t WHERE id >= ?`, id).Scan(&inner); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, q, id) // the same text while outer is open
			if err != nil {
				return err
			}
			m := 0
			for rows.Next() {
				m++
			}
			rows.Close()
			if m != inner {
				t.Errorf("nested query from %d: %d rows, want %d", id, m, inner)
			}
			n++
		}
		if n != 6 {
			t.Errorf("outer rows: %d, want 6", n)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // reuse after the rows were closed
		var c int
		if err := db.Reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE v = ?`, "v").Scan(&c); err != nil || c != 5 {
			t.Fatalf("count: %d, %v", c, err)
		}
	}
}
