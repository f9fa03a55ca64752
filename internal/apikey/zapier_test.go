package apikey_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/webhook"
)

type hookJSON struct {
	ID         string `json:"id"`
	TargetURL  string `json:"targetUrl"`
	Event      string `json:"event"`
	OwnerEmail string `json:"ownerEmail"`
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

func receiver(t *testing.T) (*httptest.Server, chan received) {
	ch := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- received{r.Header.Clone(), b}
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// messageData is the catalog's MessageReceived example, moved into the workspace.
func messageData(t *testing.T, workspaceID string) json.RawMessage {
	t.Helper()
	typ, ok := event.Lookup(event.MessageReceived)
	if !ok {
		t.Fatal("no MessageReceived in the catalog")
	}
	var m map[string]any
	if err := json.Unmarshal(typ.Example, &m); err != nil {
		t.Fatal(err)
	}
	m["workspaceId"] = workspaceID
	b, _ := json.Marshal(m)
	return b
}

func subscribe(t *testing.T, c *apptest.Client, target, eventName string) hookJSON {
	t.Helper()
	res := c.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": target, "event": eventName})
	if res.Status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", res.Status, res.Body)
	}
	var h hookJSON
	res.JSON(t, &h)
	if !strings.HasPrefix(h.ID, "hook_") || h.Event != eventName {
		t.Fatalf("hook = %+v", h)
	}
	return h
}

// The Zapier flow: connection test with the key, subscribe, an event arrives signed with
// the workspace secret, unsubscribe, nothing more arrives. A Viewer's key cannot subscribe.
func TestZapierFlow(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		res := ws.Admin.Do("POST", "/v1/signing-secret", nil)
		if res.Status != http.StatusCreated {
			t.Fatalf("generate secret: %d %s", res.Status, res.Body)
		}
		var sec struct{ Secret string }
		res.JSON(t, &sec)
		secret, err := webhook.ParseSecret(sec.Secret)
		if err != nil {
			t.Fatal(err)
		}
		dev := ws.AddMember("zap@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		_, zap := newKey(t, env, dev, "Zapier")
		producer := env.PlatformToken()
		publish := func() string {
			t.Helper()
			res := producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": messageData(t, ws.ID)})
			if res.Status != http.StatusAccepted {
				t.Fatalf("publish: %d %s", res.Status, res.Body)
			}
			var out struct{ ID string }
			res.JSON(t, &out)
			return out.ID
		}

		// Connection test.
		res = zap.Do("GET", "/v1/me", nil)
		var me struct {
			Via       string
			Workspace struct{ ID string }
		}
		res.JSON(t, &me)
		if res.Status != http.StatusOK || me.Via != "apikey" || me.Workspace.ID != ws.ID {
			t.Fatalf("me: %d %s", res.Status, res.Body)
		}

		// Samples before any event: the catalog example, as an Event envelope.
		var samples []map[string]any
		res = zap.Do("GET", "/v1/zapier/samples/MessageReceived", nil)
		res.JSON(t, &samples)
		if len(samples) != 1 || samples[0]["object"] != "Event" || samples[0]["name"] != "MessageReceived" || samples[0]["workspaceId"] != ws.ID {
			t.Fatalf("samples = %s", res.Body)
		}
		wantProblem(t, zap.Do("GET", "/v1/zapier/samples/NoSuchEvent", nil), http.StatusNotFound)

		target, got := receiver(t)
		hook := subscribe(t, zap, target.URL+"/hooks/catch/1", "MessageReceived")
		var hooks []hookJSON
		zap.Do("GET", "/v1/zapier/hooks", nil).JSON(t, &hooks)
		if len(hooks) != 1 || hooks[0].ID != hook.ID || hooks[0].OwnerEmail != "zap@acme.test" {
			t.Fatalf("hooks = %+v", hooks)
		}

		id := publish()
		select {
		case r := <-got:
			v := webhook.NewVerifier(secret)
			v.StandardOnly = true
			if _, err := v.Verify(r.header, r.body); err != nil {
				t.Fatalf("delivery does not verify with the workspace secret: %v", err)
			}
			if r.header.Get("webhook-id") != id || r.header.Get("X-MessageDesk-Event") != "MessageReceived" {
				t.Fatalf("headers %v", r.header)
			}
			var env struct{ ID, Name, WorkspaceID string }
			if err := json.Unmarshal(r.body, &env); err != nil || env.ID != id || env.WorkspaceID != ws.ID {
				t.Fatalf("body %s (%v)", r.body, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the hook target received nothing")
		}

		// Samples now hold the real event.
		zap.Do("GET", "/v1/zapier/samples/MessageReceived", nil).JSON(t, &samples)
		if len(samples) != 1 || samples[0]["id"] != id {
			t.Fatalf("samples after publish: %+v", samples)
		}

		// Unsubscribe: the next event reaches nobody.
		if res := zap.Do("DELETE", "/v1/zapier/hooks/"+hook.ID, nil); res.Status != http.StatusNoContent {
			t.Fatalf("unsubscribe: %d %s", res.Status, res.Body)
		}
		wantProblem(t, zap.Do("DELETE", "/v1/zapier/hooks/"+hook.ID, nil), http.StatusNotFound)
		publish()
		select {
		case r := <-got:
			t.Fatalf("received after unsubscribe: %s", r.body)
		case <-time.After(2 * time.Second):
		}

		// A Viewer's key: 403 on subscribe (and the hook list).
		viewer := ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})
		// Viewers cannot create keys (developer ≥ editor); give them one made while they were editors.
		promote(t, env, ws.ID, "Dev viewer", access.Editor)
		_, vk := newKey(t, env, viewer, "viewer")
		promote(t, env, ws.ID, "Dev viewer", access.Viewer)
		wantProblem(t, vk.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": target.URL, "event": "MessageReceived"}), http.StatusForbidden)
		wantProblem(t, vk.Do("GET", "/v1/zapier/hooks", nil), http.StatusForbidden)
	})
}

// A hook stops delivering while its owner lacks developer ≥ editor, and delivers again
// once they have it back.
func TestZapierHookFollowsOwnerRole(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("generate secret: %d %s", res.Status, res.Body)
		}
		dev := ws.AddMember("zap@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		_, zap := newKey(t, env, dev, "Zapier")
		target, got := receiver(t)
		subscribe(t, zap, target.URL, "MessageReceived")
		producer := env.PlatformToken()
		publish := func() {
			t.Helper()
			if res := producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": messageData(t, ws.ID)}); res.Status != http.StatusAccepted {
				t.Fatalf("publish: %d %s", res.Status, res.Body)
			}
		}

		promote(t, env, ws.ID, "Dev editor", access.Viewer)
		publish()
		select {
		case r := <-got:
			t.Fatalf("delivered while the owner is a viewer: %s", r.body)
		case <-time.After(2 * time.Second):
		}
		promote(t, env, ws.ID, "Dev editor", access.Editor)
		publish()
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("nothing delivered after the owner got editor back")
		}
	})
}

// Subscribing checks the event name and the target address like endpoints do; hooks are
// the owner's (an editor cannot remove another member's; the developer owner can).
func TestZapierHookRules(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		dev := ws.AddMember("zap@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		_, zap := newKey(t, env, dev, "Zapier")
		for _, bad := range []map[string]any{
			{"targetUrl": "https://hooks.example.test/x", "event": "NoSuchEvent"},
			{"targetUrl": "ftp://hooks.example.test/x", "event": "MessageReceived"},
			{"targetUrl": "http://169.254.169.254/latest/meta-data", "event": "MessageReceived"},
			{"targetUrl": "https://user:pass@hooks.example.test/x", "event": "MessageReceived"},
			{"targetUrl": "not a url", "event": "MessageReceived"},
		} {
			res := zap.Do("POST", "/v1/zapier/hooks", bad)
			wantProblem(t, res, http.StatusUnprocessableEntity)
			if !strings.Contains(string(res.Body), "detail") {
				t.Fatalf("%v: no reason in %s", bad, res.Body)
			}
		}
		h := subscribe(t, ws.Admin, "http://127.0.0.1:9/admin-hook", "MessageReceived")
		mine := subscribe(t, zap, "http://127.0.0.1:9/zap-hook", "TestEvent")
		wantProblem(t, zap.Do("DELETE", "/v1/zapier/hooks/"+h.ID, nil), http.StatusNotFound)
		var hooks []hookJSON
		zap.Do("GET", "/v1/zapier/hooks", nil).JSON(t, &hooks)
		if len(hooks) != 1 || hooks[0].ID != mine.ID {
			t.Fatalf("editor sees %+v", hooks)
		}
		ws.Admin.Do("GET", "/v1/zapier/hooks", nil).JSON(t, &hooks)
		if len(hooks) != 2 {
			t.Fatalf("owner sees %+v", hooks)
		}
		if res := ws.Admin.Do("DELETE", "/v1/zapier/hooks/"+mine.ID, nil); res.Status != http.StatusNoContent {
			t.Fatalf("owner removes: %d %s", res.Status, res.Body)
		}
	})
}

// promote sets a custom role's developer level.
func promote(t *testing.T, env *apptest.Env, workspaceID, role string, l access.Level) {
	t.Helper()
	if _, err := env.DB().Exec(context.Background(), `UPDATE roles SET levels = ? WHERE workspace_id = ? AND name = ?`,
		access.Levels{access.Developer: l}.Encode(), workspaceID, role); err != nil {
		t.Fatal(err)
	}
}

// A target answering 410 Gone unsubscribes its hook (Zapier's REST hook contract), and the
// audit log says so.
func TestZapierHookGoneIsRemoved(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("generate secret: %d %s", res.Status, res.Body)
		}
		gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
		t.Cleanup(gone.Close)
		h := subscribe(t, ws.Admin, gone.URL, "MessageReceived")
		res := env.PlatformToken().Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": messageData(t, ws.ID)})
		if res.Status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", res.Status, res.Body)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			var hooks []hookJSON
			ws.Admin.Do("GET", "/v1/zapier/hooks", nil).JSON(t, &hooks)
			if len(hooks) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("hook %s still subscribed after its target answered 410", h.ID)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var actor string
		if err := env.DB().QueryRow(context.Background(), `SELECT actor FROM audit_log WHERE workspace_id = ? AND action = 'zapier_hook.remove' AND target_id = ?`,
			ws.ID, h.ID).Scan(&actor); err != nil || actor != "system" {
			t.Fatalf("audit: actor %q, %v", actor, err)
		}
	})
}

// Revoking a key removes the hooks subscribed with it: a leaked key's hooks must not go on
// receiving events. Another key's hooks stay.
func TestRevokeRemovesTheKeysHooks(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("generate secret: %d %s", res.Status, res.Body)
		}
		dev := ws.AddMember("zap@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		leaked, zap := newKey(t, env, dev, "leaked")
		_, other := newKey(t, env, dev, "other")
		target, got := receiver(t)
		subscribe(t, zap, target.URL+"/leaked", "MessageReceived")
		kept := subscribe(t, other, target.URL+"/other", "MessageReceived")

		if res := dev.Do("DELETE", "/v1/api-keys/"+leaked.ID, nil); res.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", res.Status, res.Body)
		}
		var hooks []hookJSON
		other.Do("GET", "/v1/zapier/hooks", nil).JSON(t, &hooks)
		if len(hooks) != 1 || hooks[0].ID != kept.ID {
			t.Fatalf("hooks after revoking the key: %+v, want only %s", hooks, kept.ID)
		}
		res := env.PlatformToken().Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": messageData(t, ws.ID)})
		if res.Status != http.StatusAccepted {
			t.Fatalf("publish: %d %s", res.Status, res.Body)
		}
		select {
		case r := <-got:
			if r.header.Get("X-MessageDesk-Event") == "" {
				t.Fatalf("not a delivery: %v", r.header)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the remaining hook received nothing")
		}
		select {
		case r := <-got:
			t.Fatalf("a second delivery arrived (the revoked key's hook?): %s", r.body)
		case <-time.After(time.Second):
		}
	})
}
