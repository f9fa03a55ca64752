package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/auth"
)

func TestSessionsAndMe(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		res := ws.Admin.Do("GET", "/v1/me", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET /v1/me = %d %s", res.Status, res.Body)
		}
		var me struct {
			User      struct{ Email string }
			Workspace struct{ ID string }
			Role      struct {
				Name   string
				Levels map[string]string
			}
			Via string
		}
		res.JSON(t, &me)
		if me.User.Email != "acme-admin@example.test" || me.Workspace.ID != ws.ID || me.Role.Name != "Admin" || me.Via != "session" {
			t.Fatalf("me = %+v", me)
		}
		if me.Role.Levels["developer"] != "owner" || me.Role.Levels["team"] != "owner" {
			t.Fatalf("Admin levels = %v", me.Role.Levels)
		}

		// The cookie is HttpOnly, SameSite=Lax, and a new token each sign-in.
		c1 := env.Anonymous().Do("POST", "/v1/sessions", map[string]string{"email": "ACME-admin@example.test", "password": "correct horse battery"})
		c2 := env.Anonymous().Do("POST", "/v1/sessions", map[string]string{"email": "acme-admin@example.test", "password": "correct horse battery"})
		if c1.Status != 201 || c2.Status != 201 {
			t.Fatalf("sign in = %d, %d", c1.Status, c2.Status)
		}
		ck1, ck2 := c1.Header.Get("Set-Cookie"), c2.Header.Get("Set-Cookie")
		for _, want := range []string{auth.CookieName + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(ck1, want) {
				t.Errorf("cookie %q lacks %q", ck1, want)
			}
		}
		if ck1 == ck2 {
			t.Error("two sign-ins got the same session token")
		}

		// Sign-out ends the session on the server: the old cookie no longer works.
		if res := ws.Admin.Do("DELETE", "/v1/sessions/current", nil); res.Status != http.StatusNoContent {
			t.Fatalf("sign out = %d %s", res.Status, res.Body)
		}
		if res := ws.Admin.Do("GET", "/v1/me", nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("after sign-out GET /v1/me = %d, want 401", res.Status)
		}
	})
}

func TestUnauthenticatedAPIIs401Problem(t *testing.T) {
	env := apptest.SQLite(t)
	anon := env.Anonymous()
	n := 0
	for _, r := range env.App.Routes.Routes() {
		if r.Kind != "api" || r.Need.Auth == access.Public {
			continue
		}
		n++
		path := strings.NewReplacer("{id}", "01HZZZZZZZZZZZZZZZZZZZZZZZ", "{userId}", "01HZZZZZZZZZZZZZZZZZZZZZZZ", "{event}", "MessageReceived").Replace(r.Path)
		res := anon.Do(r.Method, path, nil)
		if res.Status != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials = %d, want 401", r.Method, path, res.Status)
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: Content-Type %q, want application/problem+json", r.Method, path, ct)
		}
		// A garbage bearer token is refused the same way.
		if res := anon.Do(r.Method, path, nil, "Authorization", "Bearer rdp_not-a-real-token"); res.Status != http.StatusUnauthorized {
			t.Errorf("%s %s with a bad platform token = %d, want 401", r.Method, path, res.Status)
		}
	}
	if n < 4 {
		t.Fatalf("walked only %d protected API routes", n)
	}
}

func TestRouteTableCoversEveryOperation(t *testing.T) {
	env := apptest.SQLite(t)
	oapi := env.App.API.API.OpenAPI()
	ops := 0
	for path, item := range oapi.Paths {
		for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil {
				continue
			}
			ops++
			if _, ok := env.App.Routes.Lookup(method, path); !ok {
				t.Errorf("%s %s is served but not in the route table", method, path)
			}
		}
	}
	for _, r := range env.App.Routes.Routes() {
		if r.Kind == "api" && oapi.Paths[r.Path] == nil {
			t.Errorf("route table has %s but the API does not describe it", r)
		}
	}
	if ops == 0 {
		t.Fatal("no operations described")
	}

	// An operation registered around Register has no declared need: the middleware refuses it.
	huma.Register(env.App.API.API, huma.Operation{OperationID: "undeclared", Method: "GET", Path: "/v1/undeclared"},
		func(context.Context, *struct{}) (*struct{}, error) { return &struct{}{}, nil })
	res := env.Anonymous().Do("GET", "/v1/undeclared", nil)
	if res.Status != http.StatusInternalServerError || !strings.Contains(string(res.Body), "declares no access requirement") {
		t.Fatalf("undeclared route = %d %s; want it refused", res.Status, res.Body)
	}
	if _, ok := env.App.Routes.Lookup("GET", "/v1/undeclared"); ok {
		t.Fatal("undeclared route should not be in the table")
	}
}

func TestBadInput(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	platform := env.PlatformToken()
	cases := []struct {
		name   string
		c      *apptest.Client
		method string
		path   string
		body   any
		want   int
		detail string
	}{
		{"malformed JSON", env.Anonymous(), "POST", "/v1/sessions", `{"email": "a@b.test", "password":`, 400, ""},
		{"wrong type", env.Anonymous(), "POST", "/v1/sessions", `{"email": 5, "password": "x"}`, 422, "email"},
		{"unknown field", env.Anonymous(), "POST", "/v1/sessions", `{"email": "a@b.test", "password": "12345678", "admin": true}`, 422, "admin"},
		{"oversize body", env.Anonymous(), "POST", "/v1/sessions", `{"email": "` + strings.Repeat("a", 100<<10) + `", "password": "x"}`, 413, ""},
		{"too long field", env.Anonymous(), "POST", "/v1/sessions", `{"email": "` + strings.Repeat("a", 300) + `", "password": "x"}`, 422, "email"},
		{"unknown query parameter", ws.Admin, "GET", "/v1/me?debug=1", nil, 422, "debug"},
		{"bad email for platform workspace", platform, "POST", "/v1/platform/workspaces", map[string]string{"name": "X", "adminEmail": "nope", "adminPassword": "12345678"}, 422, "email"},
		{"short password", platform, "POST", "/v1/platform/workspaces", map[string]string{"name": "X", "adminEmail": "x@y.test", "adminPassword": "short"}, 422, "adminPassword"},
		{"member cannot use platform route", ws.Admin, "POST", "/v1/platform/workspaces", map[string]string{"name": "X", "adminEmail": "x@y.test", "adminPassword": "12345678"}, 403, "platform"},
		{"platform token is not a member", platform, "GET", "/v1/me", nil, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.c.Do(tc.method, tc.path, tc.body)
			if res.Status != tc.want {
				t.Fatalf("status = %d, want %d: %s", res.Status, tc.want, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type = %q", ct)
			}
			if !strings.Contains(string(res.Body), tc.detail) {
				t.Fatalf("body %s does not name %q", res.Body, tc.detail)
			}
		})
	}
	var users int
	if err := env.DB().QueryRow(context.Background(), "SELECT COUNT(*) FROM users").Scan(&users); err != nil || users != 1 {
		t.Fatalf("users after bad input = %d, %v; want 1 (nothing half-written)", users, err)
	}
}

func TestPlatformCreatesWorkspace(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		p := env.PlatformToken()
		res := p.Do("POST", "/v1/platform/workspaces", map[string]string{"name": "Beta", "adminEmail": "boss@beta.test", "adminPassword": "long enough pw"})
		if res.Status != http.StatusCreated {
			t.Fatalf("create = %d %s", res.Status, res.Body)
		}
		c := env.SignIn("boss@beta.test", "long enough pw")
		var me struct{ Role struct{ Name string } }
		c.Do("GET", "/v1/me", nil).JSON(t, &me)
		if me.Role.Name != "Admin" {
			t.Fatalf("role = %q", me.Role.Name)
		}
		// The same email with another password cannot be attached to a second workspace.
		res = p.Do("POST", "/v1/platform/workspaces", map[string]string{"name": "Gamma", "adminEmail": "boss@beta.test", "adminPassword": "wrong password!"})
		if res.Status != http.StatusConflict {
			t.Fatalf("second workspace with wrong password = %d %s", res.Status, res.Body)
		}
	})
}

func TestSignInThrottlePerAccountAndIP(t *testing.T) {
	env := apptest.SQLite(t)
	env.NewWorkspace("Acme")
	attacker := env.Anonymous()
	for i := 0; i < 5; i++ {
		if res := attacker.Do("POST", "/v1/sessions", map[string]string{"email": "acme-admin@example.test", "password": "wrong-guess"}); res.Status != 401 {
			t.Fatalf("guess %d = %d", i, res.Status)
		}
	}
	res := attacker.Do("POST", "/v1/sessions", map[string]string{"email": "acme-admin@example.test", "password": "correct horse battery"})
	if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt from the same IP = %d (Retry-After %q), want 429", res.Status, res.Header.Get("Retry-After"))
	}
	// Another account from the same IP is not throttled.
	env.NewWorkspace("Other")
	if res := attacker.Do("POST", "/v1/sessions", map[string]string{"email": "other-admin@example.test", "password": "correct horse battery"}); res.Status != 201 {
		t.Fatalf("other account from same IP = %d", res.Status)
	}
	// The same account from another IP is not locked out: the throttle keys on account+IP.
	if w := env.App.API.Throttle.Wait("acme-admin@example.test", "192.0.2.7"); w != 0 {
		t.Fatalf("another IP must not wait, got %s", w)
	}
	if w := env.App.API.Throttle.Wait("acme-admin@example.test", "127.0.0.1"); w == 0 {
		t.Fatal("the guessing IP should wait")
	}
}

func TestCrossSitePostRefused(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	res := ws.Admin.Do("DELETE", "/v1/sessions/current", nil, "Sec-Fetch-Site", "cross-site")
	if res.Status != http.StatusForbidden {
		t.Fatalf("cross-site DELETE = %d, want 403", res.Status)
	}
	res = env.Anonymous().Do("POST", "/signin", "email=a%40b.test&password=x", "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	if res.Status != http.StatusForbidden {
		t.Fatalf("cross-origin form POST = %d, want 403", res.Status)
	}
	// The session survived the refused request.
	if res := ws.Admin.Do("GET", "/v1/me", nil); res.Status != 200 {
		t.Fatalf("session after refused cross-site request = %d", res.Status)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	env := apptest.SQLite(t)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "go_goroutines"} {
		res := env.Anonymous().Do("GET", path, nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), want) {
			t.Errorf("GET %s = %d %.100s", path, res.Status, res.Body)
		}
	}
}
