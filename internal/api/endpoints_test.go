package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

type problemBody struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

type secretBody struct {
	Secret              string     `json:"secret"`
	Exists              bool       `json:"exists"`
	Fingerprint         string     `json:"fingerprint"`
	CreatedAt           *time.Time `json:"createdAt"`
	RotatedAt           *time.Time `json:"rotatedAt"`
	PreviousFingerprint string     `json:"previousFingerprint"`
	PreviousExpiresAt   *time.Time `json:"previousExpiresAt"`
}

func want(t *testing.T, res *apptest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
}

func privateOff(c *app.Config) { c.AllowPrivateEndpoints = false }

// Must show 2: each bad URL is refused with its own reason, at body.url, with private
// endpoints off; a name that resolves to 127.0.0.1 is caught by resolving it.
func TestEndpointURLRefusals(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		env.App.Endpoints.SetPolicy(egress.Policy{Resolver: egress.StaticResolver{
			"hooks.example.com": {"93.184.215.14"}, "rebind.example.com": {"127.0.0.1"},
		}})
		ws := env.NewWorkspace("Acme")
		cases := []struct{ url, reason string }{
			{"http://hooks.example.com/h", "the URL must use https"},
			{"https://localhost/h", "the host localhost is this machine"},
			{"https://127.0.0.1/h", "127.0.0.1 is a loopback address"},
			{"https://10.0.0.1/h", "10.0.0.1 is a private (RFC 1918) address"},
			{"https://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata service address"},
			{"https://[::1]/h", "::1 is a loopback address"},
			{"https://[::ffff:10.0.0.1]/h", "IPv4-mapped IPv6 form of 10.0.0.1, a private (RFC 1918) address"},
			{"https://user:pass@hooks.example.com/h", "must not contain a user name or password"},
			{"ftp://hooks.example.com/h", "the URL must use https, not ftp"},
			{"https://rebind.example.com/h", "rebind.example.com resolves to 127.0.0.1, a loopback address"},
			{"https://hooks.example.com/" + strings.Repeat("a", 3000), "characters long; the limit is 2048"},
			{"https://hooks.example.com/h#frag", "must not contain a fragment"},
			{"/relative", "must be absolute"},
		}
		for _, c := range cases {
			res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": c.url})
			var p problemBody
			res.JSON(t, &p)
			if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != "body.url" ||
				!strings.Contains(p.Errors[0].Message, c.reason) || !strings.Contains(p.Detail, c.reason) {
				t.Errorf("%.60s: %d %s; want 422 at body.url saying %q", c.url, res.Status, res.Body, c.reason)
			}
		}
		// Nothing was saved; a public name is accepted, normalised.
		var list struct{ Endpoints []endpoint.Endpoint }
		ws.Admin.Do("GET", "/v1/endpoints", nil).JSON(t, &list)
		if len(list.Endpoints) != 0 {
			t.Fatalf("refused URLs were saved: %+v", list.Endpoints)
		}
		res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "HTTPS://Hooks.Example.COM/h?x=1"})
		want(t, res, http.StatusCreated)
		var e endpoint.Endpoint
		res.JSON(t, &e)
		if e.URL != "https://hooks.example.com/h?x=1" || !e.Enabled {
			t.Fatalf("saved %+v", e)
		}
		// The same rules on PATCH.
		res = ws.Admin.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"url": "https://10.0.0.1/h"})
		want(t, res, http.StatusUnprocessableEntity)
		if !strings.Contains(string(res.Body), "body.url") {
			t.Fatalf("PATCH refusal does not name body.url: %s", res.Body)
		}
	}, privateOff)
}

func TestEndpointsCRUDAndPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		viewer := ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})
		editor := ws.AddMember("editor@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		operator := ws.AddMember("operator@acme.test", "Operator", nil)

		res := editor.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook", "description": "staging"})
		want(t, res, http.StatusCreated)
		var e endpoint.Endpoint
		res.JSON(t, &e)
		if res.Header.Get("Location") != "/v1/endpoints/"+e.ID || e.Description != "staging" || !e.Enabled || e.DisabledReason != "" {
			t.Fatalf("created %+v (Location %q)", e, res.Header.Get("Location"))
		}

		// Viewers read; they do not change.
		want(t, viewer.Do("GET", "/v1/endpoints", nil), http.StatusOK)
		want(t, viewer.Do("GET", "/v1/endpoints/"+e.ID, nil), http.StatusOK)
		want(t, viewer.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/x"}), http.StatusForbidden)
		want(t, viewer.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"enabled": false}), http.StatusForbidden)
		want(t, viewer.Do("POST", "/v1/endpoints/"+e.ID+"/test", nil), http.StatusForbidden)
		// No developer access at all.
		want(t, operator.Do("GET", "/v1/endpoints", nil), http.StatusForbidden)
		want(t, operator.Do("GET", "/v1/signing-secret", nil), http.StatusForbidden)
		// Editors edit but do not delete.
		want(t, editor.Do("DELETE", "/v1/endpoints/"+e.ID, nil), http.StatusForbidden)

		// Description limit, named.
		res = editor.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"description": strings.Repeat("é", 501)})
		want(t, res, http.StatusUnprocessableEntity)
		if !strings.Contains(string(res.Body), "body.description") {
			t.Fatalf("description refusal: %s", res.Body)
		}
		// Control characters (NUL would not even fit in a PostgreSQL TEXT) are refused, named.
		res = editor.Do("PATCH", "/v1/endpoints/"+e.ID, `{"description":"a\u0000b"}`)
		want(t, res, http.StatusUnprocessableEntity)
		if !strings.Contains(string(res.Body), "body.description") || !strings.Contains(string(res.Body), "control characters") {
			t.Fatalf("NUL refusal: %s", res.Body)
		}
		// Unknown fields are refused.
		want(t, editor.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"workspaceId": "x"}), http.StatusUnprocessableEntity)

		// relaydesk disables it (410 Gone); re-enabling clears the reason.
		if err := env.App.Endpoints.Disable(context.Background(), ws.ID, e.ID, "the receiver answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		var got endpoint.Endpoint
		viewer.Do("GET", "/v1/endpoints/"+e.ID, nil).JSON(t, &got)
		if got.Enabled || got.DisabledReason != "the receiver answered 410 Gone" {
			t.Fatalf("after Disable: %+v", got)
		}
		tg, err := env.App.Endpoints.Target(context.Background(), ws.ID, e.ID)
		if err != nil || tg.Enabled || tg.DisabledReason == "" || tg.URL != e.URL {
			t.Fatalf("Target after Disable: %+v, %v", tg, err)
		}
		res = editor.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"enabled": true})
		want(t, res, http.StatusOK)
		res.JSON(t, &got)
		if !got.Enabled || got.DisabledReason != "" || !got.UpdatedAt.After(e.UpdatedAt) {
			t.Fatalf("re-enabled: %+v", got)
		}
		if tg, _ := env.App.Endpoints.Target(context.Background(), ws.ID, e.ID); !tg.Enabled {
			t.Fatal("Target still disabled after re-enabling in this process")
		}

		// Another workspace sees none of it.
		other := env.NewWorkspace("Other")
		want(t, other.Admin.Do("GET", "/v1/endpoints/"+e.ID, nil), http.StatusNotFound)
		want(t, other.Admin.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"enabled": false}), http.StatusNotFound)
		want(t, other.Admin.Do("DELETE", "/v1/endpoints/"+e.ID, nil), http.StatusNotFound)
		if _, err := env.App.Endpoints.Target(context.Background(), other.ID, e.ID); err == nil {
			t.Fatal("Target crossed workspaces")
		}

		// The owner deletes; then it is gone for the delivery engine too.
		want(t, ws.Admin.Do("DELETE", "/v1/endpoints/"+e.ID, nil), http.StatusNoContent)
		want(t, ws.Admin.Do("GET", "/v1/endpoints/"+e.ID, nil), http.StatusNotFound)
		if _, err := env.App.Endpoints.Target(context.Background(), ws.ID, e.ID); err == nil {
			t.Fatal("Target of a deleted endpoint")
		}

		// The cap is explicit.
		for i := range endpoint.MaxPerWorkspace {
			want(t, editor.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/h" + string(rune('a'+i))}), http.StatusCreated)
		}
		res = editor.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/one-too-many"})
		want(t, res, http.StatusConflict)
		if !strings.Contains(string(res.Body), "at most 20 endpoints") {
			t.Fatalf("cap message: %s", res.Body)
		}
	})
}

// Must show 3: the database holds only ciphertext, bound to its workspace; the secret is
// never logged. Plus the signing-secret API's shapes and permissions.
func TestSigningSecretAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		viewer := ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})

		var info secretBody
		viewer.Do("GET", "/v1/signing-secret", nil).JSON(t, &info)
		if info.Exists || info.Fingerprint != "" {
			t.Fatalf("before generate: %+v", info)
		}
		want(t, ws.Admin.Do("POST", "/v1/signing-secret/reveal", nil), http.StatusNotFound)
		want(t, ws.Admin.Do("POST", "/v1/signing-secret/rotate", nil), http.StatusConflict)
		want(t, viewer.Do("POST", "/v1/signing-secret", nil), http.StatusForbidden)

		res := ws.Admin.Do("POST", "/v1/signing-secret", nil)
		want(t, res, http.StatusCreated)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", res.Header.Get("Cache-Control"))
		}
		var gen secretBody
		res.JSON(t, &gen)
		sec, err := webhook.ParseSecret(gen.Secret)
		if err != nil || !gen.Exists || gen.Fingerprint != sec.Fingerprint() || gen.CreatedAt == nil {
			t.Fatalf("generated %+v: %v", gen, err)
		}
		want(t, ws.Admin.Do("POST", "/v1/signing-secret", nil), http.StatusConflict)

		// Viewers: fingerprint only, never the secret.
		res = viewer.Do("GET", "/v1/signing-secret", nil)
		res.JSON(t, &info)
		if !info.Exists || info.Fingerprint != sec.Fingerprint() || strings.Contains(string(res.Body), gen.Secret) {
			t.Fatalf("viewer sees %s", res.Body)
		}
		want(t, viewer.Do("POST", "/v1/signing-secret/reveal", nil), http.StatusForbidden)
		want(t, viewer.Do("POST", "/v1/signing-secret/rotate", nil), http.StatusForbidden)

		var rev secretBody
		ws.Admin.Do("POST", "/v1/signing-secret/reveal", nil).JSON(t, &rev)
		if rev.Secret != gen.Secret {
			t.Fatalf("revealed %q, generated %q", rev.Secret, gen.Secret)
		}

		// Grace bounds.
		for _, g := range []int{-1, 86401} {
			res := ws.Admin.Do("POST", "/v1/signing-secret/rotate", map[string]any{"graceSeconds": g})
			want(t, res, http.StatusUnprocessableEntity)
		}
		var rot secretBody
		res = ws.Admin.Do("POST", "/v1/signing-secret/rotate", map[string]any{"graceSeconds": 600})
		want(t, res, http.StatusOK)
		res.JSON(t, &rot)
		if rot.Secret == gen.Secret || rot.PreviousFingerprint != sec.Fingerprint() || rot.PreviousExpiresAt == nil || rot.RotatedAt == nil {
			t.Fatalf("rotated %+v", rot)
		}
		viewer.Do("GET", "/v1/signing-secret", nil).JSON(t, &info)
		if info.PreviousFingerprint != sec.Fingerprint() || info.PreviousExpiresAt == nil {
			t.Fatalf("viewer during grace: %+v", info)
		}

		// The raw columns hold neither secret, in any encoding.
		var cur, prev string
		if err := env.DB().QueryRow(context.Background(), `SELECT ciphertext, previous_ciphertext FROM signing_secrets WHERE workspace_id = ?`, ws.ID).Scan(&cur, &prev); err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		rows, err := env.DB().Query(context.Background(), `SELECT ciphertext, fingerprint, COALESCE(previous_ciphertext, ''), COALESCE(previous_fingerprint, '') FROM signing_secrets`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c, d string
			if err := rows.Scan(&a, &b, &c, &d); err != nil {
				t.Fatal(err)
			}
			all.WriteString(a + b + c + d)
		}
		rows.Close()
		for _, s := range []string{gen.Secret, rot.Secret} {
			key := strings.TrimPrefix(s, "whsec_")
			if strings.Contains(all.String(), key) || strings.Contains(all.String(), key[:20]) {
				t.Fatalf("plaintext secret %s… in the signing_secrets table", s[:10])
			}
		}
		if !strings.HasPrefix(cur, "v1:") || !strings.HasPrefix(prev, "v1:") || cur == prev {
			t.Fatalf("stored forms %q / %q", cur, prev)
		}
		// A ciphertext moved to another workspace does not decrypt there.
		other := env.NewWorkspace("Other")
		want(t, other.Admin.Do("POST", "/v1/signing-secret", nil), http.StatusCreated)
		if _, err := env.DB().Exec(context.Background(), `UPDATE signing_secrets SET ciphertext = ? WHERE workspace_id = ?`, cur, other.ID); err != nil {
			t.Fatal(err)
		}
		res = other.Admin.Do("POST", "/v1/signing-secret/reveal", nil)
		want(t, res, http.StatusInternalServerError)
		if strings.Contains(string(res.Body), rot.Secret) {
			t.Fatal("moved ciphertext revealed the other workspace's secret")
		}

		// Never logged.
		logs := env.Logs.String()
		for _, s := range []string{gen.Secret, rot.Secret, strings.TrimPrefix(gen.Secret, "whsec_")} {
			if strings.Contains(logs, s) {
				t.Fatal("a signing secret is in the logs")
			}
		}
	})
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Must show 4: after a rotation with grace 0 a test event verifies only with the new secret;
// with grace > 0 it verifies with either until the window ends, then only with the new one.
func TestTestSendAcrossRotations(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		clk := &clock{t: time.Now()}
		env.App.Endpoints.SetClock(clk.Now)
		recv := testkit.NewReceiver(t)
		ws := env.NewWorkspace("Acme")
		var e endpoint.Endpoint
		ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": recv.URL + "/hook"}).JSON(t, &e)

		// No secret yet: a clear 409, nothing sent.
		res := ws.Admin.Do("POST", "/v1/endpoints/"+e.ID+"/test", nil)
		want(t, res, http.StatusConflict)
		if !strings.Contains(string(res.Body), "generate a signing secret first") {
			t.Fatalf("no-secret message: %s", res.Body)
		}

		send := func() testkit.Request {
			t.Helper()
			res := ws.Admin.Do("POST", "/v1/endpoints/"+e.ID+"/test", nil)
			want(t, res, http.StatusOK)
			var tr endpoint.TestResult
			res.JSON(t, &tr)
			if !tr.OK || tr.Status != 200 || tr.Error != "" || tr.ResponseExcerpt != `{"received":true}` || tr.EventID == "" {
				t.Fatalf("test result %+v", tr)
			}
			c := recv.Last(t)
			if c.Header.Get("webhook-id") != tr.EventID || c.Header.Get("X-MessageDesk-Event") != "TestEvent" {
				t.Fatalf("headers %v", c.Header)
			}
			return c
		}
		// verifies reports whether each scheme accepts the request with only sec.
		verifies := func(c testkit.Request, sec string) (standard, messagedesk bool) {
			v := &webhook.Verifier{Secrets: []webhook.Secret{webhook.MustParseSecret(sec)}, Now: clk.Now}
			_, err := v.Verify(c.Header, c.Body)
			standard = err == nil
			if err != nil && !errors.Is(err, webhook.ErrNoMatchingSignature) {
				t.Fatalf("verify: %v", err)
			}
			md := c.Header.Clone()
			for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
				md.Del(k)
			}
			_, err = v.Verify(md, c.Body)
			return standard, err == nil
		}

		var s1, s2, s3 secretBody
		ws.Admin.Do("POST", "/v1/signing-secret", nil).JSON(t, &s1)
		c := send()
		if st, md := verifies(c, s1.Secret); !st || !md {
			t.Fatalf("first secret: standard %v, X-MessageDesk %v", st, md)
		}
		if !strings.Contains(string(c.Body), `"name":"TestEvent"`) || !strings.Contains(string(c.Body), `"workspaceId":"`+ws.ID+`"`) {
			t.Fatalf("body %s", c.Body)
		}

		// Grace 0: the old secret stops at once.
		ws.Admin.Do("POST", "/v1/signing-secret/rotate", map[string]any{"graceSeconds": 0}).JSON(t, &s2)
		c = send()
		if st, md := verifies(c, s2.Secret); !st || !md {
			t.Fatalf("new secret after grace-0 rotation: standard %v, X-MessageDesk %v", st, md)
		}
		if st, md := verifies(c, s1.Secret); st || md {
			t.Fatalf("old secret still verifies after grace-0 rotation: standard %v, X-MessageDesk %v", st, md)
		}
		if n := len(strings.Fields(c.Header.Get("webhook-signature"))); n != 1 {
			t.Fatalf("%d signatures after grace-0 rotation", n)
		}
		tg, err := env.App.Endpoints.Target(context.Background(), ws.ID, e.ID)
		if err != nil || len(tg.Secrets) != 1 || tg.Secrets[0].String() != s2.Secret {
			t.Fatalf("Target secrets after grace-0 rotation: %d, %v", len(tg.Secrets), err)
		}

		// Grace 1 h: both verify (webhook-signature); X-MessageDesk-Signature is the new one.
		ws.Admin.Do("POST", "/v1/signing-secret/rotate", map[string]any{"graceSeconds": 3600}).JSON(t, &s3)
		c = send()
		if st, md := verifies(c, s3.Secret); !st || !md {
			t.Fatalf("new secret during grace: standard %v, X-MessageDesk %v", st, md)
		}
		if st, md := verifies(c, s2.Secret); !st || md {
			t.Fatalf("previous secret during grace: standard %v (want true), X-MessageDesk %v (want false)", st, md)
		}
		if st, _ := verifies(c, s1.Secret); st {
			t.Fatal("the secret from two rotations ago verifies")
		}
		tg, _ = env.App.Endpoints.Target(context.Background(), ws.ID, e.ID)
		if len(tg.Secrets) != 2 || tg.Secrets[0].String() != s3.Secret || tg.Secrets[1].String() != s2.Secret {
			t.Fatalf("Target secrets during grace: %d", len(tg.Secrets))
		}

		// Still inside the window a minute before it ends…
		clk.Add(59 * time.Minute)
		if st, _ := verifies(send(), s2.Secret); !st {
			t.Fatal("previous secret stopped before its window ended")
		}
		// …and not after.
		clk.Add(2 * time.Minute)
		c = send()
		if st, _ := verifies(c, s2.Secret); st {
			t.Fatal("previous secret still verifies after its window ended")
		}
		if st, md := verifies(c, s3.Secret); !st || !md {
			t.Fatal("new secret after the window")
		}
		tg, _ = env.App.Endpoints.Target(context.Background(), ws.ID, e.ID)
		if len(tg.Secrets) != 1 {
			t.Fatalf("Target secrets after the window: %d", len(tg.Secrets))
		}
		var info secretBody
		ws.Admin.Do("GET", "/v1/signing-secret", nil).JSON(t, &info)
		if info.PreviousFingerprint != "" || info.PreviousExpiresAt != nil {
			t.Fatalf("info after the window: %+v", info)
		}

		// A failing receiver: the result says so, still 200 from the API.
		recv.Reply(http.StatusServiceUnavailable, `{"received":true}`)
		var tr endpoint.TestResult
		ws.Admin.Do("POST", "/v1/endpoints/"+e.ID+"/test", nil).JSON(t, &tr)
		if tr.OK || tr.Status != 503 {
			t.Fatalf("failing receiver: %+v", tr)
		}
		// Nobody listening: an error, no status.
		recv.Close()
		ws.Admin.Do("POST", "/v1/endpoints/"+e.ID+"/test", nil).JSON(t, &tr)
		if tr.OK || tr.Status != 0 || tr.Error == "" {
			t.Fatalf("closed receiver: %+v", tr)
		}
	})
}

// Must show 5: each sensitive action is in the audit log with the acting user; the log is
// for workspace owners and pages by cursor.
func TestAuditLogForEndpointsAndSecret(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		editor := ws.AddMember("editor@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		devOwner := ws.AddMember("devowner@acme.test", "Dev owner", access.Levels{access.Developer: access.Owner})

		var e endpoint.Endpoint
		editor.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook?token=s3cr3t"}).JSON(t, &e)
		want(t, editor.Do("PATCH", "/v1/endpoints/"+e.ID, map[string]any{"enabled": false}), http.StatusOK)
		want(t, editor.Do("POST", "/v1/signing-secret", nil), http.StatusCreated)
		want(t, ws.Admin.Do("POST", "/v1/signing-secret/reveal", nil), http.StatusOK)
		want(t, editor.Do("POST", "/v1/signing-secret/rotate", map[string]any{"graceSeconds": 60}), http.StatusOK)
		want(t, devOwner.Do("DELETE", "/v1/endpoints/"+e.ID, nil), http.StatusNoContent)

		// Only owners read the log.
		want(t, editor.Do("GET", "/v1/audit-log", nil), http.StatusForbidden)
		want(t, devOwner.Do("GET", "/v1/audit-log", nil), http.StatusForbidden)

		var page struct {
			Entries    []audit.Entry `json:"entries"`
			NextCursor string        `json:"nextCursor"`
		}
		res := ws.Admin.Do("GET", "/v1/audit-log?limit=100", nil)
		want(t, res, http.StatusOK)
		res.JSON(t, &page)
		if strings.Contains(string(res.Body), "s3cr3t") {
			t.Fatalf("the audit log holds the URL's query string: %s", res.Body)
		}
		wantActs := []struct{ action, actor string }{
			{"endpoint.delete", "devowner@acme.test"},
			{"secret.rotate", "editor@acme.test"},
			{"secret.reveal", ws.Admin.Email},
			{"secret.generate", "editor@acme.test"},
			{"endpoint.update", "editor@acme.test"},
			{"endpoint.create", "editor@acme.test"},
		}
		var got []audit.Entry
		for _, en := range page.Entries {
			if strings.HasPrefix(en.Action, "endpoint.") || strings.HasPrefix(en.Action, "secret.") {
				got = append(got, en)
			}
		}
		if len(got) != len(wantActs) {
			t.Fatalf("audit entries %+v", got)
		}
		for i, w := range wantActs {
			en := got[i]
			if en.Action != w.action || en.Actor != w.actor || en.ActorUserID == "" || en.CreatedAt.IsZero() {
				t.Errorf("entry %d = %s by %s (%q); want %s by %s", i, en.Action, en.Actor, en.ActorUserID, w.action, w.actor)
			}
		}
		if !strings.Contains(string(got[1].Detail), `"graceSeconds":60`) {
			t.Errorf("rotate detail %s", got[1].Detail)
		}

		// relaydesk's own disabling is recorded as the system.
		editor.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/b"}).JSON(t, &e)
		if err := env.App.Endpoints.Disable(context.Background(), ws.ID, e.ID, "the receiver answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		var last struct{ Entries []audit.Entry }
		ws.Admin.Do("GET", "/v1/audit-log?limit=1", nil).JSON(t, &last)
		if len(last.Entries) != 1 || last.Entries[0].Action != "endpoint.disable" || last.Entries[0].Actor != "system" || last.Entries[0].ActorUserID != "" {
			t.Fatalf("disable entry %+v", last.Entries)
		}

		// Pages follow the cursor without overlap.
		seen := map[string]bool{}
		cursor, n := "", 0
		for {
			q := "/v1/audit-log?limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			page.Entries, page.NextCursor = nil, ""
			ws.Admin.Do("GET", q, nil).JSON(t, &page)
			if len(page.Entries) == 0 {
				t.Fatalf("page %d is empty: the previous page's nextCursor promised more", n+1)
			}
			for _, en := range page.Entries {
				if seen[en.ID] {
					t.Fatalf("entry %s on two pages", en.ID)
				}
				seen[en.ID] = true
			}
			n++
			if page.NextCursor == "" || n > 50 {
				break
			}
			cursor = page.NextCursor
		}
		var all struct{ Entries []audit.Entry }
		ws.Admin.Do("GET", "/v1/audit-log?limit=100", nil).JSON(t, &all)
		if len(seen) < 8 || len(seen) != len(all.Entries) {
			t.Fatalf("paged through %d entries of %d", len(seen), len(all.Entries))
		}
		want(t, ws.Admin.Do("GET", "/v1/audit-log?limit=101", nil), http.StatusUnprocessableEntity)
		want(t, ws.Admin.Do("GET", "/v1/audit-log?cursor=zzz", nil), http.StatusUnprocessableEntity)
		want(t, ws.Admin.Do("GET", "/v1/audit-log?cursor=", nil), http.StatusOK)
	})
}
