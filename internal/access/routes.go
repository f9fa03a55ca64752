package access

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Auth is who may call a route at all.
type Auth int

const (
	// Public routes need no credential (sign-in, setup, health).
	Public Auth = iota
	// Member routes need a signed-in workspace member (session or API key).
	Member
	// Platform routes need the producer's platform token.
	Platform
)

func (a Auth) String() string {
	return [...]string{"public", "member", "platform"}[a]
}

// Need is what a route requires: who, and for members which level on which feature.
// A member route with an empty Feature needs only membership (e.g. GET /v1/me).
type Need struct {
	Auth    Auth
	Feature Feature
	Level   Level
}

// Needs for routes.
var (
	Anyone     = Need{Auth: Public}
	SignedIn   = Need{Auth: Member}
	ByPlatform = Need{Auth: Platform}
)

// Require is the Need of a member route gated on a feature level.
func Require(f Feature, l Level) Need { return Need{Auth: Member, Feature: f, Level: l} }

func (n Need) String() string {
	if n.Auth == Member && n.Feature != "" {
		return fmt.Sprintf("%s ≥ %s", n.Feature, n.Level)
	}
	return n.Auth.String()
}

// Allows reports whether p may use a route with this need. Platform and member
// credentials never stand in for each other.
func (n Need) Allows(p *Principal) bool {
	switch n.Auth {
	case Public:
		return true
	case Platform:
		return p != nil && p.Platform
	default:
		if p == nil || p.Platform || p.UserID == "" {
			return false
		}
		return n.Feature == "" || p.Can(n.Feature, n.Level)
	}
}

// Route is one row of the route table.
type Route struct {
	Kind   string // "api" or "page"
	Method string
	Path   string // the ServeMux pattern path, e.g. /v1/endpoints/{id}
	Need   Need
}

func (r Route) String() string {
	return r.Kind + " " + r.Method + " " + r.Path + " (" + r.Need.String() + ")"
}

// Table is the route table: every API route and UI page is added to it when registered,
// and the middleware enforces what it says. Tests walk it.
type Table struct {
	mu     sync.Mutex
	routes []Route
}

// Add records a route; registering one twice is a programming error.
func (t *Table) Add(r Route) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, old := range t.routes {
		if old.Method == r.Method && old.Path == r.Path {
			panic("access: route registered twice: " + r.String())
		}
	}
	t.routes = append(t.routes, r)
}

// Lookup finds the route for a method and pattern path.
func (t *Table) Lookup(method, path string) (Route, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.routes {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}

// Routes returns the table sorted by path then method.
func (t *Table) Routes() []Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.routes)
	slices.SortFunc(out, func(a, b Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	return out
}
