package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/endpoint"
)

type endpointID struct {
	ID string `path:"id" maxLength:"26" doc:"The endpoint's id."`
}

type endpointOut struct {
	Body endpoint.Endpoint
}

type secretOut struct {
	CacheControl string `header:"Cache-Control"`
	Body         secretBody
}

// secretBody is the secret itself, for those allowed to see it, with what is known about it.
type secretBody struct {
	Secret string `json:"secret" doc:"The signing secret (whsec_…). Treat it as a password."`
	endpoint.SecretInfo
}

func secretResult(sec interface{ String() string }, info endpoint.SecretInfo) *secretOut {
	return &secretOut{CacheControl: "no-store", Body: secretBody{Secret: sec.String(), SecretInfo: info}}
}

// RegisterEndpoints adds Developer Tools: endpoints, test-send and the signing secret
// (docs/architecture.md §10: developer viewers read, editors change, owners delete).
func (s *Server) RegisterEndpoints(svc *endpoint.Service) {
	h := &endpointsAPI{Server: s, svc: svc}
	tags := []string{"Endpoints"}
	viewer, editor, owner := access.Require(access.Developer, access.Viewer), access.Require(access.Developer, access.Editor), access.Require(access.Developer, access.Owner)

	Register(s, huma.Operation{OperationID: "listEndpoints", Method: http.MethodGet, Path: "/v1/endpoints", Summary: "List endpoints",
		Description: "The workspace's webhook endpoints, oldest first.", Tags: tags},
		viewer, h.listEndpoints)

	Register(s, huma.Operation{OperationID: "createEndpoint", Method: http.MethodPost, Path: "/v1/endpoints", Summary: "Add an endpoint",
		Description: "Saves a URL that will receive the workspace's webhooks. The URL must be absolute https, with a host, " +
			"no user name or password, no fragment, at most 2048 characters, and every address its host resolves to must be " +
			"public; each refusal says why, at body.url. A workspace has at most 20 endpoints (409 past that).",
		Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}},
		editor, h.createEndpoint)

	Register(s, huma.Operation{OperationID: "getEndpoint", Method: http.MethodGet, Path: "/v1/endpoints/{id}", Summary: "Get an endpoint",
		Tags: tags, Errors: []int{http.StatusNotFound}},
		viewer, h.getEndpoint)

	Register(s, huma.Operation{OperationID: "updateEndpoint", Method: http.MethodPatch, Path: "/v1/endpoints/{id}", Summary: "Change an endpoint",
		Description: "Sets the fields present in the body. Enabling an endpoint that relaydesk disabled (410 Gone, failing for 5 days) clears its disabledReason.",
		Tags:        tags, Errors: []int{http.StatusNotFound}},
		editor, h.updateEndpoint)

	Register(s, huma.Operation{OperationID: "deleteEndpoint", Method: http.MethodDelete, Path: "/v1/endpoints/{id}", Summary: "Delete an endpoint",
		Tags: tags, DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound}},
		owner, h.deleteEndpoint)

	Register(s, huma.Operation{OperationID: "testEndpoint", Method: http.MethodPost, Path: "/v1/endpoints/{id}/test", Summary: "Send a test event",
		Description: "Signs a TestEvent with the workspace's signing secret (both secrets during a rotation grace window) and POSTs it " +
			"to the endpoint once, through the same guarded client as deliveries. The answer is 200 whatever the receiver did: " +
			"see ok, status, durationMs, responseExcerpt and error. 409 when the workspace has no signing secret yet.",
		Tags: tags, Errors: []int{http.StatusNotFound, http.StatusConflict}},
		editor, h.testEndpoint)

	stags := []string{"Signing secret"}
	Register(s, huma.Operation{OperationID: "getSigningSecret", Method: http.MethodGet, Path: "/v1/signing-secret", Summary: "Describe the signing secret",
		Description: "Whether the workspace has a signing secret, its fingerprint and dates, and the previous secret's fingerprint while a rotation grace window lasts. Never the secret itself.",
		Tags:        stags},
		viewer, h.getSigningSecret)

	Register(s, huma.Operation{OperationID: "generateSigningSecret", Method: http.MethodPost, Path: "/v1/signing-secret", Summary: "Generate the signing secret",
		Description: "Creates the workspace's signing secret and returns it. 409 when there is one already (reveal or rotate it).",
		Tags:        stags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}},
		editor, h.generateSigningSecret)

	Register(s, huma.Operation{OperationID: "revealSigningSecret", Method: http.MethodPost, Path: "/v1/signing-secret/reveal", Summary: "Reveal the signing secret",
		Description: "Returns the current signing secret. Recorded in the audit log.", Tags: stags, Errors: []int{http.StatusNotFound}},
		editor, h.revealSigningSecret)

	Register(s, huma.Operation{OperationID: "rotateSigningSecret", Method: http.MethodPost, Path: "/v1/signing-secret/rotate", Summary: "Rotate the signing secret",
		Description: "Replaces the signing secret and returns the new one. Receivers must switch to it now: with graceSeconds 0 " +
			"(the default) the old secret stops signing at once; with graceSeconds up to 86400, deliveries carry a webhook-signature " +
			"for both secrets until the window ends (X-MessageDesk-Signature always uses the new one). 409 when there is no secret yet.",
		Tags: stags, Errors: []int{http.StatusConflict}},
		editor, h.rotateSigningSecret)
}

// endpointsAPI holds the handlers RegisterEndpoints adds, with what they use.
type endpointsAPI struct {
	*Server
	svc *endpoint.Service
}

type listEndpointsResponse struct {
	Endpoints []endpoint.Endpoint `json:"endpoints"`
}

type listEndpointsOut struct {
	Body listEndpointsResponse
}

func (s *endpointsAPI) listEndpoints(ctx context.Context, _ *struct{}) (*listEndpointsOut, error) {
	list, err := s.svc.List(ctx, access.From(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	out := &listEndpointsOut{}
	out.Body.Endpoints = list
	return out, nil
}

type createEndpointRequest struct {
	URL          string `json:"url" doc:"Absolute https URL (checked at save time and again at every connection)."`
	Description  string `json:"description,omitempty" maxLength:"500"`
	Enabled      *bool  `json:"enabled,omitempty" doc:"Defaults to true."`
	Ordering     string `json:"ordering,omitempty" enum:"none,fifo" doc:"none (default): deliveries go in parallel. fifo: one at a time, in publish order."`
	MaxPerSecond int    `json:"maxPerSecond,omitempty" minimum:"0" maximum:"10000" doc:"At most this many deliveries per second across all instances; 0 (default) means no limit."`
}

type createEndpointIn struct {
	Body createEndpointRequest
}

type createEndpointOut struct {
	Location string `header:"Location"`
	Body     endpoint.Endpoint
}

func (s *endpointsAPI) createEndpoint(ctx context.Context, in *createEndpointIn) (*createEndpointOut, error) {
	enabled := in.Body.Enabled == nil || *in.Body.Enabled
	e, err := s.svc.Create(ctx, access.From(ctx).WorkspaceID, endpoint.Input{URL: in.Body.URL, Description: in.Body.Description, Enabled: enabled,
		Ordering: in.Body.Ordering, MaxPerSecond: in.Body.MaxPerSecond})
	if err != nil {
		return nil, err
	}
	return &createEndpointOut{"/v1/endpoints/" + e.ID, e}, nil
}

func (s *endpointsAPI) getEndpoint(ctx context.Context, in *endpointID) (*endpointOut, error) {
	e, err := s.svc.Get(ctx, access.From(ctx).WorkspaceID, in.ID)
	return &endpointOut{e}, err
}

type updateEndpointRequest struct {
	URL          *string `json:"url,omitempty"`
	Description  *string `json:"description,omitempty" maxLength:"500"`
	Enabled      *bool   `json:"enabled,omitempty"`
	Ordering     *string `json:"ordering,omitempty" enum:"none,fifo" doc:"Turning fifo off lets every waiting delivery go at once; turning it on applies to events published after the change."`
	MaxPerSecond *int    `json:"maxPerSecond,omitempty" minimum:"0" maximum:"10000" doc:"0 removes the limit."`
}

type updateEndpointIn struct {
	ID   string `path:"id" maxLength:"26" doc:"The endpoint's id."`
	Body updateEndpointRequest
}

func (s *endpointsAPI) updateEndpoint(ctx context.Context, in *updateEndpointIn) (*endpointOut, error) {
	e, err := s.svc.Update(ctx, access.From(ctx).WorkspaceID, in.ID, endpoint.Patch{URL: in.Body.URL, Description: in.Body.Description, Enabled: in.Body.Enabled,
		Ordering: in.Body.Ordering, MaxPerSecond: in.Body.MaxPerSecond})
	if err != nil {
		return nil, err
	}
	return &endpointOut{e}, nil
}

func (s *endpointsAPI) deleteEndpoint(ctx context.Context, in *endpointID) (*struct{}, error) {
	if err := s.svc.Delete(ctx, access.From(ctx).WorkspaceID, in.ID); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

type testEndpointOut struct{ Body endpoint.TestResult }

func (s *endpointsAPI) testEndpoint(ctx context.Context, in *endpointID) (*testEndpointOut, error) {
	res, err := s.svc.TestSend(ctx, access.From(ctx).WorkspaceID, in.ID)
	if errors.Is(err, endpoint.ErrNoSecret) {
		return nil, huma.Error409Conflict("generate a signing secret first: test events are signed like every delivery")
	}
	if err != nil {
		return nil, err
	}
	return &testEndpointOut{res}, nil
}

type getSigningSecretOut struct{ Body endpoint.SecretInfo }

func (s *endpointsAPI) getSigningSecret(ctx context.Context, _ *struct{}) (*getSigningSecretOut, error) {
	info, err := s.svc.SecretInfo(ctx, access.From(ctx).WorkspaceID)
	return &getSigningSecretOut{info}, err
}

func (s *endpointsAPI) generateSigningSecret(ctx context.Context, _ *struct{}) (*secretOut, error) {
	sec, info, err := s.svc.GenerateSecret(ctx, access.From(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	return secretResult(sec, info), nil
}

func (s *endpointsAPI) revealSigningSecret(ctx context.Context, _ *struct{}) (*secretOut, error) {
	sec, info, err := s.svc.RevealSecret(ctx, access.From(ctx).WorkspaceID)
	if errors.Is(err, endpoint.ErrNoSecret) {
		return nil, huma.Error404NotFound(err.Error())
	}
	if err != nil {
		return nil, err
	}
	return secretResult(sec, info), nil
}

type rotateSigningSecretRequest struct {
	GraceSeconds int64 `json:"graceSeconds,omitempty" minimum:"0" maximum:"86400" doc:"How long the previous secret keeps signing too."`
}

type rotateSigningSecretIn struct{ Body *rotateSigningSecretRequest }

func (s *endpointsAPI) rotateSigningSecret(ctx context.Context, in *rotateSigningSecretIn) (*secretOut, error) {
	var grace time.Duration
	if in.Body != nil {
		grace = time.Duration(in.Body.GraceSeconds) * time.Second
	}
	sec, info, err := s.svc.RotateSecret(ctx, access.From(ctx).WorkspaceID, grace)
	if errors.Is(err, endpoint.ErrNoSecret) {
		return nil, huma.Error409Conflict(err.Error())
	}
	if err != nil {
		return nil, err
	}
	return secretResult(sec, info), nil
}
