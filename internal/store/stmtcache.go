package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"

	"modernc.org/sqlite"
)

// SQLite statement cache.
//
// modernc.org/sqlite prepares (parses and plans) every statement that database/sql runs
// without an explicit Prepare, and finalizes it afterwards: on the delivery hot path that
// parsing was about a third of the server's CPU (profiles from `relaydesk bench`), River's
// per-job completion queries included. pgx caches prepared statements per connection by
// itself; this does the same for SQLite: each connection keeps its statements by query
// text and reuses them (a modernc statement is reset, not finalized, between uses).
//
// A statement in use by open rows is not handed out again: a second use of the same query
// while the first's rows are open (nested queries) gets a one-off statement.

// stmtCacheSize bounds the statements kept per connection; past it the cache is emptied
// (the set of queries relaydesk and River run is small and fixed, so this only guards
// against unbounded growth from generated SQL such as multi-row INSERTs).
const stmtCacheSize = 256

type cachingConnector struct{ inner driver.Connector }

func newCachingConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{c}, nil
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.inner.Driver() }

type cachedStmt struct {
	driver.Stmt
	busy bool
}

// cachingConn wraps a modernc connection. database/sql uses a connection from one
// goroutine at a time; mu guards against rows closed from elsewhere.
type cachingConn struct {
	driver.Conn
	mu    sync.Mutex
	stmts map[string]*cachedStmt
}

// stmt returns a statement for query and a release function. one is true for a one-off
// statement that release closes.
func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, func(), error) {
	c.mu.Lock()
	if s, ok := c.stmts[query]; ok && !s.busy {
		s.busy = true
		c.mu.Unlock()
		return s.Stmt, func() { c.mu.Lock(); s.busy = false; c.mu.Unlock() }, nil
	} else if ok {
		c.mu.Unlock()
		st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
		if err != nil {
			return nil, nil, err
		}
		return st, func() { _ = st.Close() }, nil
	}
	c.mu.Unlock()
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	s := &cachedStmt{Stmt: st, busy: true}
	c.mu.Lock()
	if len(c.stmts) >= stmtCacheSize {
		for q, old := range c.stmts {
			if !old.busy {
				_ = old.Close()
				delete(c.stmts, q)
			}
		}
	}
	c.stmts[query] = s
	c.mu.Unlock()
	return st, func() { c.mu.Lock(); s.busy = false; c.mu.Unlock() }, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	st, release, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	defer release()
	return st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	st, release, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		release()
		return nil, err
	}
	return &releasingRows{Rows: rows, release: release}, nil
}

// releasingRows gives the statement back when the rows are closed.
type releasingRows struct {
	driver.Rows
	release func()
	once    sync.Once
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	r.once.Do(r.release)
	return err
}

// The optional interfaces database/sql looks for, passed through.

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// openCachedSQLite is sql.Open("sqlite", dsn) with the statement cache.
func openCachedSQLite(dsn string) (*sql.DB, error) {
	c, err := newCachingConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
