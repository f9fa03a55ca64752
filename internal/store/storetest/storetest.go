// Package storetest gives tests a fresh, migrated database on each engine: SQLite in a temp
// dir, and PostgreSQL as a throwaway database on the server named by
// RELAYDESK_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), cloned
// from a template database that is migrated once (template.go). When PostgreSQL is
// unreachable the PostgreSQL half fails under CI and skips, saying so, elsewhere.
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

// Postgres opens a throwaway, migrated database (a clone of the template) that is dropped
// when the test ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), MigratedURL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
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

// MigratedURL creates a throwaway database with every migration applied (relaydesk's and
// River's: a clone of the template) and returns its URL, for tests that open it themselves
// or hand it to relaydesk.
func MigratedURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, 2*time.Minute, cloneTemplate) // may build the template first
}

// PostgresURL creates an empty throwaway database and returns its URL, for tests that
// start relaydesk processes on a fresh install (they migrate it themselves).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, 10*time.Second, func(ctx context.Context, adb *sql.DB, name string) error {
		_, err := adb.ExecContext(ctx, "CREATE DATABASE "+name)
		return err
	})
}

// newDatabase creates a database with create, drops it when the test ends, and returns its
// URL.
func newDatabase(t testing.TB, within time.Duration, create func(ctx context.Context, adb *sql.DB, name string) error) string {
	t.Helper()
	adb := openAdmin(t)
	defer adb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	name := randomName("relaydesk_test_")
	if err := create(ctx, adb, name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return dropAtCleanup(t, name)
}

// openAdmin connects to the server at AdminURL; unreachable, it fails the test in CI and
// skips it elsewhere.
func openAdmin(t testing.TB) *sql.DB {
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
	return adb
}

// dropAtCleanup drops database name when the test ends and returns its URL.
func dropAtCleanup(t testing.TB, name string) string {
	t.Helper()
	t.Cleanup(func() {
		adb, err := sql.Open("pgx", AdminURL())
		if err != nil {
			return
		}
		defer adb.Close()
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := databaseURL(name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// databaseURL is AdminURL pointed at database name.
func databaseURL(name string) (string, error) {
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
