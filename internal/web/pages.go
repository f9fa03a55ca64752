package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/input"
)

func (s *Server) registerFoundation() {
	s.Page(http.MethodGet, "/{$}", access.SignedIn, s.home)
	s.Page(http.MethodGet, "/signin", access.Anyone, s.signInPage)
	s.Page(http.MethodPost, "/signin", access.Anyone, s.signIn)
	s.Page(http.MethodPost, "/signout", access.SignedIn, s.signOut)
	s.Page(http.MethodGet, "/setup", access.Anyone, s.setupPage)
	s.Page(http.MethodPost, "/setup", access.Anyone, s.setup)
	s.Page(http.MethodPost, "/workspace", access.SignedIn, s.switchWorkspace)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	ms, err := s.Accounts.Memberships(r.Context(), p.UserID)
	if err != nil {
		s.Log.Error("memberships", "err", err)
	}
	s.Render(w, r, http.StatusOK, "home", View{Title: "Home", Principal: p, Active: "home", Data: ms})
}

type signInData struct {
	Email, Next string
}

// safeNext keeps redirects on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if has, err := s.Accounts.HasUsers(r.Context()); err == nil && !has {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	if p != nil && p.UserID != "" {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.Render(w, r, http.StatusOK, "signin", View{Title: "Sign in", Data: signInData{Next: safeNext(r.URL.Query().Get("next"))}})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request, _ *access.Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.Render(w, r, http.StatusBadRequest, "signin", View{Title: "Sign in", Error: "The form could not be read."})
		return
	}
	email, next := r.PostForm.Get("email"), safeNext(r.PostForm.Get("next"))
	token, _, err := s.Accounts.SignIn(r.Context(), s.Throttle, email, r.PostForm.Get("password"), auth.ClientIP(r), r.UserAgent())
	var te *account.ThrottledError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", retryAfterSeconds(te))
		s.Render(w, r, http.StatusTooManyRequests, "signin", View{Title: "Sign in", Error: te.Error(), Data: signInData{Email: email, Next: next}})
		return
	case errors.Is(err, account.ErrInvalidCredentials):
		s.Render(w, r, http.StatusUnauthorized, "signin", View{Title: "Sign in", Error: "The email or password is incorrect.", Data: signInData{Email: email, Next: next}})
		return
	case err != nil:
		s.Log.Error("sign in", "err", err)
		s.Render(w, r, http.StatusInternalServerError, "signin", View{Title: "Sign in", Error: "Something went wrong; please try again.", Data: signInData{Email: email, Next: next}})
		return
	}
	http.SetCookie(w, auth.SessionCookie(token, s.SecureCookies || r.TLS != nil))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func retryAfterSeconds(te *account.ThrottledError) string {
	return strconv.Itoa(int(te.Wait.Seconds()) + 1)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if p.Via == "session" {
		if err := s.Accounts.EndSession(r.Context(), p.SessionID); err != nil {
			s.Log.Error("sign out", "err", err)
		}
	}
	http.SetCookie(w, auth.SessionCookie("", s.SecureCookies || r.TLS != nil))
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (s *Server) switchWorkspace(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil || p.Via != "session" {
		s.Error(w, r, p, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return
	}
	m, err := s.Accounts.Member(r.Context(), r.PostForm.Get("workspaceId"), p.UserID)
	if err != nil {
		s.Error(w, r, p, http.StatusNotFound, "Not found", "You are not a member of that workspace.")
		return
	}
	if err := s.Accounts.SwitchWorkspace(r.Context(), p.SessionID, m.WorkspaceID); err != nil {
		s.Log.Error("switch workspace", "err", err)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type setupData struct {
	Workspace, Email string
}

// The setup page exists only while the database has no user; afterwards it is a 404.
func (s *Server) setupPage(w http.ResponseWriter, r *http.Request, _ *access.Principal) {
	if has, err := s.Accounts.HasUsers(r.Context()); err != nil || has {
		s.Error(w, r, nil, http.StatusNotFound, "Not found", "relaydesk is already set up. Sign in instead.")
		return
	}
	s.Render(w, r, http.StatusOK, "setup", View{Title: "Set up relaydesk", Data: setupData{}})
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request, _ *access.Principal) {
	if has, err := s.Accounts.HasUsers(r.Context()); err != nil || has {
		s.Error(w, r, nil, http.StatusNotFound, "Not found", "relaydesk is already set up. Sign in instead.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.Render(w, r, http.StatusBadRequest, "setup", View{Title: "Set up relaydesk", Error: "The form could not be read.", Data: setupData{}})
		return
	}
	d := setupData{Workspace: r.PostForm.Get("workspace"), Email: r.PostForm.Get("email")}
	pw := r.PostForm.Get("password")
	if pw != r.PostForm.Get("confirm") {
		s.Render(w, r, http.StatusUnprocessableEntity, "setup", View{Title: "Set up relaydesk", Error: "The two passwords differ.", Data: d})
		return
	}
	out, err := s.Accounts.CreateWorkspaceWithAdmin(r.Context(), d.Workspace, d.Email, pw)
	var inv *input.Error
	switch {
	case errors.As(err, &inv):
		s.Render(w, r, http.StatusUnprocessableEntity, "setup", View{Title: "Set up relaydesk", Error: inv.Reason, Data: d})
		return
	case err != nil:
		s.Log.Error("setup", "err", err)
		s.Render(w, r, http.StatusInternalServerError, "setup", View{Title: "Set up relaydesk", Error: "Something went wrong; please try again.", Data: d})
		return
	}
	s.Log.Info("workspace created by the setup page", "workspace", out.Workspace.ID, "user", out.User.ID)
	token, err := s.Accounts.CreateSession(r.Context(), out.User.ID, out.Workspace.ID, auth.ClientIP(r), r.UserAgent())
	if err != nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, auth.SessionCookie(token, s.SecureCookies || r.TLS != nil))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
