// Package apptest runs a whole relaydesk in a test — on SQLite in a temp dir or on a
// throwaway PostgreSQL database — behind an httptest server, with helpers to make
// workspaces, members and requests.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
)

// Env is a running relaydesk.
type Env struct {
	T      testing.TB
	App    *app.App
	Server *httptest.Server
	// Logs captures everything the app logged (tests check no secret is in it).
	Logs *SyncBuffer
}

// SyncBuffer is a goroutine-safe buffer.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func init() {
	// Hashing passwords at full cost dominates test time under -race; tests keep argon2id
	// with smaller parameters (production values are in account.PasswordParams).
	account.PasswordParams.Memory = 1024
	account.PasswordParams.Time = 1
}

// Option adjusts the config before the app starts.
type Option func(*app.Config)

// Each runs fn against a fresh relaydesk on each engine.
func Each(t *testing.T, fn func(t *testing.T, env *Env), opts ...Option) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opts...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opts...)) })
}

// SQLite starts relaydesk on SQLite.
func SQLite(t testing.TB, opts ...Option) *Env {
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	return start(t, cfg, opts)
}

// Postgres starts relaydesk on a throwaway PostgreSQL database.
func Postgres(t testing.TB, opts ...Option) *Env {
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = storetest.MigratedURL(t)
	cfg.MasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 test bytes
	return start(t, cfg, opts)
}

func start(t testing.TB, cfg app.Config, opts []Option) *Env {
	t.Helper()
	cfg.Version = "test"
	cfg.AllowPrivateEndpoints = true // receivers in tests are on loopback
	for _, o := range opts {
		o(&cfg)
	}
	logs := &SyncBuffer{}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		a.Close()
	})
	return &Env{T: t, App: a, Server: srv, Logs: logs}
}

// DB is the app's database.
func (e *Env) DB() *store.DB { return e.App.DB }

// URL is the server's base URL.
func (e *Env) URL() string { return e.Server.URL }

// Workspace is a workspace made for a test, with its Admin signed in.
type Workspace struct {
	ID    string
	Admin *Client
	env   *Env
}

// NewWorkspace creates a workspace and signs its Admin in.
func (e *Env) NewWorkspace(name string) *Workspace {
	e.T.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", "")) + "-admin@example.test"
	out, err := e.App.Accounts.CreateWorkspaceWithAdmin(context.Background(), name, email, "correct horse battery")
	if err != nil {
		e.T.Fatal(err)
	}
	return &Workspace{ID: out.Workspace.ID, Admin: e.SignIn(email, "correct horse battery"), env: e}
}

// AddMember creates a user with a role of this workspace — a built-in role by name, or a
// new custom role with the given levels when levels is not nil — and signs them in.
func (w *Workspace) AddMember(email, roleName string, levels access.Levels) *Client {
	e := w.env
	e.T.Helper()
	ctx := context.Background()
	err := e.DB().InTx(ctx, func(tx *store.Tx) error {
		var roleID string
		if levels != nil {
			roleID = store.NewID()
			if _, err := tx.Exec(ctx, `INSERT INTO roles (id, workspace_id, name, builtin, levels, created_at, updated_at) VALUES (?, ?, ?, FALSE, ?, 0, 0)`,
				roleID, w.ID, roleName, levels.Encode()); err != nil {
				return err
			}
		} else if err := tx.QueryRow(ctx, `SELECT id FROM roles WHERE workspace_id = ? AND name = ?`, w.ID, roleName).Scan(&roleID); err != nil {
			return err
		}
		u, err := e.App.Accounts.CreateUser(ctx, tx, email, "", "correct horse battery")
		if err != nil {
			return err
		}
		return account.AddMember(ctx, tx, w.ID, u.ID, roleID)
	})
	if err != nil {
		e.T.Fatal(err)
	}
	return e.SignIn(email, "correct horse battery")
}

// PlatformToken creates a producer token.
func (e *Env) PlatformToken() *Client {
	e.T.Helper()
	_, token, err := e.App.Platform.Create(context.Background(), "test producer")
	if err != nil {
		e.T.Fatal(err)
	}
	return &Client{env: e, HTTP: e.Server.Client(), Bearer: token}
}

// Client makes requests as one caller.
type Client struct {
	env    *Env
	HTTP   *http.Client
	Bearer string
	Email  string
}

// Anonymous is a client with no credential.
func (e *Env) Anonymous() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{env: e, HTTP: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// SignIn signs in through POST /v1/sessions and keeps the cookie.
func (e *Env) SignIn(email, password string) *Client {
	e.T.Helper()
	c := e.Anonymous()
	c.Email = email
	res := c.Do("POST", "/v1/sessions", map[string]string{"email": email, "password": password})
	if res.Status != http.StatusCreated {
		e.T.Fatalf("sign in %s: %d %s", email, res.Status, res.Body)
	}
	return c
}

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request; body is JSON-encoded unless it is a string or []byte (sent as is).
func (c *Client) Do(method, path string, body any, headers ...string) *Response {
	c.env.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.env.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.env.Server.URL+path, rd)
	if err != nil {
		c.env.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.env.T.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}
}
