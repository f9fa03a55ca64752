// Package storetest gives tests a fresh, migrated database on each engine: SQLite in a temp
// dir, and PostgreSQL as a throwaway database on the server named by
// RELAYDESK_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). When
// PostgreSQL is unreachable the PostgreSQL half fails under CI and skips, saying so, elsewhere.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for the admin connection

	"github.com/relaydesk/relaydesk/internal/store"
)

// DefaultAdminURL is where PostgreSQL listens on the project's machines.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Each runs fn once per engine as subtests named "sqlite" and "postgres".
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a migrated SQLite database in a temp dir.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), quiet()); err != nil {
		t.Fatal(err)
	}
	return db
}

// Postgres creates a throwaway database, migrates it, and drops it when the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	u := PostgresURL(t)
	db, err := store.Open(context.Background(), u, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), quiet()); err != nil {
		t.Fatal(err)
	}
	return db
}

// AdminURL is the PostgreSQL server tests use: RELAYDESK_TEST_DATABASE_URL, or
// DefaultAdminURL.
func AdminURL() string {
	if u := os.Getenv("RELAYDESK_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// PostgresURL creates an empty throwaway database and returns its URL (for tests that
// start relaydesk processes themselves).
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := AdminURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adb, err := sql.Open("pgx", admin)
	if err == nil {
		err = adb.PingContext(ctx)
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is required in CI and is unreachable at %s: %v", admin, err)
		}
		t.Skipf("skipping the PostgreSQL half: no server at %s (%v); set RELAYDESK_TEST_DATABASE_URL or start PostgreSQL", admin, err)
	}
	defer adb.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "relaydesk_test_" + hex.EncodeToString(b[:])
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		adb, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer adb.Close()
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	pu, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	pu.Path = "/" + name
	return pu.String()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
