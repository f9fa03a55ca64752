package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/zapier"
)

// MaxSamples is how many recent events GET /v1/zapier/samples/{event} returns.
const MaxSamples = 3

// RegisterZapier adds the Zapier REST hook routes. GET /v1/me is Zapier's connection test.
func (s *Server) RegisterZapier(hooks *zapier.Hooks) {
	h := &zapierAPI{Server: s, hooks: hooks}
	editor := access.Require(access.Developer, access.Editor)
	tags := []string{"Zapier"}

	Register(s, huma.Operation{OperationID: "subscribeZapierHook", Method: http.MethodPost, Path: "/v1/zapier/hooks",
		Summary: "Subscribe a REST hook",
		Description: "Zapier calls this when a Zap using a relaydesk trigger is turned on. Every event of that name in the workspace is then " +
			"delivered to targetUrl like to an endpoint: signed with the workspace's signing secret, retried, and logged. " +
			"The hook belongs to the calling member and delivers only while they keep developer ≥ editor. " +
			"targetUrl must pass the same address rules as endpoints.",
		Tags: tags, DefaultStatus: http.StatusCreated},
		editor, h.subscribeZapierHook)

	Register(s, huma.Operation{OperationID: "listZapierHooks", Method: http.MethodGet, Path: "/v1/zapier/hooks",
		Summary: "List REST hooks", Description: "Your hooks; a developer owner sees every member's.", Tags: tags},
		editor, h.listZapierHooks)

	Register(s, huma.Operation{OperationID: "unsubscribeZapierHook", Method: http.MethodDelete, Path: "/v1/zapier/hooks/{id}",
		Summary: "Unsubscribe a REST hook", Description: "Zapier calls this when the Zap is turned off. Editors remove their own hooks; a developer owner any member's.",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		editor, h.unsubscribeZapierHook)

	Register(s, huma.Operation{OperationID: "zapierSamples", Method: http.MethodGet, Path: "/v1/zapier/samples/{event}",
		Summary: "Sample events for a trigger",
		Description: "Up to 3 recent events of that name in the workspace, newest first, exactly as a hook receives them; " +
			"the catalog's example when there are none yet. Zapier shows them when a Zap is set up.",
		Tags: tags},
		access.Require(access.Developer, access.Viewer), h.zapierSamples)
}

// zapierAPI holds the handlers RegisterZapier adds, with what they use.
type zapierAPI struct {
	*Server
	hooks *zapier.Hooks
}

type subscribeZapierHookRequest struct {
	TargetURL string `json:"targetUrl" minLength:"1" maxLength:"2048" doc:"Where deliveries go (Zapier's hook URL)."`
	Event     string `json:"event" minLength:"1" maxLength:"100" doc:"Event name from the catalog, e.g. MessageReceived."`
}

type subscribeZapierHookIn struct{ Body subscribeZapierHookRequest }

type subscribeZapierHookOut struct{ Body zapier.Hook }

func (s *zapierAPI) subscribeZapierHook(ctx context.Context, in *subscribeZapierHookIn) (*subscribeZapierHookOut, error) {
	p := access.From(ctx)
	h, err := s.hooks.Subscribe(ctx, p.WorkspaceID, p.UserID, p.APIKeyID, in.Body.TargetURL, in.Body.Event)
	return &subscribeZapierHookOut{h}, err
}

type listZapierHooksOut struct{ Body []zapier.Hook }

func (s *zapierAPI) listZapierHooks(ctx context.Context, _ *struct{}) (*listZapierHooksOut, error) {
	p := access.From(ctx)
	hs, err := s.hooks.List(ctx, p.WorkspaceID, ownerScope(p))
	return &listZapierHooksOut{hs}, err
}

type unsubscribeZapierHookIn struct {
	ID string `path:"id" maxLength:"40"`
}

func (s *zapierAPI) unsubscribeZapierHook(ctx context.Context, in *unsubscribeZapierHookIn) (*struct{}, error) {
	p := access.From(ctx)
	return nil, s.hooks.Unsubscribe(ctx, p.WorkspaceID, in.ID, ownerScope(p))
}

type zapierSamplesIn struct {
	Event string `path:"event" maxLength:"100"`
}

type zapierSamplesOut struct{ Body []json.RawMessage }

func (s *zapierAPI) zapierSamples(ctx context.Context, in *zapierSamplesIn) (*zapierSamplesOut, error) {
	p := access.From(ctx)
	t, ok := event.Lookup(in.Event)
	if !ok {
		return nil, huma.Error404NotFound("no event named " + in.Event + " in the catalog")
	}
	out, err := s.hooks.RecentEvents(ctx, p.WorkspaceID, t.Name, MaxSamples)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		env := event.Envelope{ID: store.NewID(), Name: t.Name, WorkspaceID: p.WorkspaceID, CreatedAt: time.Now(), DataType: t.DataType, Data: t.Example}
		out = append(out, event.Encode(env))
	}
	return &zapierSamplesOut{out}, nil
}
