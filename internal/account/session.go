package account

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/relaydesk/relaydesk/internal/credential"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Session lifetimes: idle sessions end after IdleTimeout, every session after MaxAge.
const (
	SessionIdleTimeout = 7 * 24 * time.Hour
	SessionMaxAge      = 30 * 24 * time.Hour
	sessionKind        = "rds"
)

// Session is a signed-in browser or script. ID is the hash of its token; the token itself
// lives only in the cookie.
type Session struct {
	ID          string
	UserID      string
	WorkspaceID string
	CreatedAt   time.Time
	LastSeenAt  time.Time
}

// CreateSession starts a session for the user in a workspace; the token is for the cookie.
// A fresh token at every sign-in means a token planted before sign-in is never promoted.
func (s *Service) CreateSession(ctx context.Context, userID, workspaceID, ip, userAgent string) (token string, err error) {
	token, _ = credential.New(sessionKind)
	now := time.Now()
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	ws := sql.NullString{String: workspaceID, Valid: workspaceID != ""}
	_, err = s.DB.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at, last_seen_at, ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, credential.Hash(token), userID, ws, store.Micros(now), store.Micros(now.Add(SessionMaxAge)),
		store.Micros(now), ip, userAgent)
	return token, err
}

// ErrNoSession means the token names no live session.
var ErrNoSession = errors.New("not signed in or the session has ended")

// LookupSession finds the live session for a cookie token.
func (s *Service) LookupSession(ctx context.Context, token string) (Session, error) {
	if !credential.HasKind(token, sessionKind) {
		return Session{}, ErrNoSession
	}
	var sess Session
	var ws sql.NullString
	var created, expires, seen int64
	id := credential.Hash(token)
	err := s.DB.QueryRow(ctx, `SELECT user_id, workspace_id, created_at, expires_at, last_seen_at FROM sessions WHERE token_hash = ?`, id).
		Scan(&sess.UserID, &ws, &created, &expires, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, ErrNoSession
	}
	if err != nil {
		return sess, err
	}
	now := time.Now()
	sess.ID, sess.WorkspaceID, sess.CreatedAt, sess.LastSeenAt = id, ws.String, store.Time(created), store.Time(seen)
	if now.After(store.Time(expires)) || now.Sub(sess.LastSeenAt) > SessionIdleTimeout {
		_ = s.EndSession(ctx, id)
		return Session{}, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		_, _ = s.DB.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, store.Micros(now), id)
	}
	return sess, nil
}

// SwitchWorkspace changes the workspace a session acts in (membership checked by the caller).
func (s *Service) SwitchWorkspace(ctx context.Context, sessionID, workspaceID string) error {
	_, err := s.DB.Exec(ctx, `UPDATE sessions SET workspace_id = ? WHERE token_hash = ?`, workspaceID, sessionID)
	return err
}

// EndSession signs a session out on the server.
func (s *Service) EndSession(ctx context.Context, sessionID string) error {
	_, err := s.DB.Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, sessionID)
	return err
}

// EndUserSessions signs a user out everywhere.
func (s *Service) EndUserSessions(ctx context.Context, q store.Querier, userID string) error {
	_, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}
