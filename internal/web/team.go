package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/team"
)

// RegisterTeam adds the Team Management pages (members, invitations, Roles & Permissions)
// and the public invitation-accept page. Invitation links start with the server's origin.
func (s *Server) RegisterTeam(t *team.Service) {
	h := &teamPages{s: s, t: t}
	viewer, editor, owner := access.Require(access.Team, access.Viewer), access.Require(access.Team, access.Editor), access.Require(access.Team, access.Owner)
	s.Page(http.MethodGet, "/settings/team", viewer, h.members)
	s.Page(http.MethodPost, "/settings/team/invitations", editor, h.invite)
	s.Page(http.MethodPost, "/settings/team/invitations/{id}/resend", editor, h.resend)
	s.Page(http.MethodPost, "/settings/team/invitations/{id}/revoke", editor, h.revoke)
	s.Page(http.MethodPost, "/settings/team/members/{userId}/role", editor, h.changeRole)
	s.Page(http.MethodGet, "/settings/team/members/{userId}/remove", owner, h.removeConfirm)
	s.Page(http.MethodPost, "/settings/team/members/{userId}/remove", owner, h.remove)
	s.Page(http.MethodGet, "/settings/team/roles", viewer, h.roles)
	s.Page(http.MethodGet, "/settings/team/roles/new", owner, h.newRole)
	s.Page(http.MethodPost, "/settings/team/roles", owner, h.createRole)
	s.Page(http.MethodGet, "/settings/team/roles/{id}", owner, h.editRole)
	s.Page(http.MethodPost, "/settings/team/roles/{id}", owner, h.updateRole)
	s.Page(http.MethodGet, "/settings/team/roles/{id}/delete", owner, h.deleteRoleConfirm)
	s.Page(http.MethodPost, "/settings/team/roles/{id}/delete", owner, h.deleteRole)
	s.Page(http.MethodGet, "/invitations/{token}", access.Anyone, h.acceptPage)
	s.Page(http.MethodPost, "/invitations/{token}", access.Anyone, h.accept)
}

type teamPages struct {
	s *Server
	t *team.Service
}

var featureLabels = map[access.Feature]string{
	access.Developer: "Developer Tools",
	access.Relays:    "Relays",
	access.Team:      "Team Management",
	access.Workspace: "Workspace Settings",
}

func featureLabel(f access.Feature) string {
	if l, ok := featureLabels[f]; ok {
		return l
	}
	return string(f)
}

// status maps a team refusal to the page's status; unknown errors are logged as 500s.
func (h *teamPages) status(err error) (int, string) {
	k, ok := team.KindOf(err)
	if !ok {
		h.s.Log.Error("team", "err", err)
		return http.StatusInternalServerError, "Something went wrong; please try again."
	}
	switch k {
	case team.Forbidden:
		return http.StatusForbidden, err.Error()
	case team.Conflict:
		return http.StatusConflict, err.Error()
	case team.NotFound:
		return http.StatusNotFound, err.Error()
	case team.Gone:
		return http.StatusGone, err.Error()
	}
	return http.StatusUnprocessableEntity, err.Error()
}

// notFound answers a GET of a member or role that could not be read.
func (h *teamPages) notFound(w http.ResponseWriter, r *http.Request, p *access.Principal, err error) {
	status, msg := h.status(err)
	h.s.Error(w, r, p, status, "Not found", msg)
}

func ctxOf(r *http.Request, p *access.Principal) context.Context { return access.With(r.Context(), p) }

// teamForm bounds a team page's posted form.
const teamForm = 32 << 10

// --- members and invitations ---

type memberRow struct {
	team.Member
	Self, CanChange, CanRemove bool
}

type teamData struct {
	Members     []memberRow
	Invitations []team.Invitation
	// Assignable are the roles the viewer may give (within their own levels).
	Assignable     []team.Role
	Issued         []team.Issued
	CanEdit        bool
	CanOwn         bool
	Emails, RoleID string
}

func (h *teamPages) members(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	var flash string
	switch r.URL.Query().Get("ok") {
	case "role":
		flash = "Role changed. It applies from the member's next request."
	case "removed":
		flash = "Member removed; their sessions and API keys have ended."
	case "revoked":
		flash = "Invitation revoked; its link no longer works."
	}
	h.renderMembers(w, r, p, http.StatusOK, flash, "", teamData{})
}

// membersFailed shows the members page again with why an action on it failed.
func (h *teamPages) membersFailed(w http.ResponseWriter, r *http.Request, p *access.Principal, err error) {
	status, msg := h.status(err)
	h.renderMembers(w, r, p, status, "", msg, teamData{})
}

func (h *teamPages) renderMembers(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, flash, errMsg string, d teamData) {
	ctx := r.Context()
	ms, err := h.t.Members(ctx, p.WorkspaceID)
	if err == nil {
		d.Invitations, err = h.t.Invitations(ctx, p.WorkspaceID)
	}
	var roles []team.Role
	if err == nil {
		roles, err = h.t.Roles(ctx, p.WorkspaceID)
	}
	if err != nil {
		h.s.internalError(w, r, p, "team page", err)
		return
	}
	d.CanEdit, d.CanOwn = p.Can(access.Team, access.Editor), p.Can(access.Team, access.Owner)
	d.Assignable = nil
	for _, ro := range roles {
		if p.Levels.Covers(ro.Levels) {
			d.Assignable = append(d.Assignable, ro)
			if d.RoleID == "" && ro.Builtin && ro.Name == access.RoleOperator {
				d.RoleID = ro.ID // invite with the least access unless chosen otherwise
			}
		}
	}
	d.Members = nil
	for _, m := range ms {
		self := m.UserID == p.UserID
		mine := p.Levels.Covers(m.Levels)
		d.Members = append(d.Members, memberRow{Member: m, Self: self, CanChange: d.CanEdit && !self && mine, CanRemove: d.CanOwn && !self && mine})
	}
	h.s.Render(w, r, status, "team", View{Title: "Team Management", Principal: p, Active: "team", Flash: flash, Error: errMsg, Data: d})
}

func (h *teamPages) invite(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !readForm(w, r, teamForm) {
		h.renderMembers(w, r, p, http.StatusBadRequest, "", "The form could not be read.", teamData{})
		return
	}
	d := teamData{Emails: r.PostForm.Get("emails"), RoleID: r.PostForm.Get("roleId")}
	out, err := h.t.Invite(ctxOf(r, p), p, []string{d.Emails}, d.RoleID, h.s.origin(r))
	if err != nil {
		status, msg := h.status(err)
		h.renderMembers(w, r, p, status, "", msg, d)
		return
	}
	// The links exist only now: show them on this response rather than after a redirect.
	h.renderMembers(w, r, p, http.StatusOK, issuedFlash(out), "", teamData{Issued: out})
}

func issuedFlash(out []team.Issued) string {
	emailed, links := 0, 0
	for _, in := range out {
		if in.Emailed {
			emailed++
		} else {
			links++
		}
	}
	switch {
	case links == 0:
		return "Invitation emailed."
	case emailed == 0:
		return "Invitation created. Email is not configured: copy each link below and send it to the person invited."
	default:
		return "Some invitations were emailed; copy the other links below."
	}
}

func (h *teamPages) resend(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	out, err := h.t.Resend(ctxOf(r, p), p, r.PathValue("id"), h.s.origin(r))
	if err != nil {
		h.membersFailed(w, r, p, err)
		return
	}
	h.renderMembers(w, r, p, http.StatusOK, issuedFlash([]team.Issued{out})+" The previous link no longer works.", "", teamData{Issued: []team.Issued{out}})
}

func (h *teamPages) revoke(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if err := h.t.Revoke(ctxOf(r, p), p, r.PathValue("id")); err != nil {
		h.membersFailed(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/settings/team?ok=revoked", http.StatusSeeOther)
}

func (h *teamPages) changeRole(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !readForm(w, r, teamForm) {
		h.renderMembers(w, r, p, http.StatusBadRequest, "", "The form could not be read.", teamData{})
		return
	}
	if _, err := h.t.ChangeRole(ctxOf(r, p), p, r.PathValue("userId"), r.PostForm.Get("roleId")); err != nil {
		h.membersFailed(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/settings/team?ok=role", http.StatusSeeOther)
}

// confirmData is team_confirm.html's: a question in plain text over a confirmForm.
type confirmData struct {
	Heading, Text string
	confirmForm
}

func (h *teamPages) removeConfirm(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	m, err := h.t.Member(r.Context(), p.WorkspaceID, r.PathValue("userId"))
	if err != nil {
		h.notFound(w, r, p, err)
		return
	}
	h.s.Render(w, r, http.StatusOK, "team_confirm", View{Title: "Remove member", Principal: p, Active: "team", Data: confirmData{
		Heading:     "Remove " + m.Email + "?",
		Text:        m.Email + " (" + m.RoleName + ") will lose access to this workspace at once: their sessions end and their API keys and Zapier hooks are revoked. You can invite them again later.",
		confirmForm: confirmForm{Action: "/settings/team/members/" + url.PathEscape(m.UserID) + "/remove", Button: "Remove member", Cancel: "/settings/team"},
	}})
}

func (h *teamPages) remove(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if err := h.t.RemoveMember(ctxOf(r, p), p, r.PathValue("userId")); err != nil {
		h.membersFailed(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/settings/team?ok=removed", http.StatusSeeOther)
}

// --- roles and permissions ---

type roleRow struct {
	team.Role
	Cells                       []string
	CanEdit, CanCopy, CanDelete bool
	Mine                        bool
}

type rolesData struct {
	Features []string
	Roles    []roleRow
	CanOwn   bool
}

func (h *teamPages) roles(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	var flash string
	switch r.URL.Query().Get("ok") {
	case "created":
		flash = "Role created."
	case "saved":
		flash = "Role saved. Members holding it get the new access on their next request."
	case "deleted":
		flash = "Role deleted."
	}
	h.renderRoles(w, r, p, http.StatusOK, flash, "")
}

func (h *teamPages) renderRoles(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, flash, errMsg string) {
	rs, err := h.t.Roles(r.Context(), p.WorkspaceID)
	if err != nil {
		h.s.internalError(w, r, p, "roles page", err)
		return
	}
	d := rolesData{CanOwn: p.Can(access.Team, access.Owner)}
	for _, f := range access.Features {
		d.Features = append(d.Features, featureLabel(f))
	}
	for _, ro := range rs {
		row := roleRow{Role: ro, Mine: ro.ID == p.RoleID}
		for _, f := range access.Features {
			row.Cells = append(row.Cells, ro.Levels.Of(f).String())
		}
		within := p.Levels.Covers(ro.Levels)
		row.CanEdit = d.CanOwn && ro.Editable && within && !row.Mine
		row.CanCopy = d.CanOwn && within
		row.CanDelete = d.CanOwn && ro.Deletable && within
		d.Roles = append(d.Roles, row)
	}
	h.s.Render(w, r, status, "team_roles", View{Title: "Roles & Permissions", Principal: p, Active: "team", Flash: flash, Error: errMsg, Data: d})
}

type levelOpt struct {
	Value, Label      string
	Checked, Disabled bool
}

type levelRow struct {
	Feature, Label string
	Options        []levelOpt
}

type roleFormData struct {
	ID, Name, CopyFrom, CopyName string
	Builtin                      bool
	Rows                         []levelRow
}

func levelRows(p *access.Principal, ls access.Levels) []levelRow {
	var rows []levelRow
	for _, f := range access.Features {
		row := levelRow{Feature: string(f), Label: featureLabel(f)}
		for l := access.None; l <= access.MaxLevel(f); l++ {
			name := l.String()
			row.Options = append(row.Options, levelOpt{Value: name, Label: strings.ToUpper(name[:1]) + name[1:],
				Checked: ls.Of(f) == l, Disabled: l > p.Levels.Of(f)})
		}
		rows = append(rows, row)
	}
	return rows
}

func (h *teamPages) newRole(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	d := roleFormData{}
	levels := access.Levels{}
	if from := r.URL.Query().Get("copy"); from != "" {
		src, err := h.t.Role(r.Context(), p.WorkspaceID, from)
		if err != nil {
			h.notFound(w, r, p, err)
			return
		}
		d.CopyFrom, d.CopyName, d.Name, levels = src.ID, src.Name, "Copy of "+src.Name, src.Levels
	}
	d.Rows = levelRows(p, levels)
	h.roleForm(w, r, p, http.StatusOK, "New role", "", d)
}

// roleForm renders team_role.html: the new or edit role form.
func (h *teamPages) roleForm(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, title, errMsg string, d roleFormData) {
	h.s.Render(w, r, status, "team_role", View{Title: title, Principal: p, Active: "team", Error: errMsg, Data: d})
}

// formLevels reads the grid: one radio group "level-<feature>" per feature.
func formLevels(r *http.Request) (access.Levels, error) {
	ls := access.Levels{}
	for _, f := range access.Features {
		v := r.PostForm.Get("level-" + string(f))
		if v == "" {
			v = "none"
		}
		l, err := access.ParseLevel(v)
		if err != nil {
			return nil, &input.Error{Reason: featureLabel(f) + ": " + err.Error()}
		}
		ls[f] = l
	}
	return ls, nil
}

func (h *teamPages) createRole(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !readForm(w, r, teamForm) {
		h.renderRoles(w, r, p, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	d := roleFormData{Name: r.PostForm.Get("name"), CopyFrom: r.PostForm.Get("copyFrom")}
	ls, err := formLevels(r)
	if err == nil {
		_, err = h.t.CreateRole(ctxOf(r, p), p, team.RoleInput{Name: d.Name, Levels: ls, CopyFrom: d.CopyFrom})
	}
	if err != nil {
		status, msg := h.status(err)
		d.Rows = levelRows(p, ls)
		h.roleForm(w, r, p, status, "New role", msg, d)
		return
	}
	http.Redirect(w, r, "/settings/team/roles?ok=created", http.StatusSeeOther)
}

func (h *teamPages) editRole(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	ro, err := h.t.Role(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		h.notFound(w, r, p, err)
		return
	}
	d := roleFormData{ID: ro.ID, Name: ro.Name, Builtin: ro.Builtin, Rows: levelRows(p, ro.Levels)}
	errMsg := ""
	switch {
	case !ro.Editable:
		errMsg = "The Admin role is built in and cannot be edited."
	case ro.ID == p.RoleID:
		errMsg = "This is your own role: ask another member with team owner access to change it."
	case !p.Levels.Covers(ro.Levels):
		errMsg = "This role has more access than yours, so you cannot edit it."
	}
	h.roleForm(w, r, p, http.StatusOK, "Edit role "+ro.Name, errMsg, d)
}

func (h *teamPages) updateRole(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !readForm(w, r, teamForm) {
		h.renderRoles(w, r, p, http.StatusBadRequest, "", "The form could not be read.")
		return
	}
	id := r.PathValue("id")
	name := r.PostForm.Get("name")
	ls, err := formLevels(r)
	if err == nil {
		upd := team.RoleUpdate{Levels: ls}
		if _, has := r.PostForm["name"]; has {
			upd.Name = &name
		}
		_, err = h.t.UpdateRole(ctxOf(r, p), p, id, upd)
	}
	if err != nil {
		status, msg := h.status(err)
		ro, rerr := h.t.Role(r.Context(), p.WorkspaceID, id)
		if rerr != nil {
			h.s.Error(w, r, p, status, "Role not saved", msg)
			return
		}
		d := roleFormData{ID: ro.ID, Name: name, Builtin: ro.Builtin, Rows: levelRows(p, ls)}
		h.roleForm(w, r, p, status, "Edit role "+ro.Name, msg, d)
		return
	}
	http.Redirect(w, r, "/settings/team/roles?ok=saved", http.StatusSeeOther)
}

func (h *teamPages) deleteRoleConfirm(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	ro, err := h.t.Role(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		h.notFound(w, r, p, err)
		return
	}
	h.s.Render(w, r, http.StatusOK, "team_confirm", View{Title: "Delete role", Principal: p, Active: "team", Data: confirmData{
		Heading:     "Delete the role " + ro.Name + "?",
		Text:        "Roles still held by members (or offered by pending invitations) cannot be deleted: give those members another role first.",
		confirmForm: confirmForm{Action: "/settings/team/roles/" + url.PathEscape(ro.ID) + "/delete", Button: "Delete role", Cancel: "/settings/team/roles"},
	}})
}

func (h *teamPages) deleteRole(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if err := h.t.DeleteRole(ctxOf(r, p), p, r.PathValue("id")); err != nil {
		status, msg := h.status(err)
		h.renderRoles(w, r, p, status, "", msg)
		return
	}
	http.Redirect(w, r, "/settings/team/roles?ok=deleted", http.StatusSeeOther)
}

// --- accepting an invitation ---

type inviteData struct {
	Token string
	team.Pending
	// SignedInAs is the visitor's email when signed in.
	SignedInAs string
	Name       string
	Valid      bool
}

func (h *teamPages) acceptPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	w.Header().Set("Referrer-Policy", "no-referrer") // the path is the credential
	token := r.PathValue("token")
	pend, err := h.t.Lookup(r.Context(), token)
	d := inviteData{Token: token, Pending: pend, Valid: err == nil}
	if p != nil && !p.Platform {
		d.SignedInAs = p.Email
	}
	if err != nil {
		status, msg := h.status(err)
		h.s.Render(w, r, status, "invite", View{Title: "Invitation", Error: msg, Data: d})
		return
	}
	h.s.Render(w, r, http.StatusOK, "invite", View{Title: "Join " + pend.WorkspaceName, Data: d})
}

func (h *teamPages) accept(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	token := r.PathValue("token")
	pend, err := h.t.Lookup(r.Context(), token)
	d := inviteData{Token: token, Pending: pend, Valid: err == nil}
	if p != nil && !p.Platform {
		d.SignedInAs = p.Email
	}
	fail := func(err error) {
		status, msg := h.status(err)
		if errors.Is(err, account.ErrInvalidCredentials) {
			status, msg = http.StatusUnauthorized, "The password is incorrect."
		}
		var te *account.ThrottledError
		if errors.As(err, &te) {
			w.Header().Set("Retry-After", retryAfterSeconds(te))
			status, msg = http.StatusTooManyRequests, te.Error()
		}
		h.s.Render(w, r, status, "invite", View{Title: "Invitation", Error: msg, Data: d})
	}
	if err != nil {
		fail(err)
		return
	}
	if !readForm(w, r, teamForm) {
		fail(&input.Error{Reason: "The form could not be read."})
		return
	}
	ctx := team.WithIP(r.Context(), auth.ClientIP(r))
	var u account.User
	var wsID string
	switch r.PostForm.Get("action") {
	case "join":
		if p == nil || p.UserID == "" {
			fail(&input.Error{Reason: "Sign in first."})
			return
		}
		if u, err = h.s.Accounts.UserByID(ctx, p.UserID); err == nil {
			wsID, err = h.t.Accept(ctx, token, u)
		}
		if err == nil && p.Via == "session" {
			err = h.s.Accounts.SwitchWorkspace(ctx, p.SessionID, wsID)
		}
		if err != nil {
			fail(err)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	case "signin":
		ip := auth.ClientIP(r)
		key := strings.ToLower(pend.Email)
		if wait := h.s.Throttle.Wait(key, ip); wait > 0 {
			fail(&account.ThrottledError{Wait: wait})
			return
		}
		u, err = h.s.Accounts.Authenticate(ctx, pend.Email, r.PostForm.Get("password"))
		if errors.Is(err, account.ErrInvalidCredentials) {
			h.s.Throttle.Fail(key, ip)
		}
		if err == nil {
			h.s.Throttle.Succeed(key, ip)
			wsID, err = h.t.Accept(ctx, token, u)
		}
	case "signup":
		d.Name = r.PostForm.Get("name")
		if r.PostForm.Get("password") != r.PostForm.Get("confirm") {
			fail(&input.Error{Reason: "The two passwords differ."})
			return
		}
		u, wsID, err = h.t.SignUpAndAccept(ctx, token, d.Name, r.PostForm.Get("password"))
	default:
		err = &input.Error{Reason: "Choose how to accept the invitation."}
	}
	if err != nil {
		fail(err)
		return
	}
	// A fresh session in the joined workspace: any session the visitor had is replaced.
	if p != nil && p.Via == "session" {
		_ = h.s.Accounts.EndSession(ctx, p.SessionID)
	}
	sess, err := h.s.Accounts.CreateSession(ctx, u.ID, wsID, auth.ClientIP(r), r.UserAgent())
	if err != nil {
		h.s.Log.Error("session after accepting an invitation", "err", err)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.SetCookie(w, auth.SessionCookie(sess, h.s.SecureCookies || r.TLS != nil))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
