package team

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Role is a role of a workspace with what may be done to it.
type Role struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Builtin bool          `json:"builtin" doc:"Seeded in every workspace: Admin, Manager, Operator."`
	Levels  access.Levels `json:"levels" doc:"Access level per feature: none, viewer, editor or owner."`
	// Editable: levels may be changed (not Admin). Renamable: name may change (custom
	// roles only). Deletable: custom roles (refused while members or invitations use it).
	Editable    bool      `json:"editable"`
	Renamable   bool      `json:"renamable"`
	Deletable   bool      `json:"deletable"`
	MemberCount int       `json:"memberCount"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// IsAdmin reports whether this is the built-in Admin role.
func (r Role) IsAdmin() bool { return r.Builtin && r.Name == access.RoleAdmin }

// full returns levels with every feature present (missing ones are none).
func full(ls access.Levels) access.Levels {
	out := access.Levels{}
	for _, f := range access.Features {
		out[f] = ls.Of(f)
	}
	return out
}

// checkName validates a role or user name: the account rules plus no control characters
// and valid UTF-8 (PostgreSQL refuses NUL in text).
func checkName(what, name string) error {
	if err := account.CheckName(what, name); err != nil {
		return err
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return input.Errorf("", "the %s name must be valid text without control characters", what)
	}
	return nil
}

// checkLevels validates a role's levels and that p may grant them (within p's own).
func checkLevels(p *access.Principal, ls access.Levels) (access.Levels, error) {
	if err := ls.Validate(); err != nil {
		return nil, &input.Error{Reason: err.Error()}
	}
	ls = full(ls)
	return ls, covers(p, ls, "the role")
}

func (r *Role) finish() {
	r.Editable = !r.IsAdmin()
	r.Renamable = !r.Builtin
	r.Deletable = !r.Builtin
	r.Levels = full(r.Levels)
}

const roleCols = `r.id, r.name, r.builtin, r.levels, r.created_at, r.updated_at,
	(SELECT COUNT(*) FROM members m WHERE m.role_id = r.id)`

func scanRole(sc store.Scanner) (Role, error) {
	var r Role
	var levels string
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.Name, &r.Builtin, &levels, &created, &updated, &r.MemberCount); err != nil {
		return r, err
	}
	var err error
	if r.Levels, err = access.DecodeLevels(levels); err != nil {
		return r, err
	}
	r.CreatedAt, r.UpdatedAt = store.Time(created), store.Time(updated)
	r.finish()
	return r, nil
}

// Roles lists a workspace's roles: built-in first, then custom by name.
func (s *Service) Roles(ctx context.Context, workspaceID string) ([]Role, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+roleCols+` FROM roles r WHERE r.workspace_id = ?
		ORDER BY CASE WHEN r.builtin THEN 0 ELSE 1 END, r.created_at, r.name`, workspaceID)
	return store.Collect(rows, err, scanRole)
}

// Role returns one role of a workspace.
func (s *Service) Role(ctx context.Context, workspaceID, id string) (Role, error) {
	return roleByID(ctx, s.DB, workspaceID, id)
}

// chosenRole is roleByID for a role the caller picked: one that does not exist is refused
// input, not a missing resource.
func chosenRole(ctx context.Context, q store.Querier, workspaceID, roleID string) (Role, error) {
	r, err := roleByID(ctx, q, workspaceID, roleID)
	var te *Error
	if errors.As(err, &te) && te.Kind == NotFound {
		return Role{}, input.Errorf("", "no role %q in this workspace", roleID)
	}
	return r, err
}

func roleByID(ctx context.Context, q store.Querier, workspaceID, id string) (Role, error) {
	r, err := scanRole(q.QueryRow(ctx, `SELECT `+roleCols+` FROM roles r WHERE r.workspace_id = ? AND r.id = ?`, workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, errorf(NotFound, "no role %q in this workspace", id)
	}
	return r, err
}

// RoleInput creates a role: its levels, or those of CopyFrom when Levels is nil.
type RoleInput struct {
	Name     string
	Levels   access.Levels
	CopyFrom string
}

// CreateRole adds a custom role (team owner, within the actor's own levels).
func (s *Service) CreateRole(ctx context.Context, p *access.Principal, in RoleInput) (Role, error) {
	if err := member(p); err != nil {
		return Role{}, err
	}
	name := strings.TrimSpace(in.Name)
	if err := checkName("role", name); err != nil {
		return Role{}, err
	}
	var out Role
	err := s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		levels := in.Levels
		if in.CopyFrom != "" {
			src, err := roleByID(ctx, tx, p.WorkspaceID, in.CopyFrom)
			if err != nil {
				return err
			}
			if levels == nil {
				levels = src.Levels
			}
		}
		levels, err := checkLevels(p, levels)
		if err != nil {
			return err
		}
		now := store.Micros(s.Now.Now().UTC())
		id := store.NewID()
		if out, err = saveRole(ctx, tx, p.WorkspaceID, id, name, `INSERT INTO roles (id, workspace_id, name, builtin, levels, created_at, updated_at) VALUES (?, ?, ?, FALSE, ?, ?, ?)`,
			id, p.WorkspaceID, name, levels.Encode(), now, now); err != nil {
			return err
		}
		detail := map[string]any{"name": name, "levels": levels}
		if in.CopyFrom != "" {
			detail["copiedFrom"] = in.CopyFrom
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "role.create", "role", id, detail)
	})
	return out, err
}

// saveRole runs the INSERT or UPDATE of role id, named name, and reads the role back; a name
// another role of the workspace has is a Conflict.
func saveRole(ctx context.Context, tx *store.Tx, workspaceID, id, name, query string, args ...any) (Role, error) {
	_, err := tx.Exec(ctx, query, args...)
	if store.IsUniqueViolation(err) {
		return Role{}, errorf(Conflict, "a role named %q already exists", name)
	}
	if err != nil {
		return Role{}, err
	}
	return roleByID(ctx, tx, workspaceID, id)
}

// RoleUpdate changes a role; nil fields stay as they are.
type RoleUpdate struct {
	Name   *string
	Levels access.Levels
}

// UpdateRole renames a custom role or changes a role's levels (not Admin's). The actor
// must cover both the old and the new levels.
func (s *Service) UpdateRole(ctx context.Context, p *access.Principal, id string, in RoleUpdate) (Role, error) {
	if err := member(p); err != nil {
		return Role{}, err
	}
	var out Role
	err := s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		r, err := roleByID(ctx, tx, p.WorkspaceID, id)
		if err != nil {
			return err
		}
		if r.IsAdmin() {
			return errorf(Forbidden, "the Admin role is built in and cannot be edited")
		}
		if r.ID == p.RoleID {
			return errorf(Forbidden, "you cannot edit your own role; ask another member with team owner access")
		}
		if err := covers(p, r.Levels, "the role "+r.Name); err != nil {
			return err
		}
		name, levels := r.Name, r.Levels
		detail := map[string]any{}
		if in.Name != nil && strings.TrimSpace(*in.Name) != r.Name {
			if r.Builtin {
				return errorf(Forbidden, "built-in roles keep their names")
			}
			name = strings.TrimSpace(*in.Name)
			if err := checkName("role", name); err != nil {
				return err
			}
			detail["name"] = map[string]string{"from": r.Name, "to": name}
		}
		if in.Levels != nil {
			if levels, err = checkLevels(p, in.Levels); err != nil {
				return err
			}
			detail["levels"] = map[string]access.Levels{"from": r.Levels, "to": levels}
		}
		if out, err = saveRole(ctx, tx, p.WorkspaceID, id, name, `UPDATE roles SET name = ?, levels = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			name, levels.Encode(), store.Micros(s.Now.Now().UTC()), p.WorkspaceID, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "role.update", "role", id, detail)
	})
	return out, err
}

// DeleteRole removes a custom role nobody uses; when members (or pending invitations) use
// it, the Conflict error lists them.
func (s *Service) DeleteRole(ctx context.Context, p *access.Principal, id string) error {
	if err := member(p); err != nil {
		return err
	}
	return s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		r, err := roleByID(ctx, tx, p.WorkspaceID, id)
		if err != nil {
			return err
		}
		if r.Builtin {
			return errorf(Forbidden, "the built-in role %s cannot be deleted", r.Name)
		}
		if err := covers(p, r.Levels, "the role "+r.Name); err != nil {
			return err
		}
		users, err := roleMembers(ctx, tx, p.WorkspaceID, id)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			emails := make([]string, len(users))
			for i, u := range users {
				emails[i] = u.Email
			}
			return &Error{Kind: Conflict, Members: users,
				Msg: "the role " + r.Name + " is used by " + plural(len(users), "member") + " (" + strings.Join(emails, ", ") +
					"); give them another role first"}
		}
		var pending int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM invitations WHERE workspace_id = ? AND role_id = ? AND status = 'pending'`,
			p.WorkspaceID, id).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			return errorf(Conflict, "the role %s is offered by %s; revoke them or invite with another role first",
				r.Name, plural(pending, "pending invitation"))
		}
		// Joined invitations keep their history but must not pin the role.
		if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE workspace_id = ? AND role_id = ?`, p.WorkspaceID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM roles WHERE workspace_id = ? AND id = ?`, p.WorkspaceID, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "role.delete", "role", id, map[string]any{"name": r.Name, "levels": r.Levels})
	})
}

func roleMembers(ctx context.Context, q store.Querier, workspaceID, roleID string) ([]MemberRef, error) {
	rows, err := q.Query(ctx, `SELECT u.id, u.email FROM members m JOIN users u ON u.id = m.user_id
		WHERE m.workspace_id = ? AND m.role_id = ? ORDER BY u.email`, workspaceID, roleID)
	return store.Collect(rows, err, func(r store.Scanner) (MemberRef, error) {
		var m MemberRef
		return m, r.Scan(&m.UserID, &m.Email)
	})
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
