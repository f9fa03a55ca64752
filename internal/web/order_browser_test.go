package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/browsertest"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// Issue 14, must show 1 (the page half): an ordered endpoint whose first delivery keeps
// failing shows the queue blocked by that delivery with how many wait behind it; the owner
// skips it from the page and the rest flow, in order. The edit form sets a rate limit.
func TestBrowserSkipBlockingDelivery(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		var mu sync.Mutex
		var blocker string // the event id the receiver refuses
		var got []string   // event ids answered 2xx, in order
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			if id := r.Header.Get(webhook.HeaderID); id == blocker {
				w.WriteHeader(http.StatusServiceUnavailable) // retried in a minute: the head stays blocked
			} else {
				got = append(got, id)
				w.WriteHeader(http.StatusNoContent)
			}
		}))
		defer recv.Close()
		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL + "/hook", "ordering": "fifo"})
		if res.Status != http.StatusCreated {
			t.Fatalf("create endpoint: %d %s", res.Status, res.Body)
		}
		var ep struct{ ID string }
		res.JSON(t, &ep)
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("secret: %d", res.Status)
		}
		var events, deliveries []string
		err := env.DB().InTx(ctx, func(tx *store.Tx) error {
			for i := range 5 {
				ds, err := env.App.Deliveries.Publish(ctx, tx, delivery.Event{WorkspaceID: ws.ID, Name: "TestEvent", DataType: "Test", Body: []byte(`{"n":` + strconv.Itoa(i) + `}`)}, []string{ep.ID})
				if err != nil {
					return err
				}
				events, deliveries = append(events, ds[0].EventID), append(deliveries, ds[0].ID)
			}
			mu.Lock()
			blocker = events[0]
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "the head's failed first attempt", func() bool {
			q, err := env.App.Deliveries.Queue(ctx, ws.ID, ep.ID)
			return err == nil && q.Blocked
		})

		bctx := browsertest.New(t)
		card := "#endpoint-" + ep.ID
		text := func(sel string) string {
			t.Helper()
			s, err := chromedp.Run(bctx, chromedp.Text(sel))
			if err != nil {
				t.Fatalf("text of %s: %v", sel, err)
			}
			return s
		}
		err = chromedp.Do(bctx,
			chromedp.Navigate(env.URL()+"/signin?next=/settings/developer"),
			chromedp.WaitVisible("#email"),
			chromedp.SendKeys("#email", ws.Admin.Email),
			chromedp.SendKeys("#password", "correct horse battery"),
			chromedp.Click("#signin"),
			chromedp.WaitVisible("#blocked-"+ep.ID),
		)
		if err != nil {
			t.Fatal(err)
		}
		if b := text("#blocked-" + ep.ID); !strings.Contains(b, "HTTP 503") {
			t.Errorf("blocked banner %q does not say why", b)
		}
		if id := text("#blocked-" + ep.ID + " .blocking-delivery"); id != deliveries[0] {
			t.Fatalf("blocked by %q, want %s", id, deliveries[0])
		}
		if n := text("#blocked-" + ep.ID + " .waiting-count"); n != "4" {
			t.Fatalf("%s waiting, want 4", n)
		}
		mu.Lock()
		if len(got) != 0 {
			t.Fatalf("deliveries behind the blocked head went out: %v", got)
		}
		mu.Unlock()
		browsertest.Screenshot(bctx, t, "fifo-blocked")

		if err := chromedp.Do(bctx, chromedp.Click("#skip-"+ep.ID), chromedp.WaitVisible(".flash")); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 20*time.Second, "the four behind the skipped one", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) == 4
		})
		mu.Lock()
		if strings.Join(got, ",") != strings.Join(events[1:], ",") {
			t.Errorf("delivered %v, want %v in that order", got, events[1:])
		}
		mu.Unlock()
		if d, _, err := env.App.Deliveries.Get(ctx, ws.ID, deliveries[0]); err != nil || d.State != delivery.Cancelled || d.Reason != delivery.ReasonSkipped {
			t.Errorf("skipped delivery: %s %q %v", d.State, d.Reason, err)
		}

		// The edit form: a rate limit of 100/s, shown on the card and in the API.
		err = chromedp.Do(bctx,
			chromedp.Navigate(env.URL()+"/settings/developer"),
			chromedp.WaitVisible("#queue-"+ep.ID),
			chromedp.Click("#edit-"+ep.ID+" summary"),
			chromedp.SetValue("#rate-"+ep.ID, "100"),
			chromedp.Click(card+" .save-endpoint"),
			chromedp.WaitVisible(card+" .badge.rate"),
		)
		if err != nil {
			t.Fatal(err)
		}
		if q := text("#queue-" + ep.ID); q != "Nothing waiting." {
			t.Errorf("queue after everything went: %q", q)
		}
		var after struct {
			Ordering     string
			MaxPerSecond int
		}
		ws.Admin.Do("GET", "/v1/endpoints/"+ep.ID, nil).JSON(t, &after)
		if after.Ordering != "fifo" || after.MaxPerSecond != 100 {
			t.Errorf("after the form: %+v, want fifo at 100/s", after)
		}
	})
}
