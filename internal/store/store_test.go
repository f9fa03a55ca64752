package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ok, err := db.Migrated(ctx)
		if err != nil || !ok {
			t.Fatalf("Migrated = %v, %v; want true after Migrate", ok, err)
		}
		// Migrating again is a no-op.
		if err := db.Migrate(ctx, discard()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", "w1", "Acme 'quoted' ?", int64(1)); err != nil {
			t.Fatal(err)
		}
		// A failed transaction leaves nothing behind.
		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", "w2", "x", int64(2)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v", err)
		}
		var n int
		if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM workspaces WHERE name LIKE '%?%' OR id = ?", "w2").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("count = %d, want 1 (only w1, whose name has a literal ?)", n)
		}
		_, err = db.Exec(ctx, "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", "w1", "dup", int64(3))
		if !store.IsUniqueViolation(err) {
			t.Fatalf("duplicate id: IsUniqueViolation(%v) = false", err)
		}
		var b bool
		if _, err := db.Exec(ctx, "INSERT INTO roles (id, workspace_id, name, builtin, levels, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", "r1", "w1", "Admin", true, "{}", int64(1), int64(1)); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, "SELECT builtin FROM roles WHERE id = ?", "r1").Scan(&b); err != nil || !b {
			t.Fatalf("boolean round trip = %v, %v", b, err)
		}
	})
}

// Many transactions at once that each also read through the DB (as a cache refill inside a
// publish does) must all finish: reads never wait for a connection an open transaction holds.
func TestConcurrentTransactionsReadingThroughDB(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.Exec(ctx, "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", "w1", "Acme", int64(1)); err != nil {
			t.Fatal(err)
		}
		const n = 48 // three times the PostgreSQL writer pool
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs <- db.InTx(ctx, func(tx *store.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", fmt.Sprintf("t%d", i), "x", int64(i)); err != nil {
						return err
					}
					time.Sleep(10 * time.Millisecond) // hold the connection while others queue
					var name string
					return db.QueryRow(ctx, "SELECT name FROM workspaces WHERE id = ?", "w1").Scan(&name)
				})
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("transaction: %v (a deadlocked pool times out here)", err)
			}
		}
	})
}

func TestCollect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"w1", "w2"} {
			if _, err := db.Exec(ctx, "INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)", id, "n"+id, int64(1)); err != nil {
				t.Fatal(err)
			}
		}
		scanID := func(r store.Scanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		}
		rows, err := db.Query(ctx, "SELECT id FROM workspaces ORDER BY id")
		ids, err := store.Collect(rows, err, scanID)
		if err != nil || len(ids) != 2 || ids[0] != "w1" || ids[1] != "w2" {
			t.Fatalf("Collect = %v, %v", ids, err)
		}
		rows, err = db.Query(ctx, "SELECT id FROM workspaces WHERE id = ?", "nope")
		none, err := store.Collect(rows, err, scanID)
		if err != nil || none == nil || len(none) != 0 {
			t.Fatalf("Collect of no rows = %#v, %v; want an empty, non-nil slice", none, err)
		}
		rows, err = db.Query(ctx, "SELECT nope FROM workspaces")
		if _, err := store.Collect(rows, err, scanID); err == nil {
			t.Fatal("Collect passed over the query's error")
		}
		boom := errors.New("boom")
		n := 0
		rows, err = db.Query(ctx, "SELECT id FROM workspaces ORDER BY id")
		err = store.Each(rows, err, func(store.Scanner) error {
			n++
			return boom
		})
		if !errors.Is(err, boom) || n != 1 {
			t.Fatalf("Each = %v after %d rows; want boom after the first", err, n)
		}
		// The rows are closed: on SQLite's one writer connection, a write now still goes through.
		res, err := db.Exec(ctx, "DELETE FROM workspaces WHERE id = ?", "w2")
		if err := store.Affected(res, err, boom); err != nil {
			t.Fatalf("Affected of a delete that removed a row = %v", err)
		}
		res, err = db.Exec(ctx, "DELETE FROM workspaces WHERE id = ?", "w2")
		if err := store.Affected(res, err, boom); !errors.Is(err, boom) {
			t.Fatalf("Affected of a delete that removed nothing = %v, want the caller's error", err)
		}
	})
}
