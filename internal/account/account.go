// Package account holds users, workspaces, memberships and sign-in sessions.
package account

import (
	"context"
	"database/sql"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// User is a person who can sign in.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Workspace is the tenant.
type Workspace struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Membership is a user's place in a workspace.
type Membership struct {
	WorkspaceID   string        `json:"workspaceId"`
	WorkspaceName string        `json:"workspaceName"`
	RoleID        string        `json:"roleId"`
	RoleName      string        `json:"roleName"`
	Levels        access.Levels `json:"levels"`
}

// Service is the account store.
type Service struct{ DB *store.DB }

// Errors callers turn into answers.
var (
	ErrEmailTaken         = &input.Error{Reason: "a user with this email already exists"}
	ErrInvalidCredentials = errors.New("the email or password is incorrect")
)

// Field limits.
const (
	MaxEmailLen = 254
	MaxNameLen  = 100
)

// NormalizeEmail checks an email address and returns its canonical (lower-case) form.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", invalidf("an email address is required")
	}
	if len(email) > MaxEmailLen {
		return "", invalidf("the email address must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") {
		return "", invalidf("%q is not an email address", email)
	}
	return strings.ToLower(email), nil
}

// CheckName validates a display name (workspace, role, user).
func CheckName(what, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalidf("a %s name is required", what)
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return invalidf("the %s name must be at most %d characters", what, MaxNameLen)
	}
	return nil
}

// Setup is the result of creating a workspace with its first Admin.
type Setup struct {
	Workspace Workspace `json:"workspace"`
	User      User      `json:"user"`
}

// CreateWorkspaceWithAdmin creates a workspace, seeds its built-in roles and makes the user
// (created when the email is new) its Admin, all in one transaction. For an existing user,
// password must match theirs.
func (s *Service) CreateWorkspaceWithAdmin(ctx context.Context, workspaceName, email, password string) (Setup, error) {
	if err := CheckName("workspace", workspaceName); err != nil {
		return Setup{}, err
	}
	email, hash, err := newCredentials(email, password)
	if err != nil {
		return Setup{}, err
	}
	var out Setup
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		ws, roles, err := createWorkspace(ctx, tx, workspaceName)
		if err != nil {
			return err
		}
		u, err := userByEmail(ctx, tx, email)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if u, err = createUser(ctx, tx, email, "", hash); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			ok, err := CheckPassword(password, u.hash)
			if err != nil || !ok {
				return ErrInvalidCredentials
			}
		}
		if err := AddMember(ctx, tx, ws.ID, u.ID, roles[access.RoleAdmin]); err != nil {
			return err
		}
		out = Setup{Workspace: ws, User: u.User}
		return nil
	})
	return out, err
}

func createWorkspace(ctx context.Context, tx *store.Tx, name string) (Workspace, map[string]string, error) {
	now := time.Now().UTC()
	ws := Workspace{ID: store.NewID(), Name: strings.TrimSpace(name), CreatedAt: now}
	if _, err := tx.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)`, ws.ID, ws.Name, store.Micros(now)); err != nil {
		return ws, nil, err
	}
	roles := map[string]string{}
	for _, r := range access.BuiltinRoles {
		id := store.NewID()
		if _, err := tx.Exec(ctx, `INSERT INTO roles (id, workspace_id, name, builtin, levels, created_at, updated_at) VALUES (?, ?, ?, TRUE, ?, ?, ?)`,
			id, ws.ID, r.Name, r.Levels.Encode(), store.Micros(now), store.Micros(now)); err != nil {
			return ws, nil, err
		}
		roles[r.Name] = id
	}
	return ws, roles, nil
}

type userRow struct {
	User
	hash string
}

func userByEmail(ctx context.Context, q store.Querier, email string) (userRow, error) {
	var u userRow
	var created int64
	err := q.QueryRow(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, store.ErrNotFound
	}
	u.CreatedAt = store.Time(created)
	return u, err
}

func createUser(ctx context.Context, tx *store.Tx, email, name, hash string) (userRow, error) {
	u := userRow{User: User{ID: store.NewID(), Email: email, Name: name, CreatedAt: time.Now().UTC()}, hash: hash}
	_, err := tx.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, hash, store.Micros(u.CreatedAt))
	if store.IsUniqueViolation(err) {
		return u, ErrEmailTaken
	}
	return u, err
}

// CreateUser creates a user with a password (used by invitations' sign-up).
func (s *Service) CreateUser(ctx context.Context, tx *store.Tx, email, name, password string) (User, error) {
	email, hash, err := newCredentials(email, password)
	if err != nil {
		return User{}, err
	}
	u, err := createUser(ctx, tx, email, name, hash)
	return u.User, err
}

// newCredentials checks and normalises a new user's email and hashes their password.
func newCredentials(email, password string) (string, string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", "", err
	}
	hash, err := HashPassword(password)
	return email, hash, err
}

// AddMember gives a user a role in a workspace.
func AddMember(ctx context.Context, tx *store.Tx, workspaceID, userID, roleID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO members (workspace_id, user_id, role_id, created_at) VALUES (?, ?, ?, ?)`,
		workspaceID, userID, roleID, store.Micros(time.Now()))
	return err
}

// HasUsers reports whether anyone has been set up yet (the setup page shows until then).
func (s *Service) HasUsers(ctx context.Context) (bool, error) {
	var n int
	err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) t`).Scan(&n)
	return n > 0, err
}

// Authenticate checks an email and password. Unknown emails cost the same time as wrong
// passwords.
func (s *Service) Authenticate(ctx context.Context, email, password string) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		_, _ = CheckPassword(password, dummyHash)
		return User{}, ErrInvalidCredentials
	}
	u, err := userByEmail(ctx, s.DB, email)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = CheckPassword(password, dummyHash)
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, err
	}
	ok, err := CheckPassword(password, u.hash)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrInvalidCredentials
	}
	return u.User, nil
}

// UserByID returns a user.
func (s *Service) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	var created int64
	err := s.DB.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE id = ?`, id).Scan(&u.ID, &u.Email, &u.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, store.ErrNotFound
	}
	u.CreatedAt = store.Time(created)
	return u, err
}

// Memberships lists the workspaces a user belongs to, oldest first.
func (s *Service) Memberships(ctx context.Context, userID string) ([]Membership, error) {
	rows, err := s.DB.Query(ctx, `SELECT w.id, w.name, r.id, r.name, r.levels FROM members m
		JOIN workspaces w ON w.id = m.workspace_id JOIN roles r ON r.id = m.role_id
		WHERE m.user_id = ? ORDER BY m.created_at, w.id`, userID)
	return store.Collect(rows, err, func(r store.Scanner) (Membership, error) {
		var m Membership
		var levels string
		err := r.Scan(&m.WorkspaceID, &m.WorkspaceName, &m.RoleID, &m.RoleName, &levels)
		if err == nil {
			m.Levels, err = access.DecodeLevels(levels)
		}
		return m, err
	})
}

// Member returns a user's membership of one workspace, read fresh on every request so a
// role change or removal takes effect on the next one.
func (s *Service) Member(ctx context.Context, workspaceID, userID string) (Membership, error) {
	var m Membership
	var levels string
	err := s.DB.QueryRow(ctx, `SELECT w.id, w.name, r.id, r.name, r.levels FROM members m
		JOIN workspaces w ON w.id = m.workspace_id JOIN roles r ON r.id = m.role_id
		WHERE m.workspace_id = ? AND m.user_id = ?`, workspaceID, userID).
		Scan(&m.WorkspaceID, &m.WorkspaceName, &m.RoleID, &m.RoleName, &levels)
	if errors.Is(err, sql.ErrNoRows) {
		return m, store.ErrNotFound
	}
	if err != nil {
		return m, err
	}
	m.Levels, err = access.DecodeLevels(levels)
	return m, err
}

// Workspace returns a workspace by id.
func (s *Service) Workspace(ctx context.Context, id string) (Workspace, error) {
	var w Workspace
	var created int64
	err := s.DB.QueryRow(ctx, `SELECT id, name, created_at FROM workspaces WHERE id = ?`, id).Scan(&w.ID, &w.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return w, store.ErrNotFound
	}
	w.CreatedAt = store.Time(created)
	return w, err
}

func invalidf(format string, args ...any) error { return input.Errorf("", format, args...) }
