package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/api"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/store"
)

// hostileCase is one request of the corpus. strict: the input is invalid whatever the
// route, so the answer must be 4xx; otherwise (a field set to an odd but possibly
// acceptable value on a route that takes it) 2xx is allowed too. Never 5xx either way, and a
// 4xx must leave every table as it was.
type hostileCase struct {
	kind, method, path string
	route              access.Route // the route the case is for (path is filled in)
	body               []byte
	strict             bool
	// malformed: the body is not JSON; the caller the route is for must get the one
	// malformed-JSON problem (issue 20), whatever the route.
	malformed bool
}

// malformedBodies are the garbage bodies that are not JSON at all.
var malformedBodies = map[string]bool{"truncated JSON": true, "open brace": true, "not JSON": true, "trailing garbage": true,
	"bare comma": true, "NUL byte": true, "10k [": true}

// checkMalformedShape reports how res differs from the one malformed-JSON answer.
func checkMalformedShape(res *apptest.Response) string {
	var p struct {
		Type, Title, Detail string
		Status              int
		Errors              []struct{ Location, Message string }
	}
	if res.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(res.Body, &p) != nil {
		return fmt.Sprintf("not problem+json: %q %.200s", res.Header.Get("Content-Type"), res.Body)
	}
	switch {
	case res.Status != http.StatusBadRequest || p.Status != http.StatusBadRequest:
		return fmt.Sprintf("status %d (problem says %d), want 400", res.Status, p.Status)
	case p.Type != api.MalformedJSONType:
		return fmt.Sprintf("type %q, want %q", p.Type, api.MalformedJSONType)
	case p.Title != "Malformed JSON" || !strings.HasPrefix(p.Detail, "the request body is not valid JSON: "):
		return fmt.Sprintf("title %q detail %q", p.Title, p.Detail)
	case len(p.Errors) != 1 || p.Errors[0].Location != "body" || p.Errors[0].Message == "":
		return fmt.Sprintf("errors %+v, want one at location body", p.Errors)
	case len(res.Body) > 1024:
		return fmt.Sprintf("%d-byte answer", len(res.Body))
	}
	return ""
}

// Bad ids for path parameters: each must be a 4xx (404 or 422), never a 5xx or a 3xx.
var badIDs = []string{
	"../etc", "../../etc/passwd", "..", ".", strings.Repeat("A", 10<<10), "01HZZZZZZZZZZZZZZZZZZZZZZZ",
	"😀", "é", "\u202e", "%00", "\x00", "a\x00b", "\xff\xfe", "' OR '1'='1", "1;DROP TABLE users", "-1", "0", "null",
	"{id}", "%2e%2e%2f", " ", "\t", "00000000000000000000000000", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "MessageReceived/../x",
}

// knownLenient are refusals the corpus expects but a route does not make yet, reported to
// the route's author: METHOD PATH KIND → what is wrong.
// (Empty since the audit log's cursor became store.Cursor: a garbage cursor is a 400 there too.)
var knownLenient = map[string]string{}

// namesProblem reports whether a 4xx body is a problem that says what is wrong. Deeply
// nested input may be echoed back in errors[].value beyond encoding/json's depth limit, so
// fall back to the leading fields.
func namesProblem(res *apptest.Response) bool {
	var p struct {
		Title, Detail string
		Status        int
	}
	if err := json.Unmarshal(res.Body, &p); err == nil {
		return p.Status == res.Status && (p.Detail != "" || p.Title != "")
	}
	head := string(res.Body[:min(len(res.Body), 400)])
	return strings.Contains(head, fmt.Sprintf(`"status":%d`, res.Status)) && strings.Contains(head, `"detail":"`)
}

// Bad values for query parameters.
var badQueryValues = []string{
	"", "-1", "0", "abc", "\xff\xfe", "a\x00", "1e309", "99999999999999999999999", "\x00", "%00", "😀", strings.Repeat("x", 10<<10),
	"../etc", "not-a-cursor", "eyJpZCI6Ii4uIn0", "2025-13-45T99:99:99Z", "null", "[]", "{}", "' OR 1=1 --",
}

// Bodies that are not a valid request for any route.
func garbageBodies() map[string][]byte {
	return map[string][]byte{
		"truncated JSON":     []byte(`{"name": "x", "url":`),
		"open brace":         []byte(`{`),
		"not JSON":           []byte(`hello`),
		"trailing garbage":   []byte(`{"x":1}}`),
		"bare comma":         []byte(`,`),
		"NUL byte":           []byte("\x00"),
		"invalid UTF-8":      []byte("{\"name\":\"\xff\xfe\"}"),
		"array":              []byte(`[]`),
		"string":             []byte(`"x"`),
		"number":             []byte(`42`),
		"boolean":            []byte(`true`),
		"10k [":              []byte(strings.Repeat("[", 10000)),
		"10k nested arrays":  []byte(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)),
		"10k nested objects": []byte(strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)),
		"unknown field":      []byte(`{"zzUnknownField": 1}`),
		"duplicate keys":     []byte(`{"zzUnknownField": 1, "zzUnknownField": 2}`),
	}
}

// Values that replace one field of a body: wrong types and hostile strings.
var fieldValues = map[string]any{
	"wrong type: number":   12345,
	"wrong type: bool":     true,
	"wrong type: array":    []any{1, "x", nil},
	"wrong type: object":   map[string]any{"a": map[string]any{"b": 1}},
	"null":                 nil,
	"huge string (60 KiB)": strings.Repeat("x", 60<<10),
	"10 KiB string":        strings.Repeat("y", 10<<10),
	"NUL in string":        "a\x00b",
	"unicode":              "😀 é \u202e ‮ \uFEFF 漢字",
	"path traversal":       "../../etc/passwd",
	"negative number":      -1,
	"huge number":          1e308,
}

// TestHostileInput sends a corpus of malformed and hostile requests to every API route, as
// the caller the route is for (Admin, platform token, anonymous) and unauthenticated:
// never a 5xx, always problem+json naming the problem, and nothing half-written.
func TestHostileInput(t *testing.T) {
	// Rate limits off: a 429 would hide the answer the input gets.
	noLimits := func(c *app.Config) { c.RateLimit, c.IPRateLimit = 0, 0 }
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Hostile")
		platform := env.PlatformToken()
		anon := env.Anonymous()

		// Some real rows, so that bad bodies reach handlers behind a valid id.
		fix := map[string]string{} // path parameter placeholder → a real id, per route prefix
		var ep struct{ ID string }
		if res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook"}); res.Status == 201 {
			res.JSON(t, &ep)
			fix["/v1/endpoints/"] = ep.ID
		}
		ws.Admin.Do("POST", "/v1/signing-secret", nil)
		var rl struct{ ID string }
		if res := ws.Admin.Do("POST", "/v1/relays/from-template", map[string]any{"templateId": "all-inbound", "endpointId": ep.ID}); res.Status == 201 {
			res.JSON(t, &rl)
			fix["/v1/relays/"] = rl.ID
		}
		var role struct{ ID string }
		if res := ws.Admin.Do("POST", "/v1/roles", map[string]any{"name": "Hostile role", "levels": map[string]string{"developer": "viewer"}}); res.Status == 201 {
			res.JSON(t, &role)
			fix["/v1/roles/"] = role.ID
		}
		var me struct{ User struct{ ID string } }
		ws.Admin.Do("GET", "/v1/me", nil).JSON(t, &me)
		fix["/v1/members/"] = me.User.ID

		oapi := env.App.API.API.OpenAPI()
		var cases []hostileCase
		routes := 0
		for _, r := range env.App.Routes.Routes() {
			if r.Kind != "api" {
				continue
			}
			routes++
			op := operation(oapi, r.Method, r.Path)
			if op == nil {
				t.Errorf("%s %s is in the route table but not in the OpenAPI document", r.Method, r.Path)
				continue
			}
			for _, c := range routeCorpus(oapi, r, op, fix) {
				c.route = r
				cases = append(cases, c)
			}
		}

		tables := tableNames(t, env.DB())
		before := rowCounts(t, env.DB(), tables)
		fiveXX, nonProblem, halfWritten, sent := 0, 0, 0, 0
		malformedRoutes := map[string]bool{}
		accepted := map[string]int{}
		findings := map[string]int{}
		check := func(who string, c *apptest.Client, hc hostileCase) {
			sent++
			res, err := send(env, c, hc.method, hc.path, hc.body)
			if err != nil {
				t.Errorf("%s %s %s [%s]: %v", who, hc.method, shorten(hc.path), hc.kind, err)
				return
			}
			where := fmt.Sprintf("%s %s %s [%s, %d-byte body %.80q]", who, hc.method, shorten(hc.path), hc.kind, len(hc.body), hc.body)
			if hc.malformed && who != "unauthenticated" {
				malformedRoutes[hc.route.Method+" "+hc.route.Path] = true
				if diff := checkMalformedShape(res); diff != "" {
					t.Errorf("malformed JSON answered differently: %s: %s", where, diff)
				}
			}
			// Whatever the input, an error echoes at most a short excerpt of it.
			if res.Status >= 400 && len(hc.body) > 8<<10 && len(res.Body) > 2<<10 {
				t.Errorf("echo: %s → %d with a %d-byte answer: %.200s", where, res.Status, len(res.Body), res.Body)
			}
			if res.Status >= 500 {
				fiveXX++
				t.Errorf("5xx: %s → %d %s", where, res.Status, res.Body)
				return
			}
			if res.Status < 400 {
				if reason, ok := knownLenient[hc.method+" "+r0(hc.path)+" "+hc.kind]; ok {
					findings[reason]++
					return
				}
				if hc.strict {
					t.Errorf("accepted: %s → %d %.200s", where, res.Status, res.Body)
				}
				accepted[hc.method+" "+r0(hc.path)+" ("+hc.kind+")"]++
				before = rowCounts(t, env.DB(), tables) // a legitimate write
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				nonProblem++
				t.Errorf("not problem+json: %s → %d %q %.200s", where, res.Status, ct, res.Body)
			} else {
				if !namesProblem(res) {
					nonProblem++
					t.Errorf("problem does not say what is wrong: %s → %d %.300s", where, res.Status, res.Body)
				}
			}
			after := rowCounts(t, env.DB(), tables)
			for _, tb := range tables {
				if after[tb] != before[tb] && !legitimatelyTouched(tb) {
					halfWritten++
					t.Errorf("half-written: %s → %d, yet table %s went from %d to %d rows", where, res.Status, tb, before[tb], after[tb])
				}
			}
			before = after
		}
		for _, hc := range cases {
			// The route's own need: looking the filled-in path up would find nothing for a
			// route with a path parameter, and send it only unauthenticated.
			r := hc.route
			switch r.Need.Auth {
			case access.Platform:
				check("platform", platform, hc)
			case access.Member:
				check("admin", ws.Admin, hc)
			default:
				check("anonymous", anon, hc)
			}
			if r.Need.Auth != access.Public {
				check("unauthenticated", anon, hc)
			}
		}
		keys := make([]string, 0, len(accepted))
		for k, n := range accepted {
			keys = append(keys, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(keys)
		t.Logf("hostile input: %d API routes, corpus %d cases, %d requests sent; 5xx=%d, not problem+json=%d, half-written=%d; malformed-JSON shape checked on %d routes with a body; accepted (odd but valid field values) on: %s",
			routes, len(cases), sent, fiveXX, nonProblem, halfWritten, len(malformedRoutes), strings.Join(keys, ", "))
		if len(malformedRoutes) < 15 {
			t.Errorf("the malformed-JSON shape was checked on only %d routes", len(malformedRoutes))
		}
		for reason, n := range findings {
			t.Logf("known finding (not failed here, reported): %s — %d requests", reason, n)
		}
		if routes < 10 {
			t.Errorf("only %d API routes in the table", routes)
		}
	}, noLimits)
}

// routeCorpus is every hostile request for one route.
func routeCorpus(oapi *huma.OpenAPI, r access.Route, op *huma.Operation, fix map[string]string) []hostileCase {
	var out []hostileCase
	pathParams := []string{}
	var queryParams []*huma.Param
	for _, p := range op.Parameters {
		switch p.In {
		case "path":
			pathParams = append(pathParams, p.Name)
		case "query":
			queryParams = append(queryParams, p)
		}
	}
	// A path with placeholders filled: real ids where we have one, else a well-formed unknown id.
	goodPath := r.Path
	for _, name := range pathParams {
		v := "01HZZZZZZZZZZZZZZZZZZZZZZZ"
		if name == "event" {
			v = "MessageReceived"
		}
		for prefix, id := range fix {
			if strings.HasPrefix(r.Path, prefix) && id != "" {
				v = id
			}
		}
		goodPath = strings.Replace(goodPath, "{"+name+"}", v, 1)
	}
	hasBody := op.RequestBody != nil
	// 1. Bad ids in every path parameter (with no body, or with a valid-looking empty one).
	for _, name := range pathParams {
		for _, bad := range badIDs {
			p := r.Path
			for _, other := range pathParams {
				if other == name {
					p = strings.Replace(p, "{"+other+"}", url.PathEscape(bad), 1)
				} else {
					p = strings.Replace(p, "{"+other+"}", "01HZZZZZZZZZZZZZZZZZZZZZZZ", 1)
				}
			}
			var body []byte
			if hasBody {
				body = []byte(`{"zzUnknownField":1}`) // never valid: a handler must not run
			}
			// "." and ".." are path segments, not ids: ServeMux redirects to the cleaned path
			// (307) before any handler; only the absence of a 5xx is checked for them.
			strict := bad != "." && bad != ".."
			out = append(out, hostileCase{kind: "bad id " + name, method: r.Method, path: p, body: body, strict: strict})
		}
	}
	// 2. Bad query values, and an unknown query parameter.
	for _, q := range queryParams {
		for _, v := range badQueryValues {
			if v == "" && !q.Required {
				continue // an empty optional parameter is the same as none
			}
			out = append(out, hostileCase{kind: "query " + q.Name, method: r.Method, path: goodPath + "?" + q.Name + "=" + url.QueryEscape(v), strict: !lenient(q, v)})
		}
	}
	out = append(out, hostileCase{kind: "unknown query parameter", method: r.Method, path: goodPath + "?zzUnknown=1", strict: true})
	if !hasBody {
		return out
	}
	// 3. Garbage bodies.
	for name, b := range garbageBodies() {
		// encoding/json replaces invalid UTF-8 with U+FFFD rather than failing.
		out = append(out, hostileCase{kind: name, method: r.Method, path: goodPath, body: b, strict: name != "invalid UTF-8", malformed: malformedBodies[name]})
	}
	over := `{"name":"` + strings.Repeat("a", int(op.MaxBodyBytes)+1024) + `"}`
	out = append(out, hostileCase{kind: "oversize body", method: r.Method, path: goodPath, body: []byte(over), strict: true})
	// 4. Each top-level field of the body set to a hostile value, alone.
	for _, field := range bodyFields(oapi, op) {
		for name, v := range fieldValues {
			b, _ := json.Marshal(map[string]any{field: v})
			out = append(out, hostileCase{kind: "field " + field + ": " + name, method: r.Method, path: goodPath, body: b})
		}
	}
	return out
}

// lenient says whether a bad-looking value may legitimately be accepted for a query
// parameter (a free-text filter matches nothing rather than failing).
func lenient(q *huma.Param, v string) bool {
	if q.Schema == nil {
		return true
	}
	if q.Schema.Type == "string" && len(q.Schema.Enum) == 0 && q.Schema.Format == "" {
		// Free text: a cursor must be refused; other text filters may match nothing.
		return q.Name != "cursor" && q.Name != "since" && q.Name != "until" && q.Name != "before"
	}
	return false
}

func bodyFields(oapi *huma.OpenAPI, op *huma.Operation) []string {
	if op.RequestBody == nil {
		return nil
	}
	mt := op.RequestBody.Content["application/json"]
	if mt == nil || mt.Schema == nil {
		return nil
	}
	s := mt.Schema
	if s.Ref != "" {
		s = oapi.Components.Schemas.SchemaFromRef(s.Ref)
	}
	if s == nil {
		return nil
	}
	var out []string
	for name := range s.Properties {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func operation(oapi *huma.OpenAPI, method, path string) *huma.Operation {
	pi := oapi.Paths[path]
	if pi == nil {
		return nil
	}
	switch method {
	case http.MethodGet:
		return pi.Get
	case http.MethodPost:
		return pi.Post
	case http.MethodPut:
		return pi.Put
	case http.MethodPatch:
		return pi.Patch
	case http.MethodDelete:
		return pi.Delete
	}
	return nil
}

// send is Client.Do without failing the test on a transport error (a server may close the
// connection on an oversize body before reading it all).
func send(env *apptest.Env, c *apptest.Client, method, path string, body []byte) (*apptest.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, env.URL()+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return &apptest.Response{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// r0 is the path without its query.
func r0(p string) string {
	p, _, _ = strings.Cut(p, "?")
	return p
}

func shorten(p string) string {
	if len(p) > 120 {
		return p[:120] + fmt.Sprintf("…(%d bytes)", len(p))
	}
	return p
}

// legitimatelyTouched are tables a refused request may still write: the audit log (e.g.
// failed sign-ins), sessions, and River's own bookkeeping.
func legitimatelyTouched(table string) bool {
	return table == "audit_log" || table == "sessions" || strings.HasPrefix(table, "river_") || table == "goose_db_version"
}

func tableNames(t *testing.T, db *store.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect == store.Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func rowCounts(t *testing.T, db *store.DB, tables []string) map[string]int64 {
	t.Helper()
	parts := make([]string, len(tables))
	for i, tb := range tables {
		parts[i] = fmt.Sprintf(`SELECT '%s', COUNT(*) FROM "%s"`, tb, tb)
	}
	rows, err := db.Query(context.Background(), strings.Join(parts, " UNION ALL "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var n string
		var c int64
		if err := rows.Scan(&n, &c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}
