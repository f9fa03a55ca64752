package web_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/credential"
)

// offlineBrowser cuts the page off from everything but loopback (every other request fails
// as if there were no network, and is recorded) and records Content-Security-Policy
// violations in window.__csp.
type offlineBrowser struct {
	mu      sync.Mutex
	blocked []string
}

func (o *offlineBrowser) Blocked() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.blocked...)
}

func goOffline(t *testing.T, ctx context.Context) *offlineBrowser {
	t.Helper()
	o := &offlineBrowser{}
	events := chromedp.Events(ctx, fetch.RequestPaused)
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			u, _ := url.Parse(ev.Request.URL)
			if u != nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Scheme == "data") {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			o.mu.Lock()
			o.blocked = append(o.blocked, ev.Request.URL)
			o.mu.Unlock()
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonInternetDisconnected})
		}
	}()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *offlineBrowser) check(t *testing.T, ctx context.Context) {
	t.Helper()
	if b := o.Blocked(); len(b) > 0 {
		t.Errorf("the page tried to reach the network: %v", b)
	}
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		t.Fatal(err)
	}
	if len(csp) > 0 {
		t.Errorf("Content-Security-Policy violations: %v", csp)
	}
}

// /docs renders every API operation from the vendored Swagger UI with no network beyond
// localhost, under the page's Content-Security-Policy.
func TestBrowserDocsOffline(t *testing.T) {
	env := apptest.SQLite(t)
	res := env.Anonymous().Do("GET", "/docs", nil)
	if csp := res.Header.Get("Content-Security-Policy"); res.Status != 200 || !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe") {
		t.Fatalf("GET /docs: %d, CSP %q", res.Status, csp)
	}
	ctx := browsertest.New(t)
	o := goOffline(t, ctx)

	if err := chromedp.Do(ctx, chromedp.Navigate(env.URL()+"/docs"), chromedp.WaitVisible(".opblock")); err != nil {
		t.Fatal(err)
	}
	// Each operation is one .opblock; its path is shown in .opblock-summary-path.
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll(".opblock")].map(b => (b.querySelector(".opblock-summary-method")?.textContent || "") + " " + (b.querySelector(".opblock-summary-path")?.getAttribute("data-path") || ""))`))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range shown {
		have[strings.ReplaceAll(s, "\u200b", "")] = true
	}
	var want int
	for _, r := range env.App.Routes.Routes() {
		if r.Kind != "api" {
			continue
		}
		want++
		if !have[r.Method+" "+r.Path] {
			t.Errorf("/docs does not show %s %s", r.Method, r.Path)
		}
	}
	// An operation with two tags is shown under both.
	if len(have) != want {
		t.Errorf("/docs shows %d distinct operations, the route table has %d API routes: %v", len(have), want, shown)
	}
	browsertest.Screenshot(ctx, t, "docs")
	o.check(t, ctx)
}

// The API Keys page: create a key (one-time reveal with Copy), the key works, it is listed
// by prefix only, and revoking it (through the confirmation page) stops it at once.
func TestBrowserAPIKeysPage(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	ws.AddMember("dev@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
	ctx := browsertest.New(t)
	o := goOffline(t, ctx)
	u := env.URL()

	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/settings/api-keys"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", "dev@acme.test"),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#create-key"),
		chromedp.WaitVisible("#no-keys"),
		chromedp.SendKeys("#key-name", "Zapier"),
		chromedp.Click("#create-key-button"),
		chromedp.WaitVisible("#created-key"),
	)
	if err != nil {
		t.Fatal(err)
	}
	token, err := chromedp.Run(ctx, chromedp.Value("#new-key"))
	if err != nil || !credential.HasKind(token, "rdk") || len(token) != 47 {
		t.Fatalf("revealed key %q, %v", token, err)
	}
	browsertest.Screenshot(ctx, t, "apikeys-created")
	if err := chromedp.Do(ctx, chromedp.Click("#copy-key"), chromedp.WaitVisible(`#copy-key[data-copied="true"]`)); err != nil {
		t.Fatal(err)
	}
	kc := env.Anonymous()
	kc.Bearer = token
	if res := kc.Do("GET", "/v1/me", nil); res.Status != 200 {
		t.Fatalf("the new key: %d %s", res.Status, res.Body)
	}

	// Reload: the key is listed by its prefix, and never shown again.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/api-keys"), chromedp.WaitVisible("#keys-table")); err != nil {
		t.Fatal(err)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, token) || !strings.Contains(html, token[:12]) {
		t.Fatal("the list shows the key, or not its prefix")
	}

	err = chromedp.Do(ctx,
		chromedp.Click(".revoke-key"),
		chromedp.WaitVisible("#confirm-revoke"),
		browsertest.ScreenshotAction(t, "apikeys-revoke-confirm"),
		chromedp.Click("#confirm-revoke"),
		chromedp.WaitVisible("#no-keys"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if res := kc.Do("GET", "/v1/me", nil); res.Status != 401 {
		t.Fatalf("revoked key: %d", res.Status)
	}

	// A Zapier hook made with a key is listed and can be removed.
	_, token2 := newBrowserKey(t, env, "dev@acme.test")
	zap := env.Anonymous()
	zap.Bearer = token2
	if res := zap.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": "http://127.0.0.1:9/hook", "event": "MessageReceived"}); res.Status != 201 {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(u+"/settings/api-keys"),
		chromedp.WaitVisible("#hooks-table"),
		chromedp.Click(".remove-hook"),
		chromedp.WaitVisible("#confirm-remove"),
		browsertest.ScreenshotAction(t, "apikeys-hook-remove-confirm"),
		chromedp.Click("#confirm-remove"),
		chromedp.WaitVisible("#no-hooks"),
	)
	if err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(ctx, t, "apikeys-list")
	o.check(t, ctx)
}

// newBrowserKey makes a key for a member straight through the service.
func newBrowserKey(t *testing.T, env *apptest.Env, email string) (string, string) {
	t.Helper()
	ctx := context.Background()
	var userID, wsID string
	if err := env.DB().QueryRow(ctx, `SELECT m.user_id, m.workspace_id FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = ?`, email).Scan(&userID, &wsID); err != nil {
		t.Fatal(err)
	}
	k, token, err := env.App.APIKeys.Create(ctx, wsID, userID, "zap", nil)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID, token
}
