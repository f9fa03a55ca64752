// Package apikey holds a member's API keys and the Zapier REST hooks made with them.
//
// An API key ("rdk_" + 32 random bytes, URL-safe) is shown once; the database keeps its
// first 12 characters for lookup and display and the SHA-256 of the whole key. A key acts
// as its member with the member's current role: the membership is read afresh on every
// request, so a role change applies to the next request and a removed member's keys stop
// working. Editors (developer ≥ editor) manage their own keys; owners everyone's.
package apikey

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/credential"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/zapier"
)

// Kind prefixes API keys.
const Kind = "rdk"

// MaxNameLen bounds a key's name.
const MaxNameLen = 100

// MaxKeysPerMember bounds how many live keys one member may hold in a workspace.
const MaxKeysPerMember = 50

// Key is a stored API key (never the key itself).
type Key struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix" doc:"The first characters of the key, to recognise it."`
	UserID     string     `json:"userId"`
	OwnerEmail string     `json:"ownerEmail"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty" doc:"Updated at most once a minute."`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
}

// Expired reports whether the key has passed its expiry at now.
func (k Key) Expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// Service stores API keys and resolves presented ones. It implements auth.KeyResolver.
type Service struct {
	DB *store.DB
	// Now is the clock (tests); nil means time.Now.
	Now clock.Clock
}

// CheckName validates a key's name and returns it trimmed.
func CheckName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", &input.Error{Reason: "a name is required, e.g. the script or Zap that will use the key"}
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return "", &input.Error{Reason: "the name must be at most 100 characters"}
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", &input.Error{Reason: "the name must not contain control characters"}
		}
	}
	return name, nil
}

// Create makes a key for the member userID of workspaceID and records it in the audit log.
// The returned string is the only time the key exists in clear.
func (s *Service) Create(ctx context.Context, workspaceID, userID, name string, expiresAt *time.Time) (Key, string, error) {
	name, err := CheckName(name)
	if err != nil {
		return Key{}, "", err
	}
	now := s.Now.Now().UTC()
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return Key{}, "", &input.Error{Reason: "the expiry must be in the future"}
		}
		t := expiresAt.UTC().Truncate(time.Microsecond)
		expiresAt = &t
	}
	k := Key{ID: store.NewID(), Name: name, UserID: userID, CreatedAt: now.Truncate(time.Microsecond), ExpiresAt: expiresAt}
	var token string
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM api_keys WHERE workspace_id = ? AND user_id = ? AND revoked_at IS NULL`,
			workspaceID, userID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxKeysPerMember {
			return &input.Error{Reason: "you have too many API keys in this workspace; revoke some first"}
		}
		if err := tx.QueryRow(ctx, `SELECT email FROM users WHERE id = ?`, userID).Scan(&k.OwnerEmail); err != nil {
			return err
		}
		// The prefix is unique; a clash of its 48 random bits is retried with a new key.
		for range 3 {
			token, k.Prefix = credential.New(Kind)
			_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, workspace_id, user_id, name, prefix, hash, created_at, expires_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (prefix) DO NOTHING`,
				k.ID, workspaceID, userID, name, k.Prefix, credential.Hash(token), store.Micros(k.CreatedAt), store.NullMicros(expiresAt))
			if err != nil {
				return err
			}
			var got string
			if err := tx.QueryRow(ctx, `SELECT id FROM api_keys WHERE prefix = ?`, k.Prefix).Scan(&got); err != nil {
				return err
			}
			if got == k.ID {
				detail := map[string]any{"name": name, "prefix": k.Prefix, "owner": k.OwnerEmail}
				if expiresAt != nil {
					detail["expiresAt"] = expiresAt.Format(time.RFC3339)
				}
				return audit.Record(ctx, tx, workspaceID, "apikey.create", "api_key", k.ID, detail)
			}
		}
		return errors.New("apikey: could not find a free key prefix")
	})
	if err != nil {
		return Key{}, "", err
	}
	return k, token, nil
}

const keyColumns = `k.id, k.name, k.prefix, k.user_id, u.email, k.created_at, k.last_used_at, k.expires_at`

func scanKey(sc store.Scanner) (Key, error) {
	var k Key
	var created int64
	var used, expires sql.NullInt64
	if err := sc.Scan(&k.ID, &k.Name, &k.Prefix, &k.UserID, &k.OwnerEmail, &created, &used, &expires); err != nil {
		return k, err
	}
	k.CreatedAt, k.LastUsedAt, k.ExpiresAt = store.Time(created), store.NullTime(used), store.NullTime(expires)
	return k, nil
}

// List returns the workspace's live (not revoked) keys, newest first: only userID's when
// userID is not empty (an editor's own), else everyone's (an owner's view).
func (s *Service) List(ctx context.Context, workspaceID, userID string) ([]Key, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.workspace_id = ? AND k.revoked_at IS NULL`
	args := []any{workspaceID}
	if userID != "" {
		q += ` AND k.user_id = ?`
		args = append(args, userID)
	}
	rows, err := s.DB.Query(ctx, q+` ORDER BY k.id DESC`, args...)
	return store.Collect(rows, err, scanKey)
}

// Get returns one live key of the workspace; with userID set, only if it is that member's.
func (s *Service) Get(ctx context.Context, workspaceID, id, userID string) (Key, error) {
	return liveKey(ctx, s.DB, workspaceID, id, userID)
}

// liveKey reads one unrevoked key of the workspace (with userID set, only that member's);
// store.ErrNotFound when there is none.
func liveKey(ctx context.Context, q store.Querier, workspaceID, id, userID string) (Key, error) {
	query := `SELECT ` + keyColumns + ` FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.workspace_id = ? AND k.id = ? AND k.revoked_at IS NULL`
	args := []any{workspaceID, id}
	if userID != "" {
		query += ` AND k.user_id = ?`
		args = append(args, userID)
	}
	k, err := scanKey(q.QueryRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return k, store.ErrNotFound
	}
	return k, err
}

// Revoke stops a key at once, removes the Zapier hooks subscribed with it (a leaked key's
// hooks must not go on receiving events after the revoke), and records both in the audit
// log. With userID set, only that member's key may be revoked (another member's is reported
// as not found).
func (s *Service) Revoke(ctx context.Context, workspaceID, id, userID string) (Key, error) {
	var k Key
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if k, err = liveKey(ctx, tx, workspaceID, id, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND workspace_id = ?`,
			store.Micros(s.Now.Now()), id, workspaceID); err != nil {
			return err
		}
		hooks, err := zapier.RemoveForKey(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "apikey.revoke", "api_key", id,
			map[string]any{"name": k.Name, "prefix": k.Prefix, "owner": k.OwnerEmail, "hooksRemoved": hooks})
	})
	return k, err
}

// ErrInvalid is returned for a key that is unknown, wrong, revoked, expired, or whose
// member has left the workspace.
var ErrInvalid = credential.ErrInvalid

// Kind implements auth.KeyResolver.
func (s *Service) Kind() string { return Kind }

// Resolve implements auth.KeyResolver: it checks a presented key and returns its member
// with the member's current role, read in the same query.
func (s *Service) Resolve(ctx context.Context, token string) (*access.Principal, error) {
	if !credential.HasKind(token, Kind) || len(token) < 12 || len(token) > 200 {
		return nil, ErrInvalid
	}
	var (
		id, ws, user, hash, email, roleID, roleName, levels string
		keyCreated                                          int64
		memberCreated                                       sql.NullInt64
		used, expires, revoked                              sql.NullInt64
	)
	err := s.DB.QueryRow(ctx, `SELECT k.id, k.workspace_id, k.user_id, k.hash, k.created_at, k.last_used_at, k.expires_at, k.revoked_at,
			u.email, m.created_at, COALESCE(r.id, ''), COALESCE(r.name, ''), COALESCE(r.levels, '{}')
		FROM api_keys k JOIN users u ON u.id = k.user_id
		LEFT JOIN members m ON m.workspace_id = k.workspace_id AND m.user_id = k.user_id
		LEFT JOIN roles r ON r.id = m.role_id
		WHERE k.prefix = ?`, credential.Prefix(token)).
		Scan(&id, &ws, &user, &hash, &keyCreated, &used, &expires, &revoked, &email, &memberCreated, &roleID, &roleName, &levels)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrInvalid
	}
	if err != nil {
		return nil, err
	}
	now := s.Now.Now()
	switch {
	case !credential.Matches(token, hash), revoked.Valid:
		return nil, ErrInvalid
	case expires.Valid && !now.Before(store.Time(expires.Int64)):
		return nil, ErrInvalid
	// A removed member's keys stop working; if they are invited back later, keys made
	// before their new membership stay dead.
	case !memberCreated.Valid || memberCreated.Int64 > keyCreated:
		return nil, ErrInvalid
	}
	ls, err := access.DecodeLevels(levels)
	if err != nil {
		return nil, err
	}
	// last_used_at is for people; writing it at most once a minute keeps the hot path read-only.
	if !used.Valid || now.Sub(store.Time(used.Int64)) >= time.Minute {
		_, _ = s.DB.Exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, store.Micros(now), id)
	}
	return &access.Principal{UserID: user, Email: email, WorkspaceID: ws, RoleID: roleID, RoleName: roleName,
		Levels: ls, Via: "apikey", APIKeyID: id}, nil
}

// RevokeMember revokes, in tx, the API keys of a member who is being removed from the
// workspace (kept for the record) and deletes their Zapier hooks.
func RevokeMember(ctx context.Context, tx *store.Tx, workspaceID, userID string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE workspace_id = ? AND user_id = ? AND revoked_at IS NULL`,
		store.Micros(now), workspaceID, userID); err != nil {
		return err
	}
	return zapier.RemoveForMember(ctx, tx, workspaceID, userID)
}
