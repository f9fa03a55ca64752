package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
)

type listDeliveriesInput struct {
	Status     string `query:"status" enum:"pending,delivering,succeeded,retrying,failed,cancelled,skipped,throttled" doc:"Only deliveries in this state."`
	EndpointID string `query:"endpointId" maxLength:"26" doc:"Only deliveries to this endpoint."`
	EventName  string `query:"eventName" maxLength:"100" doc:"Only deliveries of this event, e.g. MessageReceived."`
	Since      string `query:"since" doc:"Only deliveries created at or after this time (RFC 3339)."`
	Until      string `query:"until" doc:"Only deliveries created at or before this time (RFC 3339)."`
	Cursor     string `query:"cursor" maxLength:"200" doc:"The nextCursor of the previous page."`
	Limit      int    `query:"limit" minimum:"1" maximum:"100" default:"50" doc:"Page size."`
}

type deliveryPage struct {
	Body struct {
		Deliveries []delivery.Delivery `json:"deliveries"`
		NextCursor string              `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type deliveryID struct {
	ID string `path:"id" maxLength:"26" doc:"The delivery's id."`
}

type deliveryDetail struct {
	Body struct {
		delivery.Delivery
		Attempts []delivery.Attempt `json:"attempts"`
	}
}

type recoverInput struct {
	ID   string `path:"id" maxLength:"26" doc:"The endpoint's id."`
	Body struct {
		Since time.Time `json:"since" doc:"Recover failed deliveries created at or after this time."`
		Until time.Time `json:"until,omitempty" doc:"… and at or before this time (default: now)."`
	}
}

type recoverOutput struct {
	Body struct {
		Requeued int `json:"requeued" doc:"How many failed deliveries are re-queued (in the background)."`
	}
}

func parseTimeParam(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, huma.Error422UnprocessableEntity(name+" must be an RFC 3339 time", &huma.ErrorDetail{Location: "query." + name, Message: "want an RFC 3339 time such as 2025-11-19T14:28:39Z", Value: v})
	}
	return t, nil
}

// RegisterDeliveries adds the delivery log, manual retry and recover (docs/architecture.md §10: developer
// viewers read the log, editors redeliver and recover).
func (s *Server) RegisterDeliveries(svc *delivery.Service) {
	h := &deliveriesAPI{Server: s, svc: svc}
	tags := []string{"Deliveries"}
	viewer, editor, owner := access.Require(access.Developer, access.Viewer), access.Require(access.Developer, access.Editor), access.Require(access.Developer, access.Owner)

	Register(s, huma.Operation{OperationID: "listDeliveries", Method: http.MethodGet, Path: "/v1/deliveries", Summary: "List deliveries",
		Description: "The workspace's deliveries, newest first, filtered and paged with an opaque cursor.", Tags: tags},
		viewer, h.listDeliveries)

	Register(s, huma.Operation{OperationID: "getDelivery", Method: http.MethodGet, Path: "/v1/deliveries/{id}", Summary: "Get a delivery with its attempts",
		Description: "Every attempt with its request headers (signatures masked), status, response headers and the first 16 KiB of the response body.", Tags: tags},
		viewer, h.getDelivery)

	Register(s, huma.Operation{OperationID: "retryDelivery", Method: http.MethodPost, Path: "/v1/deliveries/{id}/retry", Summary: "Retry a delivery now",
		Description: "Makes exactly one more attempt right away, whatever the delivery's state (failed and cancelled included). " +
			"409 when the endpoint is disabled or gone, the workspace has no signing secret, or an attempt is in progress.",
		Tags: tags, DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound, http.StatusConflict}},
		editor, h.retryDelivery)

	Register(s, huma.Operation{OperationID: "getEndpointQueue", Method: http.MethodGet, Path: "/v1/endpoints/{id}/queue", Summary: "Where an ordered endpoint's queue stands",
		Description: "For an endpoint with ordering fifo: the delivery at the head (being delivered or retried), how many wait behind it, " +
			"and whether the head blocks them (it has failed at least once). An endpoint without ordering has no head and nothing waiting.",
		Tags: []string{"Endpoints", "Deliveries"}, Errors: []int{http.StatusNotFound}},
		viewer, h.getEndpointQueue)

	Register(s, huma.Operation{OperationID: "skipDelivery", Method: http.MethodPost, Path: "/v1/deliveries/{id}/skip", Summary: "Skip the head of an ordered queue",
		Description: "Cancels the delivery at the head of a fifo endpoint's queue (it is not attempted again) and lets the next one go. " +
			"409 when the delivery is not the head or an attempt of it is in progress.",
		Tags: tags, Errors: []int{http.StatusNotFound, http.StatusConflict}},
		owner, h.skipDelivery)

	Register(s, huma.Operation{OperationID: "recoverEndpoint", Method: http.MethodPost, Path: "/v1/endpoints/{id}/recover", Summary: "Recover failed deliveries",
		Description: "Re-queues, in the background, the endpoint's failed deliveries created between since and until, each for a new round of the retry schedule, and says how many.",
		Tags:        []string{"Endpoints", "Deliveries"}, DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound}},
		editor, h.recoverEndpoint)
}

// deliveriesAPI holds the handlers RegisterDeliveries adds, with what they use.
type deliveriesAPI struct {
	*Server
	svc *delivery.Service
}

func (s *deliveriesAPI) listDeliveries(ctx context.Context, in *listDeliveriesInput) (*deliveryPage, error) {
	since, err := parseTimeParam("since", in.Since)
	if err != nil {
		return nil, err
	}
	until, err := parseTimeParam("until", in.Until)
	if err != nil {
		return nil, err
	}
	page, err := s.svc.List(ctx, access.From(ctx).WorkspaceID, delivery.ListParams{State: delivery.State(in.Status), EndpointID: in.EndpointID,
		EventName: in.EventName, Since: since, Until: until, Cursor: in.Cursor, Limit: in.Limit})
	if errors.Is(err, store.ErrBadCursor) {
		// 400 here, where Problem says 422: the delivery log answered 400 first.
		return nil, huma.Error400BadRequest("cursor is not valid: pass the nextCursor of a previous page",
			&huma.ErrorDetail{Location: "query.cursor", Message: "invalid cursor", Value: in.Cursor})
	}
	if err != nil {
		return nil, err
	}
	out := &deliveryPage{}
	out.Body.Deliveries, out.Body.NextCursor = page.Deliveries, page.Next
	return out, nil
}

func (s *deliveriesAPI) getDelivery(ctx context.Context, in *deliveryID) (*deliveryDetail, error) {
	d, atts, err := s.svc.Get(ctx, access.From(ctx).WorkspaceID, in.ID)
	if err != nil {
		return nil, err
	}
	out := &deliveryDetail{}
	out.Body.Delivery, out.Body.Attempts = d, atts
	return out, nil
}

type retryDeliveryOut struct{ Body delivery.Delivery }

func (s *deliveriesAPI) retryDelivery(ctx context.Context, in *deliveryID) (*retryDeliveryOut, error) {
	d, err := s.svc.Retry(ctx, access.From(ctx).WorkspaceID, in.ID)
	var nd *delivery.NotDeliverableError
	switch {
	case errors.As(err, &nd), errors.Is(err, delivery.ErrInFlight), errors.Is(err, delivery.ErrWaiting):
		return nil, huma.Error409Conflict(err.Error())
	case err != nil:
		return nil, err
	}
	return &retryDeliveryOut{d}, nil
}

type endpointQueueOut struct{ Body delivery.FIFOQueue }

func (s *deliveriesAPI) getEndpointQueue(ctx context.Context, in *endpointID) (*endpointQueueOut, error) {
	ws := access.From(ctx).WorkspaceID
	if err := s.endpointExists(ctx, ws, in.ID); err != nil {
		return nil, err
	}
	q, err := s.svc.Queue(ctx, ws, in.ID)
	return &endpointQueueOut{q}, err
}

func (s *deliveriesAPI) skipDelivery(ctx context.Context, in *deliveryID) (*retryDeliveryOut, error) {
	d, err := s.svc.Skip(ctx, access.From(ctx).WorkspaceID, in.ID)
	switch {
	case errors.Is(err, delivery.ErrNotHead), errors.Is(err, delivery.ErrInFlight):
		return nil, huma.Error409Conflict(err.Error())
	case err != nil:
		return nil, err
	}
	return &retryDeliveryOut{d}, nil
}

func (s *deliveriesAPI) recoverEndpoint(ctx context.Context, in *recoverInput) (*recoverOutput, error) {
	ws := access.From(ctx).WorkspaceID
	until := in.Body.Until
	if until.IsZero() {
		until = time.Now()
	}
	if until.Before(in.Body.Since) {
		return nil, huma.Error422UnprocessableEntity("until is before since", &huma.ErrorDetail{Location: "body.until", Message: "must not be before since"})
	}
	if err := s.endpointExists(ctx, ws, in.ID); err != nil {
		return nil, err
	}
	n, err := s.svc.Recover(ctx, ws, in.ID, in.Body.Since, until)
	if err != nil {
		return nil, err
	}
	out := &recoverOutput{}
	out.Body.Requeued = n
	return out, nil
}

// endpointExists answers 404 for an endpoint the workspace does not have.
func (s *deliveriesAPI) endpointExists(ctx context.Context, workspaceID, id string) error {
	if s.svc.Targets == nil {
		return nil
	}
	_, err := s.svc.Targets.Target(ctx, workspaceID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound("no such endpoint")
	case err != nil:
		return s.Problem(ctx, err)
	}
	return nil
}
