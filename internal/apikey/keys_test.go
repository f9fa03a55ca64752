package apikey_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/audit"
)

type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Key        string     `json:"key"`
	UserID     string     `json:"userId"`
	OwnerEmail string     `json:"ownerEmail"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
}

// newKey creates an API key through the API as c and returns it with a client that uses it.
func newKey(t *testing.T, env *apptest.Env, c *apptest.Client, name string) (keyJSON, *apptest.Client) {
	t.Helper()
	res := c.Do("POST", "/v1/api-keys", map[string]any{"name": name})
	if res.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	var k keyJSON
	res.JSON(t, &k)
	if !strings.HasPrefix(k.Key, "rdk_") || len(k.Key) != 4+43 || !strings.HasPrefix(k.Key, k.Prefix) {
		t.Fatalf("key %q prefix %q: want rdk_ + 43 URL-safe characters", k.Key, k.Prefix)
	}
	kc := env.Anonymous()
	kc.Bearer = k.Key
	return k, kc
}

func wantProblem(t *testing.T, res *apptest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
}

// Create → use → revoke → 401, and the database holds nothing that works as the key.
func TestAPIKeyLifecycle(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		k, kc := newKey(t, env, ws.Admin, "nightly export")

		res := kc.Do("GET", "/v1/me", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET /v1/me with key: %d %s", res.Status, res.Body)
		}
		var me struct {
			Via  string `json:"via"`
			User struct{ Email string }
			Role struct{ Name string }
		}
		res.JSON(t, &me)
		if me.Via != "apikey" || me.User.Email != "acme-admin@example.test" || me.Role.Name != "Admin" {
			t.Fatalf("me = %+v", me)
		}

		// Listed with its prefix, owner and last use; never the key.
		res = kc.Do("GET", "/v1/api-keys", nil)
		if res.Status != http.StatusOK || strings.Contains(string(res.Body), k.Key) {
			t.Fatalf("list: %d %s", res.Status, res.Body)
		}
		var list []keyJSON
		res.JSON(t, &list)
		if len(list) != 1 || list[0].ID != k.ID || list[0].Prefix != k.Prefix || list[0].OwnerEmail != "acme-admin@example.test" || list[0].LastUsedAt == nil {
			t.Fatalf("list = %+v", list)
		}

		// A key cannot mint keys.
		wantProblem(t, kc.Do("POST", "/v1/api-keys", map[string]any{"name": "more"}), http.StatusForbidden)

		// The raw columns: prefix and SHA-256 only; the key is nowhere in the table or the log.
		ctx := context.Background()
		var prefix, hash string
		if err := env.DB().QueryRow(ctx, `SELECT prefix, hash FROM api_keys WHERE id = ?`, k.ID).Scan(&prefix, &hash); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(k.Key))
		if prefix != k.Key[:12] || hash != hex.EncodeToString(sum[:]) {
			t.Fatalf("stored prefix %q hash %q", prefix, hash)
		}
		secretPart := k.Key[12:]
		for _, q := range []string{`SELECT id || name || prefix || hash FROM api_keys`, `SELECT action || detail FROM audit_log`} {
			rows, err := env.DB().Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(s, secretPart) {
					t.Fatalf("%s holds the key: %s", q, s)
				}
			}
			rows.Close()
		}
		// Presenting what the database holds does not authenticate.
		for _, stored := range []string{prefix, hash, "rdk_" + hash} {
			c := env.Anonymous()
			c.Bearer = stored
			wantProblem(t, c.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
		}
		// A wrong key with the right prefix does not either.
		wrong := env.Anonymous()
		wrong.Bearer = k.Key[:12] + strings.Repeat("A", len(k.Key)-12)
		wantProblem(t, wrong.Do("GET", "/v1/me", nil), http.StatusUnauthorized)

		// Revoke: the next request is 401.
		if res := ws.Admin.Do("DELETE", "/v1/api-keys/"+k.ID, nil); res.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", res.Status, res.Body)
		}
		wantProblem(t, kc.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
		wantProblem(t, ws.Admin.Do("DELETE", "/v1/api-keys/"+k.ID, nil), http.StatusNotFound)
		if res := ws.Admin.Do("GET", "/v1/api-keys", nil); string(res.Body) != "[]" && !strings.HasPrefix(string(res.Body), "[]") {
			t.Fatalf("list after revoke: %s", res.Body)
		}

		entries, _, err := audit.List(ctx, env.DB(), ws.ID, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			if strings.HasPrefix(e.Action, "apikey.") {
				actions = append(actions, e.Action+" by "+e.Actor)
			}
		}
		if want := "apikey.revoke by acme-admin@example.test,apikey.create by acme-admin@example.test"; strings.Join(actions, ",") != want {
			t.Fatalf("audit = %v, want %s", actions, want)
		}
		if strings.Contains(env.Logs.String(), secretPart) {
			t.Fatal("the key was logged")
		}
	})
}

// Expired keys and keys of removed members stop working; a member invited back does not
// revive keys made before.
func TestAPIKeyExpiryAndRemovedMember(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		dev := ws.AddMember("dev@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})

		wantProblem(t, dev.Do("POST", "/v1/api-keys", map[string]any{"name": "past", "expiresAt": time.Now().Add(-time.Hour)}), http.StatusUnprocessableEntity)
		wantProblem(t, dev.Do("POST", "/v1/api-keys", map[string]any{"name": ""}), http.StatusUnprocessableEntity)

		res := dev.Do("POST", "/v1/api-keys", map[string]any{"name": "soon", "expiresAt": time.Now().Add(time.Hour)})
		if res.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", res.Status, res.Body)
		}
		var k keyJSON
		res.JSON(t, &k)
		if k.ExpiresAt == nil {
			t.Fatalf("no expiry in %s", res.Body)
		}
		kc := env.Anonymous()
		kc.Bearer = k.Key
		if res := kc.Do("GET", "/v1/me", nil); res.Status != http.StatusOK {
			t.Fatalf("before expiry: %d", res.Status)
		}
		if _, err := env.DB().Exec(ctx, `UPDATE api_keys SET expires_at = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixMicro(), k.ID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, kc.Do("GET", "/v1/me", nil), http.StatusUnauthorized)

		_, kc2 := newKey(t, env, dev, "other")
		var userID, roleID string
		if err := env.DB().QueryRow(ctx, `SELECT m.user_id, m.role_id FROM members m JOIN users u ON u.id = m.user_id WHERE u.email = ?`, "dev@acme.test").Scan(&userID, &roleID); err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB().Exec(ctx, `DELETE FROM members WHERE workspace_id = ? AND user_id = ?`, ws.ID, userID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, kc2.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
		// Invited back later: the old key stays dead.
		if _, err := env.DB().Exec(ctx, `INSERT INTO members (workspace_id, user_id, role_id, created_at) VALUES (?, ?, ?, ?)`,
			ws.ID, userID, roleID, time.Now().Add(time.Second).UnixMicro()); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, kc2.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
	})
}

// A key acts with its member's current role: a role change applies to the next request.
// Editors see and revoke only their own keys; developer owners everyone's.
func TestAPIKeyFollowsRole(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		dev := ws.AddMember("dev@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		devKey, kc := newKey(t, env, dev, "zapier")
		adminKey, _ := newKey(t, env, ws.Admin, "admin script")

		// As an editor: own keys only; another member's key is not found.
		var list []keyJSON
		res := kc.Do("GET", "/v1/api-keys", nil)
		res.JSON(t, &list)
		if len(list) != 1 || list[0].ID != devKey.ID {
			t.Fatalf("editor's list = %+v", list)
		}
		wantProblem(t, kc.Do("DELETE", "/v1/api-keys/"+adminKey.ID, nil), http.StatusNotFound)
		res = ws.Admin.Do("GET", "/v1/api-keys", nil)
		res.JSON(t, &list)
		if len(list) != 2 {
			t.Fatalf("owner's list = %+v", list)
		}
		if res := kc.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": "http://127.0.0.1:9/hook", "event": "MessageReceived"}); res.Status != http.StatusCreated {
			t.Fatalf("editor subscribes: %d %s", res.Status, res.Body)
		}

		// Demoted to developer viewer: editor routes now 403, viewer routes still work.
		if _, err := env.DB().Exec(ctx, `UPDATE roles SET levels = ? WHERE workspace_id = ? AND name = ?`,
			access.Levels{access.Developer: access.Viewer}.Encode(), ws.ID, "Dev editor"); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, kc.Do("GET", "/v1/api-keys", nil), http.StatusForbidden)
		wantProblem(t, kc.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": "http://127.0.0.1:9/hook", "event": "MessageReceived"}), http.StatusForbidden)
		if res := kc.Do("GET", "/v1/zapier/samples/MessageReceived", nil); res.Status != http.StatusOK {
			t.Fatalf("viewer samples: %d %s", res.Status, res.Body)
		}

		// Moved to the built-in Operator role (developer none): even viewer routes are 403.
		if _, err := env.DB().Exec(ctx, `UPDATE members SET role_id = (SELECT id FROM roles WHERE workspace_id = ? AND name = 'Operator')
			WHERE workspace_id = ? AND user_id = ?`, ws.ID, ws.ID, devKey.UserID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, kc.Do("GET", "/v1/zapier/samples/MessageReceived", nil), http.StatusForbidden)
		res = kc.Do("GET", "/v1/me", nil)
		var me struct{ Role struct{ Name string } }
		res.JSON(t, &me)
		if me.Role.Name != "Operator" {
			t.Fatalf("me.role = %q", me.Role.Name)
		}

		// And back to editor: the same key works again at once.
		if _, err := env.DB().Exec(ctx, `UPDATE members SET role_id = (SELECT id FROM roles WHERE workspace_id = ? AND name = 'Dev editor')
			WHERE workspace_id = ? AND user_id = ?`, ws.ID, ws.ID, devKey.UserID); err != nil {
			t.Fatal(err)
		}
		if _, err := env.DB().Exec(ctx, `UPDATE roles SET levels = ? WHERE workspace_id = ? AND name = ?`,
			access.Levels{access.Developer: access.Editor}.Encode(), ws.ID, "Dev editor"); err != nil {
			t.Fatal(err)
		}
		if res := kc.Do("GET", "/v1/api-keys", nil); res.Status != http.StatusOK {
			t.Fatalf("re-promoted: %d %s", res.Status, res.Body)
		}

		// The owner revokes the editor's key.
		if res := ws.Admin.Do("DELETE", "/v1/api-keys/"+devKey.ID, nil); res.Status != http.StatusNoContent {
			t.Fatalf("owner revokes: %d %s", res.Status, res.Body)
		}
		wantProblem(t, kc.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
	})
}

// Keys never cross workspaces: a key of Acme sees nothing of Globex.
func TestAPIKeyWorkspaceIsolation(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		acme, globex := env.NewWorkspace("Acme"), env.NewWorkspace("Globex")
		_, kc := newKey(t, env, acme.Admin, "acme")
		gk, _ := newKey(t, env, globex.Admin, "globex")
		wantProblem(t, kc.Do("DELETE", "/v1/api-keys/"+gk.ID, nil), http.StatusNotFound)
		var list []keyJSON
		kc.Do("GET", "/v1/api-keys", nil).JSON(t, &list)
		for _, k := range list {
			if k.ID == gk.ID {
				t.Fatal("Acme's key lists Globex's key")
			}
		}
		var n int
		if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM api_keys WHERE workspace_id = ?`, globex.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("globex keys = %d, %v", n, err)
		}
	})
}
