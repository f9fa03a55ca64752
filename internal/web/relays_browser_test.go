package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// Must show 4: create a relay from a template in the UI, switch it on, publish
// MessageReceived through the producer API, watch the delivery appear as succeeded in the
// log, open it and see the attempt; then Redeliver, build a relay with the builder, and
// delete one through its confirmation page.
func TestBrowserRelaysAndEventLog(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		u := env.URL()

		recv := testkit.NewReceiver(t)
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("secret: %d %s", res.Status, res.Body)
		}
		var secret struct{ Secret string }
		ws.Admin.Do("POST", "/v1/signing-secret/reveal", nil).JSON(t, &secret)
		if res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL + "/hook"}); res.Status != http.StatusCreated {
			t.Fatalf("endpoint: %d %s", res.Status, res.Body)
		}

		ctx := browsertest.New(t)
		text := func(sel string) string { t.Helper(); return browsertest.Text(ctx, t, sel) }
		count := func(sel string) int { t.Helper(); return browsertest.Count(ctx, t, sel) }
		// choose picks an option the way a user does (the builder's script listens for change).
		choose := func(sel, value string) chromedp.Action[chromedp.Void] {
			return chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector("` + sel + `"); el.value = "` + value +
				`"; el.dispatchEvent(new Event("change", {bubbles: true})); })()`)
		}
		err := chromedp.Do(ctx,
			chromedp.Navigate(u+"/signin?next=/relays"),
			chromedp.WaitVisible("#email"),
			chromedp.SendKeys("#email", ws.Admin.Email),
			chromedp.SendKeys("#password", "correct horse battery"),
			chromedp.Click("#signin"),
			chromedp.WaitVisible("#templates"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if n := count("tr.relay"); n != 0 {
			t.Fatalf("%d relays before any was made", n)
		}

		// From a template: "Every inbound message to my webhook", to the only endpoint.
		err = chromedp.Do(ctx,
			chromedp.Click("#template-all-inbound"),
			chromedp.Click("#create-from-template"),
			chromedp.WaitVisible("tr.relay"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if f := text(".flash"); !strings.Contains(f, "Relay created") {
			t.Fatalf("flash %q", f)
		}
		if s := text("tr.relay button.switch"); s != "Off" {
			t.Fatalf("a new relay's switch says %q, want Off", s)
		}
		browsertest.Screenshot(ctx, t, "relays-created")
		// Switch it on.
		if err := chromedp.Do(ctx, chromedp.Click("tr.relay button.switch"), chromedp.WaitVisible(`tr.relay button.switch[aria-checked="true"]`)); err != nil {
			t.Fatal(err)
		}
		if s := text("tr.relay button.switch"); s != "On" {
			t.Fatalf("switched on, it says %q", s)
		}
		browsertest.Screenshot(ctx, t, "relays-on")

		// The producer publishes a message.
		data := testkit.Message(ws.ID)
		data["body"] = "Hi, is the shop open?"
		res := env.PlatformToken().Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": data})
		if res.Status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", res.Status, res.Body)
		}
		var acc struct{ ID string }
		res.JSON(t, &acc)

		// The log shows it, and refreshes itself until the delivery succeeded.
		if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer/events"), chromedp.WaitVisible("tr.delivery")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for count(`tr.delivery[data-state="succeeded"]`) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the delivery did not show as succeeded: %q", text("tr.delivery"))
			}
			time.Sleep(300 * time.Millisecond)
			if count("tr.delivery[data-live]") == 0 { // not refreshing itself: reload
				if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("tr.delivery")); err != nil {
					t.Fatal(err)
				}
			}
		}
		if row := text("tr.delivery"); !strings.Contains(row, "MessageReceived") || !strings.Contains(row, acc.ID) || !strings.Contains(row, recv.URL+"/hook") {
			t.Fatalf("delivery row %q", row)
		}
		browsertest.Screenshot(ctx, t, "events-log")

		// Open it: the attempt with its request headers (signatures masked), status,
		// duration and response.
		if err := chromedp.Do(ctx, chromedp.Click("tr.delivery .open-delivery"), chromedp.WaitVisible("#attempt-1")); err != nil {
			t.Fatal(err)
		}
		if s := text("#attempt-1 .attempt-status"); s != "HTTP 200" {
			t.Fatalf("attempt status %q", s)
		}
		if b := text("#attempt-1 .response-body"); !strings.Contains(b, `"received":true`) {
			t.Fatalf("response body %q", b)
		}
		hdrs := text("#attempt-1 .request-headers")
		for _, want := range []string{"Webhook-Id", acc.ID, "Webhook-Signature", "masked", "X-Messagedesk-Signature"} {
			if !strings.Contains(strings.ToLower(hdrs), strings.ToLower(want)) {
				t.Errorf("request headers lack %q: %s", want, hdrs)
			}
		}
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML("html"))
		if strings.Contains(html, secret.Secret) || strings.Contains(html, strings.TrimPrefix(secret.Secret, "whsec_")) {
			t.Fatal("the page shows the signing secret")
		}
		if d := text("#attempt-1 .duration"); !strings.HasSuffix(d, "ms") {
			t.Fatalf("duration %q", d)
		}
		browsertest.Screenshot(ctx, t, "delivery-detail")

		// Redeliver: a second attempt of the same event.
		if err := chromedp.Do(ctx, chromedp.Click("#redeliver"), chromedp.WaitVisible(".flash")); err != nil {
			t.Fatal(err)
		}
		deadline = time.Now().Add(30 * time.Second)
		for count("#attempt-2") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no second attempt after Redeliver")
			}
			time.Sleep(300 * time.Millisecond)
			if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible("#attempt-1")); err != nil {
				t.Fatal(err)
			}
		}
		var got []string // webhook-id of each request
		for _, r := range recv.Requests() {
			got = append(got, r.Header.Get("webhook-id"))
		}
		if len(got) != 2 || got[0] != acc.ID || got[1] != acc.ID {
			t.Errorf("receiver got %v, want the event %s twice", got, acc.ID)
		}

		// Filter by status.
		if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer/events?status=failed"), chromedp.WaitVisible("#no-deliveries")); err != nil {
			t.Fatal(err)
		}

		// The builder: a keyword relay with two conditions combined with OR.
		err = chromedp.Do(ctx,
			chromedp.Navigate(u+"/relays/new"),
			chromedp.WaitVisible("#relay-form"),
			browsertest.ScreenshotAction(t, "relays-builder-new"),
			chromedp.SendKeys("#name", "Help or new"),
			choose("#rule0-type", "messageContains"),
			chromedp.SendKeys("#rule0-keywords", "help, info"),
			chromedp.Click("#add-rule"),
			chromedp.WaitVisible("#rule-1"),
			choose("#rule1-type", "isNewConversation"),
			choose("#match", "any"),
			chromedp.Click("#save-relay"),
			chromedp.WaitVisible("#error"), // no action chosen yet
		)
		if err != nil {
			t.Fatal(err)
		}
		if e := text("#error"); !strings.Contains(e, "action") {
			t.Fatalf("error %q", e)
		}
		// The form kept what was typed; pick the endpoint and save.
		if v, _ := chromedp.Run(ctx, chromedp.Value("#rule0-keywords")); v != "help, info" {
			t.Fatalf("keywords after the error: %q", v)
		}
		err = chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#action0-endpoint").selectedIndex = 1`),
			chromedp.Click("#save-relay"),
			chromedp.WaitVisible(".flash"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if n := count("tr.relay"); n != 2 {
			t.Fatalf("%d relays, want 2", n)
		}
		if row := text("tr.relay:nth-child(2)"); !strings.Contains(row, `message contains "help" or "info" or conversation is new`) || !strings.Contains(row, "Off") {
			t.Fatalf("built relay row %q", row)
		}
		browsertest.Screenshot(ctx, t, "relays-built")

		// Delete through the confirmation page.
		err = chromedp.Do(ctx,
			chromedp.Click("tr.relay:nth-child(2) .delete-relay"),
			chromedp.WaitVisible("#confirm-delete"),
			browsertest.ScreenshotAction(t, "relays-delete-confirm"),
			chromedp.Click("#confirm-delete"),
			chromedp.WaitVisible(".flash"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if n := count("tr.relay"); n != 1 {
			t.Fatalf("%d relays after deleting one, want 1", n)
		}

		// A relays viewer sees the list without switches or templates, and no event log.
		viewer := ws.AddMember("viewer@acme.test", "Relay viewer", access.Levels{access.Relays: access.Viewer})
		if res := viewer.Do("GET", "/relays", nil); res.Status != http.StatusOK || strings.Contains(string(res.Body), `role="switch"`) || strings.Contains(string(res.Body), `id="templates"`) {
			t.Errorf("viewer's relays page: %d", res.Status)
		}
		if res := viewer.Do("GET", "/settings/developer/events", nil); res.Status != http.StatusForbidden {
			t.Errorf("relays viewer opens the event log: %d", res.Status)
		}
		if res := viewer.Do("POST", "/relays/new", "name=x"); res.Status != http.StatusForbidden {
			t.Errorf("relays viewer posts the builder: %d", res.Status)
		}
	})
}
