package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
)

func (s *Server) registerPlatform() {
	h := &platformAPI{Server: s}
	Register(s, huma.Operation{OperationID: "createWorkspace", Method: http.MethodPost, Path: "/v1/platform/workspaces",
		Summary: "Create a workspace with its first Admin", Tags: []string{"Platform"}, DefaultStatus: http.StatusCreated,
		Description: "For the producer: creates the workspace, seeds its built-in roles and makes the user (created when new) its Admin."},
		access.ByPlatform, h.createWorkspace)
}

// platformAPI holds the handlers registerPlatform adds, with what they use.
type platformAPI struct {
	*Server
}

type createWorkspaceRequest struct {
	Name          string `json:"name" minLength:"1" maxLength:"100"`
	AdminEmail    string `json:"adminEmail" maxLength:"254"`
	AdminPassword string `json:"adminPassword" minLength:"8" maxLength:"256"`
}

type createWorkspaceIn struct{ Body createWorkspaceRequest }

type createWorkspaceOut struct{ Body account.Setup }

func (s *platformAPI) createWorkspace(ctx context.Context, in *createWorkspaceIn) (*createWorkspaceOut, error) {
	out, err := s.Accounts.CreateWorkspaceWithAdmin(ctx, in.Body.Name, in.Body.AdminEmail, in.Body.AdminPassword)
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		return nil, huma.Error409Conflict("a user with this email exists and the password does not match theirs")
	case err != nil:
		return nil, err
	}
	return &createWorkspaceOut{out}, nil
}

// RegisterFoundation adds the routes of the foundation: sessions, me and platform.
func (s *Server) RegisterFoundation() {
	s.registerSessions()
	s.registerPlatform()
}
