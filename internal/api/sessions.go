package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/auth"
)

type signInInput struct {
	UserAgent string `header:"User-Agent"`
	Body      struct {
		Email    string `json:"email" maxLength:"254" doc:"The account's email address."`
		Password string `json:"password" maxLength:"256"`
	}
}

type signInOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      meBody
}

type meBody struct {
	User        account.User         `json:"user"`
	Via         string               `json:"via" doc:"How this request authenticated: session or apikey."`
	Workspace   *account.Workspace   `json:"workspace,omitempty"`
	Role        *roleBody            `json:"role,omitempty"`
	Memberships []account.Membership `json:"memberships"`
}

type roleBody struct {
	ID     string        `json:"id"`
	Name   string        `json:"name"`
	Levels access.Levels `json:"levels"`
}

type throttledError struct {
	huma.StatusError
	retryAfter string
}

func (e throttledError) GetHeaders() http.Header { return http.Header{"Retry-After": {e.retryAfter}} }

func (s *Server) registerSessions() {
	h := &sessionsAPI{Server: s}
	Register(s, huma.Operation{OperationID: "signIn", Method: http.MethodPost, Path: "/v1/sessions", Summary: "Sign in",
		Description: "Checks the email and password and sets the session cookie, exactly as the sign-in page does.",
		Tags:        []string{"Sessions"}, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusTooManyRequests}},
		access.Anyone, h.signIn)

	Register(s, huma.Operation{OperationID: "signOut", Method: http.MethodDelete, Path: "/v1/sessions/current", Summary: "Sign out",
		Description: "Ends the session on the server and clears the cookie.", Tags: []string{"Sessions"}, DefaultStatus: http.StatusNoContent},
		access.SignedIn, h.signOut)

	Register(s, huma.Operation{OperationID: "switchWorkspace", Method: http.MethodPut, Path: "/v1/sessions/current/workspace",
		Summary: "Act in another workspace", Tags: []string{"Sessions"}},
		access.SignedIn, h.switchWorkspace)

	Register(s, huma.Operation{OperationID: "me", Method: http.MethodGet, Path: "/v1/me", Summary: "Who am I",
		Description: "The signed-in user, the workspace the request acts in and the role there. Zapier uses it as its connection test.",
		Tags:        []string{"Sessions"}},
		access.SignedIn, h.me)
}

// sessionsAPI holds the handlers registerSessions adds, with what they use.
type sessionsAPI struct {
	*Server
}

func (s *sessionsAPI) signIn(ctx context.Context, in *signInInput) (*signInOutput, error) {
	p := access.From(ctx)
	ip := ""
	if p != nil {
		ip = p.IP
	}
	if ip == "" {
		ip = ipFrom(ctx)
	}
	token, u, err := s.Accounts.SignIn(ctx, s.Throttle, in.Body.Email, in.Body.Password, ip, in.UserAgent)
	var te *account.ThrottledError
	switch {
	case errors.As(err, &te):
		return nil, throttledError{huma.NewError(http.StatusTooManyRequests, te.Error()), RetryAfter(te.Wait)}
	case errors.Is(err, account.ErrInvalidCredentials):
		return nil, huma.Error401Unauthorized(err.Error())
	case err != nil:
		return nil, err
	}
	me, err := s.describeMe(ctx, &access.Principal{UserID: u.ID, Email: u.Email, Via: "session"})
	if err != nil {
		return nil, err
	}
	return &signInOutput{SetCookie: *auth.SessionCookie(token, s.SecureCookies || isTLS(ctx)), Body: *me}, nil
}

type signOutOut struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

func (s *sessionsAPI) signOut(ctx context.Context, _ *struct{}) (*signOutOut, error) {
	p := access.From(ctx)
	if p.Via != "session" {
		return nil, huma.Error400BadRequest("only a session can sign out; revoke an API key instead")
	}
	if err := s.Accounts.EndSession(ctx, p.SessionID); err != nil {
		return nil, err
	}
	return &signOutOut{*auth.SessionCookie("", s.SecureCookies || isTLS(ctx))}, nil
}

type switchWorkspaceRequest struct {
	WorkspaceID string `json:"workspaceId" maxLength:"26"`
}

type switchWorkspaceIn struct{ Body switchWorkspaceRequest }

type switchWorkspaceOut struct{ Body meBody }

func (s *sessionsAPI) switchWorkspace(ctx context.Context, in *switchWorkspaceIn) (*switchWorkspaceOut, error) {
	p := access.From(ctx)
	if p.Via != "session" {
		return nil, huma.Error400BadRequest("an API key belongs to one workspace")
	}
	m, err := s.Accounts.Member(ctx, in.Body.WorkspaceID, p.UserID)
	if err != nil {
		return nil, huma.Error404NotFound("you are not a member of that workspace")
	}
	if err := s.Accounts.SwitchWorkspace(ctx, p.SessionID, m.WorkspaceID); err != nil {
		return nil, err
	}
	p2 := *p
	p2.WorkspaceID = m.WorkspaceID
	me, err := s.describeMe(ctx, &p2)
	if err != nil {
		return nil, err
	}
	return &switchWorkspaceOut{*me}, nil
}

type meOut struct{ Body meBody }

func (s *sessionsAPI) me(ctx context.Context, _ *struct{}) (*meOut, error) {
	me, err := s.describeMe(ctx, access.From(ctx))
	if err != nil {
		return nil, err
	}
	return &meOut{*me}, nil
}

// describeMe is the answer of GET /v1/me (and of signing in) for p.
func (s *Server) describeMe(ctx context.Context, p *access.Principal) (*meBody, error) {
	u, err := s.Accounts.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	ms, err := s.Accounts.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := &meBody{User: u, Via: p.Via, Memberships: ms} // never nil: store.Collect
	ws := p.WorkspaceID
	if ws == "" && len(ms) > 0 {
		ws = ms[0].WorkspaceID
	}
	for _, m := range ms {
		if m.WorkspaceID == ws {
			w, err := s.Accounts.Workspace(ctx, ws)
			if err != nil {
				return nil, err
			}
			out.Workspace = &w
			out.Role = &roleBody{ID: m.RoleID, Name: m.RoleName, Levels: m.Levels}
		}
	}
	return out, nil
}
