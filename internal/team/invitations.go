package team

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/credential"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// InviteKind prefixes invitation tokens (the secret part of the accept link).
const InviteKind = "rdi"

// MaxInviteEmails bounds one invitation request.
const MaxInviteEmails = 50

// Invitation statuses. Expired is computed: a pending invitation past its expiry.
const (
	StatusPending = "pending"
	StatusJoined  = "joined"
	StatusExpired = "expired"
)

// Invitation is an offer to join a workspace with a role. Its token is never stored.
type Invitation struct {
	ID         string     `json:"id"`
	Email      string     `json:"email"`
	RoleID     string     `json:"roleId"`
	RoleName   string     `json:"roleName"`
	Status     string     `json:"status" enum:"pending,joined,expired"`
	InvitedBy  string     `json:"invitedBy,omitempty" doc:"Email of who invited, when still known."`
	CreatedAt  time.Time  `json:"createdAt"`
	SentAt     time.Time  `json:"sentAt" doc:"When the current link was issued (resending issues a new one)."`
	ExpiresAt  time.Time  `json:"expiresAt"`
	AcceptedAt *time.Time `json:"acceptedAt,omitempty"`
}

// Issued is an invitation just created or resent. Link is set when it was not emailed, for
// the inviter to pass on; it is the only time the link exists in clear.
type Issued struct {
	Invitation
	Emailed    bool   `json:"emailed"`
	Link       string `json:"link,omitempty" doc:"The accept link, shown only when it was not emailed. It works once, until expiresAt."`
	EmailError string `json:"emailError,omitempty" doc:"Why the email could not be sent (the link is then shown instead)."`
}

const invitationCols = `i.id, i.email, i.role_id, r.name, i.status, COALESCE(u.email, ''), i.created_at, i.sent_at, i.expires_at, i.accepted_at
	FROM invitations i JOIN roles r ON r.id = i.role_id LEFT JOIN users u ON u.id = i.invited_by`

func (s *Service) scanInvitation(sc store.Scanner) (Invitation, error) {
	var in Invitation
	var created, sent, expires int64
	var accepted sql.NullInt64
	if err := sc.Scan(&in.ID, &in.Email, &in.RoleID, &in.RoleName, &in.Status, &in.InvitedBy, &created, &sent, &expires, &accepted); err != nil {
		return in, err
	}
	in.CreatedAt, in.SentAt, in.ExpiresAt, in.AcceptedAt = store.Time(created), store.Time(sent), store.Time(expires), store.NullTime(accepted)
	if in.Status == StatusPending && !s.Now.Now().UTC().Before(in.ExpiresAt) {
		in.Status = StatusExpired
	}
	return in, nil
}

// Invitations lists a workspace's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, workspaceID string) ([]Invitation, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+invitationCols+` WHERE i.workspace_id = ? ORDER BY i.id DESC`, workspaceID)
	return store.Collect(rows, err, s.scanInvitation)
}

func (s *Service) invitationByID(ctx context.Context, q store.Querier, workspaceID, id string) (Invitation, error) {
	in, err := s.scanInvitation(q.QueryRow(ctx, `SELECT `+invitationCols+` WHERE i.workspace_id = ? AND i.id = ?`, workspaceID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, errorf(NotFound, "no invitation %q in this workspace", id)
	}
	return in, err
}

// Invite creates (or, for an address already invited, renews) a pending invitation per
// email, with a role within the actor's levels, then emails the links or returns them.
// baseURL is the site's origin, e.g. https://relaydesk.example.com.
func (s *Service) Invite(ctx context.Context, p *access.Principal, emails []string, roleID, baseURL string) ([]Issued, error) {
	if err := member(p); err != nil {
		return nil, err
	}
	var clean []string
	seen := map[string]bool{}
	for _, e := range emails {
		for _, part := range strings.FieldsFunc(e, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
			n, err := account.NormalizeEmail(part)
			if err != nil {
				return nil, err
			}
			if !seen[n] {
				seen[n] = true
				clean = append(clean, n)
			}
		}
	}
	if len(clean) == 0 {
		return nil, input.Errorf("", "enter at least one email address")
	}
	if len(clean) > MaxInviteEmails {
		return nil, input.Errorf("", "invite at most %d addresses at a time", MaxInviteEmails)
	}
	type pendingSend struct {
		id, token string
	}
	var sends []pendingSend
	var wsName string
	err := s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		r, err := chosenRole(ctx, tx, p.WorkspaceID, roleID)
		if err != nil {
			return err
		}
		if wsName, err = inviteAs(ctx, tx, p, r); err != nil {
			return err
		}
		now := s.Now.Now().UTC()
		for _, email := range clean {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM members m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = ? AND u.email = ?`,
				p.WorkspaceID, email).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return errorf(Conflict, "%s is already a member of this workspace", email)
			}
			token, _ := credential.New(InviteKind)
			var id string
			err := tx.QueryRow(ctx, `SELECT id FROM invitations WHERE workspace_id = ? AND email = ? AND status = 'pending'`, p.WorkspaceID, email).Scan(&id)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				id = store.NewID()
				_, err = tx.Exec(ctx, `INSERT INTO invitations (id, workspace_id, email, role_id, token_hash, invited_by, status, created_at, sent_at, expires_at)
					VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`, id, p.WorkspaceID, email, r.ID, credential.Hash(token), p.UserID,
					store.Micros(now), store.Micros(now), store.Micros(now.Add(s.ttl())))
			case err == nil:
				_, err = tx.Exec(ctx, `UPDATE invitations SET role_id = ?, token_hash = ?, invited_by = ?, sent_at = ?, expires_at = ? WHERE id = ?`,
					r.ID, credential.Hash(token), p.UserID, store.Micros(now), store.Micros(now.Add(s.ttl())), id)
			}
			if err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, p.WorkspaceID, "invitation.create", "invitation", id,
				map[string]any{"email": email, "role": map[string]string{"id": r.ID, "name": r.Name}}); err != nil {
				return err
			}
			sends = append(sends, pendingSend{id, token})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Issued, 0, len(sends))
	for _, ps := range sends {
		in, err := s.invitationByID(ctx, s.DB, p.WorkspaceID, ps.id)
		if err != nil {
			return nil, err
		}
		out = append(out, s.deliver(ctx, p, wsName, in, ps.token, baseURL))
	}
	return out, nil
}

// Resend issues a new link for a pending (or expired) invitation: the old link stops
// working, the expiry starts again, and the link is emailed or returned.
func (s *Service) Resend(ctx context.Context, p *access.Principal, id, baseURL string) (Issued, error) {
	if err := member(p); err != nil {
		return Issued{}, err
	}
	token, _ := credential.New(InviteKind)
	var wsName string
	err := s.change(ctx, p.WorkspaceID, func(tx *store.Tx) error {
		in, err := s.invitationByID(ctx, tx, p.WorkspaceID, id)
		if err != nil {
			return err
		}
		if in.Status == StatusJoined {
			return errorf(Conflict, "%s has already joined", in.Email)
		}
		r, err := roleByID(ctx, tx, p.WorkspaceID, in.RoleID)
		if err != nil {
			return err
		}
		if wsName, err = inviteAs(ctx, tx, p, r); err != nil {
			return err
		}
		now := s.Now.Now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE invitations SET token_hash = ?, sent_at = ?, expires_at = ? WHERE workspace_id = ? AND id = ?`,
			credential.Hash(token), store.Micros(now), store.Micros(now.Add(s.ttl())), p.WorkspaceID, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "invitation.resend", "invitation", id, map[string]any{"email": in.Email})
	})
	if err != nil {
		return Issued{}, err
	}
	in, err := s.invitationByID(ctx, s.DB, p.WorkspaceID, id)
	if err != nil {
		return Issued{}, err
	}
	return s.deliver(ctx, p, wsName, in, token, baseURL), nil
}

// Revoke withdraws a pending invitation: its link stops working at once.
func (s *Service) Revoke(ctx context.Context, p *access.Principal, id string) error {
	if err := member(p); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, err := s.invitationByID(ctx, tx, p.WorkspaceID, id)
		if err != nil {
			return err
		}
		if in.Status == StatusJoined {
			return errorf(Conflict, "%s has already joined; remove the member instead", in.Email)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM invitations WHERE workspace_id = ? AND id = ?`, p.WorkspaceID, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, p.WorkspaceID, "invitation.revoke", "invitation", id,
			map[string]any{"email": in.Email, "role": map[string]string{"id": in.RoleID, "name": in.RoleName}})
	})
}

// Link is the accept link for a token.
func Link(baseURL, token string) string {
	return strings.TrimSuffix(baseURL, "/") + "/invitations/" + token
}

// deliver emails the link when a mailer is configured; otherwise (or when sending fails)
// the link is returned for the inviter to copy.
func (s *Service) deliver(ctx context.Context, p *access.Principal, wsName string, in Invitation, token, baseURL string) Issued {
	out := Issued{Invitation: in}
	link := Link(baseURL, token)
	if s.Mailer == nil {
		out.Link = link
		return out
	}
	subject := fmt.Sprintf("%s invited you to %s on relaydesk", p.Email, wsName)
	body := fmt.Sprintf("%s invited you to join the workspace %q on relaydesk as %s.\r\n\r\n"+
		"Accept the invitation (sign up or sign in with %s):\r\n\r\n%s\r\n\r\n"+
		"The link works until %s. If you did not expect this, ignore this email.\r\n",
		p.Email, wsName, in.RoleName, in.Email, link, in.ExpiresAt.Format("2 Jan 2006 15:04 MST"))
	sendCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.Mailer.Send(sendCtx, in.Email, subject, body); err != nil {
		s.log().WarnContext(ctx, "invitation email not sent; showing the link to the inviter", "invitation", in.ID, "err", err)
		out.Link = link
		out.EmailError = "the email could not be sent; copy the link instead"
		return out
	}
	out.Emailed = true
	return out
}

// Pending is what the accept page shows about an invitation.
type Pending struct {
	Invitation
	WorkspaceID   string
	WorkspaceName string
	// UserExists: the invited address already has an account (sign in rather than up).
	UserExists bool
}

// Lookup finds the live invitation of a token; used, revoked, unknown and expired tokens
// are Gone or NotFound.
func (s *Service) Lookup(ctx context.Context, token string) (Pending, error) {
	return s.lookup(ctx, s.DB, token)
}

func (s *Service) lookup(ctx context.Context, q store.Querier, token string) (Pending, error) {
	var out Pending
	if !credential.HasKind(token, InviteKind) || len(token) > 100 {
		return out, errorf(NotFound, "this invitation link is not valid; it may have been revoked or replaced by a newer one")
	}
	var wsID string
	in, err := s.scanInvitation(q.QueryRow(ctx, `SELECT `+invitationCols+` WHERE i.token_hash = ?`, credential.Hash(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return out, errorf(NotFound, "this invitation link is not valid; it may have been revoked or replaced by a newer one")
	}
	if err != nil {
		return out, err
	}
	if err := q.QueryRow(ctx, `SELECT w.id, w.name FROM invitations i JOIN workspaces w ON w.id = i.workspace_id WHERE i.id = ?`, in.ID).
		Scan(&wsID, &out.WorkspaceName); err != nil {
		return out, err
	}
	out.Invitation, out.WorkspaceID = in, wsID
	switch in.Status {
	case StatusJoined:
		return out, errorf(Gone, "this invitation has already been accepted; sign in instead")
	case StatusExpired:
		return out, errorf(Gone, "this invitation has expired; ask for a new one")
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE email = ?`, in.Email).Scan(&n); err != nil {
		return out, err
	}
	out.UserExists = n > 0
	return out, nil
}

// Accept makes the user (who must have the invited email) a member with the invitation's
// role, and marks the invitation joined. The returned workspace id is where to go next.
func (s *Service) Accept(ctx context.Context, token string, u account.User) (string, error) {
	var wsID string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		wsID, err = s.accept(ctx, tx, token, u)
		return err
	})
	return wsID, err
}

// SignUpAndAccept creates the invited user with a password and accepts, in one transaction.
func (s *Service) SignUpAndAccept(ctx context.Context, token, name, password string) (account.User, string, error) {
	var u account.User
	var wsID string
	if strings.TrimSpace(name) != "" {
		if err := checkName("user", name); err != nil {
			return u, "", err
		}
	}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		pend, err := s.lookup(ctx, tx, token)
		if err != nil {
			return err
		}
		if pend.UserExists {
			return errorf(Conflict, "an account for %s already exists; sign in to accept", pend.Email)
		}
		if u, err = s.Accounts.CreateUser(ctx, tx, pend.Email, strings.TrimSpace(name), password); err != nil {
			return err
		}
		wsID, err = s.accept(ctx, tx, token, u)
		return err
	})
	return u, wsID, err
}

func (s *Service) accept(ctx context.Context, tx *store.Tx, token string, u account.User) (string, error) {
	pend, err := s.lookup(ctx, tx, token)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(pend.Email, u.Email) {
		return "", errorf(Forbidden, "this invitation is for %s; you are signed in as %s", pend.Email, u.Email)
	}
	if err := lockWorkspace(ctx, tx, pend.WorkspaceID); err != nil {
		return "", err
	}
	ctx = access.With(ctx, &access.Principal{UserID: u.ID, Email: u.Email, WorkspaceID: pend.WorkspaceID, IP: ipOf(ctx)})
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM members WHERE workspace_id = ? AND user_id = ?`, pend.WorkspaceID, u.ID).Scan(&n); err != nil {
		return "", err
	}
	if n == 0 {
		if err := account.AddMember(ctx, tx, pend.WorkspaceID, u.ID, pend.RoleID); err != nil {
			return "", err
		}
	}
	now := store.Micros(s.Now.Now().UTC())
	res, err := tx.Exec(ctx, `UPDATE invitations SET status = 'joined', accepted_at = ?, accepted_user_id = ? WHERE id = ? AND status = 'pending'`,
		now, u.ID, pend.ID)
	if err != nil {
		return "", err
	}
	if k, _ := res.RowsAffected(); k != 1 {
		return "", errorf(Gone, "this invitation has already been accepted")
	}
	return pend.WorkspaceID, audit.Record(ctx, tx, pend.WorkspaceID, "member.join", "member", u.ID, map[string]any{
		"email": u.Email, "invitation": pend.ID, "role": map[string]string{"id": pend.RoleID, "name": pend.RoleName}, "alreadyMember": n > 0})
}

type ipKey struct{}

// WithIP records the client address for the audit entry of an acceptance (the accepting
// visitor is not yet a principal).
func WithIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, ipKey{}, ip)
}

func ipOf(ctx context.Context) string {
	if p := access.From(ctx); p != nil && p.IP != "" {
		return p.IP
	}
	ip, _ := ctx.Value(ipKey{}).(string)
	return ip
}

// inviteAs checks that p may invite with role r (within p's own levels) and returns the
// workspace's name for the invitation mail.
func inviteAs(ctx context.Context, tx *store.Tx, p *access.Principal, r Role) (string, error) {
	if err := covers(p, r.Levels, "the role "+r.Name); err != nil {
		return "", err
	}
	var name string
	err := tx.QueryRow(ctx, `SELECT name FROM workspaces WHERE id = ?`, p.WorkspaceID).Scan(&name)
	return name, err
}
