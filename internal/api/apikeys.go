package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/apikey"
)

type createdKey struct {
	apikey.Key
	Token string `json:"key" doc:"The API key. It is shown only this once: store it now. Send it as Authorization: Bearer <key>."`
}

// ownerScope is the user id an operation is limited to: empty (everyone's) for developer
// owners, the caller's own otherwise (docs/architecture.md §10).
func ownerScope(p *access.Principal) string {
	if p.Can(access.Developer, access.Owner) {
		return ""
	}
	return p.UserID
}

// RegisterAPIKeys adds /v1/api-keys.
func (s *Server) RegisterAPIKeys(keys *apikey.Service) {
	h := &apiKeysAPI{Server: s, keys: keys}
	editor := access.Require(access.Developer, access.Editor)

	Register(s, huma.Operation{OperationID: "listApiKeys", Method: http.MethodGet, Path: "/v1/api-keys", Summary: "List API keys",
		Description: "Your live API keys; a developer owner sees every member's. Keys themselves are never shown again, only their prefix.",
		Tags:        []string{"API keys"}},
		editor, h.listApiKeys)

	Register(s, huma.Operation{OperationID: "createApiKey", Method: http.MethodPost, Path: "/v1/api-keys", Summary: "Create an API key",
		Description: "Creates a key that acts as you, with your role at the time of each request. The key is in the answer once and never again. " +
			"Keys are created from a signed-in session only, so that a leaked key cannot mint more keys.",
		Tags: []string{"API keys"}, DefaultStatus: http.StatusCreated},
		editor, h.createApiKey)

	Register(s, huma.Operation{OperationID: "revokeApiKey", Method: http.MethodDelete, Path: "/v1/api-keys/{id}", Summary: "Revoke an API key",
		Description: "The key stops working at once. Editors revoke their own keys; a developer owner any member's.",
		Tags:        []string{"API keys"}, DefaultStatus: http.StatusNoContent},
		editor, h.revokeApiKey)
}

// apiKeysAPI holds the handlers RegisterAPIKeys adds, with what they use.
type apiKeysAPI struct {
	*Server
	keys *apikey.Service
}

type listApiKeysOut struct{ Body []apikey.Key }

func (s *apiKeysAPI) listApiKeys(ctx context.Context, _ *struct{}) (*listApiKeysOut, error) {
	p := access.From(ctx)
	ks, err := s.keys.List(ctx, p.WorkspaceID, ownerScope(p))
	return &listApiKeysOut{ks}, err
}

type createApiKeyRequest struct {
	Name      string     `json:"name" minLength:"1" maxLength:"100" doc:"What the key is for, e.g. the script or Zap that uses it."`
	ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working; omit for a key that does not expire."`
}

type createApiKeyIn struct{ Body createApiKeyRequest }

type createApiKeyOut struct{ Body createdKey }

func (s *apiKeysAPI) createApiKey(ctx context.Context, in *createApiKeyIn) (*createApiKeyOut, error) {
	p := access.From(ctx)
	if p.Via != "session" {
		return nil, huma.Error403Forbidden("API keys can only be created from a signed-in session, not with another API key")
	}
	k, token, err := s.keys.Create(ctx, p.WorkspaceID, p.UserID, in.Body.Name, in.Body.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return &createApiKeyOut{createdKey{Key: k, Token: token}}, nil
}

func (s *apiKeysAPI) revokeApiKey(ctx context.Context, in *idIn) (*struct{}, error) {
	p := access.From(ctx)
	if _, err := s.keys.Revoke(ctx, p.WorkspaceID, in.ID, ownerScope(p)); err != nil {
		return nil, err
	}
	return nil, nil
}
