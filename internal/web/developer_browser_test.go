package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// Must show 1: the seed's walk through Developer Tools — add endpoint → Save → Generate
// signing secret → Copy → Send test event → Rotate (confirm) → the page shows the new
// fingerprint — then a developer viewer sees the page read-only, fingerprint only.
func TestBrowserDeveloperTools(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})
	ctx := browsertest.New(t)
	u := env.URL()

	// A local receiver that checks signatures with whatever secret the test gives it.
	recv := testkit.NewReceiver(t).Reply(http.StatusOK, "thanks")

	signIn := func(email string) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(u+"/signin?next=/settings/developer"),
			chromedp.WaitVisible("#email"),
			chromedp.SendKeys("#email", email),
			chromedp.SendKeys("#password", "correct horse battery"),
			chromedp.Click("#signin"),
			chromedp.WaitVisible("#signing-secret-section"),
		)
		if err != nil {
			t.Fatalf("sign in as %s: %v", email, err)
		}
	}
	text := func(sel string) string { t.Helper(); return browsertest.Text(ctx, t, sel) }
	count := func(sel string) int { t.Helper(); return browsertest.Count(ctx, t, sel) }

	signIn(ws.Admin.Email)
	// The signing secret leads (an integrator needs it first), then adding the first endpoint.
	if h, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main h2")].slice(0, 2).map(e => e.textContent).join(" | ")`)); h != "Signing secret | Add endpoint" {
		t.Fatalf("the page's first sections are %q, want Signing secret | Add endpoint", h)
	}
	browsertest.Screenshot(ctx, t, "developer-empty")

	// A refused URL says why, and keeps what was typed.
	err := chromedp.Do(ctx,
		chromedp.SendKeys("#new-url", "https://user:pw@example.com/hook"),
		chromedp.Click("#add-endpoint-save"),
		chromedp.WaitVisible("#new-url-error"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if msg := text("#new-url-error"); !strings.Contains(msg, "must not contain a user name or password") {
		t.Fatalf("refusal shown: %q", msg)
	}

	// Add endpoint → Save.
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#new-url").value = ""`),
		chromedp.SendKeys("#new-url", recv.URL+"/hook"),
		chromedp.SendKeys("#new-description", "Production receiver"),
		chromedp.Click("#add-endpoint-save"),
		chromedp.WaitVisible(".endpoint .endpoint-url"), // only the page with an endpoint has a card
	)
	if err != nil {
		t.Fatal(err)
	}
	if f := text(".flash"); f != "Endpoint saved." {
		t.Fatalf("flash %q", f)
	}
	// The card is headed by the endpoint's URL and description, its status beside them.
	if got := text(".endpoint .endpoint-head .endpoint-url"); got != recv.URL+"/hook" {
		t.Fatalf("card heading URL %q, want %q", got, recv.URL+"/hook")
	}
	if got := text(".endpoint .endpoint-head .endpoint-description"); got != "Production receiver" {
		t.Fatalf("card heading description %q", got)
	}
	if s := text(".endpoint .endpoint-head .state"); s != "Active" {
		t.Fatalf("state %q", s)
	}
	if first, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".endpoint").firstElementChild.className`)); first != "endpoint-head" {
		t.Fatalf("the card starts with %q, not its URL heading", first)
	}
	// The signing secret comes first on the page, and no navigation path that relaydesk does
	// not have is described.
	if order, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("main section[id], main details[id]")].map(e => e.id).join(",")`)); !strings.HasPrefix(order, "signing-secret-section,") {
		t.Fatalf("sections in order %q, want the signing secret first", order)
	}
	if body := text("main"); strings.Contains(body, "Account →") || strings.Contains(body, "Workspace Settings") {
		t.Fatalf("the page describes a navigation path relaydesk does not have: %q", body)
	}
	browsertest.Screenshot(ctx, t, "developer-endpoint")

	// Generate signing secret: shown once with a Copy button, and its fingerprint.
	if err := chromedp.Do(ctx, chromedp.Click("#generate-secret"), chromedp.WaitVisible("#signing-secret")); err != nil {
		t.Fatal(err)
	}
	first, err := chromedp.Run(ctx, chromedp.Value("#signing-secret"))
	if err != nil {
		t.Fatal(err)
	}
	s1, err := webhook.ParseSecret(first)
	if err != nil {
		t.Fatalf("shown secret %q: %v", first, err)
	}
	if fp := text("#secret-fingerprint"); fp != s1.Fingerprint() {
		t.Fatalf("fingerprint %q, want %q", fp, s1.Fingerprint())
	}
	// Copy.
	if err := chromedp.Do(ctx, chromedp.Click("#copy-secret"), chromedp.WaitVisible(`#copy-secret[data-copied="true"]`)); err != nil {
		t.Fatal(err)
	}
	if c := text("#copy-secret"); c != "Copied" {
		t.Fatalf("copy button says %q", c)
	}
	browsertest.Screenshot(ctx, t, "developer-secret")

	// Send test event: the result inline, verified by the receiver with this secret.
	recv.Verify(webhook.NewVerifier(s1))
	if err := chromedp.Do(ctx, chromedp.Click(".send-test"), chromedp.WaitVisible(".test-result")); err != nil {
		t.Fatal(err)
	}
	if r := text(".test-result"); !strings.Contains(r, "Test event delivered") || !strings.Contains(r, "HTTP 200") || !strings.Contains(r, "thanks") {
		t.Fatalf("test result %q", r)
	}
	if err := recv.Last(t).Err; err != nil {
		t.Fatalf("receiver: %v", err)
	}
	// The secret is no longer on the page after navigating away; Reveal brings it back.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer"), chromedp.WaitVisible("#reveal-secret")); err != nil {
		t.Fatal(err)
	}
	if n := count("#signing-secret"); n != 0 {
		t.Fatal("the secret is shown without Reveal")
	}
	if err := chromedp.Do(ctx, chromedp.Click("#reveal-secret"), chromedp.WaitVisible("#signing-secret")); err != nil {
		t.Fatal(err)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value("#signing-secret")); v != first {
		t.Fatal("Reveal shows another secret")
	}

	// Rotate: the page asks for the grace period, 24 hours pre-selected; "immediately"
	// carries the warning. Confirm with the default.
	if err := chromedp.Do(ctx, chromedp.Click("#rotate-secret"), chromedp.WaitVisible("#rotate-form")); err != nil {
		t.Fatal(err)
	}
	if w := text("#rotate-warning"); !strings.Contains(w, s1.Fingerprint()) || strings.Contains(w, "must update now") {
		t.Fatalf("rotation page says %q", w)
	}
	if checked, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("input[name=graceSeconds]:checked").value`)); checked != "86400" {
		t.Fatalf("pre-selected grace %q, want 86400 (24 h)", checked)
	}
	if now := text(`label[for="grace-0"]`); !strings.Contains(now, "Immediately") || !strings.Contains(now, "rejects your webhooks") {
		t.Fatalf("the no-grace choice says %q, want the warning", now)
	}
	browsertest.Screenshot(ctx, t, "developer-rotate-confirm")
	err = chromedp.Do(ctx,
		chromedp.Click("#confirm-rotate"),
		chromedp.WaitVisible("#signing-secret"), // the rotation page has no secret field
	)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := chromedp.Run(ctx, chromedp.Value("#signing-secret"))
	s2, err := webhook.ParseSecret(second)
	if err != nil || second == first {
		t.Fatalf("rotated secret %q: %v", second, err)
	}
	if fp := text("#secret-fingerprint"); fp != s2.Fingerprint() {
		t.Fatalf("after rotation the page shows %q, want the new fingerprint %q", fp, s2.Fingerprint())
	}
	if p := text("#previous-secret"); !strings.Contains(p, s1.Fingerprint()) {
		t.Fatalf("grace notice %q", p)
	}
	// The flash matches the choice: the old secret still signs (for 24 h).
	if f := text(".flash"); !strings.Contains(f, "The old secret also signs until") || strings.Contains(f, "no longer signs") {
		t.Fatalf("flash %q", f)
	}
	// Both secrets verify during the grace period: a receiver still on the old one and a
	// receiver already on the new one each accept a test event.
	for i, only := range []webhook.Secret{s1, s2} {
		recv.Verify(webhook.NewVerifier(only))
		before := recv.Len()
		// A fresh page first: the one before may already show a test result.
		if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer"), chromedp.WaitVisible(".send-test"),
			chromedp.Click(".send-test"), chromedp.WaitVisible(".test-result")); err != nil {
			t.Fatal(err)
		}
		if r := text(".test-result"); !strings.Contains(r, "Test event delivered") {
			t.Fatalf("test event with only secret #%d: %q", i+1, r)
		}
		lastErr := errors.New("no request")
		if recv.Len() > before {
			lastErr = recv.Last(t).Err
		}
		if lastErr != nil {
			t.Fatalf("a receiver with only the %s secret: %v", []string{"old", "new"}[i], lastErr)
		}
	}
	browsertest.Screenshot(ctx, t, "developer-rotated")

	// A developer viewer: read-only, fingerprint only.
	if err := chromedp.Do(ctx, chromedp.Click("#signout"), chromedp.WaitVisible("#signin")); err != nil {
		t.Fatal(err)
	}
	signIn("viewer@acme.test")
	if fp := text("#secret-fingerprint"); fp != s2.Fingerprint() {
		t.Fatalf("viewer sees fingerprint %q", fp)
	}
	if n := count("#reveal-secret, #rotate-secret, #generate-secret, #signing-secret, #copy-secret, .save-endpoint, .send-test, .delete-endpoint, #add-endpoint, form[method=post][action^='/settings/developer']"); n != 0 {
		t.Fatalf("viewer sees %d controls", n)
	}
	if u := text(".endpoint-url"); u != recv.URL+"/hook" {
		t.Fatalf("viewer sees endpoint %q", u)
	}
	browsertest.Screenshot(ctx, t, "developer-viewer")
	html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if strings.Contains(html, first) || strings.Contains(html, second) {
		t.Fatal("the viewer's page holds a secret")
	}
	// And the viewer cannot post to the controls directly.
	viewer := env.SignIn("viewer@acme.test", "correct horse battery")
	for _, path := range []string{"/settings/developer/secret/reveal", "/settings/developer/secret/rotate", "/settings/developer/endpoints"} {
		if res := viewer.Do("POST", path, "", "Content-Type", "application/x-www-form-urlencoded"); res.Status != http.StatusForbidden {
			t.Errorf("viewer POST %s = %d", path, res.Status)
		}
	}
	// No developer access: the 403 page.
	op := ws.AddMember("operator@acme.test", "Operator", nil)
	if res := op.Do("GET", "/settings/developer", nil); res.Status != http.StatusForbidden || !strings.Contains(string(res.Body), "No access") {
		t.Fatalf("operator GET /settings/developer = %d", res.Status)
	}
}
