package app_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// After a full flow — signing secret generated, revealed and rotated, an API key created
// and used, a platform token created and used, a delivery made, a password sign-in — no
// table holds any of those secrets in plain text, and the logs do not either.
func TestSecretsHygiene(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		rcv := testkit.NewReceiver(t)

		ws := env.NewWorkspace("Hygiene")
		secrets := map[string]string{"admin password": "correct horse battery"}

		var ep struct{ ID string }
		mustDo(t, ws.Admin, 201, "POST", "/v1/endpoints", map[string]any{"url": rcv.URL + "/hook"}).JSON(t, &ep)
		var sec struct{ Secret string }
		mustDo(t, ws.Admin, 201, "POST", "/v1/signing-secret", nil).JSON(t, &sec)
		secrets["signing secret (first)"] = sec.Secret
		var shown struct{ Secret string }
		mustDo(t, ws.Admin, 200, "POST", "/v1/signing-secret/reveal", nil).JSON(t, &shown)
		if shown.Secret != sec.Secret {
			t.Fatalf("reveal = %q, want the generated secret", shown.Secret)
		}
		var rotated struct{ Secret string }
		mustDo(t, ws.Admin, 200, "POST", "/v1/signing-secret/rotate", map[string]any{"graceSeconds": 3600}).JSON(t, &rotated)
		secrets["signing secret (current)"] = rotated.Secret
		if rotated.Secret == sec.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
			t.Fatalf("rotate gave %q", rotated.Secret)
		}

		// The signing key pair (issue 15), rotated with a grace window so both private keys
		// sign the deliveries below. The API never returns them; the delivery engine's lookup
		// is the oracle for what must appear nowhere.
		mustDo(t, ws.Admin, 200, "POST", "/v1/signing-key", nil)
		mustDo(t, ws.Admin, 200, "POST", "/v1/signing-key/rotate", map[string]any{"graceSeconds": 3600})
		tg, err := env.App.Endpoints.Target(context.Background(), ws.ID, ep.ID)
		if err != nil || len(tg.Keys) != 2 {
			t.Fatalf("Target keys: %v, %v", tg.Keys, err)
		}
		for i, k := range tg.Keys {
			secrets[fmt.Sprintf("private signing key #%d", i+1)] = k.String()
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(k.String(), "whsk_"))
			secrets[fmt.Sprintf("private signing key #%d seed", i+1)] = base64.StdEncoding.EncodeToString(raw[:32])[:40]
		}

		// An API key, created and used.
		var created map[string]any
		mustDo(t, ws.Admin, 201, "POST", "/v1/api-keys", map[string]any{"name": "hygiene"}).JSON(t, &created)
		key := ""
		for _, v := range created {
			if s, ok := v.(string); ok && strings.HasPrefix(s, "rdk_") && len(s) > 20 {
				key = s
			}
		}
		if key == "" {
			t.Fatalf("no rdk_ key in %v", created)
		}
		secrets["API key"] = key
		if res := bearer(t, env, key, "GET", "/v1/me", ""); res.StatusCode != 200 {
			t.Fatalf("GET /v1/me with the API key = %d", res.StatusCode)
		}

		// A platform token, used to publish an event that is delivered, through a relay.
		producer := env.PlatformToken()
		secrets["platform token"] = producer.Bearer
		var rl struct{ ID string }
		mustDo(t, ws.Admin, 201, "POST", "/v1/relays/from-template", map[string]any{"templateId": "all-inbound", "endpointId": ep.ID}).JSON(t, &rl)
		mustDo(t, ws.Admin, 200, "POST", "/v1/relays/"+rl.ID+"/enable", nil)
		mustDo(t, producer, 202, "POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": message(ws.ID, "hygiene")})
		testkit.Eventually(t, 20*time.Second, "the event to be delivered", func() bool { return rcv.Len() > 0 })
		// A test event too (signed with both secrets during the grace window).
		ws.Admin.Do("POST", "/v1/endpoints/"+ep.ID+"/test", nil)

		// The session cookie is a bearer credential as well.
		signIn := env.Anonymous().Do("POST", "/v1/sessions", map[string]string{"email": "hygiene-admin@example.test", "password": "correct horse battery"})
		for _, c := range (&http.Response{Header: signIn.Header}).Cookies() {
			if c.Name == auth.CookieName {
				secrets["session token"] = c.Value
			}
		}

		// Forms a secret could be stored in: as shown, and the base64 key without its prefix.
		needles := map[string]string{}
		for name, s := range secrets {
			if s == "" {
				t.Fatalf("%s is empty", name)
			}
			needles[name] = s
			if _, rest, ok := strings.Cut(s, "_"); ok && len(rest) >= 16 && name != "admin password" {
				needles[name+" without prefix"] = rest
			}
		}

		cells, tables := 0, 0
		for _, tb := range tableNames(t, env.DB()) {
			tables++
			forEachCell(t, env.DB(), tb, func(col, val string) {
				cells++
				for name, s := range needles {
					if strings.Contains(val, s) {
						t.Errorf("table %s column %s holds the %s in plain text", tb, col, name)
					}
				}
			})
		}
		logs := env.Logs.String()
		for name, s := range needles {
			if strings.Contains(logs, s) {
				t.Errorf("the logs contain the %s", name)
			}
		}
		t.Logf("secrets hygiene: %d secrets (%d forms) searched in %d cells of %d tables and %d bytes of logs", len(secrets), len(needles), cells, tables, len(logs))
	})
}

// Session cookies: HttpOnly, SameSite=Lax, Secure under TLS or with SecureCookies; a new
// token at every sign-in (a cookie planted before sign-in is not the one after); sign-out
// ends the session on the server (the old value replayed → 401).
func TestSessionHygiene(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		env.NewWorkspace("Sessions")
		creds := map[string]string{"email": "sessions-admin@example.test", "password": "correct horse battery"}

		// Over TLS, the cookie is Secure.
		tlsSrv := httptest.NewTLSServer(env.App.Handler())
		defer tlsSrv.Close()
		ck := signInCookie(t, tlsSrv.Client(), tlsSrv.URL, creds, "")
		if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
			t.Errorf("cookie over TLS: Secure=%v HttpOnly=%v SameSite=%v Path=%q; want Secure, HttpOnly, Lax, /", ck.Secure, ck.HttpOnly, ck.SameSite, ck.Path)
		}
		// Plain HTTP without SecureCookies: not Secure (the browser would drop it), but HttpOnly and Lax.
		plain := signInCookie(t, env.Server.Client(), env.URL(), creds, "")
		if plain.Secure || !plain.HttpOnly || plain.SameSite != http.SameSiteLaxMode {
			t.Errorf("cookie over plain HTTP: Secure=%v HttpOnly=%v SameSite=%v", plain.Secure, plain.HttpOnly, plain.SameSite)
		}

		// Renewal: a cookie held before sign-in (a previous session, or one planted by an
		// attacker) is not the one after.
		planted := "planted-by-an-attacker-0123456789abcdef"
		after := signInCookie(t, env.Server.Client(), env.URL(), creds, planted)
		if after.Value == planted {
			t.Fatal("sign-in kept the planted session token")
		}
		if res := withCookie(t, env.URL(), "GET", "/v1/me", planted); res != http.StatusUnauthorized {
			t.Errorf("planted token after sign-in: GET /v1/me = %d, want 401", res)
		}
		again := signInCookie(t, env.Server.Client(), env.URL(), creds, after.Value)
		if again.Value == after.Value {
			t.Fatal("signing in again with a session kept the same token")
		}

		// Sign-out invalidates on the server: the old value replayed is refused.
		if res := withCookie(t, env.URL(), "GET", "/v1/me", again.Value); res != http.StatusOK {
			t.Fatalf("GET /v1/me with the session = %d", res)
		}
		if res := withCookie(t, env.URL(), "DELETE", "/v1/sessions/current", again.Value); res != http.StatusNoContent {
			t.Fatalf("sign out = %d", res)
		}
		for _, path := range []string{"/v1/me", "/v1/endpoints"} {
			if res := withCookie(t, env.URL(), "GET", path, again.Value); res != http.StatusUnauthorized {
				t.Errorf("replayed cookie after sign-out: GET %s = %d, want 401", path, res)
			}
		}
		// The other sessions of the same user are not affected by one sign-out.
		if res := withCookie(t, env.URL(), "GET", "/v1/me", after.Value); res != http.StatusOK {
			t.Errorf("another session of the same user after sign-out = %d, want 200", res)
		}
	})
}

// With RELAYDESK_SECURE_COOKIES (behind an HTTPS proxy) the cookie is Secure on plain HTTP too.
func TestSecureCookiesConfig(t *testing.T) {
	env := apptest.SQLite(t, func(c *app.Config) { c.SecureCookies = true })
	env.NewWorkspace("Proxy")
	ck := signInCookie(t, env.Server.Client(), env.URL(), map[string]string{"email": "proxy-admin@example.test", "password": "correct horse battery"}, "")
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie with SecureCookies: Secure=%v HttpOnly=%v SameSite=%v", ck.Secure, ck.HttpOnly, ck.SameSite)
	}
}

// signInCookie signs in through POST /v1/sessions, sending prior as the session cookie when
// not empty, and returns the session cookie set.
func signInCookie(t *testing.T, hc *http.Client, base string, creds map[string]string, prior string) *http.Cookie {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, creds["email"], creds["password"])
	req, _ := http.NewRequest("POST", base+"/v1/sessions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if prior != "" {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: prior})
	}
	c := *hc
	c.Jar, _ = cookiejar.New(nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("sign in = %d %s", res.StatusCode, b)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == auth.CookieName {
			return ck
		}
	}
	t.Fatalf("sign in set no %s cookie: %v", auth.CookieName, res.Header["Set-Cookie"])
	return nil
}

func withCookie(t *testing.T, base, method, path, value string) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: value})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func bearer(t *testing.T, env *apptest.Env, token, method, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, env.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func mustDo(t *testing.T, c *apptest.Client, want int, method, path string, body any) *apptest.Response {
	t.Helper()
	res := c.Do(method, path, body)
	if res.Status != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	return res
}

// forEachCell calls fn with every non-null cell of a table, as text.
func forEachCell(t *testing.T, db *store.DB, table string, fn func(col, val string)) {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT * FROM "`+table+`"`)
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for i, v := range vals {
			if v != nil {
				fn(cols[i], string(v))
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
