package team

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/apikey"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Member is a user of the workspace with their role.
type Member struct {
	UserID   string        `json:"userId"`
	Email    string        `json:"email"`
	Name     string        `json:"name"`
	RoleID   string        `json:"roleId"`
	RoleName string        `json:"roleName"`
	Levels   access.Levels `json:"levels"`
	JoinedAt time.Time     `json:"joinedAt"`
	builtin  bool
}

// IsAdmin reports whether the member holds the built-in Admin role.
func (m Member) IsAdmin() bool { return m.builtin && m.RoleName == access.RoleAdmin }

const memberCols = `u.id, u.email, u.name, r.id, r.name, r.builtin, r.levels, m.created_at
	FROM members m JOIN users u ON u.id = m.user_id JOIN roles r ON r.id = m.role_id`

func scanMember(sc store.Scanner) (Member, error) {
	var m Member
	var levels string
	var joined int64
	if err := sc.Scan(&m.UserID, &m.Email, &m.Name, &m.RoleID, &m.RoleName, &m.builtin, &levels, &joined); err != nil {
		return m, err
	}
	ls, err := access.DecodeLevels(levels)
	m.Levels, m.JoinedAt = full(ls), store.Time(joined)
	return m, err
}

// Members lists a workspace's members by email.
func (s *Service) Members(ctx context.Context, workspaceID string) ([]Member, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+memberCols+` WHERE m.workspace_id = ? ORDER BY u.email`, workspaceID)
	return store.Collect(rows, err, scanMember)
}

// Member returns one member of a workspace.
func (s *Service) Member(ctx context.Context, workspaceID, userID string) (Member, error) {
	return memberByID(ctx, s.DB, workspaceID, userID)
}

func memberByID(ctx context.Context, q store.Querier, workspaceID, userID string) (Member, error) {
	m, err := scanMember(q.QueryRow(ctx, `SELECT `+memberCols+` WHERE m.workspace_id = ? AND m.user_id = ?`, workspaceID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, errorf(NotFound, "no member %q in this workspace", userID)
	}
	return m, err
}

// lastAdmin reports whether m is the workspace's only Admin, whom no change may take away.
func lastAdmin(ctx context.Context, tx *store.Tx, workspaceID string, m Member) (bool, error) {
	if !m.IsAdmin() {
		return false, nil
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM members m JOIN roles r ON r.id = m.role_id
		WHERE m.workspace_id = ? AND r.builtin = TRUE AND r.name = ?`, workspaceID, access.RoleAdmin).Scan(&n)
	return n <= 1, err
}

// touchMember applies the rules shared by changing a role and removing a member.
func touchMember(p *access.Principal, m Member, verb string) error {
	if m.UserID == p.UserID {
		return errorf(Forbidden, "you cannot %s yourself; ask another member with team access", verb)
	}
	return covers(p, m.Levels, m.Email+"'s role ("+m.RoleName+")")
}

// ChangeRole gives a member another role (team editor): not one's own, only between roles
// within the actor's levels, never leaving the workspace without an Admin.
func (s *Service) ChangeRole(ctx context.Context, p *access.Principal, userID, roleID string) (Member, error) {
	if err := member(p); err != nil {
		return Member{}, err
	}
	var out Member
	err := s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		m, err := memberByID(ctx, tx, p.WorkspaceID, userID)
		if err != nil {
			return err
		}
		r, err := chosenRole(ctx, tx, p.WorkspaceID, roleID)
		if err != nil {
			return err
		}
		if err := touchMember(p, m, "change the role of"); err != nil {
			return err
		}
		if err := covers(p, r.Levels, "the role "+r.Name); err != nil {
			return err
		}
		if m.RoleID == r.ID {
			out = m
			return nil
		}
		if last, err := lastAdmin(ctx, tx, p.WorkspaceID, m); err != nil {
			return err
		} else if last {
			return errorf(Conflict, "%s is the last Admin of this workspace; make someone else Admin first", m.Email)
		}
		if _, err := tx.Exec(ctx, `UPDATE members SET role_id = ? WHERE workspace_id = ? AND user_id = ?`, r.ID, p.WorkspaceID, userID); err != nil {
			return err
		}
		if out, err = memberByID(ctx, tx, p.WorkspaceID, userID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "member.role_change", "member", userID, map[string]any{
			"email": m.Email, "from": map[string]string{"id": m.RoleID, "name": m.RoleName}, "to": map[string]string{"id": r.ID, "name": r.Name}})
	})
	return out, err
}

// RemoveMember takes a member out of the workspace (team owner). In the same transaction it
// ends the user's sessions and revokes their API keys and hooks of this workspace, so none
// works on the very next request.
func (s *Service) RemoveMember(ctx context.Context, p *access.Principal, userID string) error {
	if err := member(p); err != nil {
		return err
	}
	return s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		m, err := memberByID(ctx, tx, p.WorkspaceID, userID)
		if err != nil {
			return err
		}
		if err := touchMember(p, m, "remove"); err != nil {
			return err
		}
		if last, err := lastAdmin(ctx, tx, p.WorkspaceID, m); err != nil {
			return err
		} else if last {
			return errorf(Conflict, "%s is the last Admin of this workspace and cannot be removed", m.Email)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM members WHERE workspace_id = ? AND user_id = ?`, p.WorkspaceID, userID); err != nil {
			return err
		}
		if err := s.Accounts.EndUserSessions(ctx, tx, userID); err != nil {
			return err
		}
		// What they left behind besides sessions: API keys revoked, Zapier hooks deleted.
		if err := apikey.RevokeMember(ctx, tx, p.WorkspaceID, userID, time.Now()); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "member.remove", "member", userID, map[string]any{
			"email": m.Email, "role": map[string]string{"id": m.RoleID, "name": m.RoleName}})
	})
}
