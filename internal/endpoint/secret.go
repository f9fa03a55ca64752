package endpoint

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/webhook"
)

// MaxGrace is the longest rotation grace window: during it deliveries carry a signature
// for the previous secret as well as the new one.
const MaxGrace = 24 * time.Hour

// sealer encrypts signing secrets at rest with AES-256-GCM under the master key. Each
// ciphertext has a random 96-bit nonce and is bound to its workspace through the additional
// data, so a ciphertext copied into another workspace's row does not decrypt.
type sealer struct{ aead cipher.AEAD }

// sealPrefix versions the stored form, so a later master-key rotation can tell keys apart.
const sealPrefix = "v1:"

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key: want 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: g}, nil
}

func additionalData(workspaceID string) []byte {
	return []byte("relaydesk signing secret\x00" + workspaceID)
}

// keyAdditionalData binds a sealed private signing key to its workspace and purpose, so
// neither a secret's ciphertext nor another workspace's opens as a key.
func keyAdditionalData(workspaceID string) []byte {
	return []byte("relaydesk signing key\x00" + workspaceID)
}

func (s *sealer) seal(workspaceID string, secret webhook.Secret) string {
	return s.sealString(additionalData(workspaceID), secret.String())
}

func (s *sealer) open(workspaceID, stored string) (webhook.Secret, error) {
	return openAs(s, additionalData(workspaceID), stored, "signing secret", webhook.ParseSecret)
}

func (s *sealer) sealKey(workspaceID string, k webhook.SigningKey) string {
	return s.sealString(keyAdditionalData(workspaceID), k.String())
}

func (s *sealer) openKey(workspaceID, stored string) (webhook.SigningKey, error) {
	return openAs(s, keyAdditionalData(workspaceID), stored, "signing key", webhook.ParseSigningKey)
}

func (s *sealer) sealString(ad []byte, plain string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := s.aead.Seal(nonce, nonce, []byte(plain), ad)
	return sealPrefix + base64.StdEncoding.EncodeToString(out)
}

// openAs decrypts what sealString stored under ad and parses the plaintext; what names it in
// errors.
func openAs[T any](s *sealer, ad []byte, stored, what string, parse func(string) (T, error)) (T, error) {
	var zero T
	raw, ok := strings.CutPrefix(stored, sealPrefix)
	if !ok {
		return zero, errors.New(what + ": unknown storage format")
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return zero, errors.New(what + ": corrupt ciphertext")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], ad)
	if err != nil {
		// Wrong master key, or a ciphertext moved from another workspace.
		return zero, errors.New(what + ": cannot decrypt (is RELAYDESK_MASTER_KEY the one it was stored with?)")
	}
	return parse(string(plain))
}

// SecretInfo describes a workspace's signing secret without revealing it: what viewers see.
type SecretInfo struct {
	Exists      bool       `json:"exists"`
	Fingerprint string     `json:"fingerprint,omitempty" doc:"whsec_… and the first 8 hex digits of the secret's SHA-256: identifies it without revealing it."`
	CreatedAt   *time.Time `json:"createdAt,omitempty"`
	RotatedAt   *time.Time `json:"rotatedAt,omitempty"`
	// The previous secret, while its rotation grace window lasts.
	PreviousFingerprint string     `json:"previousFingerprint,omitempty"`
	PreviousExpiresAt   *time.Time `json:"previousExpiresAt,omitempty"`
}

type secretRow struct {
	current, fingerprint       string
	previous, previousPrint    sql.NullString
	previousExpires, rotatedAt sql.NullInt64
	createdAt                  int64
}

const secretCols = `ciphertext, fingerprint, previous_ciphertext, previous_fingerprint, previous_expires_at, created_at, rotated_at`

func scanSecret(row *sql.Row) (secretRow, error) {
	var r secretRow
	err := row.Scan(&r.current, &r.fingerprint, &r.previous, &r.previousPrint, &r.previousExpires, &r.createdAt, &r.rotatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNoSecret
	}
	return r, err
}

func (r secretRow) info(now time.Time) SecretInfo {
	created := store.Time(r.createdAt)
	in := SecretInfo{Exists: true, Fingerprint: r.fingerprint, CreatedAt: &created, RotatedAt: store.NullTime(r.rotatedAt)}
	if r.previous.Valid && r.previousExpires.Valid && now.Before(store.Time(r.previousExpires.Int64)) {
		in.PreviousFingerprint = r.previousPrint.String
		in.PreviousExpiresAt = store.NullTime(r.previousExpires)
	}
	return in
}

// SecretInfo returns what may be shown about the workspace's secret to anyone who can see
// Developer Tools. Exists is false when there is none.
func (s *Service) SecretInfo(ctx context.Context, workspaceID string) (SecretInfo, error) {
	r, err := scanSecret(s.DB.QueryRow(ctx, `SELECT `+secretCols+` FROM signing_secrets WHERE workspace_id = ?`, workspaceID))
	if errors.Is(err, ErrNoSecret) {
		return SecretInfo{}, nil
	}
	if err != nil {
		return SecretInfo{}, err
	}
	return r.info(s.now()), nil
}

// GenerateSecret creates the workspace's first signing secret; ErrSecretExists when it has
// one.
func (s *Service) GenerateSecret(ctx context.Context, workspaceID string) (webhook.Secret, SecretInfo, error) {
	sec, err := webhook.NewSecret()
	if err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO signing_secrets (workspace_id, ciphertext, fingerprint, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (workspace_id) DO NOTHING`, workspaceID, s.sealer.seal(workspaceID, sec), sec.Fingerprint(), store.Micros(now))
		if err := store.Affected(res, err, ErrSecretExists); err != nil {
			return err
		}
		return audit.Record(ctx, tx, workspaceID, "secret.generate", "signing_secret", workspaceID, map[string]any{"fingerprint": sec.Fingerprint()})
	})
	s.cache.secrets.forget(workspaceID)
	if err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	created := store.Time(store.Micros(now))
	return sec, SecretInfo{Exists: true, Fingerprint: sec.Fingerprint(), CreatedAt: &created}, nil
}

// RevealSecret returns the workspace's current secret and records that it was revealed.
func (s *Service) RevealSecret(ctx context.Context, workspaceID string) (webhook.Secret, SecretInfo, error) {
	r, err := scanSecret(s.DB.QueryRow(ctx, `SELECT `+secretCols+` FROM signing_secrets WHERE workspace_id = ?`, workspaceID))
	if err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	sec, err := s.sealer.open(workspaceID, r.current)
	if err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	if err := audit.Record(ctx, s.DB, workspaceID, "secret.reveal", "signing_secret", workspaceID, map[string]any{"fingerprint": r.fingerprint}); err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	return sec, r.info(s.now()), nil
}

// RotateSecret replaces the workspace's secret with a new one. With grace 0 the old secret
// stops signing at once; with grace > 0 (at most MaxGrace) deliveries carry signatures for
// both until the window ends. A previous secret still in an earlier window is dropped.
func (s *Service) RotateSecret(ctx context.Context, workspaceID string, grace time.Duration) (webhook.Secret, SecretInfo, error) {
	if err := checkGrace(grace); err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	sec, err := webhook.NewSecret()
	if err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	now := s.now()
	var info SecretInfo
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := scanSecret(tx.QueryRow(ctx, `SELECT `+secretCols+` FROM signing_secrets WHERE workspace_id = ?`, workspaceID))
		if err != nil {
			return err
		}
		var prev, prevPrint sql.NullString
		var prevExpires sql.NullInt64
		if grace > 0 {
			prev = sql.NullString{String: r.current, Valid: true}
			prevPrint = sql.NullString{String: r.fingerprint, Valid: true}
			prevExpires = sql.NullInt64{Int64: store.Micros(now.Add(grace)), Valid: true}
		}
		// The WHERE on the old ciphertext makes a concurrent rotation lose cleanly rather
		// than silently overwrite the other's previous secret.
		res, err := tx.Exec(ctx, `UPDATE signing_secrets SET ciphertext = ?, fingerprint = ?, previous_ciphertext = ?, previous_fingerprint = ?,
			previous_expires_at = ?, rotated_at = ? WHERE workspace_id = ? AND ciphertext = ?`,
			s.sealer.seal(workspaceID, sec), sec.Fingerprint(), prev, prevPrint, prevExpires, store.Micros(now), workspaceID, r.current)
		if err := store.Affected(res, err, ErrConflict); err != nil {
			return err
		}
		info = secretRow{current: "x", fingerprint: sec.Fingerprint(), previous: prev, previousPrint: prevPrint,
			previousExpires: prevExpires, createdAt: r.createdAt, rotatedAt: sql.NullInt64{Int64: store.Micros(now), Valid: true}}.info(now)
		return audit.Record(ctx, tx, workspaceID, "secret.rotate", "signing_secret", workspaceID, map[string]any{
			"fingerprint": sec.Fingerprint(), "previousFingerprint": r.fingerprint, "graceSeconds": int64(grace / time.Second)})
	})
	s.cache.secrets.forget(workspaceID)
	if err != nil {
		return webhook.Secret{}, SecretInfo{}, err
	}
	return sec, info, nil
}

// Secrets returns the secrets that sign the workspace's deliveries now: the current one
// first, then the previous one while its grace window lasts; none when the workspace has no
// secret. It is served from the in-process cache (see Target).
func (s *Service) Secrets(ctx context.Context, workspaceID string) ([]webhook.Secret, error) {
	c, err := s.cachedSecrets(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	return c.active(s.now()), nil
}

// loadSecrets reads and decrypts a workspace's secrets and signing keys.
func (s *Service) loadSecrets(ctx context.Context, workspaceID string) (cachedSecrets, error) {
	var c cachedSecrets
	if err := s.loadKeys(ctx, workspaceID, &c); err != nil {
		return c, err
	}
	r, err := scanSecret(s.DB.QueryRow(ctx, `SELECT `+secretCols+` FROM signing_secrets WHERE workspace_id = ?`, workspaceID))
	if errors.Is(err, ErrNoSecret) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if c.current, err = s.sealer.open(workspaceID, r.current); err != nil {
		return c, err
	}
	if r.previous.Valid && r.previousExpires.Valid {
		if c.previous, err = s.sealer.open(workspaceID, r.previous.String); err != nil {
			return c, err
		}
		c.previousUntil = store.Time(r.previousExpires.Int64)
	}
	return c, nil
}

// checkGrace refuses a rotation grace window outside 0…MaxGrace (secret and key pair alike).
func checkGrace(grace time.Duration) error {
	if grace < 0 || grace > MaxGrace {
		return &input.Error{Field: "graceSeconds",
			Reason: fmt.Sprintf("the grace period must be between 0 and %d seconds (24 hours)", int(MaxGrace/time.Second)), Value: int64(grace / time.Second)}
	}
	return nil
}
