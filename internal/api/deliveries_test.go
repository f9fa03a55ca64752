package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

func wantCode(t *testing.T, res *apptest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

type deliveryList struct {
	Deliveries []delivery.Delivery `json:"deliveries"`
	NextCursor string              `json:"nextCursor"`
}

type deliveryWithAttempts struct {
	delivery.Delivery
	Attempts []delivery.Attempt `json:"attempts"`
}

func countState(t *testing.T, db *store.DB, ws string, st delivery.State, attempts int) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE workspace_id = ? AND state = ? AND attempts = ?`, ws, st, attempts).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecoverAndRetry: recover re-queues exactly the failed deliveries of the range; a manual
// retry adds exactly one attempt; the log lists, filters and pages them.
func TestRecoverAndRetry(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		recv := testkit.NewReceiver(t).Reply(http.StatusInternalServerError, "")

		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL + "/hook"})
		wantCode(t, res, http.StatusCreated)
		var ep struct{ ID string }
		res.JSON(t, &ep)
		wantCode(t, ws.Admin.Do("POST", "/v1/signing-secret", nil), http.StatusCreated)

		// Six deliveries; each gets one failed attempt, then we pretend they exhausted the
		// schedule: three created yesterday (in the range), three a week ago (outside).
		var ids []string
		for i := 0; i < 6; i++ {
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
		testkit.Eventually(t, 20*time.Second, "first attempts", func() bool { return countState(t, env.DB(), ws.ID, delivery.Retrying, 1) == 6 })
		now := time.Now()
		yesterday, lastWeek := now.Add(-24*time.Hour), now.Add(-7*24*time.Hour)
		for i, id := range ids {
			created := yesterday
			if i >= 3 {
				created = lastWeek
			}
			if _, err := env.DB().Exec(ctx, `UPDATE deliveries SET state = 'failed', next_attempt_at = NULL, created_at = ? WHERE id = ?`, store.Micros(created.Add(time.Duration(i)*time.Second)), id); err != nil {
				t.Fatal(err)
			}
		}
		recv.Reply(http.StatusOK, "")

		// The log: filters, pages, a bad cursor.
		var list deliveryList
		res = ws.Admin.Do("GET", "/v1/deliveries?status=failed&endpointId="+ep.ID+"&limit=4", nil)
		wantCode(t, res, http.StatusOK)
		res.JSON(t, &list)
		if len(list.Deliveries) != 4 || list.NextCursor == "" {
			t.Fatalf("first page: %d deliveries, cursor %q", len(list.Deliveries), list.NextCursor)
		}
		var page2 deliveryList
		ws.Admin.Do("GET", "/v1/deliveries?status=failed&limit=4&cursor="+list.NextCursor, nil).JSON(t, &page2)
		if len(page2.Deliveries) != 2 || page2.NextCursor != "" {
			t.Fatalf("second page: %d deliveries, cursor %q", len(page2.Deliveries), page2.NextCursor)
		}
		res = ws.Admin.Do("GET", "/v1/deliveries?cursor=nonsense", nil)
		wantCode(t, res, http.StatusBadRequest)
		if !strings.Contains(string(res.Body), "cursor") {
			t.Errorf("bad cursor problem does not name it: %s", res.Body)
		}
		since := yesterday.Add(-time.Hour).UTC().Format(time.RFC3339)
		ws.Admin.Do("GET", "/v1/deliveries?since="+since, nil).JSON(t, &list)
		if len(list.Deliveries) != 3 {
			t.Errorf("since filter: %d deliveries, want 3", len(list.Deliveries))
		}

		// A developer viewer reads the log but may not recover or retry.
		viewer := ws.AddMember("viewer@example.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})
		wantCode(t, viewer.Do("GET", "/v1/deliveries/"+ids[0], nil), http.StatusOK)
		wantCode(t, viewer.Do("POST", "/v1/deliveries/"+ids[0]+"/retry", nil), http.StatusForbidden)
		wantCode(t, viewer.Do("POST", "/v1/endpoints/"+ep.ID+"/recover", map[string]any{"since": since}), http.StatusForbidden)

		// Recover: exactly the three failed deliveries of the range.
		res = ws.Admin.Do("POST", "/v1/endpoints/"+ep.ID+"/recover", map[string]any{"since": since, "until": now.UTC().Format(time.RFC3339Nano)})
		wantCode(t, res, http.StatusAccepted)
		var rec struct{ Requeued int }
		res.JSON(t, &rec)
		if rec.Requeued != 3 {
			t.Fatalf("recover re-queued %d, want 3", rec.Requeued)
		}
		testkit.Eventually(t, 20*time.Second, "recovered deliveries", func() bool { return countState(t, env.DB(), ws.ID, delivery.Succeeded, 2) == 3 })
		for i, id := range ids {
			var d deliveryWithAttempts
			ws.Admin.Do("GET", "/v1/deliveries/"+id, nil).JSON(t, &d)
			wantState, wantAttempts := delivery.Succeeded, 2
			if i >= 3 {
				wantState, wantAttempts = delivery.Failed, 1
			}
			if d.State != wantState || len(d.Attempts) != wantAttempts {
				t.Errorf("delivery %d: %s with %d attempts, want %s with %d", i, d.State, len(d.Attempts), wantState, wantAttempts)
			}
		}

		// Manual retry of a failed delivery outside the range: exactly one more attempt.
		wantCode(t, ws.Admin.Do("POST", "/v1/deliveries/"+ids[4]+"/retry", nil), http.StatusAccepted)
		testkit.Eventually(t, 20*time.Second, "the retried delivery", func() bool { return countState(t, env.DB(), ws.ID, delivery.Succeeded, 2) == 4 })
		var d deliveryWithAttempts
		ws.Admin.Do("GET", "/v1/deliveries/"+ids[4], nil).JSON(t, &d)
		if len(d.Attempts) != 2 || d.Attempts[1].Number != 2 || d.Attempts[1].Status != 200 || d.DeliveredAt == nil {
			t.Errorf("after retry: %+v", d)
		}
		time.Sleep(300 * time.Millisecond) // nothing else happens to the other two
		if n := countState(t, env.DB(), ws.ID, delivery.Failed, 1); n != 2 {
			t.Errorf("%d untouched failed deliveries, want 2", n)
		}
		wantCode(t, ws.Admin.Do("GET", "/v1/deliveries/nope", nil), http.StatusNotFound)
		wantCode(t, ws.Admin.Do("POST", "/v1/endpoints/nope/recover", map[string]any{"since": since}), http.StatusNotFound)
	})
}
