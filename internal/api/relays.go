package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/relay"
)

// The request bodies of create and patch are decoded by relay.DecodeDefinition (strict, and
// its errors name the field); these types only describe them in the OpenAPI document.
type relayDoc struct {
	Name        string         `json:"name" maxLength:"100" doc:"Shown in the Relays list."`
	Description string         `json:"description,omitempty" maxLength:"1000"`
	Trigger     string         `json:"trigger" doc:"An event name from GET /v1/event-types, e.g. MessageReceived."`
	Conditions  *conditionsDoc `json:"conditions,omitempty" doc:"Omitted: every event of the trigger."`
	Actions     []actionDoc    `json:"actions" minItems:"1" maxItems:"10" doc:"Run in order."`
}

type relayPatchDoc struct {
	Name        string         `json:"name,omitempty" maxLength:"100"`
	Description string         `json:"description,omitempty" maxLength:"1000"`
	Trigger     string         `json:"trigger,omitempty"`
	Conditions  *conditionsDoc `json:"conditions,omitempty"`
	Actions     []actionDoc    `json:"actions,omitempty" maxItems:"10"`
}

type conditionsDoc struct {
	Match string    `json:"match,omitempty" enum:"all,any" doc:"all (AND, the default) or any (OR)."`
	Rules []ruleDoc `json:"rules" maxItems:"20"`
}

type ruleDoc struct {
	Type        string   `json:"type" enum:"messageContains,phoneNumberEquals,isAnonymousConversation,isNewConversation,activeHours"`
	Keywords    []string `json:"keywords,omitempty" doc:"messageContains: any of them, case-insensitive."`
	PhoneNumber string   `json:"phoneNumber,omitempty" doc:"phoneNumberEquals: the workspace line (E.164) that received the message."`
	Value       *bool    `json:"value,omitempty" doc:"isAnonymousConversation, isNewConversation."`
	Days        []string `json:"days,omitempty" doc:"activeHours: mon…sun."`
	Start       string   `json:"start,omitempty" doc:"activeHours: HH:MM, inclusive."`
	End         string   `json:"end,omitempty" doc:"activeHours: HH:MM, exclusive; before start crosses midnight."`
	Timezone    string   `json:"timezone,omitempty" doc:"activeHours: an IANA time zone, e.g. America/New_York."`
	Outside     *bool    `json:"outside,omitempty" doc:"activeHours: match outside the window."`
}

type actionDoc struct {
	Type       string `json:"type" enum:"sendWebhook"`
	EndpointID string `json:"endpointId" doc:"An endpoint of this workspace."`
}

// describeBody documents a RawBody operation's JSON body with the schema of T.
func (s *Server) describeBody(method, path string, t reflect.Type) {
	oapi := s.API.OpenAPI()
	item := oapi.Paths[path]
	if item == nil {
		return
	}
	var op *huma.Operation
	switch method {
	case http.MethodPost:
		op = item.Post
	case http.MethodPatch:
		op = item.Patch
	}
	if op == nil || op.RequestBody == nil {
		return
	}
	op.RequestBody.Content = map[string]*huma.MediaType{"application/json": {Schema: oapi.Components.Schemas.Schema(t, true, "")}}
}

type relayID struct {
	ID string `path:"id" maxLength:"26" doc:"The relay's id."`
}

type relayOut struct {
	Body relay.Relay
}

type rawJSON struct {
	RawBody []byte
}

// RegisterRelays adds Relays (docs/architecture.md §10: relays viewers list and read, editors create, edit,
// enable and disable, owners delete).
func (s *Server) RegisterRelays(svc *relay.Service) {
	h := &relaysAPI{Server: s, svc: svc}
	tags := []string{"Relays"}
	viewer, editor, owner := access.Require(access.Relays, access.Viewer), access.Require(access.Relays, access.Editor), access.Require(access.Relays, access.Owner)

	Register(s, huma.Operation{OperationID: "listRelays", Method: http.MethodGet, Path: "/v1/relays", Summary: "List relays",
		Description: "The workspace's relays, oldest first.", Tags: tags},
		viewer, h.listRelays)

	Register(s, huma.Operation{OperationID: "createRelay", Method: http.MethodPost, Path: "/v1/relays", Summary: "Create a relay",
		Description: "Creates a relay, paused: switch it on with POST /v1/relays/{id}/enable. A definition problem is a 422 naming the field.",
		Tags:        tags, DefaultStatus: http.StatusCreated},
		editor, h.createRelay)
	s.describeBody(http.MethodPost, "/v1/relays", reflect.TypeFor[relayDoc]())

	Register(s, huma.Operation{OperationID: "getRelay", Method: http.MethodGet, Path: "/v1/relays/{id}", Summary: "Get a relay", Tags: tags},
		viewer, h.getRelay)

	Register(s, huma.Operation{OperationID: "updateRelay", Method: http.MethodPatch, Path: "/v1/relays/{id}", Summary: "Edit a relay",
		Description: "Replaces the fields given (name, description, trigger, conditions, actions); the others are kept. Whether the relay is on does not change.",
		Tags:        tags},
		editor, h.updateRelay)
	s.describeBody(http.MethodPatch, "/v1/relays/{id}", reflect.TypeFor[relayPatchDoc]())

	Register(s, huma.Operation{OperationID: "deleteRelay", Method: http.MethodDelete, Path: "/v1/relays/{id}", Summary: "Delete a relay",
		Tags: tags, DefaultStatus: http.StatusNoContent},
		owner, h.deleteRelay)

	for _, on := range []bool{true, false} {
		id, path, summary := "enableRelay", "/v1/relays/{id}/enable", "Switch a relay on"
		if !on {
			id, path, summary = "disableRelay", "/v1/relays/{id}/disable", "Switch a relay off"
		}
		Register(s, huma.Operation{OperationID: id, Method: http.MethodPost, Path: path, Summary: summary, Tags: tags,
			Description: "Idempotent: switching a relay to the state it is in changes nothing."},
			editor, h.setEnabled(on))
	}

	Register(s, huma.Operation{OperationID: "listRelayTemplates", Method: http.MethodGet, Path: "/v1/relay-templates", Summary: "List relay templates",
		Description: "Ready-made relays; create one with POST /v1/relays/from-template.", Tags: tags},
		viewer, h.listRelayTemplates)

	Register(s, huma.Operation{OperationID: "createRelayFromTemplate", Method: http.MethodPost, Path: "/v1/relays/from-template",
		Summary: "Create a relay from a template", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Creates a paused relay from a template of GET /v1/relay-templates, sending to endpointId."},
		editor, h.createRelayFromTemplate)
}

// setEnabled is the handler of enableRelay (on) or disableRelay.
func (s *relaysAPI) setEnabled(on bool) func(context.Context, *relayID) (*relayOut, error) {
	return func(ctx context.Context, in *relayID) (*relayOut, error) {
		r, err := s.svc.SetEnabled(ctx, access.From(ctx).WorkspaceID, in.ID, on)
		return &relayOut{r}, err
	}
}

// relaysAPI holds the handlers RegisterRelays adds, with what they use.
type relaysAPI struct {
	*Server
	svc *relay.Service
}

type listRelaysResponse struct {
	Relays []relay.Relay `json:"relays"`
}

type listRelaysOut struct{ Body listRelaysResponse }

func (s *relaysAPI) listRelays(ctx context.Context, _ *struct{}) (*listRelaysOut, error) {
	rs, err := s.svc.List(ctx, access.From(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := &listRelaysOut{}
	out.Body.Relays = rs
	return out, nil
}

func (s *relaysAPI) createRelay(ctx context.Context, in *rawJSON) (*relayOut, error) {
	if err := checkJSON(in.RawBody); err != nil {
		return nil, err
	}
	d, err := relay.DecodeDefinition(in.RawBody)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Create(ctx, access.From(ctx).WorkspaceID, d)
	return &relayOut{r}, err
}

func (s *relaysAPI) getRelay(ctx context.Context, in *relayID) (*relayOut, error) {
	r, err := s.svc.Get(ctx, access.From(ctx).WorkspaceID, in.ID)
	return &relayOut{r}, err
}

type updateRelayIn struct {
	ID      string `path:"id" maxLength:"26" doc:"The relay's id."`
	RawBody []byte
}

func (s *relaysAPI) updateRelay(ctx context.Context, in *updateRelayIn) (*relayOut, error) {
	if err := checkJSON(in.RawBody); err != nil {
		return nil, err
	}
	ws := access.From(ctx).WorkspaceID
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(in.RawBody, &patch); err != nil || patch == nil {
		return nil, huma.Error422UnprocessableEntity("the body must be a JSON object", &huma.ErrorDetail{Location: "body", Message: "not a JSON object"})
	}
	r, err := s.svc.Get(ctx, ws, in.ID)
	if err != nil {
		return nil, err
	}
	cur, err := json.Marshal(r.Definition())
	if err != nil {
		return nil, err
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(cur, &merged); err != nil {
		return nil, err
	}
	for k, v := range patch {
		merged[k] = v // unknown keys are refused by DecodeDefinition, naming them
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	d, err := relay.DecodeDefinition(b)
	if err != nil {
		return nil, err
	}
	r, err = s.svc.Update(ctx, ws, in.ID, d)
	if err != nil {
		return nil, err
	}
	return &relayOut{r}, nil
}

func (s *relaysAPI) deleteRelay(ctx context.Context, in *relayID) (*struct{}, error) {
	if err := s.svc.Delete(ctx, access.From(ctx).WorkspaceID, in.ID); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type listRelayTemplatesResponse struct {
	Templates []relay.Template `json:"templates"`
}

type listRelayTemplatesOut struct{ Body listRelayTemplatesResponse }

func (s *relaysAPI) listRelayTemplates(ctx context.Context, _ *struct{}) (*listRelayTemplatesOut, error) {
	out := &listRelayTemplatesOut{}
	out.Body.Templates = relay.Templates()
	return out, nil
}

type createRelayFromTemplateIn struct{ Body FromTemplate }

func (s *relaysAPI) createRelayFromTemplate(ctx context.Context, in *createRelayFromTemplateIn) (*relayOut, error) {
	b := in.Body
	d, err := relay.FromTemplate(b.TemplateID, b.EndpointID, b.Keyword, b.Timezone)
	if err != nil {
		return nil, err
	}
	r, err := s.svc.Create(ctx, access.From(ctx).WorkspaceID, d)
	if err != nil {
		// The definition's fields came from the template request's.
		var in *input.Error
		if errors.As(err, &in) {
			err = &input.Error{Field: relay.TemplateField(in.Field), Reason: in.Reason, Value: in.Value, Err: in.Err}
		}
		return nil, err
	}
	return &relayOut{r}, nil
}

// FromTemplate is the request to create a relay from a template.
type FromTemplate struct {
	TemplateID string `json:"templateId" enum:"all-inbound,keyword,after-hours"`
	EndpointID string `json:"endpointId" maxLength:"64" doc:"An endpoint of this workspace."`
	Keyword    string `json:"keyword,omitempty" maxLength:"100" doc:"keyword template: the keyword (default HELP)."`
	Timezone   string `json:"timezone,omitempty" maxLength:"64" doc:"after-hours template: an IANA time zone (default UTC)."`
}
