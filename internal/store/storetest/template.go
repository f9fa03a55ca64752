package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/relaydesk/relaydesk/internal/store"
)

// Running every migration for each PostgreSQL (sub)test cost more than the tests themselves,
// so each test process migrates one template database at most once and every test clones it
// (CREATE DATABASE … TEMPLATE, a file-level copy).
//
// The template is named after a digest of relaydesk's migration files and River's
// migrations, so a changed migration gets a new template and is never masked by an old one.
// It is left on the server for the next test process. `go test ./...` runs packages in
// parallel, and several checkouts may share a server: the build runs under an advisory lock,
// and a template counts as ready only once it is marked IS_TEMPLATE, which happens last, so
// a build that died half-way is rebuilt rather than cloned. A ready template refuses
// connections (ALLOW_CONNECTIONS false): CREATE DATABASE fails while anyone is connected to
// its source, so nothing may stay connected to it.

// templateLockKey serialises template builds across test processes ("tmpl"). Advisory locks
// are per database: every process takes it in the admin database.
const templateLockKey = 0x746d706c

// staleTemplateAge is how long a template of other migrations is kept: another checkout on
// the same server (a branch with a new migration) may still be cloning it.
const staleTemplateAge = 24 * time.Hour

const templatePrefix = "relaydesk_tmpl_"

var template struct {
	mu    sync.Mutex
	ready bool // this process has seen the template ready
}

// templateName is templatePrefix + a digest of every migration the store applies.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(store.MigrationFiles(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(store.MigrationFiles(), path)
		fmt.Fprintf(h, "%s\x00%d\x00%s", path, len(b), b)
		return err
	})
	if err != nil {
		return "", err
	}
	// River's migrations change with its version; the driver is only asked for its files.
	m, err := rivermigrate.New(riverdatabasesql.New(nil), nil)
	if err != nil {
		return "", err
	}
	for _, v := range m.AllVersions() {
		fmt.Fprintf(h, "river %d\x00%d\x00%s", v.Version, len(v.SQLUp), v.SQLUp)
	}
	return templatePrefix + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// cloneTemplate creates database name as a copy of the template, building the template
// first if need be.
func cloneTemplate(ctx context.Context, adb *sql.DB, name string) error {
	tmpl, err := ensureTemplate(ctx, adb)
	if err != nil {
		return err
	}
	_, err = adb.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "3D000" { // dropped meanwhile (by hand, or as stale by another checkout)
		template.mu.Lock()
		template.ready = false
		template.mu.Unlock()
		if tmpl, err = ensureTemplate(ctx, adb); err != nil {
			return err
		}
		_, err = adb.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl)
	}
	return err
}

// ensureTemplate returns the name of a ready template for the current migrations, building
// it if no process has.
func ensureTemplate(ctx context.Context, adb *sql.DB) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	template.mu.Lock()
	defer template.mu.Unlock()
	if template.ready {
		return name, nil
	}
	state, err := templateState(ctx, adb, name)
	if err != nil || state == "ready" {
		template.ready = err == nil
		return name, err
	}
	conn, err := adb.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return "", fmt.Errorf("template lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLockKey) //nolint:errcheck
	// Another process may have built it while this one waited for the lock.
	if state, err = templateState(ctx, adb, name); err != nil {
		return "", err
	}
	switch state {
	case "ready":
		template.ready = true
		return name, nil
	case "unfinished": // its builder died: nobody else builds while the lock is held
		if _, err := adb.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			return "", fmt.Errorf("drop the unfinished template %s: %w", name, err)
		}
	}
	if err := buildTemplate(ctx, adb, name); err != nil {
		_, _ = adb.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return "", fmt.Errorf("build the template database %s: %w", name, err)
	}
	template.ready = true
	dropStaleTemplates(ctx, adb, name)
	return name, nil
}

// templateState is "ready", "unfinished" (exists, not yet marked) or "" (absent).
func templateState(ctx context.Context, adb *sql.DB, name string) (string, error) {
	var isTemplate bool
	err := adb.QueryRowContext(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, name).Scan(&isTemplate)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", err
	case isTemplate:
		return "ready", nil
	}
	return "unfinished", nil
}

// buildTemplate creates and migrates database name, closes every connection to it, and
// marks it ready.
func buildTemplate(ctx context.Context, adb *sql.DB, name string) error {
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	u, err := databaseURL(name)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, u, "")
	if err != nil {
		return err
	}
	err = db.Migrate(ctx, quiet()) // relaydesk's and River's
	db.Close()
	if err != nil {
		return err
	}
	// A closed client's backend may linger a moment; marking the template refuses new
	// connections, and the clone must not find an old one.
	for {
		var n int
		if err := adb.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d connections stay open to the template: %w", n, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	built := fmt.Sprintf("relaydesk test template, built %d", time.Now().Unix())
	if _, err := adb.ExecContext(ctx, "COMMENT ON DATABASE "+name+" IS '"+built+"'"); err != nil {
		return err
	}
	_, err = adb.ExecContext(ctx, "ALTER DATABASE "+name+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
	return err
}

// dropStaleTemplates drops templates of other migrations built more than staleTemplateAge
// ago (best effort: a failure leaves them for the next build). A checkout still using one
// rebuilds it on its next clone (cloneTemplate).
func dropStaleTemplates(ctx context.Context, adb *sql.DB, current string) {
	rows, err := adb.QueryContext(ctx, `SELECT datname, COALESCE(shobj_description(oid, 'pg_database'), '')
		FROM pg_database WHERE datistemplate AND starts_with(datname, $1) AND datname <> $2`, templatePrefix, current)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name, comment string
		if rows.Scan(&name, &comment) != nil {
			continue
		}
		s, _ := strings.CutPrefix(comment, "relaydesk test template, built ")
		if at, err := strconv.ParseInt(s, 10, 64); err != nil || time.Since(time.Unix(at, 0)) > staleTemplateAge {
			stale = append(stale, name)
		}
	}
	rows.Close()
	for _, name := range stale {
		if _, err := adb.ExecContext(ctx, "ALTER DATABASE "+name+" WITH IS_TEMPLATE false"); err == nil {
			_, _ = adb.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name)
		}
	}
}
