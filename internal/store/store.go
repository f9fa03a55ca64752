// Package store opens relaydesk's database — SQLite by default, PostgreSQL when the URL
// says so — and runs its migrations. Domain packages own their SQL, written once in the
// portable subset both engines share (`?` placeholders, TEXT ids, BIGINT Unix microseconds,
// BOOLEAN, ON CONFLICT, RETURNING); the few differences live in this package.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the database engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a row asked for by id does not exist (in this workspace).
var ErrNotFound = errors.New("not found")

// DB is the database. On SQLite, writes go through a single connection (SQLite allows one
// writer, and River asks for a one-connection pool) while reads use a pool of their own;
// on PostgreSQL both are the same pool.
type DB struct {
	Dialect Dialect
	// Writer runs transactions and writes; River uses it too.
	Writer *sql.DB
	// Reader serves reads outside transactions.
	Reader *sql.DB
	// Pgx is the PostgreSQL pool behind Writer (nil on SQLite); River listens on it.
	Pgx *pgxpool.Pool
	// Engine runs the delivery engine's own writes (claims, attempt records, lease
	// renewals). On PostgreSQL it is a small pool with synchronous_commit off: a commit
	// lost in a server crash only repeats an attempt, which at-least-once allows, and the
	// engine does not wait for a WAL flush per batch. Publishing stays on Writer, fully
	// durable. On SQLite it is Writer (one writer; WAL with synchronous=NORMAL already).
	Engine    *sql.DB
	enginePgx *pgxpool.Pool
	// readerPgx is the PostgreSQL pool behind Reader.
	readerPgx *pgxpool.Pool

	rebound sync.Map // query → query with $n placeholders (PostgreSQL only)
}

// Open connects to databaseURL, or when it is empty to SQLite at dataDir/relaydesk.db.
func Open(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://"):
		db, err = openPostgres(ctx, databaseURL)
	case databaseURL != "":
		return nil, fmt.Errorf("database URL %q: only postgres:// URLs are supported (leave it empty for SQLite)", redactURL(databaseURL))
	default:
		db, err = openSQLite(ctx, dataDir)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

func openSQLite(ctx context.Context, dataDir string) (*DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, "relaydesk.db")
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	w, err := openCachedSQLite("file:" + path + "?" + pragmas + "&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := openCachedSQLite("file:" + path + "?" + pragmas + "&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	db := &DB{Dialect: SQLite, Writer: w, Reader: r, Engine: w}
	if err := w.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// openPostgres opens two pools, as on SQLite: transactions and writes on one, reads on the
// other. A transaction that reads through the DB (a cache refill, say) then never waits for
// a connection that another open transaction holds, so a burst of concurrent transactions
// cannot deadlock the pool.
func openPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	// The writer pool is what deliveries queue on (each attempt claims and records through
	// it); the URL's pool_max_conns raises it. Two pools per process stay well under
	// PostgreSQL's default 100 connections for a few instances.
	if cfg.MaxConns < 24 {
		cfg.MaxConns = 24
	}
	readCfg := cfg.Copy()
	readCfg.MaxConns = max(cfg.MaxConns/3, 4)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w", redactURL(url), err)
	}
	readPool, err := pgxpool.NewWithConfig(ctx, readCfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	engineCfg := cfg.Copy()
	engineCfg.MaxConns = 8
	engineCfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	enginePool, err := pgxpool.NewWithConfig(ctx, engineCfg)
	if err != nil {
		pool.Close()
		readPool.Close()
		return nil, err
	}
	return &DB{Dialect: Postgres, Writer: stdlib.OpenDBFromPool(pool), Reader: stdlib.OpenDBFromPool(readPool),
		Engine: stdlib.OpenDBFromPool(enginePool), Pgx: pool, readerPgx: readPool, enginePgx: enginePool}, nil
}

// Close closes every pool.
func (db *DB) Close() error {
	err := db.Writer.Close()
	if db.Reader != db.Writer {
		err = errors.Join(err, db.Reader.Close())
	}
	if db.Engine != db.Writer {
		err = errors.Join(err, db.Engine.Close())
	}
	if db.Pgx != nil {
		db.Pgx.Close()
		db.readerPgx.Close()
		db.enginePgx.Close()
	}
	return err
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.Reader.PingContext(ctx) }

// Q rewrites a query written with `?` placeholders for this dialect.
func (db *DB) Q(query string) string {
	if db.Dialect != Postgres {
		return query
	}
	if q, ok := db.rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	q := b.String()
	db.rebound.Store(query, q)
	return q
}

// Exec runs a write outside a transaction.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.Writer.ExecContext(ctx, db.Q(query), args...)
}

// Query runs a read.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.Reader.QueryContext(ctx, db.Q(query), args...)
}

// QueryRow runs a read of one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.Reader.QueryRowContext(ctx, db.Q(query), args...)
}

// Tx is a transaction. Inside InTx, write only through the Tx: on SQLite the writer has
// one connection, so a write through the DB would wait for itself. Reads through the DB
// are fine on both engines (they use the reader pool and see committed data).
type Tx struct {
	*sql.Tx
	db    *DB
	after []func()
}

// AfterCommit runs fn once the transaction has committed (never when it rolls back), for
// signals that must not outrun the data, such as waking the delivery workers.
func (tx *Tx) AfterCommit(fn func()) { tx.after = append(tx.after, fn) }

// Exec runs a statement written with `?` placeholders.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.db.Q(query), args...)
}

// Query runs a query written with `?` placeholders.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.db.Q(query), args...)
}

// QueryRow runs a one-row query written with `?` placeholders.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.db.Q(query), args...)
}

// Dialect of the transaction's database.
func (tx *Tx) Dialect() Dialect { return tx.db.Dialect }

// InTx runs fn in a transaction, committing when it returns nil.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	return db.inTx(ctx, db.Writer, fn)
}

// InEngineTx is InTx on the Engine pool (see DB.Engine): only for the delivery engine's
// own bookkeeping, never for accepting data.
func (db *DB) InEngineTx(ctx context.Context, fn func(*Tx) error) error {
	return db.inTx(ctx, db.Engine, fn)
}

func (db *DB) inTx(ctx context.Context, pool *sql.DB, fn func(*Tx) error) error {
	sqlTx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	tx := &Tx{Tx: sqlTx, db: db}
	if err := fn(tx); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return err
	}
	for _, f := range tx.after {
		f()
	}
	return nil
}

// Querier is what both DB and Tx offer, for code that can run inside or outside a
// transaction.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// Micros is how times are stored: Unix microseconds, identical on both engines.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Time turns stored Unix microseconds back into a UTC time.
func Time(us int64) time.Time { return time.UnixMicro(us).UTC() }

// NullTime turns a nullable stored time into a pointer.
func NullTime(us sql.NullInt64) *time.Time {
	if !us.Valid {
		return nil
	}
	t := Time(us.Int64)
	return &t
}

// NullMicros stores an optional time.
func NullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme > 0 && scheme < at {
			return u[:scheme+3] + "…@" + u[at+1:]
		}
	}
	return u
}
