package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// An endpoint saved while private endpoints were allowed is marked as refused once the
// policy no longer allows it, and its deliveries are skipped (new events) or cancelled
// (deliveries already retrying) with that reason instead of being retried for days.
func TestEndpointRefusedByTheCurrentPolicy(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		rc := testkit.NewReceiver(t)
		failing := testkit.NewReceiver(t).Reply(http.StatusInternalServerError, "")
		ws := env.NewWorkspace("Acme")
		eps := setupEndpoints(t, ws, rc, 1)
		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": failing.URL + "/down"})
		mustStatus(t, res, http.StatusCreated, "create failing endpoint")
		var down struct{ ID string }
		res.JSON(t, &down)
		producer := env.PlatformToken()
		createRelay(t, ws.Admin, map[string]any{"name": "All", "trigger": "MessageReceived", "actions": sendTo(eps[0], down.ID)})

		var ep struct{ URL, Refused string }
		ws.Admin.Do("GET", "/v1/endpoints/"+eps[0], nil).JSON(t, &ep)
		if ep.Refused != "" {
			t.Fatalf("allowed endpoint marked refused: %q", ep.Refused)
		}
		type deliveries struct {
			Deliveries []struct{ ID, EndpointID, Status, Reason string }
		}
		publish := func() string {
			res := producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hi")})
			mustStatus(t, res, http.StatusAccepted, "publish")
			var acc struct{ ID string }
			res.JSON(t, &acc)
			return acc.ID
		}
		first := publish()
		var got deliveries
		testkit.Eventually(t, 20*time.Second, "the first delivery, and the first failure recorded as retrying", func() bool {
			ws.Admin.Do("GET", "/v1/events/"+first, nil).JSON(t, &got)
			retrying := false
			for _, d := range got.Deliveries {
				retrying = retrying || (d.EndpointID == down.ID && d.Status == "retrying")
			}
			return rc.Count("/e0") == 1 && failing.Len() == 1 && retrying
		})

		// Private endpoints off: both endpoints are now refused, on GET and in the list.
		env.App.Endpoints.SetPolicy(egress.Policy{})
		ws.Admin.Do("GET", "/v1/endpoints/"+eps[0], nil).JSON(t, &ep)
		if !strings.Contains(ep.Refused, "https") {
			t.Fatalf("GET endpoint: refused = %q, want the policy's reason (http is not allowed)", ep.Refused)
		}
		var list struct{ Endpoints []struct{ Refused string } }
		ws.Admin.Do("GET", "/v1/endpoints", nil).JSON(t, &list)
		if len(list.Endpoints) != 2 || list.Endpoints[0].Refused != ep.Refused || list.Endpoints[1].Refused != ep.Refused {
			t.Fatalf("list endpoints: %+v, want the refusal on both", list.Endpoints)
		}

		// Adding such an endpoint now is refused with the way out: the development flag.
		res = ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9000/webhooks"})
		if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), "--allow-private-endpoints") {
			t.Errorf("adding a local receiver: %d %s, want 422 naming --allow-private-endpoints", res.Status, res.Body)
		}

		// A new event: skipped with the reason, nothing sent.
		second := publish()
		testkit.Eventually(t, 20*time.Second, "the new deliveries to be skipped", func() bool {
			ws.Admin.Do("GET", "/v1/events/"+second, nil).JSON(t, &got)
			return len(got.Deliveries) == 2 && got.Deliveries[0].Status == "skipped" && got.Deliveries[1].Status == "skipped"
		})
		for _, d := range got.Deliveries {
			if !strings.Contains(d.Reason, "address policy refuses") || !strings.Contains(d.Reason, ep.Refused) {
				t.Errorf("skipped reason = %q", d.Reason)
			}
		}

		// The delivery that was retrying is cancelled at its next scheduled attempt (5 s).
		testkit.Eventually(t, 20*time.Second, "the retrying delivery to be cancelled", func() bool {
			ws.Admin.Do("GET", "/v1/events/"+first, nil).JSON(t, &got)
			for _, d := range got.Deliveries {
				if d.EndpointID == down.ID {
					return d.Status == "cancelled"
				}
			}
			return false
		})
		for _, d := range got.Deliveries {
			if d.EndpointID == down.ID && !strings.Contains(d.Reason, "address policy refuses") {
				t.Errorf("cancelled reason = %q", d.Reason)
			}
		}
		if n, f := rc.Count("/e0"), failing.Len(); n != 1 || f != 1 {
			t.Errorf("receivers got %d and %d requests, want 1 and 1 (nothing after the policy changed)", n, f)
		}
	})
}
