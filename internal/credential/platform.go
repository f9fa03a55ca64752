package credential

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/relaydesk/relaydesk/internal/store"
)

// PlatformKind prefixes platform tokens: the producer's credential.
const PlatformKind = "rdp"

// PlatformToken is a stored platform token (never the token itself).
type PlatformToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// Platform stores platform tokens.
type Platform struct{ DB *store.DB }

// Create makes a token; the returned string is the only time it exists in clear.
func (p Platform) Create(ctx context.Context, name string) (PlatformToken, string, error) {
	token, prefix := New(PlatformKind)
	t := PlatformToken{ID: store.NewID(), Name: name, Prefix: prefix, CreatedAt: time.Now().UTC()}
	_, err := p.DB.Exec(ctx, `INSERT INTO platform_tokens (id, name, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, name, prefix, Hash(token), store.Micros(t.CreatedAt))
	return t, token, err
}

// List returns every token, newest first.
func (p Platform) List(ctx context.Context) ([]PlatformToken, error) {
	rows, err := p.DB.Query(ctx, `SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM platform_tokens ORDER BY id DESC`)
	return store.Collect(rows, err, func(r store.Scanner) (PlatformToken, error) {
		var t PlatformToken
		var created int64
		var used, revoked sql.NullInt64
		err := r.Scan(&t.ID, &t.Name, &t.Prefix, &created, &used, &revoked)
		t.CreatedAt, t.LastUsedAt, t.RevokedAt = store.Time(created), store.NullTime(used), store.NullTime(revoked)
		return t, err
	})
}

// Revoke stops a token from working, at once.
func (p Platform) Revoke(ctx context.Context, id string) error {
	res, err := p.DB.Exec(ctx, `UPDATE platform_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, store.Micros(time.Now()), id)
	return store.Affected(res, err, store.ErrNotFound)
}

// ErrInvalid is returned for a token that is unknown, wrong or revoked.
var ErrInvalid = errors.New("invalid or revoked token")

// Authenticate checks a presented platform token and returns its id.
func (p Platform) Authenticate(ctx context.Context, token string) (string, error) {
	if !HasKind(token, PlatformKind) {
		return "", ErrInvalid
	}
	var id, hash string
	var revoked sql.NullInt64
	var used sql.NullInt64
	err := p.DB.QueryRow(ctx, `SELECT id, hash, revoked_at, last_used_at FROM platform_tokens WHERE prefix = ?`, Prefix(token)).
		Scan(&id, &hash, &revoked, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrInvalid
	}
	if err != nil {
		return "", err
	}
	if !Matches(token, hash) || revoked.Valid {
		return "", ErrInvalid
	}
	// last_used_at is for people; writing it at most once a minute keeps the hot path read-only.
	if now := time.Now(); !used.Valid || now.Sub(store.Time(used.Int64)) > time.Minute {
		_, _ = p.DB.Exec(ctx, `UPDATE platform_tokens SET last_used_at = ? WHERE id = ?`, store.Micros(now), id)
	}
	return id, nil
}
