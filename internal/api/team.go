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
	tags := []string{"Team"}
	viewer, editor, owner := access.Require(access.Team, access.Viewer), access.Require(access.Team, access.Editor), access.Require(access.Team, access.Owner)
	base := func(ctx context.Context) string { return s.origin(ctx, publicURL) }
	fail := s.Problem

	Register(s, huma.Operation{OperationID: "listRoles", Method: http.MethodGet, Path: "/v1/roles", Summary: "List roles",
		Description: "Built-in roles (Admin, Manager, Operator) and custom roles, with their level per feature and how many members hold each.",
		Tags:        tags}, viewer,
		func(ctx context.Context, _ *struct{}) (*struct{ Body rolesBody }, error) {
			rs, err := t.Roles(ctx, access.From(ctx).WorkspaceID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body rolesBody }{rolesBody{rs}}, nil
		})

	Register(s, huma.Operation{OperationID: "createRole", Method: http.MethodPost, Path: "/v1/roles", Summary: "Create a custom role",
		Description: "Levels are per feature (missing features are none). To copy a role, give copyFrom and omit levels (or give levels to adjust). " +
			"No level may be above your own.",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, owner,
		func(ctx context.Context, in *struct {
			Body struct {
				Name     string        `json:"name" minLength:"1" maxLength:"100"`
				Levels   access.Levels `json:"levels,omitempty" doc:"Feature → none, viewer, editor or owner."`
				CopyFrom string        `json:"copyFrom,omitempty" maxLength:"26" doc:"Id of a role to start from."`
			}
		}) (*struct{ Body team.Role }, error) {
			r, err := t.CreateRole(ctx, access.From(ctx), team.RoleInput{Name: in.Body.Name, Levels: in.Body.Levels, CopyFrom: in.Body.CopyFrom})
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body team.Role }{r}, nil
		})

	Register(s, huma.Operation{OperationID: "updateRole", Method: http.MethodPatch, Path: "/v1/roles/{id}", Summary: "Edit a role",
		Description: "Rename a custom role or change a role's levels. Admin cannot be edited; Manager and Operator keep their names. " +
			"You cannot edit your own role, nor a role above your own levels.",
		Tags: tags, Errors: []int{http.StatusNotFound, http.StatusConflict}}, owner,
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"26"`
			Body struct {
				Name   *string       `json:"name,omitempty" minLength:"1" maxLength:"100"`
				Levels access.Levels `json:"levels,omitempty"`
			}
		}) (*struct{ Body team.Role }, error) {
			r, err := t.UpdateRole(ctx, access.From(ctx), in.ID, team.RoleUpdate{Name: in.Body.Name, Levels: in.Body.Levels})
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body team.Role }{r}, nil
		})

	Register(s, huma.Operation{OperationID: "deleteRole", Method: http.MethodDelete, Path: "/v1/roles/{id}", Summary: "Delete a custom role",
		Description: "Refused with 409, listing the members, while anyone holds the role (or a pending invitation offers it).",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, owner,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"26"`
		}) (*struct{}, error) {
			if err := t.DeleteRole(ctx, access.From(ctx), in.ID); err != nil {
				return nil, fail(ctx, err)
			}
			return nil, nil
		})

	Register(s, huma.Operation{OperationID: "listMembers", Method: http.MethodGet, Path: "/v1/members", Summary: "List members",
		Tags: tags}, viewer,
		func(ctx context.Context, _ *struct{}) (*struct{ Body membersBody }, error) {
			ms, err := t.Members(ctx, access.From(ctx).WorkspaceID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body membersBody }{membersBody{ms}}, nil
		})

	Register(s, huma.Operation{OperationID: "changeMemberRole", Method: http.MethodPatch, Path: "/v1/members/{userId}", Summary: "Change a member's role",
		Description: "Applies from the member's next request. Not your own role; not to or from a role above your own levels; never the last Admin.",
		Tags:        tags, Errors: []int{http.StatusNotFound, http.StatusConflict}}, editor,
		func(ctx context.Context, in *struct {
			UserID string `path:"userId" maxLength:"26"`
			Body   struct {
				RoleID string `json:"roleId" minLength:"1" maxLength:"26"`
			}
		}) (*struct{ Body team.Member }, error) {
			if strings.IndexByte(in.Body.RoleID, 0) >= 0 { // an id never has one; PostgreSQL refuses it in text
				return nil, huma.Error422UnprocessableEntity("roleId: no such role", &huma.ErrorDetail{Location: "body.roleId", Message: "no such role"})
			}
			m, err := t.ChangeRole(ctx, access.From(ctx), in.UserID, in.Body.RoleID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body team.Member }{m}, nil
		})

	Register(s, huma.Operation{OperationID: "removeMember", Method: http.MethodDelete, Path: "/v1/members/{userId}", Summary: "Remove a member",
		Description: "Ends the member's sessions and revokes their API keys and hooks at once. Never the last Admin, nor yourself.",
		Tags:        tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, owner,
		func(ctx context.Context, in *struct {
			UserID string `path:"userId" maxLength:"26"`
		}) (*struct{}, error) {
			if err := t.RemoveMember(ctx, access.From(ctx), in.UserID); err != nil {
				return nil, fail(ctx, err)
			}
			return nil, nil
		})

	Register(s, huma.Operation{OperationID: "listInvitations", Method: http.MethodGet, Path: "/v1/invitations", Summary: "List invitations",
		Description: "Pending, expired and joined invitations, newest first. Links are never listed: they exist only when issued.",
		Tags:        tags}, viewer,
		func(ctx context.Context, _ *struct{}) (*struct{ Body invitationsBody }, error) {
			is, err := t.Invitations(ctx, access.From(ctx).WorkspaceID)
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body invitationsBody }{invitationsBody{is}}, nil
		})

	Register(s, huma.Operation{OperationID: "invite", Method: http.MethodPost, Path: "/v1/invitations", Summary: "Invite people",
		Description: "One pending invitation per address (inviting an address again renews it with a new link). " +
			"The link is emailed when SMTP is configured; otherwise it is returned once, for you to pass on. It works for 7 days.",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, editor,
		func(ctx context.Context, in *struct {
			Body struct {
				Emails []string `json:"emails" minItems:"1" maxItems:"50" doc:"Addresses to invite."`
				RoleID string   `json:"roleId" minLength:"1" maxLength:"26"`
			}
		}) (*struct{ Body issuedBody }, error) {
			out, err := t.Invite(ctx, access.From(ctx), in.Body.Emails, in.Body.RoleID, base(ctx))
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body issuedBody }{issuedBody{out}}, nil
		})

	Register(s, huma.Operation{OperationID: "resendInvitation", Method: http.MethodPost, Path: "/v1/invitations/{id}/resend", Summary: "Resend an invitation",
		Description: "Issues a new link (the previous one stops working) valid for another 7 days, and emails it or returns it.",
		Tags:        tags, Errors: []int{http.StatusNotFound, http.StatusConflict}}, editor,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"26"`
		}) (*struct{ Body team.Issued }, error) {
			out, err := t.Resend(ctx, access.From(ctx), in.ID, base(ctx))
			if err != nil {
				return nil, fail(ctx, err)
			}
			return &struct{ Body team.Issued }{out}, nil
		})

	Register(s, huma.Operation{OperationID: "revokeInvitation", Method: http.MethodDelete, Path: "/v1/invitations/{id}", Summary: "Revoke an invitation",
		Tags: tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound, http.StatusConflict}}, editor,
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"26"`
		}) (*struct{}, error) {
			if err := t.Revoke(ctx, access.From(ctx), in.ID); err != nil {
				return nil, fail(ctx, err)
			}
			return nil, nil
		})
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
