package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// message returns valid MessageReceived data for the workspace.
func message(workspaceID, body string, to ...string) map[string]any {
	m := testkit.Message(workspaceID)
	m["body"] = body
	if len(to) > 0 {
		m["to"] = to
	}
	return m
}

func mustStatus(t *testing.T, res *apptest.Response, want int, what string) {
	t.Helper()
	if res.Status != want {
		t.Fatalf("%s = %d %s, want %d", what, res.Status, res.Body, want)
	}
}

// setupEndpoints makes a signing secret and n endpoints on rc (paths /e0, /e1, …).
func setupEndpoints(t *testing.T, ws *apptest.Workspace, rc *testkit.Receiver, n int) []string {
	t.Helper()
	mustStatus(t, ws.Admin.Do("POST", "/v1/signing-secret", nil), http.StatusCreated, "generate secret")
	var ids []string
	for i := range n {
		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": fmt.Sprintf("%s/e%d", rc.URL, i)})
		mustStatus(t, res, http.StatusCreated, "create endpoint")
		var e struct{ ID string }
		res.JSON(t, &e)
		ids = append(ids, e.ID)
	}
	return ids
}

func countRows(t *testing.T, env *apptest.Env, table, workspaceID string) int {
	t.Helper()
	var n int
	if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table+` WHERE workspace_id = ?`, workspaceID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func createRelay(t *testing.T, c *apptest.Client, def map[string]any) string {
	t.Helper()
	res := c.Do("POST", "/v1/relays", def)
	mustStatus(t, res, http.StatusCreated, "create relay")
	var r struct {
		ID      string
		Enabled bool
	}
	res.JSON(t, &r)
	if r.Enabled {
		t.Fatal("a new relay must start paused")
	}
	mustStatus(t, c.Do("POST", "/v1/relays/"+r.ID+"/enable", nil), http.StatusOK, "enable relay")
	return r.ID
}

func sendTo(ids ...string) []map[string]any {
	var out []map[string]any
	for _, id := range ids {
		out = append(out, map[string]any{"type": "sendWebhook", "endpointId": id})
	}
	return out
}

func TestPublishMatchesRelays(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		rc := testkit.NewReceiver(t)
		ws := env.NewWorkspace("Acme")
		eps := setupEndpoints(t, ws, rc, 2)
		producer := env.PlatformToken()

		// Three relays match a "help" message and point to two endpoints.
		createRelay(t, ws.Admin, map[string]any{"name": "All", "trigger": "MessageReceived", "actions": sendTo(eps[0])})
		createRelay(t, ws.Admin, map[string]any{"name": "Help", "trigger": "MessageReceived",
			"conditions": map[string]any{"match": "any", "rules": []any{map[string]any{"type": "messageContains", "keywords": []string{"help"}}}},
			"actions":    sendTo(eps[1])})
		createRelay(t, ws.Admin, map[string]any{"name": "Both", "trigger": "MessageReceived",
			"conditions": map[string]any{"rules": []any{map[string]any{"type": "messageContains", "keywords": []string{"HELP"}}}},
			"actions":    sendTo(eps[1], eps[0])})
		// A paused relay and a relay of another trigger do not count.
		res := ws.Admin.Do("POST", "/v1/relays", map[string]any{"name": "Paused", "trigger": "MessageReceived", "actions": sendTo(eps[0])})
		mustStatus(t, res, http.StatusCreated, "create paused relay")
		createRelay(t, ws.Admin, map[string]any{"name": "Tests", "trigger": "TestEvent", "actions": sendTo(eps[0])})

		res = producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived",
			"data": message(ws.ID, "I need help"), "context": map[string]any{"isNewConversation": true}})
		mustStatus(t, res, http.StatusAccepted, "publish")
		var acc struct {
			ID         string
			Duplicate  bool
			Deliveries int
		}
		res.JSON(t, &acc)
		if acc.Deliveries != 2 || acc.Duplicate || acc.ID == "" {
			t.Fatalf("publish answered %s, want 2 deliveries", res.Body)
		}
		var n int
		if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE event_id = ?`, acc.ID).Scan(&n); err != nil || n != 2 {
			t.Fatalf("deliveries stored = %d (%v), want 2", n, err)
		}
		testkit.Eventually(t, 20*time.Second, "both endpoints to receive the event", func() bool { return rc.Count("/e0") == 1 && rc.Count("/e1") == 1 })

		// The event log shows the event and its two deliveries.
		res = ws.Admin.Do("GET", "/v1/events/"+acc.ID, nil)
		mustStatus(t, res, http.StatusOK, "get event")
		var got struct {
			Event struct {
				ID, Name   string
				Deliveries int
				Envelope   json.RawMessage
			}
			Deliveries []struct{ EndpointID, Status string }
		}
		res.JSON(t, &got)
		if got.Event.Name != "MessageReceived" || len(got.Deliveries) != 2 || !strings.Contains(string(got.Event.Envelope), `"object":"Event"`) {
			t.Fatalf("event = %s", res.Body)
		}
		if strings.Contains(string(got.Event.Envelope), "isNewConversation") {
			t.Error("the context must not be delivered")
		}
		res = ws.Admin.Do("GET", "/v1/events?name=MessageReceived", nil)
		mustStatus(t, res, http.StatusOK, "list events")
		if !strings.Contains(string(res.Body), acc.ID) {
			t.Errorf("list events = %s", res.Body)
		}
		mustStatus(t, ws.Admin.Do("GET", "/v1/events?cursor=nonsense", nil), http.StatusUnprocessableEntity, "bad cursor")

		// A message that matches only "All" gets one delivery; another workspace sees none of it.
		res = producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hello")})
		mustStatus(t, res, http.StatusAccepted, "publish hello")
		res.JSON(t, &acc)
		if acc.Deliveries != 1 {
			t.Fatalf("hello: %s, want 1 delivery", res.Body)
		}
		other := env.NewWorkspace("Other")
		mustStatus(t, other.Admin.Do("GET", "/v1/events/"+acc.ID, nil), http.StatusNotFound, "other workspace reads the event")

		// Relay changes are seen by the next publish (the cache is invalidated).
		var list struct{ Relays []struct{ ID, Name string } }
		ws.Admin.Do("GET", "/v1/relays", nil).JSON(t, &list)
		for _, r := range list.Relays {
			if r.Name == "All" {
				mustStatus(t, ws.Admin.Do("POST", "/v1/relays/"+r.ID+"/disable", nil), http.StatusOK, "disable")
			}
		}
		res = producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hello")})
		res.JSON(t, &acc)
		if acc.Deliveries != 0 {
			t.Fatalf("after disabling All: %s, want 0 deliveries", res.Body)
		}
	})
}

func TestPublishIdempotency(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		rc := testkit.NewReceiver(t)
		ws := env.NewWorkspace("Acme")
		eps := setupEndpoints(t, ws, rc, 1)
		createRelay(t, ws.Admin, map[string]any{"name": "All", "trigger": "MessageReceived", "actions": sendTo(eps[0])})
		producer := env.PlatformToken()
		one := map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hi")}

		type result struct {
			ID         string
			Duplicate  bool
			Deliveries int
		}
		// Header form: the same key twice → one event, the same id.
		var a, b result
		res := producer.Do("POST", "/v1/platform/events", one, "Idempotency-Key", "msg-1")
		mustStatus(t, res, http.StatusAccepted, "first")
		res.JSON(t, &a)
		res = producer.Do("POST", "/v1/platform/events", one, "Idempotency-Key", "msg-1")
		mustStatus(t, res, http.StatusAccepted, "second")
		res.JSON(t, &b)
		if a.ID != b.ID || a.Duplicate || !b.Duplicate || a.Deliveries != 1 || b.Deliveries != 0 {
			t.Fatalf("first %+v, second %+v: want the same id, the second a duplicate", a, b)
		}
		if n := countRows(t, env, "events", ws.ID); n != 1 {
			t.Fatalf("%d events stored, want 1", n)
		}
		if n := countRows(t, env, "deliveries", ws.ID); n != 1 {
			t.Fatalf("%d deliveries stored, want 1", n)
		}

		// Batch form: idempotencyKey per event, across requests and within one.
		item := func(key, body string) map[string]any {
			return map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, body), "idempotencyKey": key}
		}
		var b1, b2 struct{ Events []result }
		res = producer.Do("POST", "/v1/platform/events", map[string]any{"events": []any{item("k-2", "a"), item("k-3", "b"), item("k-2", "a again")}})
		mustStatus(t, res, http.StatusAccepted, "batch 1")
		res.JSON(t, &b1)
		res = producer.Do("POST", "/v1/platform/events", map[string]any{"events": []any{item("k-3", "b"), item("msg-1", "c"), item("k-4", "d")}})
		mustStatus(t, res, http.StatusAccepted, "batch 2")
		res.JSON(t, &b2)
		if len(b1.Events) != 3 || len(b2.Events) != 3 {
			t.Fatalf("batches answered %+v %+v", b1, b2)
		}
		if b1.Events[2].ID != b1.Events[0].ID || !b1.Events[2].Duplicate || b1.Events[0].Duplicate {
			t.Errorf("a key repeated within a batch: %+v", b1.Events)
		}
		if b2.Events[0].ID != b1.Events[1].ID || !b2.Events[0].Duplicate {
			t.Errorf("a key repeated across batches: %+v then %+v", b1.Events[1], b2.Events[0])
		}
		if b2.Events[1].ID != a.ID || !b2.Events[1].Duplicate {
			t.Errorf("the header's key in a batch: %+v, want %s", b2.Events[1], a.ID)
		}
		if b2.Events[2].Duplicate {
			t.Errorf("a new key was a duplicate: %+v", b2.Events[2])
		}
		if n := countRows(t, env, "events", ws.ID); n != 4 { // msg-1, k-2, k-3, k-4
			t.Fatalf("%d events stored, want 4", n)
		}
		// The key is per workspace: another workspace may use it.
		other := env.NewWorkspace("Other")
		res = producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": other.ID, "name": "MessageReceived", "data": message(other.ID, "hi")},
			"Idempotency-Key", "msg-1")
		var c result
		res.JSON(t, &c)
		if c.Duplicate || c.ID == a.ID {
			t.Errorf("another workspace's key was taken for a duplicate: %+v", c)
		}

		// Concurrent requests with one key: one event, every answer its id.
		ids := make([]string, 8)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := producer.Do("POST", "/v1/platform/events", one, "Idempotency-Key", "race")
				var r result
				if res.Status == http.StatusAccepted {
					_ = json.Unmarshal(res.Body, &r)
				}
				ids[i] = r.ID
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if id == "" || id != ids[0] {
				t.Fatalf("concurrent publishes with one key got ids %v", ids)
			}
		}
		if n := countRows(t, env, "events", ws.ID); n != 5 {
			t.Fatalf("%d events stored after the race, want 5", n)
		}

		// After 24 h the key is free again (the first event's key is released).
		if _, err := env.DB().Exec(context.Background(), `UPDATE events SET created_at = created_at - ? WHERE id = ?`,
			int64(25*time.Hour/time.Microsecond), a.ID); err != nil {
			t.Fatal(err)
		}
		res = producer.Do("POST", "/v1/platform/events", one, "Idempotency-Key", "msg-1")
		res.JSON(t, &c)
		if c.Duplicate || c.ID == a.ID {
			t.Errorf("a key older than 24 h returned the old event: %+v", c)
		}
	})
}

func TestPublishRefusesBadEvents(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		rc := testkit.NewReceiver(t)
		ws := env.NewWorkspace("Acme")
		eps := setupEndpoints(t, ws, rc, 1)
		createRelay(t, ws.Admin, map[string]any{"name": "All", "trigger": "MessageReceived", "actions": sendTo(eps[0])})
		producer := env.PlatformToken()

		missing := message(ws.ID, "hi")
		delete(missing, "conversationId")
		huge := message(ws.ID, "hi")
		huge["media"] = []any{map[string]any{"url": "https://example.com/" + strings.Repeat("a", 300<<10), "contentType": "image/png"}}
		good := map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "ok")}
		batch := []any{good, good, good, map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "x", "+15557654321", "555-1234")}}

		for _, tc := range []struct {
			name   string
			body   any
			status int
			want   string // in the problem's text
		}{
			{"unknown name", map[string]any{"workspaceId": ws.ID, "name": "MessageExploded", "data": message(ws.ID, "hi")}, 422, "name: unknown event type"},
			{"missing field", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": missing}, 422, "data.conversationId"},
			{"bad phone in a batch", map[string]any{"events": batch}, 422, "events[3].data.to[1]"},
			{"300 KiB", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": huge}, 413, "too large"},
			{"other workspace's data", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message("someone-else", "hi")}, 422, "data.workspaceId"},
			{"no such workspace", map[string]any{"workspaceId": "01NOSUCHWORKSPACE000000000", "name": "MessageReceived", "data": message("01NOSUCHWORKSPACE000000000", "hi")}, 404, "workspaceId: no such workspace"},
			{"unknown top-level field", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hi"), "colour": "red"}, 422, "colour: unknown field"},
			{"unknown field in a batch event", map[string]any{"events": []any{good, map[string]any{"workspaceId": ws.ID, "nme": "x"}}}, 422, "events[1].nme: unknown field"},
			{"bad context", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hi"), "context": map[string]any{"isNew": true}}, 422, "context.isNew"},
			{"both forms", map[string]any{"workspaceId": ws.ID, "events": []any{good}}, 422, "either one event or events"},
			{"empty batch", map[string]any{"events": []any{}}, 422, "events: at least one"},
			{"too many", map[string]any{"events": func() []any {
				s := make([]any, 501)
				for i := range s {
					s[i] = good
				}
				return s
			}()}, 422, "at most 500"},
			{"not JSON", "{", 400, "Malformed JSON"}, // the one malformed-JSON answer (issue 20)
		} {
			res := producer.Do("POST", "/v1/platform/events", tc.body)
			if res.Status != tc.status || !strings.Contains(string(res.Body), tc.want) {
				t.Errorf("%s: %d %s, want %d naming %q", tc.name, res.Status, res.Body, tc.status, tc.want)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("%s: Content-Type %q", tc.name, ct)
			}
		}
		// A whole batch over the request limit (8 MiB) is a 413 too.
		big := map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, strings.Repeat("b", 16<<10))}
		many := make([]any, 500)
		for i := range many {
			many[i] = big
		}
		mustStatus(t, producer.Do("POST", "/v1/platform/events", map[string]any{"events": many}), http.StatusRequestEntityTooLarge, "9 MiB batch")

		// Nothing was stored, not even the good events of the refused batch.
		for _, table := range []string{"events", "deliveries"} {
			if n := countRows(t, env, table, ws.ID); n != 0 {
				t.Errorf("%d rows in %s after refused events", n, table)
			}
		}
		// Only the producer publishes.
		mustStatus(t, ws.Admin.Do("POST", "/v1/platform/events", good), http.StatusForbidden, "a member publishes")
	})
}

func TestRelaysAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		rc := testkit.NewReceiver(t)
		ws := env.NewWorkspace("Acme")
		eps := setupEndpoints(t, ws, rc, 1)
		other := env.NewWorkspace("Other")
		foreign := setupEndpoints(t, other, rc, 1)

		// Definitions are checked, naming the field.
		for _, tc := range []struct {
			body any
			want string
		}{
			{map[string]any{"name": "x", "trigger": "Nope", "actions": sendTo(eps[0])}, "trigger"},
			{map[string]any{"name": "x", "trigger": "MessageReceived", "actions": sendTo(foreign[0])}, "actions[0].endpointId"},
			{map[string]any{"name": "x", "trigger": "MessageReceived", "actions": sendTo(eps[0]),
				"conditions": map[string]any{"rules": []any{map[string]any{"type": "activeHours", "days": []string{"mon"}, "start": "09:00", "end": "17:00", "timezone": "Mars/Base"}}}},
				"conditions.rules[0].timezone"},
			{map[string]any{"name": "x", "trigger": "MessageReceived", "actions": []any{map[string]any{"type": "sendSMS"}}}, "actions[0]"},
			{map[string]any{"name": "x", "trigger": "MessageReceived", "actions": sendTo(eps[0]), "extra": 1}, "extra"},
		} {
			res := ws.Admin.Do("POST", "/v1/relays", tc.body)
			if res.Status != http.StatusUnprocessableEntity || !strings.Contains(string(res.Body), tc.want) {
				t.Errorf("create %v: %d %s, want 422 naming %s", tc.body, res.Status, res.Body, tc.want)
			}
		}

		// Templates.
		res := ws.Admin.Do("GET", "/v1/relay-templates", nil)
		mustStatus(t, res, http.StatusOK, "templates")
		if !strings.Contains(string(res.Body), `"after-hours"`) {
			t.Errorf("templates = %s", res.Body)
		}
		res = ws.Admin.Do("POST", "/v1/relays/from-template", map[string]any{"templateId": "after-hours", "endpointId": eps[0], "timezone": "Nowhere/Land"})
		if res.Status != 422 || !strings.Contains(string(res.Body), "timezone") {
			t.Errorf("bad timezone: %d %s", res.Status, res.Body)
		}
		res = ws.Admin.Do("POST", "/v1/relays/from-template", map[string]any{"templateId": "keyword", "endpointId": foreign[0]})
		if res.Status != 422 || !strings.Contains(string(res.Body), "endpointId") {
			t.Errorf("foreign endpoint: %d %s", res.Status, res.Body)
		}
		res = ws.Admin.Do("POST", "/v1/relays/from-template", map[string]any{"templateId": "keyword", "endpointId": eps[0], "keyword": "STOP"})
		mustStatus(t, res, http.StatusCreated, "from template")
		var r struct {
			ID, Name   string
			Enabled    bool
			Conditions struct {
				Match string
				Rules []struct{ Keywords []string }
			}
		}
		res.JSON(t, &r)
		if r.Enabled || len(r.Conditions.Rules) != 1 || r.Conditions.Rules[0].Keywords[0] != "STOP" {
			t.Fatalf("from template = %s", res.Body)
		}

		// PATCH replaces the fields given and keeps the rest.
		res = ws.Admin.Do("PATCH", "/v1/relays/"+r.ID, map[string]any{"name": "Stop words", "conditions": map[string]any{"match": "any", "rules": []any{}}})
		mustStatus(t, res, http.StatusOK, "patch")
		var p struct {
			Name       string
			Trigger    string
			Conditions struct{ Match string }
			Actions    []struct{ EndpointID string }
		}
		res.JSON(t, &p)
		if p.Name != "Stop words" || p.Trigger != "MessageReceived" || p.Conditions.Match != "any" || len(p.Actions) != 1 || p.Actions[0].EndpointID != eps[0] {
			t.Fatalf("after patch: %s", res.Body)
		}
		res = ws.Admin.Do("PATCH", "/v1/relays/"+r.ID, map[string]any{"actions": sendTo(foreign[0])})
		if res.Status != 422 || !strings.Contains(string(res.Body), "actions[0].endpointId") {
			t.Errorf("patch to a foreign endpoint: %d %s", res.Status, res.Body)
		}

		// Another workspace cannot see it.
		mustStatus(t, other.Admin.Do("GET", "/v1/relays/"+r.ID, nil), http.StatusNotFound, "other workspace reads")
		mustStatus(t, other.Admin.Do("DELETE", "/v1/relays/"+r.ID, nil), http.StatusNotFound, "other workspace deletes")

		// Permissions: relays viewer reads, editor changes, owner deletes; Operator has none.
		viewer := ws.AddMember("viewer@example.test", "Relay viewer", access.Levels{access.Relays: access.Viewer})
		editor := ws.AddMember("editor@example.test", "Relay editor", access.Levels{access.Relays: access.Editor})
		operator := ws.AddMember("op@example.test", "Operator", nil)
		mustStatus(t, operator.Do("GET", "/v1/relays", nil), http.StatusForbidden, "operator lists")
		mustStatus(t, viewer.Do("GET", "/v1/relays/"+r.ID, nil), http.StatusOK, "viewer reads")
		mustStatus(t, viewer.Do("POST", "/v1/relays/"+r.ID+"/enable", nil), http.StatusForbidden, "viewer enables")
		mustStatus(t, editor.Do("POST", "/v1/relays/"+r.ID+"/enable", nil), http.StatusOK, "editor enables")
		mustStatus(t, editor.Do("DELETE", "/v1/relays/"+r.ID, nil), http.StatusForbidden, "editor deletes")
		mustStatus(t, viewer.Do("GET", "/v1/events", nil), http.StatusForbidden, "relay viewer reads the event log")
		mustStatus(t, ws.Admin.Do("DELETE", "/v1/relays/"+r.ID, nil), http.StatusNoContent, "owner deletes")
		mustStatus(t, ws.Admin.Do("GET", "/v1/relays/"+r.ID, nil), http.StatusNotFound, "deleted")

		// Every change is in the audit log.
		var actions []string
		rows, err := env.DB().Query(context.Background(), `SELECT action FROM audit_log WHERE workspace_id = ? AND target_type = 'relay' ORDER BY id`, ws.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a string
			_ = rows.Scan(&a)
			actions = append(actions, a)
		}
		rows.Close()
		if got := strings.Join(actions, ","); got != "relay.create,relay.update,relay.enable,relay.delete" {
			t.Errorf("audit = %s", got)
		}

		// The catalog.
		res = viewer.Do("GET", "/v1/event-types", nil)
		mustStatus(t, res, http.StatusOK, "event types")
		if !strings.Contains(string(res.Body), `"MessageReceived"`) || !strings.Contains(string(res.Body), `"TestEvent"`) {
			t.Errorf("event types = %s", res.Body)
		}
	})
}

// BenchmarkPublish publishes one MessageReceived per request (3 relays, 2 endpoints, so 2
// deliveries each) through the producer API on SQLite, and batches of 100.
func BenchmarkPublish(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			env := apptest.SQLite(b)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			defer rc.Close()
			ws := env.NewWorkspace("Bench")
			if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
				b.Fatal(res.Status)
			}
			var eps []string
			for i := range 2 {
				var e struct{ ID string }
				ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": fmt.Sprintf("%s/e%d", rc.URL, i)}).JSON(b, &e)
				eps = append(eps, e.ID)
			}
			for _, def := range []map[string]any{
				{"name": "All", "trigger": "MessageReceived", "actions": sendTo(eps[0])},
				{"name": "Help", "trigger": "MessageReceived", "actions": sendTo(eps[1]),
					"conditions": map[string]any{"rules": []any{map[string]any{"type": "messageContains", "keywords": []string{"help"}}}}},
				{"name": "Both", "trigger": "MessageReceived", "actions": sendTo(eps[0], eps[1])},
			} {
				var r struct{ ID string }
				ws.Admin.Do("POST", "/v1/relays", def).JSON(b, &r)
				ws.Admin.Do("POST", "/v1/relays/"+r.ID+"/enable", nil)
			}
			producer := env.PlatformToken()
			one := map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "help me")}
			body, _ := json.Marshal(one)
			if batch > 1 {
				evs := make([]any, batch)
				for i := range evs {
					evs[i] = one
				}
				body, _ = json.Marshal(map[string]any{"events": evs})
			}
			b.ResetTimer()
			for b.Loop() {
				if res := producer.Do("POST", "/v1/platform/events", body); res.Status != http.StatusAccepted {
					b.Fatalf("%d %s", res.Status, res.Body)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
