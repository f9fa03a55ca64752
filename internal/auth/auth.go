// Package auth answers "who is calling?": it turns a request's session cookie or bearer
// token into an access.Principal. The API and the pages share it, so both see the same
// caller with the same, freshly read role.
package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/credential"
	"github.com/relaydesk/relaydesk/internal/store"
)

// CookieName is the session cookie.
const CookieName = "relaydesk_session"

// KeyResolver turns a bearer token of its own kind into a member principal (API keys).
type KeyResolver interface {
	// Kind is the token prefix it handles, e.g. "rdk".
	Kind() string
	Resolve(ctx context.Context, token string) (*access.Principal, error)
}

// Authenticator resolves credentials.
type Authenticator struct {
	Accounts *account.Service
	Platform credential.Platform
	Keys     []KeyResolver
}

// ErrUnauthenticated is returned when a credential was presented but is not valid.
var ErrUnauthenticated = errors.New("the credential is invalid, expired or revoked")

// Principal returns the caller of r: nil with a nil error when no credential was presented.
func (a *Authenticator) Principal(r *http.Request) (*access.Principal, error) {
	ip := ClientIP(r)
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, ErrUnauthenticated
		}
		token = strings.TrimSpace(token)
		if credential.HasKind(token, credential.PlatformKind) {
			id, err := a.Platform.Authenticate(r.Context(), token)
			if err != nil {
				return nil, credentialErr(err)
			}
			return &access.Principal{Platform: true, PlatformTokenID: id, IP: ip}, nil
		}
		for _, k := range a.Keys {
			if credential.HasKind(token, k.Kind()) {
				p, err := k.Resolve(r.Context(), token)
				if err != nil {
					return nil, credentialErr(err)
				}
				p.IP = ip
				return p, nil
			}
		}
		return nil, ErrUnauthenticated
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := a.Accounts.LookupSession(r.Context(), c.Value)
	if err != nil {
		return nil, credentialErr(err)
	}
	return a.member(r.Context(), sess, ip)
}

func credentialErr(err error) error {
	if errors.Is(err, account.ErrNoSession) || errors.Is(err, credential.ErrInvalid) || errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrUnauthenticated) {
		return ErrUnauthenticated
	}
	return err
}

// member builds the principal of a session: the session's workspace if the user is still a
// member there, else their first workspace; a user with no workspace left is signed in
// with no levels.
func (a *Authenticator) member(ctx context.Context, sess account.Session, ip string) (*access.Principal, error) {
	u, err := a.Accounts.UserByID(ctx, sess.UserID)
	if err != nil {
		return nil, credentialErr(err)
	}
	p := &access.Principal{UserID: u.ID, Email: u.Email, Via: "session", SessionID: sess.ID, IP: ip, Levels: access.Levels{}}
	var m account.Membership
	if sess.WorkspaceID != "" {
		m, err = a.Accounts.Member(ctx, sess.WorkspaceID, u.ID)
	}
	if sess.WorkspaceID == "" || errors.Is(err, store.ErrNotFound) {
		ms, err := a.Accounts.Memberships(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if len(ms) == 0 {
			return p, nil
		}
		m = ms[0]
		_ = a.Accounts.SwitchWorkspace(ctx, sess.ID, m.WorkspaceID)
	} else if err != nil {
		return nil, err
	}
	p.WorkspaceID, p.RoleID, p.RoleName, p.Levels = m.WorkspaceID, m.RoleID, m.RoleName, m.Levels
	return p, nil
}

// ClientIP is the address the request came from. relaydesk does not trust forwarding
// headers: put it behind a proxy that terminates on the same host, or add trusted-proxy
// support before relying on per-IP limits there.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// SessionCookie is the cookie that carries a session token; an empty token clears it.
func SessionCookie(token string, secure bool) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
		MaxAge: int(account.SessionMaxAge.Seconds())}
	if token == "" {
		c.MaxAge = -1
	}
	return c
}
