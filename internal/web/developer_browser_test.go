package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
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
	var mu sync.Mutex
	var verifyWith []webhook.Secret
	var lastErr error
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		_, lastErr = webhook.NewVerifier(verifyWith...).Verify(r.Header, body)
		mu.Unlock()
		_, _ = io.WriteString(w, "thanks")
	}))
	defer recv.Close()

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
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	signIn(ws.Admin.Email)
	if h := text("main h2"); h != "Add endpoint" {
		t.Fatalf("the page leads with %q, want Add endpoint", h)
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
		chromedp.WaitVisible(".endpoint .save-endpoint"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if f := text(".flash"); f != "Endpoint saved." {
		t.Fatalf("flash %q", f)
	}
	if s := text(".endpoint .state"); s != "Active" {
		t.Fatalf("state %q", s)
	}

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
	mu.Lock()
	verifyWith = []webhook.Secret{s1}
	mu.Unlock()
	if err := chromedp.Do(ctx, chromedp.Click(".send-test"), chromedp.WaitVisible(".test-result")); err != nil {
		t.Fatal(err)
	}
	if r := text(".test-result"); !strings.Contains(r, "Test event delivered") || !strings.Contains(r, "HTTP 200") || !strings.Contains(r, "thanks") {
		t.Fatalf("test result %q", r)
	}
	mu.Lock()
	if lastErr != nil {
		t.Fatalf("receiver: %v", lastErr)
	}
	mu.Unlock()
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

	// Rotate, behind a confirmation that says receivers must update now, with a grace period.
	if err := chromedp.Do(ctx, chromedp.Click("#rotate-secret"), chromedp.WaitVisible("#rotate-warning")); err != nil {
		t.Fatal(err)
	}
	if w := text("#rotate-warning"); !strings.Contains(w, "Receivers must update now") || !strings.Contains(w, s1.Fingerprint()) {
		t.Fatalf("confirmation says %q", w)
	}
	browsertest.Screenshot(ctx, t, "developer-rotate-confirm")
	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#grace").value = "3600"`),
		chromedp.Click("#confirm-rotate"),
		chromedp.WaitVisible("#signing-secret"),
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
	if f := text(".flash"); !strings.Contains(f, "Update your receivers now") {
		t.Fatalf("flash %q", f)
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
