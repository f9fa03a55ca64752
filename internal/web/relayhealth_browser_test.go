package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// Each relay on the Relays list shows the health of the endpoint its action targets
// (Active, Failing, Disabled, then Refused once the address policy refuses it); the delivery
// page shows the exact body sent, with Copy; Developer Tools marks the refused endpoint.
func TestBrowserRelayHealthAndDeliveryBody(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	u := env.URL()
	ok := testkit.NewReceiver(t).Reply(http.StatusOK, "ok")
	failing := testkit.NewReceiver(t).Reply(http.StatusInternalServerError, "database down")

	must := func(res *apptest.Response, want int, what string) *apptest.Response {
		t.Helper()
		if res.Status != want {
			t.Fatalf("%s: %d %s", what, res.Status, res.Body)
		}
		return res
	}
	must(ws.Admin.Do("POST", "/v1/signing-secret", nil), http.StatusCreated, "secret")
	endpoint := func(url, desc string) string {
		var e struct{ ID string }
		must(ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": url, "description": desc}), http.StatusCreated, "endpoint").JSON(t, &e)
		return e.ID
	}
	okEp, failEp, offEp := endpoint(ok.URL+"/hook", "works"), endpoint(failing.URL+"/hook", "fails"), endpoint(ok.URL+"/off", "switched off")
	must(ws.Admin.Do("PATCH", "/v1/endpoints/"+offEp, map[string]any{"enabled": false}), http.StatusOK, "disable")
	relays := map[string]string{} // endpoint → relay id
	for _, ep := range []string{okEp, failEp, offEp} {
		var r struct{ ID string }
		must(ws.Admin.Do("POST", "/v1/relays", map[string]any{"name": "To " + ep, "trigger": "MessageReceived",
			"actions": []any{map[string]any{"type": "sendWebhook", "endpointId": ep}}}), http.StatusCreated, "relay").JSON(t, &r)
		must(ws.Admin.Do("POST", "/v1/relays/"+r.ID+"/enable", nil), http.StatusOK, "enable relay")
		relays[ep] = r.ID
	}
	var acc struct{ ID string }
	must(env.PlatformToken().Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": testkit.Message(ws.ID)}),
		http.StatusAccepted, "publish").JSON(t, &acc)

	// Wait for the outcome: one delivered, one failing (its first attempt failed).
	var okDelivery string
	testkit.Eventually(t, 20*time.Second, "one delivery succeeded and one endpoint failing", func() bool {
		var failingSince *int64
		_ = env.DB().QueryRow(context.Background(), `SELECT failing_since FROM endpoints WHERE id = ?`, failEp).Scan(&failingSince)
		_ = env.DB().QueryRow(context.Background(), `SELECT id FROM deliveries WHERE endpoint_id = ? AND state = 'succeeded'`, okEp).Scan(&okDelivery)
		return failingSince != nil && okDelivery != ""
	})

	ctx := browsertest.New(t)
	text := func(sel string) string { t.Helper(); return browsertest.Text(ctx, t, sel) }
	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/signin?next=/relays"),
		chromedp.WaitVisible("#email"),
		chromedp.SendKeys("#email", ws.Admin.Email),
		chromedp.SendKeys("#password", "correct horse battery"),
		chromedp.Click("#signin"),
		chromedp.WaitVisible("#relays"), // only the Relays page has the list
	)
	if err != nil {
		t.Fatal(err)
	}
	badge := func(ep string) string { return text("#relay-" + relays[ep] + " .health-badge") }
	for ep, want := range map[string]string{okEp: "Active", failEp: "Failing", offEp: "Disabled"} {
		if got := badge(ep); got != want {
			t.Errorf("relay to %s shows %q, want %q", ep, got, want)
		}
	}
	if d := text("#relay-" + relays[failEp] + " .health-detail"); !strings.Contains(d, "HTTP 500") {
		t.Errorf("failing endpoint's detail %q, want the last error", d)
	}
	browsertest.Screenshot(ctx, t, "relays-health")

	// The delivery page: the exact body, pretty-printed, and Copy gives the bytes as sent.
	var ev struct {
		Event struct{ Envelope json.RawMessage }
	}
	must(ws.Admin.Do("GET", "/v1/events/"+acc.ID, nil), http.StatusOK, "event").JSON(t, &ev)
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer/deliveries/"+okDelivery), chromedp.WaitVisible("#sent-body")); err != nil {
		t.Fatal(err)
	}
	shown := text("#sent-body")
	if !strings.Contains(shown, "\n  \"object\": \"Event\"") || !strings.Contains(shown, `"contactId": null`) {
		t.Errorf("the body is not shown indented: %q", shown)
	}
	raw, _ := chromedp.Run(ctx, chromedp.Value("#sent-body-raw"))
	if raw != string(ev.Event.Envelope) {
		t.Errorf("Copy would give %q, want the exact body %q", raw, ev.Event.Envelope)
	}
	if err := chromedp.Do(ctx, chromedp.Click("#copy-body"), chromedp.WaitVisible(`#copy-body[data-copied="true"]`)); err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(ctx, t, "delivery-body")
	// The event page (its body and deliveries) and an endpoint's delete confirmation.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer/events/"+acc.ID), chromedp.WaitVisible("#envelope")); err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(ctx, t, "event-detail")
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer/endpoints/"+offEp+"/delete"), chromedp.WaitVisible("#confirm-delete")); err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(ctx, t, "developer-delete-confirm")

	// Private endpoints off: every endpoint here is http:// on loopback, so all are refused,
	// on the Relays list and on Developer Tools.
	env.App.Endpoints.SetPolicy(egress.Policy{})
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/relays"), chromedp.WaitVisible("#relays")); err != nil {
		t.Fatal(err)
	}
	if got := badge(okEp); got != "Refused" {
		t.Errorf("relay to the refused endpoint shows %q, want Refused", got)
	}
	browsertest.Screenshot(ctx, t, "relays-refused")
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/settings/developer"), chromedp.WaitVisible("#refused-"+okEp)); err != nil {
		t.Fatal(err)
	}
	if r := text("#refused-reason-" + okEp); !strings.Contains(r, "refuses this URL") || !strings.Contains(r, "https") {
		t.Errorf("refused notice %q", r)
	}
	browsertest.Screenshot(ctx, t, "developer-refused")
}
