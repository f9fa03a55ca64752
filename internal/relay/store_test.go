package relay_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/relay"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
)

func newWorkspace(t *testing.T, db *store.DB) string {
	t.Helper()
	id := store.NewID()
	if _, err := db.Exec(context.Background(), `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, 0)`, id, "ws "+id); err != nil {
		t.Fatal(err)
	}
	return id
}

func newEndpoint(t *testing.T, db *store.DB, workspaceID string) string {
	t.Helper()
	id := store.NewID()
	if _, err := db.Exec(context.Background(), `INSERT INTO endpoints (id, workspace_id, url, created_at, updated_at) VALUES (?, ?, ?, 0, 0)`,
		id, workspaceID, "https://example.com/hook/"+id); err != nil {
		t.Fatal(err)
	}
	return id
}

func yes() *bool { b := true; return &b }

func TestStoreMatching(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := &relay.Service{DB: db}
		ws, other := newWorkspace(t, db), newWorkspace(t, db)
		e1, e2, e3 := newEndpoint(t, db, ws), newEndpoint(t, db, ws), newEndpoint(t, db, ws)
		foreign := newEndpoint(t, db, other)

		// A relay may not send to another workspace's endpoint, nor a missing one.
		_, err := svc.Create(ctx, ws, relay.AllInboundRelay(foreign))
		var fe *input.Error
		if !errors.As(err, &fe) || fe.Field != "actions[0].endpointId" {
			t.Fatalf("create with a foreign endpoint: %v, want a FieldError on actions[0].endpointId", err)
		}

		all, err := svc.Create(ctx, ws, relay.AllInboundRelay(e1))
		if err != nil {
			t.Fatal(err)
		}
		if all.Enabled {
			t.Fatal("a new relay must start paused")
		}
		help, err := svc.Create(ctx, ws, relay.KeywordRelay(e2, "help"))
		if err != nil {
			t.Fatal(err)
		}
		both := relay.KeywordRelay(e1, "help")
		both.Actions = append(both.Actions, relay.Action{Type: relay.ActionSendWebhook, EndpointID: e2})
		twice, err := svc.Create(ctx, ws, both)
		if err != nil {
			t.Fatal(err)
		}
		newConv := relay.AllInboundRelay(e3)
		newConv.Conditions = relay.Conditions{Rules: []relay.Rule{{Type: relay.RuleIsNewConversation, Value: yes()}}}
		nc, err := svc.Create(ctx, ws, newConv)
		if err != nil {
			t.Fatal(err)
		}

		match := func(facts relay.Facts) []string {
			t.Helper()
			var got []string
			err := db.InTx(ctx, func(tx *store.Tx) error {
				sets, err := svc.Sets(ctx, tx, []string{ws})
				if err != nil {
					return err
				}
				got = sets[ws].Match("MessageReceived", facts, nil)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			return got
		}
		sorted := func(ids ...string) []string { slices.Sort(ids); return ids }

		// Paused relays match nothing.
		if got := match(relay.Facts{Body: "help"}); len(got) != 0 {
			t.Fatalf("paused relays matched %v", got)
		}
		for _, r := range []relay.Relay{all, help, twice, nc} {
			if _, err := svc.SetEnabled(ctx, ws, r.ID, true); err != nil {
				t.Fatal(err)
			}
		}
		// Three relays match "help" (all, help, twice) and point to two endpoints: each once.
		if got, want := match(relay.Facts{Body: "I need HELP"}), sorted(e1, e2); !slices.Equal(got, want) {
			t.Errorf("help: endpoints %v, want %v", got, want)
		}
		if got, want := match(relay.Facts{Body: "hello"}), []string{e1}; !slices.Equal(got, want) {
			t.Errorf("hello: endpoints %v, want %v", got, want)
		}
		if got, want := match(relay.Facts{Body: "hello", NewConversation: yes()}), sorted(e1, e3); !slices.Equal(got, want) {
			t.Errorf("new conversation: endpoints %v, want %v", got, want)
		}

		// Changes are seen by the next match: disable, edit, delete.
		if _, err := svc.SetEnabled(ctx, ws, all.ID, false); err != nil {
			t.Fatal(err)
		}
		if got := match(relay.Facts{Body: "hello"}); len(got) != 0 {
			t.Errorf("after disabling: %v", got)
		}
		if _, err := svc.Update(ctx, ws, help.ID, relay.KeywordRelay(e3, "hello")); err != nil {
			t.Fatal(err)
		}
		if got, want := match(relay.Facts{Body: "hello"}), []string{e3}; !slices.Equal(got, want) {
			t.Errorf("after editing: %v, want %v", got, want)
		}
		if err := svc.Delete(ctx, ws, help.ID); err != nil {
			t.Fatal(err)
		}
		if got := match(relay.Facts{Body: "hello"}); len(got) != 0 {
			t.Errorf("after deleting: %v", got)
		}
		if _, err := svc.Get(ctx, ws, help.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get deleted: %v", err)
		}

		// A change made elsewhere (another process, here another Service on the same
		// database) is seen through the version, not only through this cache.
		elsewhere := &relay.Service{DB: db}
		if _, err := elsewhere.SetEnabled(ctx, ws, all.ID, true); err != nil {
			t.Fatal(err)
		}
		if got, want := match(relay.Facts{Body: "hello"}), []string{e1}; !slices.Equal(got, want) {
			t.Errorf("after a change by another process: %v, want %v", got, want)
		}

		// Another workspace's relays are separate; a missing workspace has no set.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			sets, err := svc.Sets(ctx, tx, []string{other, "01NOSUCHWORKSPACE000000000"})
			if err != nil {
				return err
			}
			if len(sets) != 1 || sets[other] == nil || sets[other].Len() != 0 {
				t.Errorf("sets = %v, want only an empty set for the other workspace", sets)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// Another workspace cannot read, change or delete this one's relays.
		if _, err := svc.Get(ctx, other, all.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get across workspaces: %v", err)
		}
		if _, err := svc.SetEnabled(ctx, other, all.ID, false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("disable across workspaces: %v", err)
		}
		if err := svc.Delete(ctx, other, all.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete across workspaces: %v", err)
		}

		// Every change is audited.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE workspace_id = ? AND target_type = 'relay'`, ws).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4+4+1+1+1+1 { // creates, enables, disable, update, delete, enable
			t.Errorf("audit entries = %d", n)
		}
		list, err := svc.List(ctx, ws)
		if err != nil || len(list) != 3 {
			t.Fatalf("list: %d relays, %v", len(list), err)
		}
		if list[0].Conditions.Mode != relay.MatchAll || list[0].Actions[0].EndpointID != e1 || list[0].CreatedAt.Before(time.Now().Add(-time.Minute)) {
			t.Errorf("list[0] = %+v", list[0])
		}
	})
}

func TestSetMatchAllocs(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	svc := &relay.Service{DB: db}
	ws := newWorkspace(t, db)
	e1, e2 := newEndpoint(t, db, ws), newEndpoint(t, db, ws)
	for _, d := range []relay.Definition{relay.AllInboundRelay(e1), relay.KeywordRelay(e2, "help"), relay.AfterHoursRelay(e1, "America/New_York")} {
		r, err := svc.Create(ctx, ws, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetEnabled(ctx, ws, r.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	var set *relay.Set
	err := db.InTx(ctx, func(tx *store.Tx) error {
		sets, err := svc.Sets(ctx, tx, []string{ws})
		set = sets[ws]
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	facts := relay.Facts{Body: "please help", WorkspaceLine: "+15557654321", At: time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)}
	dst := make([]string, 0, 4)
	if got := set.Match("MessageReceived", facts, dst); len(got) != 2 {
		t.Fatalf("matched %v", got)
	}
	if a := testing.AllocsPerRun(100, func() { dst = set.Match("MessageReceived", facts, dst[:0]) }); a != 0 {
		t.Errorf("Match allocates %.0f times", a)
	}
}
