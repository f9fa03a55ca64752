package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
)

// An Admin creates a custom role with Developer = Editor on the Roles & Permissions grid,
// invites someone with it (no SMTP: the page shows the link to copy), the person signs up
// through the link, sees Developer Tools in the navigation and rotates the signing
// secret; an Operator sees no Developer Tools entry and gets the 403 page.
func TestBrowserCustomRoleInviteAcceptRotate(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	ws.AddMember("operator@example.test", "Operator", nil)
	if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status >= 300 {
		t.Fatalf("generate secret = %d %s", res.Status, res.Body)
	}
	ctx := browsertest.New(t)
	u := env.URL()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			browsertest.Screenshot(ctx, t, "team-failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string { t.Helper(); return browsertest.Text(ctx, t, sel) }
	signIn := func(email string) {
		t.Helper()
		run("sign in "+email,
			chromedp.Navigate(u+"/signin"),
			chromedp.WaitVisible("#email"),
			chromedp.SendKeys("#email", email),
			chromedp.SendKeys("#password", "correct horse battery"),
			chromedp.Click("#signin"),
			chromedp.WaitVisible("#dashboard"),
		)
	}

	// The Admin creates the role on the grid.
	signIn("acme-admin@example.test")
	run("new role",
		chromedp.Navigate(u+"/settings/team/roles"),
		chromedp.WaitVisible("#roles"),
		chromedp.Click("#new-role"),
		chromedp.WaitVisible("#level-grid"),
		browsertest.ScreenshotAction(t, "team-role-form"),
		chromedp.SendKeys("#role-name", "Developers"),
		chromedp.Click("#level-developer-editor"),
		chromedp.Click("#save-role"),
		chromedp.WaitVisible(`tr[data-role="Developers"]`),
	)
	browsertest.Screenshot(ctx, t, "team-roles")
	if row := text(`tr[data-role="Developers"]`); !strings.Contains(row, "editor") {
		t.Fatalf("role row = %q", row)
	}

	// …and invites with it: without SMTP, the link is shown to copy.
	var roles struct{ Roles []struct{ ID, Name string } }
	ws.Admin.Do("GET", "/v1/roles", nil).JSON(t, &roles)
	roleID := ""
	for _, r := range roles.Roles {
		if r.Name == "Developers" {
			roleID = r.ID
		}
	}
	run("invite",
		chromedp.Navigate(u+"/settings/team"),
		chromedp.WaitVisible("#invite-form"),
		chromedp.SendKeys("#emails", "dev@example.test"),
		chromedp.SetValue("#invite-role", roleID),
		chromedp.Click("#invite"),
		chromedp.WaitVisible("#invite-link-0"),
	)
	browsertest.Screenshot(ctx, t, "team-invited")
	link, err := chromedp.Run(ctx, chromedp.Value("#invite-link-0"))
	if err != nil || !strings.HasPrefix(link, u+"/invitations/rdi_") {
		t.Fatalf("invitation link = %q, %v", link, err)
	}
	if row := text(`#invitations tr[data-email="dev@example.test"]`); !strings.Contains(row, "Pending") || !strings.Contains(row, "Developers") {
		t.Fatalf("invitation row = %q", row)
	}

	// The invited person follows the link and signs up.
	run("sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
	run("accept",
		chromedp.Navigate(link),
		chromedp.WaitVisible("#accept"),
		browsertest.ScreenshotAction(t, "team-invite-accept"),
		chromedp.SendKeys("#name", "Dana Dev"),
		chromedp.SendKeys("#password", "dana's password 1"),
		chromedp.SendKeys("#confirm", "dana's password 1"),
		chromedp.Click("#accept"),
		chromedp.WaitVisible("#dashboard"),
	)
	if nav := text("nav.side"); !strings.Contains(nav, "Developer Tools") {
		t.Fatalf("new member's navigation has no Developer Tools: %q", nav)
	}
	if who := text("header .who"); !strings.Contains(who, "dev@example.test") || !strings.Contains(who, "Developers") {
		t.Fatalf("header = %q", who)
	}
	before := ""
	run("developer tools", chromedp.Click(`nav.side a[href="/settings/developer"]`), chromedp.WaitVisible("#secret-fingerprint"))
	before = text("#secret-fingerprint")
	run("rotate",
		chromedp.Click("#rotate-secret"),
		chromedp.WaitVisible("#confirm-rotate"),
		chromedp.Click("#confirm-rotate"),
		chromedp.WaitVisible("#secret-fingerprint"),
	)
	browsertest.Screenshot(ctx, t, "team-dev-rotated")
	if after := text("#secret-fingerprint"); after == before || after == "" {
		t.Fatalf("fingerprint %q → %q: not rotated", before, after)
	}
	if flash := text("p.flash"); !strings.Contains(flash, "rotated") {
		t.Fatalf("flash = %q", flash)
	}

	// An Operator: no Developer Tools entry, and the page itself is refused.
	run("sign out", chromedp.Click("#signout"), chromedp.WaitVisible("#signin"))
	signIn("operator@example.test")
	if nav := text("body"); strings.Contains(nav, "Developer Tools") {
		t.Fatalf("Operator sees Developer Tools: %q", nav)
	}
	run("operator opens developer tools", chromedp.Navigate(u+"/settings/developer"), chromedp.WaitVisible("#error"))
	if h1 := text("main h1"); h1 != "No access" {
		t.Fatalf("Operator on /settings/developer sees %q", h1)
	}
	browsertest.Screenshot(ctx, t, "team-operator-403")
	op := env.SignIn("operator@example.test", "correct horse battery")
	if res := op.Do("GET", "/settings/developer", nil); res.Status != http.StatusForbidden {
		t.Fatalf("Operator GET /settings/developer = %d, want 403", res.Status)
	}
}
