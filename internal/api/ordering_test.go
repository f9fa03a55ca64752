package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
)

type orderedEndpoint struct {
	ID           string `json:"id"`
	Ordering     string `json:"ordering"`
	MaxPerSecond int    `json:"maxPerSecond"`
}

type queueBody struct {
	Head *struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"head"`
	Waiting int  `json:"waiting"`
	Blocked bool `json:"blocked"`
}

// Issue 14 through the API: ordering and maxPerSecond are set, validated and audited on
// endpoints; an ordered endpoint's queue shows its head and what waits; only the head can be
// skipped, which promotes the next; a waiting delivery cannot be retried out of turn. The
// server runs as role api (no delivery loop) so the queue stays where the test puts it.
func TestEndpointOrderingAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		want(t, ws.Admin.Do("POST", "/v1/signing-secret", nil), http.StatusCreated)
		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:1/hook", "ordering": "fifo", "maxPerSecond": 20})
		want(t, res, http.StatusCreated)
		var ep orderedEndpoint
		res.JSON(t, &ep)
		if ep.Ordering != "fifo" || ep.MaxPerSecond != 20 {
			t.Fatalf("created %+v, want fifo at 20/s", ep)
		}
		for _, bad := range []map[string]any{{"ordering": "lifo"}, {"maxPerSecond": -1}, {"maxPerSecond": 10001}, {"maxPerSecond": "fast"}} {
			if res := ws.Admin.Do("PATCH", "/v1/endpoints/"+ep.ID, bad); res.Status != http.StatusUnprocessableEntity {
				t.Errorf("PATCH %v: %d %s, want 422", bad, res.Status, res.Body)
			}
		}
		var plain orderedEndpoint
		res = ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:1/plain"})
		res.JSON(t, &plain)
		if plain.Ordering != "none" || plain.MaxPerSecond != 0 {
			t.Errorf("defaults %+v, want none and no limit", plain)
		}

		// Two deliveries to the ordered endpoint: the first is the head, the second waits.
		ctx := context.Background()
		var ds []delivery.Delivery
		for range 2 {
			err := env.DB().InTx(ctx, func(tx *store.Tx) error {
				d, err := env.App.Deliveries.Publish(ctx, tx, delivery.Event{WorkspaceID: ws.ID, Name: "MessageReceived", Body: []byte(`{}`)}, []string{ep.ID})
				ds = append(ds, d...)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		var q queueBody
		res = ws.Admin.Do("GET", "/v1/endpoints/"+ep.ID+"/queue", nil)
		want(t, res, http.StatusOK)
		res.JSON(t, &q)
		if q.Head == nil || q.Head.ID != ds[0].ID || q.Waiting != 1 {
			t.Fatalf("queue %s, want head %s and 1 waiting", res.Body, ds[0].ID)
		}
		if res := ws.Admin.Do("POST", "/v1/deliveries/"+ds[1].ID+"/retry", nil); res.Status != http.StatusConflict || !strings.Contains(string(res.Body), "waits its turn") {
			t.Errorf("retry of the waiting delivery: %d %s, want 409", res.Status, res.Body)
		}
		if res := ws.Admin.Do("POST", "/v1/deliveries/"+ds[1].ID+"/skip", nil); res.Status != http.StatusConflict {
			t.Errorf("skip of the waiting delivery: %d %s, want 409", res.Status, res.Body)
		}
		want(t, ws.Admin.Do("POST", "/v1/deliveries/"+ds[0].ID+"/skip", nil), http.StatusOK)
		res = ws.Admin.Do("GET", "/v1/endpoints/"+ep.ID+"/queue", nil)
		res.JSON(t, &q)
		if q.Head == nil || q.Head.ID != ds[1].ID || q.Waiting != 0 {
			t.Fatalf("queue after the skip %s, want head %s and nothing waiting", res.Body, ds[1].ID)
		}
		if res := ws.Admin.Do("GET", "/v1/endpoints/"+plain.ID+"/queue", nil); res.Status != http.StatusOK || !strings.Contains(string(res.Body), `"waiting":0`) {
			t.Errorf("queue of an endpoint without ordering: %d %s", res.Status, res.Body)
		}
		if res := ws.Admin.Do("GET", "/v1/endpoints/nosuch/queue", nil); res.Status != http.StatusNotFound {
			t.Errorf("queue of no endpoint: %d, want 404", res.Status)
		}

		// Turning ordering off is audited with what it was.
		want(t, ws.Admin.Do("PATCH", "/v1/endpoints/"+ep.ID, map[string]any{"ordering": "none", "maxPerSecond": 0}), http.StatusOK)
		res = ws.Admin.Do("GET", "/v1/audit-log", nil)
		for _, s := range []string{`"delivery.skip"`, `"fromOrdering":"fifo"`, `"fromMaxPerSecond":20`, `"ordering":"fifo"`} {
			if !strings.Contains(string(res.Body), s) {
				t.Errorf("audit log lacks %s: %.2000s", s, res.Body)
			}
		}
	}, func(c *app.Config) { c.Role = "api" })
}
