package endpoint

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/webhook"
)

// A workspace may also have an ed25519 signing key pair (issue 15). With one, every delivery's
// webhook-signature carries a v1a entry besides the v1 (HMAC) one, and the public key is
// published at the workspace's JWKS URL. The private key is sealed like the secret and never
// leaves the server: there is no "reveal" for it, receivers only ever need the public key.

// Errors of the key pair.
var (
	ErrKeyExists   = errors.New("this workspace already has a signing key pair; rotate it instead")
	ErrNoKey       = errors.New("this workspace has no signing key pair yet; generate one first")
	ErrKeyConflict = errors.New("the signing key pair changed while rotating; try again")
)

// KeyInfo describes a workspace's signing key pair: only public things, so every developer
// viewer may see it.
type KeyInfo struct {
	Exists    bool       `json:"exists"`
	PublicKey string     `json:"publicKey,omitempty" doc:"The current public key (whpk_…): receivers verify v1a signatures with it."`
	KeyID     string     `json:"kid,omitempty" doc:"The current key's id (RFC 7638 thumbprint), as in the JWKS document and the X-MessageDesk-Key-Id header."`
	CreatedAt *time.Time `json:"createdAt,omitempty"`
	RotatedAt *time.Time `json:"rotatedAt,omitempty"`
	// The previous key, while its rotation grace window lasts.
	PreviousPublicKey string     `json:"previousPublicKey,omitempty"`
	PreviousKeyID     string     `json:"previousKid,omitempty"`
	PreviousExpiresAt *time.Time `json:"previousExpiresAt,omitempty"`
}

type keyRow struct {
	current, public, kid                string
	previous, previousPublic, previousK sql.NullString
	previousExpires, rotatedAt          sql.NullInt64
	createdAt                           int64
}

const keyCols = `ciphertext, public_key, kid, previous_ciphertext, previous_public_key, previous_kid, previous_expires_at, created_at, rotated_at`

func scanKey(row *sql.Row) (keyRow, error) {
	var r keyRow
	err := row.Scan(&r.current, &r.public, &r.kid, &r.previous, &r.previousPublic, &r.previousK, &r.previousExpires, &r.createdAt, &r.rotatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoKey
	}
	return r, err
}

func (r keyRow) inWindow(now time.Time) bool {
	return r.previous.Valid && r.previousExpires.Valid && now.Before(store.Time(r.previousExpires.Int64))
}

func (r keyRow) info(now time.Time) KeyInfo {
	created := store.Time(r.createdAt)
	in := KeyInfo{Exists: true, PublicKey: r.public, KeyID: r.kid, CreatedAt: &created, RotatedAt: store.NullTime(r.rotatedAt)}
	if r.inWindow(now) {
		in.PreviousPublicKey, in.PreviousKeyID = r.previousPublic.String, r.previousK.String
		in.PreviousExpiresAt = store.NullTime(r.previousExpires)
	}
	return in
}

func (s *Service) keyRow(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) *sql.Row
}, workspaceID string) (keyRow, error) {
	return scanKey(q.QueryRow(ctx, `SELECT `+keyCols+` FROM signing_keys WHERE workspace_id = ?`, workspaceID))
}

// KeyInfo returns the workspace's key pair's public description; Exists is false without one.
func (s *Service) KeyInfo(ctx context.Context, workspaceID string) (KeyInfo, error) {
	r, err := s.keyRow(ctx, s.DB, workspaceID)
	if errors.Is(err, ErrNoKey) {
		return KeyInfo{}, nil
	}
	if err != nil {
		return KeyInfo{}, err
	}
	return r.info(s.now()), nil
}

// PublishedKeys returns the public keys the workspace's JWKS URL serves: the current one,
// then the previous one while its grace window lasts; none without a key pair.
func (s *Service) PublishedKeys(ctx context.Context, workspaceID string) ([]webhook.PublicKey, error) {
	r, err := s.keyRow(ctx, s.DB, workspaceID)
	if errors.Is(err, ErrNoKey) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cur, err := webhook.ParsePublicKey(r.public)
	if err != nil {
		return nil, err
	}
	out := []webhook.PublicKey{cur}
	if r.inWindow(s.now()) {
		prev, err := webhook.ParsePublicKey(r.previousPublic.String)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// GenerateKey creates the workspace's first key pair; ErrKeyExists when it has one.
func (s *Service) GenerateKey(ctx context.Context, workspaceID string) (KeyInfo, error) {
	k, err := webhook.NewSigningKey()
	if err != nil {
		return KeyInfo{}, err
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO signing_keys (workspace_id, ciphertext, public_key, kid, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (workspace_id) DO NOTHING`, workspaceID, s.sealer.sealKey(workspaceID, k), k.Public().String(), k.KeyID(), store.Micros(now))
		if err := store.Affected(res, err, ErrKeyExists); err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "signing_key.generate", "signing_key", workspaceID, map[string]any{"kid": k.KeyID()})
	})
	s.cache.secrets.forget(workspaceID)
	if err != nil {
		return KeyInfo{}, err
	}
	created := store.Time(store.Micros(now))
	return KeyInfo{Exists: true, PublicKey: k.Public().String(), KeyID: k.KeyID(), CreatedAt: &created}, nil
}

// RotateKey replaces the workspace's key pair. With grace 0 the old key stops signing and is
// unpublished at once; with grace > 0 (at most MaxGrace) deliveries carry v1a signatures for
// both and the JWKS document lists both until the window ends.
func (s *Service) RotateKey(ctx context.Context, workspaceID string, grace time.Duration) (KeyInfo, error) {
	if err := checkGrace(grace); err != nil {
		return KeyInfo{}, err
	}
	k, err := webhook.NewSigningKey()
	if err != nil {
		return KeyInfo{}, err
	}
	now := s.now()
	var info KeyInfo
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.keyRow(ctx, tx, workspaceID)
		if err != nil {
			return err
		}
		var prev, prevPublic, prevKid sql.NullString
		var prevExpires sql.NullInt64
		if grace > 0 {
			prev = sql.NullString{String: r.current, Valid: true}
			prevPublic = sql.NullString{String: r.public, Valid: true}
			prevKid = sql.NullString{String: r.kid, Valid: true}
			prevExpires = sql.NullInt64{Int64: store.Micros(now.Add(grace)), Valid: true}
		}
		// As with the secret: the WHERE on the old ciphertext makes a concurrent rotation lose.
		res, err := tx.Exec(ctx, `UPDATE signing_keys SET ciphertext = ?, public_key = ?, kid = ?, previous_ciphertext = ?, previous_public_key = ?,
			previous_kid = ?, previous_expires_at = ?, rotated_at = ? WHERE workspace_id = ? AND ciphertext = ?`,
			s.sealer.sealKey(workspaceID, k), k.Public().String(), k.KeyID(), prev, prevPublic, prevKid, prevExpires, store.Micros(now), workspaceID, r.current)
		if err := store.Affected(res, err, ErrKeyConflict); err != nil {
			return err
		}
		info = keyRow{current: "x", public: k.Public().String(), kid: k.KeyID(), previous: prev, previousPublic: prevPublic, previousK: prevKid,
			previousExpires: prevExpires, createdAt: r.createdAt, rotatedAt: sql.NullInt64{Int64: store.Micros(now), Valid: true}}.info(now)
		return audit.Record(ctx, tx, workspaceID, "signing_key.rotate", "signing_key", workspaceID, map[string]any{
			"kid": k.KeyID(), "previousKid": r.kid, "graceSeconds": int64(grace / time.Second)})
	})
	s.cache.secrets.forget(workspaceID)
	if err != nil {
		return KeyInfo{}, err
	}
	return info, nil
}

// loadKeys reads and decrypts a workspace's signing keys into c.
func (s *Service) loadKeys(ctx context.Context, workspaceID string, c *cachedSecrets) error {
	r, err := s.keyRow(ctx, s.DB, workspaceID)
	if errors.Is(err, ErrNoKey) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.key, err = s.sealer.openKey(workspaceID, r.current); err != nil {
		return err
	}
	if r.previous.Valid && r.previousExpires.Valid {
		if c.previousKey, err = s.sealer.openKey(workspaceID, r.previous.String); err != nil {
			return err
		}
		c.previousKeyUntil = store.Time(r.previousExpires.Int64)
	}
	return nil
}
