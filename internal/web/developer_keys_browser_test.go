package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// The signing key pair in a browser: Generate → the public key and the JWKS URL with Copy
// buttons → Send test event, verified by a receiver that has only the JWKS URL read off the
// page → Rotate with a grace period → the page names both keys.
func TestBrowserSigningKey(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	ctx := browsertest.New(t)
	u := env.URL()

	// Until the test gives it the JWKS URL, the receiver accepts no signature.
	recv := testkit.NewReceiver(t).Verify(&webhook.Verifier{})
	if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
		t.Fatal(res.Status)
	}
	if res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL + "/hook"}); res.Status != http.StatusCreated {
		t.Fatal(res.Status)
	}

	text := func(sel string) string { t.Helper(); return browsertest.Text(ctx, t, sel) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/signin?next=/settings/developer"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", ws.Admin.Email),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#signing-key-section"),
		chromedp.Click("#generate-key"),
		chromedp.WaitVisible("#public-key"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if f := text(".flash"); !strings.Contains(f, "Signing key pair generated") {
		t.Fatalf("flash %q", f)
	}
	pub, _ := chromedp.Run(ctx, chromedp.Value("#public-key"))
	jwksURL, _ := chromedp.Run(ctx, chromedp.Value("#jwks-url"))
	pk, err := webhook.ParsePublicKey(pub)
	if err != nil {
		t.Fatalf("public key on the page %q: %v", pub, err)
	}
	if jwksURL != u+"/v1/jwks/"+ws.ID || text("#key-id") != pk.KeyID() {
		t.Fatalf("JWKS URL %q, kid %q", jwksURL, text("#key-id"))
	}
	for _, b := range []string{"#copy-public-key", "#copy-jwks-url"} {
		if err := chromedp.Do(ctx, chromedp.Click(b), chromedp.WaitVisible(b+`[data-copied="true"]`)); err != nil {
			t.Fatalf("copy %s: %v", b, err)
		}
	}
	browsertest.Screenshot(ctx, t, "developer-signing-key")

	// Send test event: the receiver knows only the JWKS URL from the page.
	recv.Verify(&webhook.Verifier{KeySet: webhook.NewKeySet(jwksURL)})
	if err := chromedp.Do(ctx, chromedp.Click(".send-test"), chromedp.WaitVisible(".test-result")); err != nil {
		t.Fatal(err)
	}
	if r := text(".test-result"); !strings.Contains(r, "Test event delivered") {
		t.Fatalf("test result %q", r)
	}
	if last := recv.Last(t); last.Err != nil || last.Result.Scheme != webhook.SchemeStandardV1a || last.Result.KeyID != pk.KeyID() {
		t.Fatalf("receiver: %+v, %v", last.Result, last.Err)
	}

	// Rotate with a grace period.
	err = chromedp.Do(ctx,
		chromedp.Click("#rotate-key"),
		chromedp.WaitVisible("#rotate-key-warning"),
		chromedp.Click("#key-grace-3600"),
		chromedp.Click("#confirm-rotate-key"),
		chromedp.WaitVisible("#previous-key"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if p := text("#previous-key"); !strings.Contains(p, pk.KeyID()) {
		t.Fatalf("grace notice %q", p)
	}
	if k := text("#key-id"); k == pk.KeyID() {
		t.Fatal("the page still shows the old key as current")
	}
	browsertest.Screenshot(ctx, t, "developer-signing-key-rotated")
}
