package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
)

// The first visit sets up the workspace; afterwards setup is gone, a wrong password gets a
// readable error, the right one the dashboard, and sign-out works.
func TestBrowserSetupSignInSignOut(t *testing.T) {
	env := apptest.SQLite(t)
	ctx := browsertest.New(t)
	u := env.URL()

	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/"),
		chromedp.WaitVisible("#workspace"), // / → /signin → /setup while nobody exists
		chromedp.SendKeys("#workspace", "Acme Texting"),
		chromedp.SendKeys("#email", "owner@acme.test"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.SendKeys("#confirm", "correct horse battery"),
		browsertest.ScreenshotAction(t, "setup"),
		chromedp.Click("#create"),
		chromedp.WaitVisible("#dashboard"),
	)
	if err != nil {
		t.Fatal(err)
	}
	h1, err := chromedp.Run(ctx, chromedp.Text("#dashboard"))
	if err != nil || h1 != "Acme Texting" {
		t.Fatalf("dashboard heading = %q, %v", h1, err)
	}
	browsertest.Screenshot(ctx, t, "dashboard")

	// Sign out, then the setup page is gone for good.
	if err := chromedp.Do(ctx, chromedp.Click("#signout"), chromedp.WaitVisible("#signin")); err != nil {
		t.Fatal(err)
	}
	res := env.Anonymous().Do("GET", "/setup", nil)
	if res.Status != http.StatusNotFound {
		t.Fatalf("GET /setup after setup = %d, want 404", res.Status)
	}
	// Signed out for real: a protected page sends us back to sign-in.
	// The page before (after sign-out) is the sign-in page too, so #signin alone proves
	// nothing: the location must be the redirect that carries where we were going.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer"), chromedp.WaitVisible("#signin")); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(loc, "/signin?next=") {
		t.Fatalf("signed out, /settings/developer led to %q (%v), want the sign-in page with next=", loc, err)
	}

	// Wrong password: a readable error, still on the sign-in form.
	err = chromedp.Do(ctx,
		chromedp.SendKeys("#email", "owner@acme.test"),
		chromedp.SendKeys("#password", "not the password"),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#error"),
	)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text("#error"))
	if err != nil || !strings.Contains(msg, "email or password is incorrect") {
		t.Fatalf("error text = %q, %v", msg, err)
	}
	browsertest.Screenshot(ctx, t, "signin-error")

	// Right password: back to where we were going.
	err = chromedp.Do(ctx,
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#signin"),
		// An element only the destination has: the sign-in page has a main h1 too, so
		// waiting for that read the location before the navigation.
		chromedp.WaitVisible("#signing-secret-section"),
	)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/settings/developer") {
		t.Fatalf("after sign-in at %q, %v; want /settings/developer", loc, err)
	}
}
