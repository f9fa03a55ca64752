// Package access holds the permission model of docs/architecture.md §10: features, access levels, roles,
// the principal a request acts as, and the one route table in which every API route and UI
// page declares what it needs.
package access

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// Feature is an area of the product that a role grants a level on.
type Feature string

const (
	Developer Feature = "developer"
	Relays    Feature = "relays"
	Team      Feature = "team"
	Workspace Feature = "workspace"
)

// Features lists every feature in display order.
var Features = []Feature{Developer, Relays, Team, Workspace}

// Level is an access level; levels are ordered, each including the ones below it.
type Level int

const (
	None Level = iota
	Viewer
	Editor
	Owner
)

var levelNames = [...]string{"none", "viewer", "editor", "owner"}

func (l Level) String() string {
	if l < None || l > Owner {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level name.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), nil
		}
	}
	return None, fmt.Errorf("unknown access level %q (want none, viewer, editor or owner)", s)
}

func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	*l = v
	return err
}

// MaxLevel is the highest level a feature offers (workspace has no owner level).
func MaxLevel(f Feature) Level {
	if f == Workspace {
		return Editor
	}
	return Owner
}

// Levels maps each feature to a level; a missing feature is None.
type Levels map[Feature]Level

// Of returns the level for f.
func (ls Levels) Of(f Feature) Level { return ls[f] }

// Covers reports whether ls is at least other on every feature (used to refuse escalation).
func (ls Levels) Covers(other Levels) bool {
	for f, l := range other {
		if ls.Of(f) < l {
			return false
		}
	}
	return true
}

// Validate checks every feature is known and within its range.
func (ls Levels) Validate() error {
	for f, l := range ls {
		if !slices.Contains(Features, f) {
			return fmt.Errorf("unknown feature %q", f)
		}
		if l < None || l > MaxLevel(f) {
			return fmt.Errorf("feature %s: level %s is not offered (highest is %s)", f, l, MaxLevel(f))
		}
	}
	return nil
}

// Encode stores levels as JSON.
func (ls Levels) Encode() string {
	b, _ := json.Marshal(ls)
	return string(b)
}

// DecodeLevels reads stored levels.
func DecodeLevels(s string) (Levels, error) {
	ls := Levels{}
	if err := json.Unmarshal([]byte(s), &ls); err != nil {
		return nil, err
	}
	return ls, ls.Validate()
}

// Built-in role names.
const (
	RoleAdmin    = "Admin"
	RoleManager  = "Manager"
	RoleOperator = "Operator"
)

// BuiltinRole is a role seeded in every workspace.
type BuiltinRole struct {
	Name   string
	Levels Levels
}

// BuiltinRoles are seeded in each new workspace (docs/architecture.md §10).
var BuiltinRoles = []BuiltinRole{
	{RoleAdmin, Levels{Developer: Owner, Relays: Owner, Team: Owner, Workspace: Editor}},
	{RoleManager, Levels{Developer: None, Relays: None, Team: Editor, Workspace: Editor}},
	{RoleOperator, Levels{Developer: None, Relays: None, Team: None, Workspace: Viewer}},
}

// Principal is who a request acts as.
type Principal struct {
	// Platform is set for the producer's platform token; the member fields are then empty.
	Platform        bool
	PlatformTokenID string

	UserID      string
	Email       string
	WorkspaceID string
	RoleID      string
	RoleName    string
	Levels      Levels
	// Via says how the member authenticated: "session" or "apikey".
	Via       string
	SessionID string // hash of the session token, when Via is "session"
	APIKeyID  string // when Via is "apikey"
	IP        string
}

// Can reports whether p has at least level l on f.
func (p *Principal) Can(f Feature, l Level) bool {
	return p != nil && !p.Platform && p.UserID != "" && p.Levels.Of(f) >= l
}

// Actor names the principal for the audit log.
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "system"
	case p.Platform:
		return "platform token " + p.PlatformTokenID
	case p.Via == "apikey":
		return p.Email + " (API key " + p.APIKeyID + ")"
	default:
		return p.Email
	}
}

type ctxKey struct{}

// With returns ctx carrying p.
func With(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// From returns the principal of ctx, or nil.
func From(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}
