package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/team"
)

// RegisterTeam adds Team Management: roles, members and invitations (docs/architecture.md §10: team
// viewer lists; team editor invites and changes roles; team owner removes members and
// manages custom roles). publicURL, when set, is the origin used in invitation links;
// otherwise the request's own origin is.
func (s *Server) RegisterTeam(t *team.Service, publicURL string) {
	h := &teamAPI{Server: s, publicURL: publicURL, t: t}
	tags := []string{"Team"}
	viewer, editor, owner := access.Require(access.Team, access.Viewer), access.Require(access.Team, access.Editor), access.Require(access.Team, access.Owner)

	Register(s, huma.Operation{OperationID: "listRoles", Method: http.MethodGet, Path: "/v1/roles", Summary: "List roles",
		Description: "Built-in roles (Admin, Manager, Operator) and custom roles, with their level per feature and how many members hold each.",
		Tags:        tags}, viewer,
		h.listRoles)

	Register(s, huma.Operation{OperationID: "createRole", Method: http.MethodPost, Path: "/v1/roles", Summary: "Create a custom role",
		Description: "Levels are per feature (missing features are none). To copy a role, give copyFrom and omit levels (or give levels to adjust). " +
			"No level may be above your own.",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, owner,
		h.createRole)

	Register(s, huma.Operation{OperationID: "updateRole", Method: http.MethodPatch, Path: "/v1/roles/{id}", Summary: "Edit a role",
		Description: "Rename a custom role or change a role's levels. Admin cannot be edited; Manager and Operator keep their names. " +
			"You cannot edit your own role, nor a role above your own levels.",
		Tags: tags, Errors: []int{http.StatusNotFound, http.StatusConflict}}, owner,
		h.updateRole)

	Register(s, huma.Operation{OperationID: "deleteRole", Method: http.MethodDelete, Path: "/v1/roles/{id}", Summary: "Delete a custom role",
		Description: "Refused with 409, listing the members, while anyone holds the role (or a pending invitation offers it).",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, owner,
		h.deleteRole)

	Register(s, huma.Operation{OperationID: "listMembers", Method: http.MethodGet, Path: "/v1/members", Summary: "List members",
		Tags: tags}, viewer,
		h.listMembers)

	Register(s, huma.Operation{OperationID: "changeMemberRole", Method: http.MethodPatch, Path: "/v1/members/{userId}", Summary: "Change a member's role",
		Description: "Applies from the member's next request. Not your own role; not to or from a role above your own levels; never the last Admin.",
		Tags:        tags, Errors: []int{http.StatusNotFound, http.StatusConflict}}, editor,
		h.changeMemberRole)

	Register(s, huma.Operation{OperationID: "removeMember", Method: http.MethodDelete, Path: "/v1/members/{userId}", Summary: "Remove a member",
		Description: "Ends the member's sessions and revokes their API keys and hooks at once. Never the last Admin, nor yourself.",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, owner,
		h.removeMember)

	Register(s, huma.Operation{OperationID: "listInvitations", Method: http.MethodGet, Path: "/v1/invitations", Summary: "List invitations",
		Description: "Pending, expired and joined invitations, newest first. Links are never listed: they exist only when issued.",
		Tags:        tags}, viewer,
		h.listInvitations)

	Register(s, huma.Operation{OperationID: "invite", Method: http.MethodPost, Path: "/v1/invitations", Summary: "Invite people",
		Description: "One pending invitation per address (inviting an address again renews it with a new link). " +
			"The link is emailed when SMTP is configured; otherwise it is returned once, for you to pass on. It works for 7 days.",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, editor,
		h.invite)

	Register(s, huma.Operation{OperationID: "resendInvitation", Method: http.MethodPost, Path: "/v1/invitations/{id}/resend", Summary: "Resend an invitation",
		Description: "Issues a new link (the previous one stops working) valid for another 7 days, and emails it or returns it.",
		Tags:        tags, Errors: []int{http.StatusNotFound, http.StatusConflict}}, editor,
		h.resendInvitation)

	Register(s, huma.Operation{OperationID: "revokeInvitation", Method: http.MethodDelete, Path: "/v1/invitations/{id}", Summary: "Revoke an invitation",
		Tags: tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, editor,
		h.revokeInvitation)
}

// teamAPI holds the handlers RegisterTeam adds, with what they use.
type teamAPI struct {
	*Server
	publicURL string
	t         *team.Service
}

type listRolesOut struct{ Body rolesBody }

func (s *teamAPI) listRoles(ctx context.Context, _ *struct{}) (*listRolesOut, error) {
	rs, err := s.t.Roles(ctx, access.From(ctx).WorkspaceID)
	return &listRolesOut{rolesBody{rs}}, err
}

type createRoleRequest struct {
	Name     string        `json:"name" minLength:"1" maxLength:"100"`
	Levels   access.Levels `json:"levels,omitempty" doc:"Feature → none, viewer, editor or owner."`
	CopyFrom string        `json:"copyFrom,omitempty" maxLength:"26" doc:"Id of a role to start from."`
}

type createRoleIn struct{ Body createRoleRequest }

type createRoleOut struct{ Body team.Role }

func (s *teamAPI) createRole(ctx context.Context, in *createRoleIn) (*createRoleOut, error) {
	r, err := s.t.CreateRole(ctx, access.From(ctx), team.RoleInput{Name: in.Body.Name, Levels: in.Body.Levels, CopyFrom: in.Body.CopyFrom})
	return &createRoleOut{r}, err
}

type updateRoleRequest struct {
	Name   *string       `json:"name,omitempty" minLength:"1" maxLength:"100"`
	Levels access.Levels `json:"levels,omitempty"`
}

type updateRoleIn struct {
	ID   string `path:"id" maxLength:"26"`
	Body updateRoleRequest
}

type updateRoleOut struct{ Body team.Role }

func (s *teamAPI) updateRole(ctx context.Context, in *updateRoleIn) (*updateRoleOut, error) {
	r, err := s.t.UpdateRole(ctx, access.From(ctx), in.ID, team.RoleUpdate{Name: in.Body.Name, Levels: in.Body.Levels})
	return &updateRoleOut{r}, err
}

func (s *teamAPI) deleteRole(ctx context.Context, in *idIn) (*struct{}, error) {
	return nil, s.t.DeleteRole(ctx, access.From(ctx), in.ID)
}

type listMembersOut struct{ Body membersBody }

func (s *teamAPI) listMembers(ctx context.Context, _ *struct{}) (*listMembersOut, error) {
	ms, err := s.t.Members(ctx, access.From(ctx).WorkspaceID)
	return &listMembersOut{membersBody{ms}}, err
}

type changeMemberRoleRequest struct {
	RoleID string `json:"roleId" minLength:"1" maxLength:"26"`
}

type changeMemberRoleIn struct {
	UserID string `path:"userId" maxLength:"26"`
	Body   changeMemberRoleRequest
}

type changeMemberRoleOut struct{ Body team.Member }

func (s *teamAPI) changeMemberRole(ctx context.Context, in *changeMemberRoleIn) (*changeMemberRoleOut, error) {
	if strings.IndexByte(in.Body.RoleID, 0) >= 0 { // an id never has one; PostgreSQL refuses it in text
		return nil, huma.Error422UnprocessableEntity("roleId: no such role", &huma.ErrorDetail{Location: "body.roleId", Message: "no such role"})
	}
	m, err := s.t.ChangeRole(ctx, access.From(ctx), in.UserID, in.Body.RoleID)
	return &changeMemberRoleOut{m}, err
}

type removeMemberIn struct {
	UserID string `path:"userId" maxLength:"26"`
}

func (s *teamAPI) removeMember(ctx context.Context, in *removeMemberIn) (*struct{}, error) {
	return nil, s.t.RemoveMember(ctx, access.From(ctx), in.UserID)
}

type listInvitationsOut struct{ Body invitationsBody }

func (s *teamAPI) listInvitations(ctx context.Context, _ *struct{}) (*listInvitationsOut, error) {
	is, err := s.t.Invitations(ctx, access.From(ctx).WorkspaceID)
	return &listInvitationsOut{invitationsBody{is}}, err
}

type inviteRequest struct {
	Emails []string `json:"emails" minItems:"1" maxItems:"50" doc:"Addresses to invite."`
	RoleID string   `json:"roleId" minLength:"1" maxLength:"26"`
}

type inviteIn struct{ Body inviteRequest }

type inviteOut struct{ Body issuedBody }

func (s *teamAPI) invite(ctx context.Context, in *inviteIn) (*inviteOut, error) {
	out, err := s.t.Invite(ctx, access.From(ctx), in.Body.Emails, in.Body.RoleID, s.origin(ctx, s.publicURL))
	return &inviteOut{issuedBody{out}}, err
}

type resendInvitationOut struct{ Body team.Issued }

func (s *teamAPI) resendInvitation(ctx context.Context, in *idIn) (*resendInvitationOut, error) {
	out, err := s.t.Resend(ctx, access.From(ctx), in.ID, s.origin(ctx, s.publicURL))
	return &resendInvitationOut{out}, err
}

func (s *teamAPI) revokeInvitation(ctx context.Context, in *idIn) (*struct{}, error) {
	return nil, s.t.Revoke(ctx, access.From(ctx), in.ID)
}

type rolesBody struct {
	Roles []team.Role `json:"roles"`
}

type membersBody struct {
	Members []team.Member `json:"members"`
}

type invitationsBody struct {
	Invitations []team.Invitation `json:"invitations"`
}

type issuedBody struct {
	Invitations []team.Issued `json:"invitations"`
}
