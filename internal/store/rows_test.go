package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
)

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
