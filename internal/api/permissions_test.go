package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/auth"
)

// designRule is one line of docs/architecture.md §10 written against paths: the first rule whose method,
// prefix (and suffix, when set) match a route gives the Need it must declare. Written by
// hand from that table, NOT derived from the route table, so a wrong declaration
// fails here.
type designRule struct {
	kind   string // "api", "page" or "" for any
	method string // "" for any
	prefix string
	exact  bool
	suffix string
	need   access.Need
	why    string
}

func req(f access.Feature, l access.Level) access.Need { return access.Require(f, l) }

var designRules = []designRule{
	// Public: sign-in, setup, health, static files, docs, and accepting an invitation (the
	// token in the path is the credential).
	{kind: "api", method: "POST", prefix: "/v1/sessions", exact: true, need: access.Anyone, why: "sign in"},
	{kind: "page", prefix: "/signin", exact: true, need: access.Anyone},
	{kind: "page", prefix: "/setup", exact: true, need: access.Anyone},
	{kind: "page", method: "GET", prefix: "/static/", exact: true, need: access.Anyone},
	{kind: "page", method: "GET", prefix: "/docs", need: access.Anyone, why: "API reference"},
	{kind: "ops", prefix: "/ops/", need: access.ByPlatform, why: "operators' queue page (issue 11): never public, never a member"},
	{kind: "ops", method: "GET", prefix: "/", need: access.Anyone, why: "health, readiness, metrics"},
	{kind: "page", prefix: "/invitations/{token}", exact: true, need: access.Anyone, why: "accept an invitation"},
	{kind: "api", method: "GET", prefix: "/v1/jwks/{workspaceId}", exact: true, need: access.Anyone, why: "issue 15: public keys only, for receivers"},

	// The producer.
	{prefix: "/v1/platform/", need: access.ByPlatform},

	// Any member: who am I, sessions, the event catalog, home, sign-out, workspace switch.
	{kind: "api", prefix: "/v1/sessions/", need: access.SignedIn},
	{kind: "api", method: "GET", prefix: "/v1/me", exact: true, need: access.SignedIn},
	{kind: "api", method: "GET", prefix: "/v1/event-types", need: access.SignedIn, why: "not in §4: the public catalog"},
	{kind: "page", method: "GET", prefix: "/{$}", exact: true, need: access.SignedIn},
	{kind: "page", method: "POST", prefix: "/signout", exact: true, need: access.SignedIn},
	{kind: "page", method: "POST", prefix: "/workspace", exact: true, need: access.SignedIn},

	// developer: viewer sees endpoints, the delivery log, the secret's fingerprint; editor
	// adds/edits endpoints, generates/reveals/rotates the secret, test-sends, redelivers,
	// recovers, has own API keys and hooks; owner deletes endpoints.
	{kind: "api", method: "GET", prefix: "/v1/endpoints", need: req(access.Developer, access.Viewer)},
	{kind: "api", method: "POST", prefix: "/v1/endpoints", need: req(access.Developer, access.Editor)},
	{kind: "api", method: "PATCH", prefix: "/v1/endpoints", need: req(access.Developer, access.Editor)},
	{kind: "api", method: "PUT", prefix: "/v1/endpoints", need: req(access.Developer, access.Editor)},
	{kind: "api", method: "DELETE", prefix: "/v1/endpoints", need: req(access.Developer, access.Owner)},
	{kind: "api", method: "GET", prefix: "/v1/signing-secret", exact: true, need: req(access.Developer, access.Viewer), why: "fingerprint only"},
	{kind: "api", prefix: "/v1/signing-secret", need: req(access.Developer, access.Editor), why: "generate, reveal, rotate"},
	{kind: "api", method: "GET", prefix: "/v1/signing-key", exact: true, need: req(access.Developer, access.Viewer), why: "issue 15: the public key"},
	{kind: "api", prefix: "/v1/signing-key", need: req(access.Developer, access.Editor), why: "issue 15: generate, rotate"},
	{kind: "api", method: "GET", prefix: "/v1/deliveries", need: req(access.Developer, access.Viewer)},
	{kind: "api", method: "POST", prefix: "/v1/deliveries/", suffix: "/skip", need: req(access.Developer, access.Owner), why: "issue 14: skip the head of an ordered queue"},
	{kind: "api", prefix: "/v1/deliveries", need: req(access.Developer, access.Editor), why: "redeliver"},
	{kind: "api", method: "GET", prefix: "/v1/events", need: req(access.Developer, access.Viewer)},
	{kind: "api", prefix: "/v1/events", need: req(access.Developer, access.Editor)},
	{kind: "api", prefix: "/v1/api-keys", need: req(access.Developer, access.Editor), why: "own keys (owners see all inside)"},
	{kind: "api", method: "GET", prefix: "/v1/zapier/samples/", need: req(access.Developer, access.Viewer), why: "example payloads"},
	{kind: "api", prefix: "/v1/zapier/", need: req(access.Developer, access.Editor), why: "own hooks"},
	{kind: "page", prefix: "/settings/developer/endpoints/", suffix: "/delete", need: req(access.Developer, access.Owner)},
	{kind: "page", prefix: "/settings/developer/endpoints/", suffix: "/skip", need: req(access.Developer, access.Owner), why: "issue 14: skip the head of an ordered queue"},
	{kind: "page", prefix: "/settings/developer/secret", need: req(access.Developer, access.Editor)},
	{kind: "page", prefix: "/settings/developer/signing-key", need: req(access.Developer, access.Editor), why: "issue 15: generate, rotate"},
	{kind: "page", method: "POST", prefix: "/settings/developer/notifications/read", exact: true, need: req(access.Developer, access.Viewer), why: "who may see notifications may mark them read"},
	{kind: "page", method: "GET", prefix: "/settings/developer", need: req(access.Developer, access.Viewer)},
	{kind: "page", prefix: "/settings/developer", need: req(access.Developer, access.Editor)},
	{kind: "page", prefix: "/settings/api-keys", need: req(access.Developer, access.Editor)},

	// relays: viewer lists/reads; editor creates/edits/enables/disables; owner deletes.
	{kind: "api", method: "GET", prefix: "/v1/relay", need: req(access.Relays, access.Viewer), why: "relays and templates"},
	{kind: "api", method: "DELETE", prefix: "/v1/relays", need: req(access.Relays, access.Owner)},
	{kind: "api", prefix: "/v1/relays", need: req(access.Relays, access.Editor)},
	{kind: "page", prefix: "/relays", suffix: "/delete", need: req(access.Relays, access.Owner)},
	{kind: "page", method: "GET", prefix: "/relays", need: req(access.Relays, access.Viewer)},
	{kind: "page", prefix: "/relays", need: req(access.Relays, access.Editor)},

	// team: viewer lists members and roles; editor invites and changes a member's role;
	// owner removes members and creates/edits/deletes custom roles.
	{kind: "api", method: "GET", prefix: "/v1/roles", need: req(access.Team, access.Viewer)},
	{kind: "api", prefix: "/v1/roles", need: req(access.Team, access.Owner)},
	{kind: "api", method: "GET", prefix: "/v1/members", need: req(access.Team, access.Viewer)},
	{kind: "api", method: "DELETE", prefix: "/v1/members", need: req(access.Team, access.Owner)},
	{kind: "api", prefix: "/v1/members", need: req(access.Team, access.Editor)},
	{kind: "api", method: "GET", prefix: "/v1/invitations", need: req(access.Team, access.Viewer)},
	{kind: "api", prefix: "/v1/invitations", need: req(access.Team, access.Editor)},
	{kind: "api", method: "GET", prefix: "/v1/audit-log", need: req(access.Team, access.Owner), why: "not in §4: pinned as declared"},
	{kind: "page", method: "GET", prefix: "/settings/team", exact: true, need: req(access.Team, access.Viewer)},
	{kind: "page", method: "GET", prefix: "/settings/team/roles", exact: true, need: req(access.Team, access.Viewer)},
	{kind: "page", prefix: "/settings/team/roles", need: req(access.Team, access.Owner)},
	{kind: "page", prefix: "/settings/team/members/", suffix: "/remove", need: req(access.Team, access.Owner)},
	{kind: "page", prefix: "/settings/team/", need: req(access.Team, access.Editor), why: "invite, resend, revoke, change role"},

	// workspace: viewer reads settings; editor edits them.
	{method: "GET", prefix: "/v1/workspace", need: req(access.Workspace, access.Viewer)},
	{prefix: "/v1/workspace", need: req(access.Workspace, access.Editor)},
	{kind: "page", method: "GET", prefix: "/settings/workspace", need: req(access.Workspace, access.Viewer)},
	{kind: "page", prefix: "/settings/workspace", need: req(access.Workspace, access.Editor)},
}

func designNeed(r access.Route) (access.Need, bool) {
	for _, d := range designRules {
		if d.kind != "" && d.kind != r.Kind || d.method != "" && d.method != r.Method {
			continue
		}
		if d.exact && r.Path != d.prefix || !d.exact && !strings.HasPrefix(r.Path, d.prefix) {
			continue
		}
		if d.suffix != "" && !strings.HasSuffix(r.Path, d.suffix) {
			continue
		}
		return d.need, true
	}
	return access.Need{}, false
}

// walker is a member with a role, given a fresh session for every request (so routes that
// sign out cannot spoil the next one).
type walker struct {
	name   string
	levels access.Levels
	userID string
}

const dummyID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"

func concretePath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			break
		}
		j := strings.IndexByte(p[i:], '}')
		b.WriteString(p[:i])
		switch name := p[i+1 : i+j]; {
		case name == "token":
			b.WriteString("rdi_dummy")
		case name == "event":
			b.WriteString("MessageReceived")
		case strings.HasSuffix(name, "..."):
			b.WriteString("x")
		default:
			b.WriteString(dummyID)
		}
		p = p[i+j+1:]
	}
	return b.String()
}

func send(t *testing.T, env *apptest.Env, r access.Route, header http.Header) int {
	t.Helper()
	path := concretePath(r.Path)
	var body io.Reader
	hasBody := r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH"
	if hasBody {
		if r.Kind == "api" {
			body = strings.NewReader("{}")
		} else {
			body = strings.NewReader(url.Values{}.Encode())
		}
	}
	rq, err := http.NewRequest(r.Method, env.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		rq.Header[k] = v
	}
	if hasBody {
		if r.Kind == "api" {
			rq.Header.Set("Content-Type", "application/json")
		} else {
			rq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusTooManyRequests {
		t.Fatalf("%s %s: rate limited; the walk must not be throttled", r.Method, path)
	}
	return res.StatusCode
}

// TestRouteTableMatchesDesign walks every route of the table (API, pages, ops) for the
// built-in roles and custom ones, and checks the actual HTTP answer: 403 where docs/architecture.md §10
// says the role lacks the level, anything but 401/403 where it has it. Routes are not
// skipped: public ones must be on the public list; platform routes are checked with every
// member (403) and a platform token; member routes with a platform token and anonymously.
func TestRouteTableMatchesDesign(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ctx := context.Background()
		ws := env.NewWorkspace("Acme")
		walkers := []*walker{
			{name: "Admin"}, {name: "Manager"}, {name: "Operator"},
			{name: "Developer viewer", levels: access.Levels{access.Developer: access.Viewer}},
			{name: "Developer editor", levels: access.Levels{access.Developer: access.Editor}},
			{name: "Developer owner", levels: access.Levels{access.Developer: access.Owner}},
			{name: "Relays editor", levels: access.Levels{access.Relays: access.Editor}},
			{name: "Team editor", levels: access.Levels{access.Team: access.Editor, access.Workspace: access.Viewer}},
		}
		for _, b := range access.BuiltinRoles {
			for _, w := range walkers {
				if w.name == b.Name {
					w.levels = b.Levels
				}
			}
		}
		for i, w := range walkers {
			email := fmt.Sprintf("walker%d@example.test", i)
			if w.name == "Admin" {
				email = "acme-admin@example.test"
			} else if w.name == "Manager" || w.name == "Operator" {
				ws.AddMember(email, w.name, nil)
			} else {
				ws.AddMember(email, w.name, w.levels)
			}
			if err := env.DB().QueryRow(ctx, `SELECT id FROM users WHERE email = ?`, email).Scan(&w.userID); err != nil {
				t.Fatal(err)
			}
		}
		platform := env.PlatformToken()
		asMember := func(w *walker) http.Header {
			token, err := env.App.Accounts.CreateSession(ctx, w.userID, ws.ID, "", "")
			if err != nil {
				t.Fatal(err)
			}
			return http.Header{"Cookie": {auth.CookieName + "=" + token}}
		}

		routes := env.App.Routes.Routes()
		if len(routes) < 40 {
			t.Fatalf("only %d routes in the table", len(routes))
		}
		var unknown []string
		checked := 0
		for _, r := range routes {
			need, known := designNeed(r)
			if !known {
				// A route nobody wrote into the table above yet: it must at least declare a
				// member Need (never silently public) and is walked against its declaration.
				unknown = append(unknown, r.String())
				if r.Need.Auth == access.Public {
					t.Errorf("%s is public but not on the public list of docs/architecture.md §10's table", r)
					continue
				}
				need = r.Need
			} else if r.Need != need {
				t.Errorf("%s declares %s; docs/architecture.md §10 says %s", r, r.Need, need)
				continue
			}
			if need.Auth == access.Public {
				continue // public: nothing to refuse (sign-in, setup, health, accept page)
			}
			checked++
			path := concretePath(r.Path)

			// Anonymous: API 401; pages send GETs to sign-in and refuse POSTs with 401.
			st := send(t, env, r, nil)
			switch {
			case r.Kind == "api" && st != http.StatusUnauthorized,
				r.Kind == "page" && r.Method == "GET" && st != http.StatusSeeOther,
				r.Kind == "page" && r.Method != "GET" && st != http.StatusUnauthorized:
				t.Errorf("anonymous %s %s = %d", r.Method, path, st)
			}

			// The producer's token: only platform routes; never a member's.
			st = send(t, env, r, http.Header{"Authorization": {"Bearer " + platform.Bearer}})
			switch {
			case need.Auth == access.Platform && (st == http.StatusUnauthorized || st == http.StatusForbidden):
				t.Errorf("platform token %s %s = %d, want allowed", r.Method, path, st)
			case need.Auth == access.Member && r.Kind == "api" && st != http.StatusForbidden:
				t.Errorf("platform token %s %s = %d, want 403", r.Method, path, st)
			case need.Auth == access.Member && r.Kind == "page" && st >= 200 && st < 300:
				t.Errorf("platform token %s %s = %d, want refused", r.Method, path, st)
			}

			for _, w := range walkers {
				allowed := need.Auth == access.Member && (need.Feature == "" || w.levels.Of(need.Feature) >= need.Level)
				st := send(t, env, r, asMember(w))
				denied := st == http.StatusUnauthorized || st == http.StatusForbidden
				switch {
				case allowed && denied:
					t.Errorf("%s: %s %s = %d, want allowed (%s)", w.name, r.Method, path, st, need)
				case !allowed && st != http.StatusForbidden:
					t.Errorf("%s: %s %s = %d, want 403 (%s)", w.name, r.Method, path, st, need)
				}
			}
		}
		if len(unknown) > 0 {
			t.Logf("routes not yet in docs/architecture.md §10's table above (walked against their own declaration):\n  %s", strings.Join(unknown, "\n  "))
		}
		if checked < 40 {
			t.Fatalf("walked only %d protected routes", checked)
		}
		t.Logf("walked %d protected routes × %d roles + anonymous + platform token", checked, len(walkers))
	})
}

// The rules table itself must say what docs/architecture.md §10 says for a few anchors (a typo in a rule
// would otherwise pass silently for both sides).
func TestDesignRulesAnchors(t *testing.T) {
	for _, c := range []struct {
		kind, method, path string
		need               access.Need
	}{
		{"api", "GET", "/v1/endpoints", req(access.Developer, access.Viewer)},
		{"api", "DELETE", "/v1/endpoints/{id}", req(access.Developer, access.Owner)},
		{"api", "POST", "/v1/signing-secret/rotate", req(access.Developer, access.Editor)},
		{"api", "POST", "/v1/relays", req(access.Relays, access.Editor)},
		{"api", "DELETE", "/v1/relays/{id}", req(access.Relays, access.Owner)},
		{"api", "POST", "/v1/roles", req(access.Team, access.Owner)},
		{"api", "PATCH", "/v1/members/{userId}", req(access.Team, access.Editor)},
		{"api", "DELETE", "/v1/members/{userId}", req(access.Team, access.Owner)},
		{"api", "POST", "/v1/invitations", req(access.Team, access.Editor)},
		{"page", "GET", "/settings/developer", req(access.Developer, access.Viewer)},
		{"page", "GET", "/settings/team/roles/new", req(access.Team, access.Owner)},
		{"page", "POST", "/settings/developer/endpoints/{id}/delete", req(access.Developer, access.Owner)},
		{"api", "POST", "/v1/platform/events", access.ByPlatform},
	} {
		got, ok := designNeed(access.Route{Kind: c.kind, Method: c.method, Path: c.path})
		if !ok || got != c.need {
			t.Errorf("%s %s %s: rule gives %v (%v), want %s", c.kind, c.method, c.path, got, ok, c.need)
		}
	}
}
