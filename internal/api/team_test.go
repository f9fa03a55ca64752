package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/team/teamtest"
)

type roleJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Builtin     bool              `json:"builtin"`
	Editable    bool              `json:"editable"`
	Deletable   bool              `json:"deletable"`
	Levels      map[string]string `json:"levels"`
	MemberCount int               `json:"memberCount"`
}

type memberJSON struct {
	UserID   string `json:"userId"`
	Email    string `json:"email"`
	RoleID   string `json:"roleId"`
	RoleName string `json:"roleName"`
}

type issuedJSON struct {
	ID      string `json:"id"`
	Email   string `json:"email"`
	Status  string `json:"status"`
	Emailed bool   `json:"emailed"`
	Link    string `json:"link"`
}

func teamRoles(t *testing.T, c *apptest.Client) map[string]roleJSON {
	t.Helper()
	res := c.Do("GET", "/v1/roles", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v1/roles = %d %s", res.Status, res.Body)
	}
	var body struct{ Roles []roleJSON }
	res.JSON(t, &body)
	out := map[string]roleJSON{}
	for _, r := range body.Roles {
		out[r.Name] = r
	}
	return out
}

func teamMembers(t *testing.T, c *apptest.Client) map[string]memberJSON {
	t.Helper()
	res := c.Do("GET", "/v1/members", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v1/members = %d %s", res.Status, res.Body)
	}
	var body struct{ Members []memberJSON }
	res.JSON(t, &body)
	out := map[string]memberJSON{}
	for _, m := range body.Members {
		out[m.Email] = m
	}
	return out
}

func expectStatus(t *testing.T, res *apptest.Response, status int, what string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s = %d %s, want %d", what, res.Status, res.Body, status)
	}
}

func teamAuditActions(t *testing.T, env *apptest.Env, ws string) map[string]int {
	t.Helper()
	rows, err := env.DB().Query(context.Background(), `SELECT action FROM audit_log WHERE workspace_id = ?`, ws)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out[a]++
	}
	return out
}

// acceptBySignUp follows an invitation link as a new user, through the public page.
func acceptBySignUp(t *testing.T, env *apptest.Env, link, password string) *apptest.Client {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	c := env.Anonymous()
	res := c.Do("GET", u.Path, nil)
	expectStatus(t, res, http.StatusOK, "GET "+u.Path)
	if !strings.Contains(string(res.Body), `value="signup"`) {
		t.Fatalf("accept page has no sign-up form:\n%s", res.Body)
	}
	form := url.Values{"action": {"signup"}, "name": {"New Person"}, "password": {password}, "confirm": {password}}
	res = c.Do("POST", u.Path, form.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("sign up via invitation = %d %s, want 303 to /", res.Status, res.Body)
	}
	return c
}

func TestTeamRolesInvitationsMembers(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		admin := ws.Admin

		rs := teamRoles(t, admin)
		for _, name := range []string{"Admin", "Manager", "Operator"} {
			if !rs[name].Builtin || rs[name].Deletable {
				t.Fatalf("%s: %+v, want built-in and not deletable", name, rs[name])
			}
		}
		if rs["Admin"].Editable || !rs["Manager"].Editable {
			t.Fatalf("Admin must be fixed and Manager editable: %+v %+v", rs["Admin"], rs["Manager"])
		}
		if rs["Admin"].MemberCount != 1 || rs["Admin"].Levels["developer"] != "owner" || rs["Operator"].Levels["workspace"] != "viewer" {
			t.Fatalf("built-in roles: %+v", rs)
		}

		// Create, copy, duplicate name, bad level.
		res := admin.Do("POST", "/v1/roles", map[string]any{"name": "Developer", "levels": map[string]string{"developer": "editor"}})
		expectStatus(t, res, http.StatusCreated, "create role")
		var dev roleJSON
		res.JSON(t, &dev)
		if dev.Levels["developer"] != "editor" || dev.Levels["relays"] != "none" || dev.Builtin || !dev.Deletable {
			t.Fatalf("created role = %+v", dev)
		}
		res = admin.Do("POST", "/v1/roles", map[string]any{"name": "Developer copy", "copyFrom": dev.ID})
		expectStatus(t, res, http.StatusCreated, "copy role")
		var cp roleJSON
		res.JSON(t, &cp)
		if cp.Levels["developer"] != "editor" || cp.ID == dev.ID {
			t.Fatalf("copied role = %+v", cp)
		}
		expectStatus(t, admin.Do("POST", "/v1/roles", map[string]any{"name": "Developer", "levels": map[string]string{}}), http.StatusConflict, "duplicate role name")
		expectStatus(t, admin.Do("POST", "/v1/roles", map[string]any{"name": "X", "levels": map[string]string{"developer": "god"}}), http.StatusUnprocessableEntity, "unknown level")
		expectStatus(t, admin.Do("POST", "/v1/roles", map[string]any{"name": "X", "levels": map[string]string{"workspace": "owner"}}), http.StatusUnprocessableEntity, "workspace owner")
		expectStatus(t, admin.Do("POST", "/v1/roles", map[string]any{"name": "X", "levels": map[string]string{"billing": "viewer"}}), http.StatusUnprocessableEntity, "unknown feature")
		expectStatus(t, admin.Do("POST", "/v1/roles", map[string]any{"name": "a\x00b"}), http.StatusUnprocessableEntity, "NUL in a role name")

		// Edit: rename and levels of a custom role; Admin fixed; Manager's levels editable, name not.
		res = admin.Do("PATCH", "/v1/roles/"+cp.ID, map[string]any{"name": "Relays person", "levels": map[string]string{"relays": "editor"}})
		expectStatus(t, res, http.StatusOK, "edit custom role")
		res.JSON(t, &cp)
		if cp.Name != "Relays person" || cp.Levels["relays"] != "editor" || cp.Levels["developer"] != "none" {
			t.Fatalf("edited role = %+v", cp)
		}
		expectStatus(t, admin.Do("PATCH", "/v1/roles/"+rs["Admin"].ID, map[string]any{"levels": map[string]string{"developer": "none"}}), http.StatusForbidden, "edit Admin")
		expectStatus(t, admin.Do("DELETE", "/v1/roles/"+rs["Admin"].ID, nil), http.StatusForbidden, "delete Admin")
		expectStatus(t, admin.Do("DELETE", "/v1/roles/"+rs["Operator"].ID, nil), http.StatusForbidden, "delete Operator")
		expectStatus(t, admin.Do("PATCH", "/v1/roles/"+rs["Manager"].ID, map[string]any{"name": "Boss"}), http.StatusForbidden, "rename Manager")
		expectStatus(t, admin.Do("PATCH", "/v1/roles/"+rs["Manager"].ID, map[string]any{"levels": map[string]string{"team": "editor", "workspace": "editor", "relays": "viewer"}}),
			http.StatusOK, "edit Manager's levels")
		expectStatus(t, admin.Do("PATCH", "/v1/roles/01HZZZZZZZZZZZZZZZZZZZZZZZ", map[string]any{"name": "Y"}), http.StatusNotFound, "edit unknown role")

		// Invite without SMTP: the link comes back once; listing never shows it.
		res = admin.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"Dev@Example.test"}, "roleId": dev.ID})
		expectStatus(t, res, http.StatusCreated, "invite")
		var issued struct{ Invitations []issuedJSON }
		res.JSON(t, &issued)
		if len(issued.Invitations) != 1 || issued.Invitations[0].Emailed || issued.Invitations[0].Status != "pending" ||
			issued.Invitations[0].Email != "dev@example.test" || !strings.Contains(issued.Invitations[0].Link, "/invitations/rdi_") {
			t.Fatalf("invitation = %+v", issued)
		}
		link := issued.Invitations[0].Link
		token := link[strings.LastIndex(link, "/")+1:]
		res = admin.Do("GET", "/v1/invitations", nil)
		expectStatus(t, res, http.StatusOK, "list invitations")
		if strings.Contains(string(res.Body), token) || !strings.Contains(string(res.Body), `"status":"pending"`) {
			t.Fatalf("listing = %s", res.Body)
		}
		var stored int
		if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM invitations WHERE token_hash = ?`, token).Scan(&stored); err != nil || stored != 0 {
			t.Fatalf("the token is stored in clear (%d, %v)", stored, err)
		}
		expectStatus(t, admin.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"acme-admin@example.test"}, "roleId": dev.ID}),
			http.StatusConflict, "invite an existing member")
		expectStatus(t, admin.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"not an email"}, "roleId": dev.ID}),
			http.StatusUnprocessableEntity, "invite a bad address")

		// Resend: a new link, the old one stops working.
		res = admin.Do("POST", "/v1/invitations/"+issued.Invitations[0].ID+"/resend", nil)
		expectStatus(t, res, http.StatusOK, "resend")
		var resent issuedJSON
		res.JSON(t, &resent)
		if resent.Link == "" || resent.Link == link {
			t.Fatalf("resent = %+v", resent)
		}
		oldPath, _ := url.Parse(link)
		expectStatus(t, env.Anonymous().Do("GET", oldPath.Path, nil), http.StatusNotFound, "old link after resend")

		// Accept by signing up: the new member acts with the invited role.
		newbie := acceptBySignUp(t, env, resent.Link, "newbie password 1")
		res = newbie.Do("GET", "/v1/me", nil)
		expectStatus(t, res, http.StatusOK, "me after accepting")
		var me struct {
			User struct{ Email string }
			Role struct{ Name string }
		}
		res.JSON(t, &me)
		if me.User.Email != "dev@example.test" || me.Role.Name != "Developer" {
			t.Fatalf("new member = %+v", me)
		}
		newPath, _ := url.Parse(resent.Link)
		expectStatus(t, env.Anonymous().Do("GET", newPath.Path, nil), http.StatusGone, "used link")
		res = admin.Do("GET", "/v1/invitations", nil)
		if !strings.Contains(string(res.Body), `"status":"joined"`) {
			t.Fatalf("after accepting: %s", res.Body)
		}

		// Revoke: the link stops working.
		res = admin.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"later@example.test"}, "roleId": rs["Operator"].ID})
		expectStatus(t, res, http.StatusCreated, "invite later")
		res.JSON(t, &issued)
		expectStatus(t, admin.Do("DELETE", "/v1/invitations/"+issued.Invitations[0].ID, nil), http.StatusNoContent, "revoke")
		lp, _ := url.Parse(issued.Invitations[0].Link)
		expectStatus(t, env.Anonymous().Do("GET", lp.Path, nil), http.StatusNotFound, "revoked link")

		// A role in use cannot be deleted: the answer lists who uses it.
		res = admin.Do("DELETE", "/v1/roles/"+dev.ID, nil)
		expectStatus(t, res, http.StatusConflict, "delete a role in use")
		if !strings.Contains(string(res.Body), "dev@example.test") {
			t.Fatalf("conflict does not list the member: %s", res.Body)
		}
		expectStatus(t, admin.Do("DELETE", "/v1/roles/"+cp.ID, nil), http.StatusNoContent, "delete an unused role")

		// Change the new member's role; then remove them.
		ms := teamMembers(t, admin)
		dm := ms["dev@example.test"]
		res = admin.Do("PATCH", "/v1/members/"+dm.UserID, map[string]any{"roleId": rs["Operator"].ID})
		expectStatus(t, res, http.StatusOK, "change role")
		expectStatus(t, newbie.Do("GET", "/v1/endpoints", nil), http.StatusForbidden, "endpoints as Operator after the change")
		expectStatus(t, admin.Do("DELETE", "/v1/members/"+dm.UserID, nil), http.StatusNoContent, "remove member")
		expectStatus(t, newbie.Do("GET", "/v1/me", nil), http.StatusUnauthorized, "removed member's session")
		expectStatus(t, admin.Do("DELETE", "/v1/members/"+dm.UserID, nil), http.StatusNotFound, "remove twice")

		acts := teamAuditActions(t, env, ws.ID)
		for _, a := range []string{"role.create", "role.update", "role.delete", "invitation.create", "invitation.resend", "invitation.revoke",
			"member.join", "member.role_change", "member.remove"} {
			if acts[a] == 0 {
				t.Errorf("no audit entry %s (have %v)", a, acts)
			}
		}
		if strings.Contains(env.Logs.String(), token) {
			t.Fatal("an invitation token was logged")
		}
	})
}

// A member with a custom role whose levels equal Admin's can act on the Admin, so the
// last-Admin rule (not the own-role rule) is what protects them.
func TestTeamEscalationAndLastAdmin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		admin := ws.Admin
		manager := ws.AddMember("manager@example.test", "Manager", nil)
		operator := ws.AddMember("operator@example.test", "Operator", nil)
		teamOwner := ws.AddMember("teamowner@example.test", "Team owner", access.Levels{access.Team: access.Owner})
		coAdmin := ws.AddMember("coadmin@example.test", "Co-admin",
			access.Levels{access.Developer: access.Owner, access.Relays: access.Owner, access.Team: access.Owner, access.Workspace: access.Editor})
		rs := teamRoles(t, admin)
		ms := teamMembers(t, admin)

		// Manager is team editor: no role management at all; no assigning Admin; not its own role;
		// not touching an Admin.
		expectStatus(t, manager.Do("POST", "/v1/roles", map[string]any{"name": "Mine", "levels": map[string]string{}}), http.StatusForbidden, "Manager creates a role")
		expectStatus(t, manager.Do("PATCH", "/v1/members/"+ms["operator@example.test"].UserID, map[string]any{"roleId": rs["Admin"].ID}),
			http.StatusForbidden, "Manager assigns Admin")
		expectStatus(t, manager.Do("PATCH", "/v1/members/"+ms["manager@example.test"].UserID, map[string]any{"roleId": rs["Operator"].ID}),
			http.StatusForbidden, "Manager changes own role")
		expectStatus(t, manager.Do("PATCH", "/v1/members/"+ms["acme-admin@example.test"].UserID, map[string]any{"roleId": rs["Operator"].ID}),
			http.StatusForbidden, "Manager demotes the Admin")
		expectStatus(t, manager.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"x@example.test"}, "roleId": rs["Admin"].ID}),
			http.StatusForbidden, "Manager invites an Admin")
		expectStatus(t, manager.Do("DELETE", "/v1/members/"+ms["operator@example.test"].UserID, nil), http.StatusForbidden, "Manager removes a member")
		// …but may do what it covers.
		expectStatus(t, manager.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"y@example.test"}, "roleId": rs["Operator"].ID}),
			http.StatusCreated, "Manager invites an Operator")

		// Team owner (nothing else): creating a role above itself is refused; equal is fine.
		res := teamOwner.Do("POST", "/v1/roles", map[string]any{"name": "Dev owner", "levels": map[string]string{"developer": "owner"}})
		expectStatus(t, res, http.StatusForbidden, "team owner creates a developer owner role")
		if !strings.Contains(string(res.Body), "developer") {
			t.Fatalf("refusal does not say which feature: %s", res.Body)
		}
		expectStatus(t, teamOwner.Do("POST", "/v1/roles", map[string]any{"name": "Team lead", "levels": map[string]string{"team": "owner"}}),
			http.StatusCreated, "team owner creates an equal role")
		expectStatus(t, teamOwner.Do("PATCH", "/v1/roles/"+ms["teamowner@example.test"].RoleID, map[string]any{"levels": map[string]string{"team": "owner", "developer": "editor"}}),
			http.StatusForbidden, "team owner edits own role")
		expectStatus(t, teamOwner.Do("POST", "/v1/roles", map[string]any{"name": "Copy admin", "copyFrom": rs["Admin"].ID}),
			http.StatusForbidden, "team owner copies Admin")
		expectStatus(t, teamOwner.Do("DELETE", "/v1/members/"+ms["acme-admin@example.test"].UserID, nil), http.StatusForbidden, "team owner removes the Admin")

		// Nobody changes their own role, not even the Admin.
		expectStatus(t, admin.Do("PATCH", "/v1/members/"+ms["acme-admin@example.test"].UserID, map[string]any{"roleId": rs["Operator"].ID}),
			http.StatusForbidden, "Admin demotes themselves")

		// The last Admin: neither demoted nor removed by a member who covers Admin.
		res = coAdmin.Do("PATCH", "/v1/members/"+ms["acme-admin@example.test"].UserID, map[string]any{"roleId": rs["Operator"].ID})
		expectStatus(t, res, http.StatusConflict, "demote the last Admin")
		if !strings.Contains(string(res.Body), "last Admin") {
			t.Fatalf("refusal: %s", res.Body)
		}
		expectStatus(t, coAdmin.Do("DELETE", "/v1/members/"+ms["acme-admin@example.test"].UserID, nil), http.StatusConflict, "remove the last Admin")
		// With a second Admin, the first may go.
		expectStatus(t, admin.Do("PATCH", "/v1/members/"+ms["coadmin@example.test"].UserID, map[string]any{"roleId": rs["Admin"].ID}), http.StatusOK, "promote co-admin")
		expectStatus(t, coAdmin.Do("PATCH", "/v1/members/"+ms["acme-admin@example.test"].UserID, map[string]any{"roleId": rs["Manager"].ID}),
			http.StatusOK, "demote an Admin who is not the last")
		// Now coadmin is the only Admin, and the former Admin cannot demote them (covers fails).
		expectStatus(t, admin.Do("PATCH", "/v1/members/"+ms["coadmin@example.test"].UserID, map[string]any{"roleId": rs["Operator"].ID}),
			http.StatusForbidden, "former Admin demotes the Admin")

		// A role change applies on the very next request of the same session.
		expectStatus(t, operator.Do("GET", "/v1/members", nil), http.StatusForbidden, "Operator lists members")
		expectStatus(t, coAdmin.Do("PATCH", "/v1/members/"+ms["operator@example.test"].UserID, map[string]any{"roleId": rs["Manager"].ID}), http.StatusOK, "promote operator")
		expectStatus(t, operator.Do("GET", "/v1/members", nil), http.StatusOK, "promoted operator lists members")
	})
}

// A removed member's session and API key stop working on the very next request.
func TestRemovedMemberLosesSessionAndAPIKey(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		dev := ws.AddMember("dev@example.test", "Dev", access.Levels{access.Developer: access.Editor})
		res := dev.Do("POST", "/v1/api-keys", map[string]any{"name": "script"})
		expectStatus(t, res, http.StatusCreated, "create API key")
		var key struct {
			Key string `json:"key"`
		}
		res.JSON(t, &key)
		byKey := env.Anonymous()
		byKey.Bearer = key.Key
		expectStatus(t, byKey.Do("GET", "/v1/endpoints", nil), http.StatusOK, "API key before removal")
		expectStatus(t, dev.Do("GET", "/v1/endpoints", nil), http.StatusOK, "session before removal")

		id := teamMembers(t, ws.Admin)["dev@example.test"].UserID
		expectStatus(t, ws.Admin.Do("DELETE", "/v1/members/"+id, nil), http.StatusNoContent, "remove")
		expectStatus(t, dev.Do("GET", "/v1/endpoints", nil), http.StatusUnauthorized, "session after removal")
		expectStatus(t, byKey.Do("GET", "/v1/endpoints", nil), http.StatusUnauthorized, "API key after removal")
		var revoked int
		if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM api_keys WHERE user_id = ? AND revoked_at IS NOT NULL`, id).Scan(&revoked); err != nil || revoked != 1 {
			t.Fatalf("revoked keys = %d, %v", revoked, err)
		}
	})
}

// Invitation emails go out through SMTP when configured; the link is then not returned.
func TestInvitationEmailed(t *testing.T) {
	smtpd := teamtest.NewSMTP(t)
	env := apptest.SQLite(t, func(c *app.Config) {
		c.SMTPURL, c.SMTPFrom = "smtp://"+smtpd.Addr, "relaydesk@example.test"
	})
	ws := env.NewWorkspace("Acme")
	op := teamRoles(t, ws.Admin)["Operator"]
	res := ws.Admin.Do("POST", "/v1/invitations", map[string]any{"emails": []string{"ana@example.test"}, "roleId": op.ID})
	expectStatus(t, res, http.StatusCreated, "invite")
	var issued struct{ Invitations []issuedJSON }
	res.JSON(t, &issued)
	if !issued.Invitations[0].Emailed || issued.Invitations[0].Link != "" {
		t.Fatalf("issued = %+v", issued)
	}
	msgs := smtpd.Messages()
	if len(msgs) != 1 || msgs[0].To != "ana@example.test" || !strings.Contains(msgs[0].Data, env.URL()+"/invitations/rdi_") {
		t.Fatalf("mail = %+v", msgs)
	}
}
