package health_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/team/teamtest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// Issue 11, must show 2: retention on a fake clock removes old attempts, finished
// deliveries, unreferenced events and notifications in bounded batches, and keeps recent
// rows and anything still being delivered.
func TestRetentionBatches(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		db := env.DB()
		now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC) // the fake clock
		old, recent := now.Add(-40*24*time.Hour), now.Add(-2*24*time.Hour)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		add := func(at time.Time, state delivery.State, attempts int) string {
			ev, d := store.NewID(), store.NewID()
			us := store.Micros(at)
			exec(`INSERT INTO events (id, workspace_id, name, body, created_at) VALUES (?, ?, 'TestEvent', '{}', ?)`, ev, ws.ID, us)
			exec(`INSERT INTO deliveries (id, workspace_id, event_id, endpoint_id, event_name, state, created_at, updated_at) VALUES (?, ?, ?, 'ep', 'TestEvent', ?, ?, ?)`,
				d, ws.ID, ev, state, us, us)
			for i := 1; i <= attempts; i++ {
				exec(`INSERT INTO attempts (id, delivery_id, workspace_id, endpoint_id, number, started_at, duration_us) VALUES (?, ?, ?, 'ep', ?, ?, 10)`,
					store.NewID(), d, ws.ID, i, us+int64(i))
			}
			return d
		}
		// Old: 12 finished deliveries with 2 attempts each (24 attempts), one still retrying
		// with 1 attempt, 3 notifications. Recent: 5 deliveries, 1 attempt each, 2 notifications.
		for i := range 12 {
			add(old.Add(time.Duration(i)*time.Minute), []delivery.State{delivery.Succeeded, delivery.Failed, delivery.Cancelled}[i%3], 2)
		}
		retrying := add(old, delivery.Retrying, 1)
		for range 5 {
			add(recent, delivery.Succeeded, 1)
		}
		for i, at := range []time.Time{old, old, old, recent, recent} {
			exec(`INSERT INTO notifications (id, workspace_id, kind, title, created_at) VALUES (?, ?, 'endpoint.failing', ?, ?)`,
				store.NewID(), ws.ID, "n"+string(rune('a'+i)), store.Micros(at))
		}

		p, err := env.App.Deliveries.PruneAt(ctx, now, 30*24*time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := delivery.Pruned{Attempts: 25, Deliveries: 12, Events: 12, Notifications: 3,
			Batches: 3 + 2 + 2 + 1} // 10+10+5, 10+2, 10+2, 3
		if p != want {
			t.Fatalf("pruned %+v, want %+v", p, want)
		}
		count := func(table string) int {
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM `+table+` WHERE workspace_id = ?`, ws.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if a, d, e, n := count("attempts"), count("deliveries"), count("events"), count("notifications"); a != 5 || d != 6 || e != 6 || n != 2 {
			t.Fatalf("left %d attempts, %d deliveries, %d events, %d notifications; want 5, 6 (5 recent + the retrying one), 6, 2", a, d, e, n)
		}
		var st string
		if err := db.QueryRow(ctx, `SELECT state FROM deliveries WHERE id = ?`, retrying).Scan(&st); err != nil || st != string(delivery.Retrying) {
			t.Fatalf("the delivery still retrying: %q, %v", st, err)
		}
		// Nothing old left: a second run removes nothing.
		if p, err := env.App.Deliveries.PruneAt(ctx, now, 30*24*time.Hour, 10); err != nil || p != (delivery.Pruned{}) {
			t.Fatalf("second run %+v, %v", p, err)
		}
		// Retention off (0 in the config maps to keep-everything): nothing.
		if p, err := env.App.Deliveries.PruneAt(ctx, now.Add(1000*24*time.Hour), -1, 10); err != nil || p != (delivery.Pruned{}) {
			t.Fatalf("retention off removed %+v, %v", p, err)
		}
	})
}

// /ops/queue: the operators' read-only queue page answers a platform token only —
// anonymous 401, every member (Admin included) 403.
func TestOpsQueueAccess(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		dev := ws.AddMember("dev@acme.test", "Dev owner", access.Levels{access.Developer: access.Owner})
		if res := env.Anonymous().Do("GET", "/ops/queue", nil); res.Status != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("anonymous: %d", res.Status)
		}
		if res := env.Anonymous().Do("GET", "/ops/queue", nil, "Authorization", "Bearer rdp_nonsense"); res.Status != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", res.Status)
		}
		for _, c := range []*apptest.Client{ws.Admin, dev} {
			if res := c.Do("GET", "/ops/queue", nil); res.Status != http.StatusForbidden {
				t.Fatalf("member %s: %d", c.Email, res.Status)
			}
		}
		var route *access.Route
		for _, r := range env.App.Routes.Routes() {
			if r.Path == "/ops/queue" {
				route = &r
			}
		}
		if route == nil || route.Need != access.ByPlatform {
			t.Fatalf("/ops/queue in the route table: %+v", route)
		}

		// Something in the queue: a delivery to an endpoint that refuses.
		recv := testkit.NewReceiver(t).Reply(500, "")
		var ep struct{ ID string }
		ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL}).JSON(t, &ep)
		ws.Admin.Do("POST", "/v1/signing-secret", nil)
		ctx := context.Background()
		if err := env.DB().InTx(ctx, func(tx *store.Tx) error {
			_, err := env.App.Deliveries.Publish(ctx, tx, delivery.Event{WorkspaceID: ws.ID, Name: "TestEvent", DataType: "Test", Body: []byte(`{}`)}, []string{ep.ID})
			return err
		}); err != nil {
			t.Fatal(err)
		}

		platform := env.PlatformToken()
		res := platform.Do("GET", "/ops/queue?format=json", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("platform: %d %s", res.Status, res.Body)
		}
		var st struct {
			ByState map[string]int `json:"byState"`
			ByKind  []struct{ Kind, State string }
		}
		res.JSON(t, &st)
		found := false
		for _, k := range st.ByKind {
			found = found || k.Kind == "delivery_attempt"
		}
		if !found {
			t.Fatalf("no delivery_attempt job listed: %s", res.Body)
		}
		res = platform.Do("GET", "/ops/queue", nil)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "Job queue") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("platform HTML: %d %.200s", res.Status, res.Body)
		}
	})
}

// Notifications leave relaydesk twice: an email to each developer owner through the team
// mailer, and a signed operational webhook to the platform.
func TestNotificationEmailAndPlatformWebhook(t *testing.T) {
	smtp := teamtest.NewSMTP(t)
	sec, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	platform := testkit.NewReceiver(t).Verify(webhook.NewVerifier(sec))
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		earlier := platform.Len()
		ws := env.NewWorkspace("Acme")
		ws.AddMember("owner@acme.test", "Dev owner", access.Levels{access.Developer: access.Owner})
		ws.AddMember("editor@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		var ep struct{ ID string }
		ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "https://example.com/hook"}).JSON(t, &ep)
		before := len(smtp.Messages())

		ctx := context.Background()
		n, err := env.App.Notify.Add(ctx, delivery.Transition{Kind: delivery.EndpointDisabled, WorkspaceID: ws.ID, EndpointID: ep.ID, Reason: delivery.ReasonGone})
		if err != nil {
			t.Fatal(err)
		}
		env.App.Notify.Wait()
		msgs := smtp.Messages()[before:]
		var to []string
		for _, m := range msgs {
			to = append(to, m.To)
			if !strings.Contains(m.Data, "Webhook endpoint disabled") || !strings.Contains(m.Data, "410 Gone") {
				t.Errorf("email: %.300s", m.Data)
			}
		}
		if strings.Join(to, ",") != "acme-admin@example.test,owner@acme.test" && strings.Join(to, ",") != "<acme-admin@example.test>,<owner@acme.test>" {
			t.Errorf("emailed %v, want the Admin and the developer owner only", to)
		}
		got := platform.Requests()[earlier:]
		if len(got) != 1 || got[0].Err != nil {
			t.Fatalf("platform webhook: %d received: %+v", len(got), got)
		}
		var m map[string]any
		_ = json.Unmarshal(got[0].Body, &m)
		if m["type"] != delivery.EndpointDisabled || m["id"] != n.ID || m["workspaceId"] != ws.ID || m["object"] != "OperationalEvent" {
			t.Fatalf("platform webhook body %v", m)
		}
	}, func(c *app.Config) {
		c.SMTPURL, c.SMTPFrom = "smtp://"+smtp.Addr, "relaydesk@example.test"
		c.PlatformWebhookURL, c.PlatformWebhookSecret = platform.URL, sec.String()
	})
}
