// Package team is Team Management (docs/architecture.md §10): a workspace's roles, its members and the
// invitations that bring new members in. The API and the pages both call it, and it
// enforces the rules that the route table cannot express alone:
//
//   - no escalation: nobody creates, edits or assigns a role with any level above their
//     own, and nobody touches (edits, assigns, demotes, removes) a role or member whose
//     levels are above their own — so a Manager (team editor) cannot demote an Admin;
//   - nobody changes their own role or removes themselves;
//   - the last Admin of a workspace can be neither demoted nor removed (counted inside the
//     transaction, with the workspace row locked, so two concurrent demotions cannot both
//     pass);
//   - removing a member ends their sessions and API keys at once;
//   - every change writes an audit entry in the same transaction.
//
// Built-in roles: Admin is fixed (not editable, not deletable). Manager and Operator keep
// their names and cannot be deleted, but a team owner may change their levels (docs/architecture.md §10
// fixes only Admin); the usual no-escalation rule applies.
package team

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// DefaultInviteTTL is how long an invitation link works.
const DefaultInviteTTL = 7 * 24 * time.Hour

// Service is Team Management over the store.
type Service struct {
	DB       *store.DB
	Accounts *account.Service
	// Mailer sends invitation emails; nil means the inviter is shown the link to pass on.
	Mailer Mailer
	// InviteTTL is how long invitation links work (DefaultInviteTTL when zero).
	InviteTTL time.Duration
	Log       *slog.Logger
	// Now is the clock (time.Now when nil).
	Now clock.Clock
}

func (s *Service) ttl() time.Duration {
	if s.InviteTTL > 0 {
		return s.InviteTTL
	}
	return DefaultInviteTTL
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Kind classifies an Error for the API and the pages.
type Kind int

const (
	// Invalid is bad input (422).
	Invalid Kind = iota
	// Forbidden is a rule refusing this actor (403): escalation, own role.
	Forbidden
	// Conflict is a state refusing the change (409): last Admin, role in use, name taken.
	Conflict
	// NotFound is an unknown id in this workspace (404).
	NotFound
	// Gone is an expired or used invitation (410).
	Gone
)

// Error is a refusal whose message is safe to show as it is.
type Error struct {
	Kind Kind
	Msg  string
	// Members lists who uses a role that could not be deleted.
	Members []MemberRef
}

func (e *Error) Error() string { return e.Msg }

// MemberRef names a member in an error.
type MemberRef struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
}

func errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of a team refusal, or false for any other error (refused input,
// *input.Error, counts as Invalid).
func KindOf(err error) (Kind, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, true
	}
	var in *input.Error
	if errors.As(err, &in) {
		return Invalid, true
	}
	return 0, false
}

// change runs fn in a transaction that holds the workspace's lock (lockWorkspace): every
// team change a member makes goes through it.
func (s *Service) change(ctx context.Context, workspaceID string, fn func(*store.Tx) error) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := lockWorkspace(ctx, tx, workspaceID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// lockWorkspace serialises team changes of one workspace: on PostgreSQL the row lock is
// held until the transaction ends, so rules that count (the last Admin) see every
// committed change; SQLite has a single writer anyway.
func lockWorkspace(ctx context.Context, tx *store.Tx, workspaceID string) error {
	res, err := tx.Exec(ctx, `UPDATE workspaces SET name = name WHERE id = ?`, workspaceID)
	return store.Affected(res, err, errorf(NotFound, "workspace not found"))
}

// member checks p acts as a member of a workspace.
func member(p *access.Principal) error {
	if p == nil || p.Platform || p.UserID == "" || p.WorkspaceID == "" {
		return errorf(Forbidden, "only a workspace member can manage its team")
	}
	return nil
}

// covers refuses when the actor's levels are below levels on any feature.
func covers(p *access.Principal, levels access.Levels, what string) error {
	if p.Levels.Covers(levels) {
		return nil
	}
	for _, f := range access.Features {
		if levels.Of(f) > p.Levels.Of(f) {
			return errorf(Forbidden, "%s has %s %s, above your own %s: nobody can grant more access than they have",
				what, f, levels.Of(f), p.Levels.Of(f))
		}
	}
	return errorf(Forbidden, "%s is above your own access", what)
}
