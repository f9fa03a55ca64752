package apikey_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
)

// TestAPIKeyCannotExceedItsRole: whatever its member's role, an API key can do with API
// keys exactly what that role allows and never more: no key creates keys (a leaked key
// must not mint more); listing and revoking need developer editor (own keys) or owner
// (every member's). Every built-in role and three custom ones; the role is changed after
// the key is made, so the key's powers follow the member's current role (issue 18).
func TestAPIKeyCannotExceedItsRole(t *testing.T) {
	type want struct {
		list        int  // status of GET /v1/api-keys
		seesOthers  bool // the list holds other members' keys
		revokeOwn   int  // DELETE of the member's own spare key
		revokeOther int  // DELETE of another member's key
	}
	denied := want{list: http.StatusForbidden, revokeOwn: http.StatusForbidden, revokeOther: http.StatusForbidden}
	roles := []struct {
		name   string
		levels access.Levels // nil: the built-in role of that name
		want   want
	}{
		{"Admin", nil, want{http.StatusOK, true, http.StatusNoContent, http.StatusNoContent}},
		{"Manager", nil, denied},
		{"Operator", nil, denied},
		{"Dev viewer", access.Levels{access.Developer: access.Viewer, access.Relays: access.Owner, access.Team: access.Owner}, denied},
		{"Dev editor", access.Levels{access.Developer: access.Editor}, want{http.StatusOK, false, http.StatusNoContent, http.StatusNotFound}},
		{"Dev owner", access.Levels{access.Developer: access.Owner}, want{http.StatusOK, true, http.StatusNoContent, http.StatusNoContent}},
	}
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Keys")
		// Custom roles exist before anyone is moved to them; the key maker role lets a
		// member make keys from a session.
		maker := ws.AddMember("maker@keys.test", "Key maker", access.Levels{access.Developer: access.Editor})
		for _, r := range roles {
			if r.levels != nil {
				if res := ws.Admin.Do("POST", "/v1/roles", map[string]any{"name": r.name, "levels": r.levels}); res.Status != http.StatusCreated {
					t.Fatalf("create role %s: %d %s", r.name, res.Status, res.Body)
				}
			}
		}
		_, _ = newKey(t, env, maker, "maker's own")

		for i, r := range roles {
			t.Run(r.name, func(t *testing.T) {
				email := "member" + string(rune('a'+i)) + "@keys.test"
				member := ws.AddMember(email, "Key maker "+r.name, access.Levels{access.Developer: access.Editor})
				key, kc := newKey(t, env, member, "script")
				spare, _ := newKey(t, env, member, "spare")
				victim, _ := newKey(t, env, ws.Admin, "admin's, for "+r.name)
				if _, err := env.DB().Exec(ctx, `UPDATE members SET role_id = (SELECT id FROM roles WHERE workspace_id = ? AND name = ?)
					WHERE workspace_id = ? AND user_id = ?`, ws.ID, r.name, ws.ID, key.UserID); err != nil {
					t.Fatal(err)
				}
				var me struct{ Role struct{ Name string } }
				kc.Do("GET", "/v1/me", nil).JSON(t, &me)
				if me.Role.Name != r.name {
					t.Fatalf("the key acts as role %q, want %q", me.Role.Name, r.name)
				}

				// Create: never with a key, whatever the role.
				wantProblem(t, kc.Do("POST", "/v1/api-keys", map[string]any{"name": "minted by a key"}), http.StatusForbidden)

				// List.
				res := kc.Do("GET", "/v1/api-keys", nil)
				if res.Status != r.want.list {
					t.Fatalf("list: %d %s, want %d", res.Status, res.Body, r.want.list)
				}
				if res.Status == http.StatusOK {
					var list []keyJSON
					res.JSON(t, &list)
					others := false
					for _, k := range list {
						if k.UserID != key.UserID {
							others = true
						}
						if k.Key != "" {
							t.Errorf("the list shows a key itself: %+v", k)
						}
					}
					if others != r.want.seesOthers {
						t.Errorf("list shows other members' keys: %v, want %v (%d keys)", others, r.want.seesOthers, len(list))
					}
				} else {
					wantProblem(t, res, r.want.list)
				}

				// Revoke another member's key, then the member's own spare.
				if res := kc.Do("DELETE", "/v1/api-keys/"+victim.ID, nil); res.Status != r.want.revokeOther {
					t.Errorf("revoke another member's key: %d %s, want %d", res.Status, res.Body, r.want.revokeOther)
				}
				if res := kc.Do("DELETE", "/v1/api-keys/"+spare.ID, nil); res.Status != r.want.revokeOwn {
					t.Errorf("revoke own key: %d %s, want %d", res.Status, res.Body, r.want.revokeOwn)
				}

				// What the answers said is what happened: the admin (developer owner) sees
				// which keys are still live.
				var live []keyJSON
				ws.Admin.Do("GET", "/v1/api-keys", nil).JSON(t, &live)
				alive := map[string]bool{}
				for _, k := range live {
					alive[k.ID] = true
				}
				if alive[victim.ID] != (r.want.revokeOther != http.StatusNoContent) || alive[spare.ID] != (r.want.revokeOwn != http.StatusNoContent) {
					t.Errorf("after the attempts: victim live %v, spare live %v", alive[victim.ID], alive[spare.ID])
				}
				if !alive[key.ID] {
					t.Errorf("the key itself was revoked")
				}
				// The same member from a session is bound by the same role: the limit is the
				// role's, not the key's (a session may create keys only with developer editor).
				wantCreate := http.StatusForbidden
				if r.want.list == http.StatusOK {
					wantCreate = http.StatusCreated
				}
				if res := member.Do("POST", "/v1/api-keys", map[string]any{"name": "from the session"}); res.Status != wantCreate {
					t.Errorf("session create as %s: %d %s, want %d", r.name, res.Status, res.Body, wantCreate)
				}
			})
		}
	})
}
