package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
)

// TestIsUnavailable classifies real failures: the database gone (refused, cut mid-way,
// its backend terminated), SQLite's file locked; and real answers that are not outages
// (a syntax error, a unique violation, no rows).
func TestIsUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("postgres", func(t *testing.T) {
		u := storetest.MigratedURL(t)
		proxy, proxied := storetest.NewProxy(t, u)
		db, err := store.Open(ctx, proxied, "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(ctx, discard()); err != nil {
			t.Fatal(err)
		}
		var one int
		if err := db.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
			t.Fatal(err)
		}
		// Answers from a live server are not outages.
		_, syntaxErr := db.Exec(ctx, `SELEC 1`)
		_, _ = db.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES ('u1', 'a', 1)`)
		_, dupErr := db.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES ('u1', 'a', 1)`)
		noRows := db.QueryRow(ctx, `SELECT id FROM workspaces WHERE id = 'none'`).Scan(new(string))
		for name, err := range map[string]error{"syntax error": syntaxErr, "unique violation": dupErr, "no rows": noRows} {
			if err == nil || store.IsUnavailable(err) {
				t.Errorf("%s: %v classified unavailable=%v", name, err, store.IsUnavailable(err))
			}
		}
		// A backend terminated under an open transaction.
		tx, err := db.Writer.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `SELECT pg_terminate_backend(?)`, pid); err != nil {
			t.Fatal(err)
		}
		_, err = tx.ExecContext(ctx, `SELECT 1`)
		_ = tx.Rollback()
		if err == nil || !store.IsUnavailable(err) {
			t.Errorf("terminated backend: %v, unavailable=%v", err, store.IsUnavailable(err))
		}
		// The database cut away: open connections break, new ones are refused.
		proxy.Cut()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, errWrite := db.Exec(cctx, `INSERT INTO workspaces (id, name, created_at) VALUES ('u2', 'a', 1)`)
		errRead := db.QueryRow(cctx, `SELECT 1`).Scan(&one)
		errTx := db.InTx(cctx, func(tx *store.Tx) error { return nil })
		errPing := db.Ping(cctx)
		for name, err := range map[string]error{"write": errWrite, "read": errRead, "transaction": errTx, "ping": errPing} {
			if err == nil || !store.IsUnavailable(err) {
				t.Errorf("cut, %s: %v, unavailable=%v", name, err, store.IsUnavailable(err))
			}
		}
		// And back: the same pools work again.
		proxy.Restore()
		if err := db.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
			t.Errorf("after restore: %v", err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES ('u3', 'a', 1)`); err != nil {
			t.Errorf("write after restore: %v", err)
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "x.db")
		a, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		a.SetMaxOpenConns(1)
		if _, err := a.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		b, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		tx, err := a.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`INSERT INTO t VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		_, err = b.Exec(`INSERT INTO t VALUES (2)`)
		if err == nil || !store.IsUnavailable(err) {
			t.Errorf("locked: %v, unavailable=%v", err, store.IsUnavailable(err))
		}
		_, err = b.Exec(`INSERT INTO nope VALUES (2)`)
		if err == nil || store.IsUnavailable(err) {
			t.Errorf("no such table: %v, unavailable=%v", err, store.IsUnavailable(err))
		}
	})
	for _, err := range []error{nil, errors.New("boom"), context.Canceled, sql.ErrNoRows} {
		if store.IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
	}
	if !store.IsUnavailable(&net.OpError{Op: "dial", Err: errors.New("refused")}) {
		t.Error("a dial error is an outage")
	}
}
