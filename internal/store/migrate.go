package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// migrations holds relaydesk's schema, one goose file per change, written in the SQL both
// engines accept.
//
//go:embed migrations/*.sql
var migrations embed.FS

// MigrationFiles is relaydesk's schema as embedded: the goose files Migrate applies (storetest
// names its template database after their digest, so a changed file makes a new template).
func MigrationFiles() fs.FS {
	dir, _ := fs.Sub(migrations, "migrations")
	return dir
}

// migrateLockKey is the PostgreSQL advisory lock that serialises instances starting together.
const migrateLockKey = 0x72656c6179 // "relay"

// Migrate brings relaydesk's tables and River's up to date. On PostgreSQL it holds an
// advisory lock while doing so, so several instances may start at once.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	if db.Dialect == Postgres {
		conn, err := db.Writer.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck
	}
	if err := db.migrateRiver(ctx, log); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.Writer, MigrationFiles(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Migrated reports whether every migration has been applied (for /readyz).
func (db *DB) Migrated(ctx context.Context) (bool, error) {
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.Reader, MigrationFiles(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return false, err
	}
	pending, err := p.HasPending(ctx)
	return !pending, err
}

func (db *DB) migrateRiver(ctx context.Context, log *slog.Logger) error {
	var driver riverdriver.Driver[*sql.Tx]
	if db.Dialect == Postgres {
		driver = riverdatabasesql.New(db.Writer)
	} else {
		driver = riversqlite.New(db.Writer)
	}
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}
