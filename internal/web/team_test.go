package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
)

func postForm(c *apptest.Client, path string, v url.Values) *apptest.Response {
	return c.Do("POST", path, v.Encode(), "Content-Type", "application/x-www-form-urlencoded")
}

func expect(t *testing.T, res *apptest.Response, status int, what string, contains ...string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("%s = %d, want %d\n%s", what, res.Status, status, res.Body)
	}
	for _, c := range contains {
		if !strings.Contains(string(res.Body), c) {
			t.Fatalf("%s: body lacks %q\n%s", what, c, res.Body)
		}
	}
}

func roleIDs(t *testing.T, c *apptest.Client) map[string]string {
	t.Helper()
	var body struct{ Roles []struct{ ID, Name string } }
	c.Do("GET", "/v1/roles", nil).JSON(t, &body)
	out := map[string]string{}
	for _, r := range body.Roles {
		out[r.Name] = r.ID
	}
	return out
}

func inviteLinkPath(t *testing.T, admin *apptest.Client, email, roleID string) string {
	t.Helper()
	res := admin.Do("POST", "/v1/invitations", map[string]any{"emails": []string{email}, "roleId": roleID})
	var body struct{ Invitations []struct{ Link string } }
	res.JSON(t, &body)
	u, err := url.Parse(body.Invitations[0].Link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

// Team pages over plain HTTP: accepting as an existing user, the wrong user, an expired
// link; removing with a confirmation step; the role grid, copying, escalation and a role in
// use.
func TestTeamPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		acme := env.NewWorkspace("Acme")
		other := env.NewWorkspace("Other") // its Admin is an existing user to invite
		roles := roleIDs(t, acme.Admin)

		// An existing user accepts by signing in with the invited address.
		path := inviteLinkPath(t, acme.Admin, "other-admin@example.test", roles["Operator"])
		anon := env.Anonymous()
		expect(t, anon.Do("GET", path, nil), http.StatusOK, "accept page (existing user)", `value="signin"`, "Operator", "Acme")
		expect(t, postForm(anon, path, url.Values{"action": {"signin"}, "password": {"wrong password"}}), http.StatusUnauthorized, "wrong password")
		res := postForm(anon, path, url.Values{"action": {"signin"}, "password": {"correct horse battery"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("accept by sign-in = %d %s", res.Status, res.Body)
		}
		var me struct {
			Workspace   struct{ Name string }
			Memberships []struct{ WorkspaceName string }
		}
		anon.Do("GET", "/v1/me", nil).JSON(t, &me)
		if me.Workspace.Name != "Acme" || len(me.Memberships) != 2 {
			t.Fatalf("after joining: %+v", me)
		}
		_ = other

		// Signed in as someone else: told so, and joining is refused.
		path = inviteLinkPath(t, acme.Admin, "someone@example.test", roles["Operator"])
		expect(t, other.Admin.Do("GET", path, nil), http.StatusOK, "accept page as another user", "you are signed in as other-admin@example.test")
		expect(t, postForm(other.Admin, path, url.Values{"action": {"join"}}), http.StatusForbidden, "join as another user")

		// An expired link.
		if _, err := env.DB().Exec(context.Background(), `UPDATE invitations SET expires_at = 0 WHERE email = ?`, "someone@example.test"); err != nil {
			t.Fatal(err)
		}
		expect(t, env.Anonymous().Do("GET", path, nil), http.StatusGone, "expired link", "expired")
		expect(t, acme.Admin.Do("GET", "/settings/team", nil), http.StatusOK, "team page", "Expired", "someone@example.test")

		// Roles & Permissions: the grid, copy, create through the form, escalation refused.
		dev := acme.AddMember("dev@example.test", "Developer editor", access.Levels{access.Developer: access.Editor})
		_ = dev
		roles = roleIDs(t, acme.Admin)
		expect(t, acme.Admin.Do("GET", "/settings/team/roles", nil), http.StatusOK, "roles page", `data-role="Developer editor"`, "New role")
		expect(t, acme.Admin.Do("GET", "/settings/team/roles/new?copy="+roles["Developer editor"], nil), http.StatusOK, "copy form",
			`value="Copy of Developer editor"`, `id="level-developer-editor" value="editor" aria-label="Editor" checked`)
		res = postForm(acme.Admin, "/settings/team/roles", url.Values{"name": {"Relays lead"}, "level-relays": {"owner"}, "level-team": {"viewer"}})
		if res.Status != http.StatusSeeOther {
			t.Fatalf("create role by form = %d %s", res.Status, res.Body)
		}
		teamOwner := acme.AddMember("lead@example.test", "Team owner", access.Levels{access.Team: access.Owner})
		expect(t, postForm(teamOwner, "/settings/team/roles", url.Values{"name": {"Sneaky"}, "level-developer": {"owner"}}),
			http.StatusForbidden, "escalating role by form", "above your own")
		expect(t, teamOwner.Do("GET", "/settings/team/roles", nil), http.StatusOK, "roles page as team owner")

		// A role in use cannot be deleted: the page says who holds it.
		expect(t, acme.Admin.Do("GET", "/settings/team/roles/"+roles["Developer editor"]+"/delete", nil), http.StatusOK, "delete confirmation", `id="confirm"`)
		expect(t, postForm(acme.Admin, "/settings/team/roles/"+roles["Developer editor"]+"/delete", nil), http.StatusConflict, "delete role in use", "dev@example.test")

		// Removing a member takes a confirmation page, then ends their session.
		var members struct {
			Members []struct{ UserID, Email string }
		}
		acme.Admin.Do("GET", "/v1/members", nil).JSON(t, &members)
		devID := ""
		for _, m := range members.Members {
			if m.Email == "dev@example.test" {
				devID = m.UserID
			}
		}
		expect(t, acme.Admin.Do("GET", "/settings/team/members/"+devID+"/remove", nil), http.StatusOK, "remove confirmation", "Remove dev@example.test?", `id="confirm"`)
		res = postForm(acme.Admin, "/settings/team/members/"+devID+"/remove", nil)
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/settings/team?ok=removed" {
			t.Fatalf("remove = %d %s", res.Status, res.Header.Get("Location"))
		}
		expect(t, dev.Do("GET", "/v1/me", nil), http.StatusUnauthorized, "removed member")

		// A team editor cannot open the owner-only removal page, and sees no Remove links.
		mgr := acme.AddMember("mgr@example.test", "Manager", nil)
		page := mgr.Do("GET", "/settings/team", nil)
		expect(t, page, http.StatusOK, "team page as Manager", `id="invite-form"`)
		if strings.Contains(string(page.Body), "/remove") {
			t.Fatal("Manager sees Remove links")
		}
		if strings.Contains(string(page.Body), `<option value="`+roles["Admin"]+`"`) {
			t.Fatal("Manager is offered the Admin role")
		}
	})
}
