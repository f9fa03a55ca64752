package web_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// Issue 11, must show 1: an endpoint that fails shows as failing with the chart and the
// reason; after a 410 it shows disabled with Re-enable; Re-enable + Recover re-queues the
// deliveries the outage stopped, and they succeed once the receiver is fixed. Along the
// way: failing / disabled / recovered notifications, the unread count in the navigation,
// mark as read.
func TestBrowserEndpointHealth(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		recv := testkit.NewReceiver(t).Reply(http.StatusInternalServerError, "")

		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL + "/hook", "description": "Production"})
		if res.Status != http.StatusCreated {
			t.Fatalf("create endpoint: %d %s", res.Status, res.Body)
		}
		var ep struct{ ID string }
		res.JSON(t, &ep)
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("secret: %d", res.Status)
		}

		// Three events; the receiver answers 500.
		var ids []string
		for range 3 {
			err := env.DB().InTx(ctx, func(tx *store.Tx) error {
				ds, err := env.App.Deliveries.Publish(ctx, tx, delivery.Event{WorkspaceID: ws.ID, Name: "TestEvent", DataType: "Test", Body: []byte(`{}`)}, []string{ep.ID})
				if err == nil {
					ids = append(ids, ds[0].ID)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		states := func() map[string]int {
			t.Helper()
			rows, err := env.DB().Query(ctx, `SELECT state, COUNT(*) FROM deliveries WHERE workspace_id = ? GROUP BY state`, ws.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			m := map[string]int{}
			for rows.Next() {
				var s string
				var n int
				if err := rows.Scan(&s, &n); err != nil {
					t.Fatal(err)
				}
				m[s] = n
			}
			return m
		}
		testkit.Eventually(t, 20*time.Second, "three failed first attempts", func() bool { return states()["retrying"] == 3 })

		bctx := browsertest.New(t)
		text := func(sel string) string { t.Helper(); return browsertest.Text(bctx, t, sel) }
		attr := func(sel, name string) string {
			t.Helper()
			v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector(`+strconv.Quote(sel)+`).getAttribute(`+strconv.Quote(name)+`) || ""`))
			if err != nil {
				t.Fatalf("%s[%s]: %v", sel, name, err)
			}
			return v
		}
		card := "#endpoint-" + ep.ID
		err := chromedp.Do(bctx,
			chromedp.Navigate(env.URL()+"/signin?next=/settings/developer"),
			chromedp.WaitVisible("#email"),
			chromedp.SendKeys("#email", ws.Admin.Email),
			chromedp.SendKeys("#password", "correct horse battery"),
			chromedp.Click("#signin"),
			chromedp.WaitVisible(card+" .health"),
		)
		if err != nil {
			t.Fatal(err)
		}

		// Failing, with the reason and the chart.
		if s := text(card + " .state"); s != "Failing" {
			t.Fatalf("state %q, want Failing", s)
		}
		if r := text(card + " .failing-reason"); r != "HTTP 500" {
			t.Fatalf("reason %q, want HTTP 500", r)
		}
		// The charts count what the attempt log holds (retries may have happened meanwhile:
		// compare with the page's own count, at least the three first attempts).
		failed24, _ := strconv.Atoi(attr("#chart-24h-"+ep.ID, "data-failed"))
		if failed24 < 3 || attr("#chart-7d-"+ep.ID, "data-failed") != strconv.Itoa(failed24) {
			t.Fatalf("charts show %d (24 h) and %s (7 days) failed attempts", failed24, attr("#chart-7d-"+ep.ID, "data-failed"))
		}
		if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart-24h-`+ep.ID+` rect.failed").length`)); n < 1 || n > 2 {
			t.Fatalf("%d red bars in the 24 h chart, want 1 (2 across an hour boundary)", n)
		}
		if r := text(card + " .success-rate"); r != "0.0 %" {
			t.Fatalf("success rate %q", r)
		}
		if n := text("#notifications"); !strings.Contains(n, "Webhook endpoint is failing") || !strings.Contains(n, "HTTP 500") {
			t.Fatalf("notifications: %q", n)
		}
		if b := text("#nav-unread-developer"); b != "1" {
			t.Fatalf("nav badge %q, want 1", b)
		}
		browsertest.Screenshot(bctx, t, "health-failing")

		// The receiver now answers 410 Gone: at the next attempt (a manual retry here, unless
		// the schedule's second attempt, 5 s after the first, got there first: then the
		// retry is refused because the endpoint is already disabled) the endpoint is
		// disabled and what was waiting is cancelled.
		recv.Reply(http.StatusGone, "")
		if res := ws.Admin.Do("POST", "/v1/deliveries/"+ids[0]+"/retry", nil); res.Status >= 300 &&
			!(res.Status == http.StatusConflict && strings.Contains(string(res.Body), delivery.ReasonEndpointDisabled)) {
			t.Fatalf("retry: %d %s", res.Status, res.Body)
		}
		testkit.Eventually(t, 30*time.Second, "410 disables the endpoint", func() bool { return states()["cancelled"] == 3 })
		if err := chromedp.Do(bctx, chromedp.Navigate(env.URL()+"/settings/developer"), chromedp.WaitVisible("#disabled-banner-"+ep.ID)); err != nil {
			t.Fatal(err)
		}
		if s := text(card + " .state"); s != "Disabled" {
			t.Fatalf("state %q, want Disabled", s)
		}
		if b := text("#disabled-banner-" + ep.ID); !strings.Contains(b, delivery.ReasonGone) {
			t.Fatalf("banner %q does not say why", b)
		}
		if n := text("#notifications"); !strings.Contains(n, "Webhook endpoint disabled") {
			t.Fatalf("notifications: %q", n)
		}
		if b := text("#nav-unread-developer"); b != "2" {
			t.Fatalf("nav badge %q, want 2", b)
		}
		browsertest.Screenshot(bctx, t, "health-disabled")

		// Recover refuses while disabled; Re-enable, then Recover (default: last 7 days).
		recv.Reply(http.StatusOK, "")
		err = chromedp.Do(bctx,
			chromedp.Click("#reenable-"+ep.ID),
			chromedp.WaitVisible(".flash"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if f := text(".flash"); !strings.Contains(f, "re-enabled") {
			t.Fatalf("flash %q", f)
		}
		if s := text(card + " .state"); s == "Disabled" {
			t.Fatal("still disabled after Re-enable")
		}
		err = chromedp.Do(bctx,
			chromedp.Click("#recover-"+ep.ID+" summary"),
			chromedp.WaitVisible("#recover-button-"+ep.ID),
			chromedp.Click("#recover-button-"+ep.ID),
		)
		if err != nil {
			t.Fatal(err)
		}
		// The Re-enable flash is still on the page until the Recover answer replaces it.
		testkit.Eventually(t, 10*time.Second, "the Recover flash", func() bool {
			f, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector(".flash") || {}).textContent || ""`))
			return err == nil && strings.Contains(f, "Recovering 3 failed deliveries")
		})
		// Re-queued for a new round (pending → delivering → succeeded): none is cancelled
		// any more, and each one's last attempt is a 200 after its 500 and 410.
		testkit.Eventually(t, 30*time.Second, "recovered deliveries succeed", func() bool { return states()["succeeded"] == 3 })
		for _, id := range ids {
			var n, last int
			if err := env.DB().QueryRow(ctx, `SELECT COUNT(*), MAX(number) FROM attempts WHERE delivery_id = ?`, id).Scan(&n, &last); err != nil {
				t.Fatal(err)
			}
			var status int
			if err := env.DB().QueryRow(ctx, `SELECT status FROM attempts WHERE delivery_id = ? AND number = ?`, id, last).Scan(&status); err != nil {
				t.Fatal(err)
			}
			// Each failed first (500; the retried one also got the 410) and ends with a 200.
			want := 2
			if id == ids[0] {
				want = 3
			}
			if n < want || status != 200 {
				t.Fatalf("delivery %s: %d attempts, last answered %d; want at least %d ending in 200", id, n, status, want)
			}
		}
		var audited int
		if err := env.DB().QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE workspace_id = ? AND action = 'endpoint.recover'`, ws.ID).Scan(&audited); err != nil || audited != 1 {
			t.Fatalf("recover audited %d times (%v)", audited, err)
		}

		// Healthy again: active, recovered notification, and mark as read clears the badge.
		if err := chromedp.Do(bctx, chromedp.Navigate(env.URL()+"/settings/developer"), chromedp.WaitVisible(card+" .health")); err != nil {
			t.Fatal(err)
		}
		if s := text(card + " .state"); s != "Active" {
			t.Fatalf("state %q after recovery, want Active", s)
		}
		if d := attr("#chart-24h-"+ep.ID, "data-delivered"); d != "3" && d != "4" {
			t.Fatalf("24 h chart shows %q delivered, want 3", d)
		}
		if n := text("#notifications"); !strings.Contains(n, "Webhook endpoint recovered") {
			t.Fatalf("notifications: %q", n)
		}
		browsertest.Screenshot(bctx, t, "health-recovered")
		if err := chromedp.Do(bctx, chromedp.Click("#mark-read"), chromedp.WaitVisible(".flash")); err != nil {
			t.Fatal(err)
		}
		if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#nav-unread-developer, .notification.unread").length`)); n != 0 {
			t.Fatalf("%d unread marks after Mark all as read", n)
		}
	})
}
