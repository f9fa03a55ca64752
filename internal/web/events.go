package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/ingest"
	"github.com/relaydesk/relaydesk/internal/relay"
	"github.com/relaydesk/relaydesk/internal/store"
)

// eventPages is the "Events & deliveries" log: every delivery with its state, each event
// with its envelope, each attempt with its request and response, and Redeliver.
type eventPages struct {
	s          *Server
	relays     *relay.Service
	events     *ingest.Service
	deliveries *delivery.Service
}

// RegisterEvents adds the event log pages (docs/architecture.md §10: developer viewers see the log,
// editors redeliver).
func (s *Server) RegisterEvents(relays *relay.Service, events *ingest.Service, deliveries *delivery.Service) {
	ep := &eventPages{s: s, relays: relays, events: events, deliveries: deliveries}
	viewer, editor := access.Require(access.Developer, access.Viewer), access.Require(access.Developer, access.Editor)
	s.Page(http.MethodGet, "/settings/developer/events", viewer, ep.list)
	s.Page(http.MethodGet, "/settings/developer/events/{id}", viewer, ep.eventPage)
	s.Page(http.MethodGet, "/settings/developer/deliveries/{id}", viewer, ep.deliveryPage)
	s.Page(http.MethodPost, "/settings/developer/deliveries/{id}/retry", editor, ep.retry)
}

var deliveryStates = []delivery.State{delivery.Pending, delivery.Delivering, delivery.Succeeded, delivery.Retrying,
	delivery.Throttled, delivery.Failed, delivery.Cancelled, delivery.Skipped}

type deliveryRow struct {
	delivery.Delivery
	Endpoint string
	// Live: the delivery is about to change (the page refreshes itself while one is).
	Live bool
}

type eventsData struct {
	Status, Name string
	States       []delivery.State
	Types        []event.Type
	Deliveries   []deliveryRow
	Next         string // URL of the next page
	Events       []ingest.StoredEvent
	First        bool
}

func (ep *eventPages) fail(w http.ResponseWriter, r *http.Request, p *access.Principal, err error) {
	ep.s.fail(w, r, p, err, "event log page", "There is no such event or delivery in this workspace.")
}

func (ep *eventPages) endpointURLs(r *http.Request, p *access.Principal) map[string]string {
	eps, err := ep.relays.Endpoints(r.Context(), p.WorkspaceID)
	if err != nil {
		ep.s.Log.Error("endpoints for the event log", "err", err)
	}
	return endpointURLs(eps)
}

func rows(ds []delivery.Delivery, urls map[string]string) []deliveryRow {
	out := make([]deliveryRow, 0, len(ds))
	for _, d := range ds {
		u, ok := urls[d.EndpointID]
		if !ok {
			u = d.EndpointID
		}
		out = append(out, deliveryRow{Delivery: d, Endpoint: u, Live: d.State == delivery.Pending || d.State == delivery.Delivering || d.State == delivery.Throttled})
	}
	return out
}

func (ep *eventPages) list(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	q := r.URL.Query()
	d := eventsData{Status: q.Get("status"), Name: q.Get("name"), States: deliveryStates, Types: event.Types(), First: q.Get("cursor") == ""}
	lp := delivery.ListParams{Cursor: q.Get("cursor"), Limit: 50}
	if d.Status != "" {
		if !slices.Contains(deliveryStates, delivery.State(d.Status)) {
			ep.s.Error(w, r, p, http.StatusBadRequest, "Bad request", "Unknown status.")
			return
		}
		lp.State = delivery.State(d.Status)
	}
	if d.Name != "" {
		if _, ok := event.Lookup(d.Name); !ok {
			ep.s.Error(w, r, p, http.StatusBadRequest, "Bad request", "Unknown event type.")
			return
		}
		lp.EventName = d.Name
	}
	page, err := ep.deliveries.List(r.Context(), p.WorkspaceID, lp)
	if errors.Is(err, store.ErrBadCursor) {
		ep.s.Error(w, r, p, http.StatusBadRequest, "Bad request", "That page link is not valid.")
		return
	}
	if err != nil {
		ep.fail(w, r, p, err)
		return
	}
	d.Deliveries = rows(page.Deliveries, ep.endpointURLs(r, p))
	if page.Next != "" {
		v := url.Values{"cursor": {page.Next}}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if d.Name != "" {
			v.Set("name", d.Name)
		}
		d.Next = "/settings/developer/events?" + v.Encode()
	}
	if d.First && d.Status == "" {
		if d.Events, _, err = ep.events.Events(r.Context(), p.WorkspaceID, ingest.EventQuery{Name: d.Name, Limit: 10}); err != nil {
			ep.fail(w, r, p, err)
			return
		}
	}
	ep.s.Render(w, r, http.StatusOK, "events", View{Title: "Events & deliveries", Principal: p, Active: "events", Data: d})
}

type eventData struct {
	Event      ingest.StoredEvent
	Envelope   string
	Deliveries []deliveryRow
}

func (ep *eventPages) eventPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	e, ds, err := ep.events.Event(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		ep.fail(w, r, p, err)
		return
	}
	ep.s.Render(w, r, http.StatusOK, "events_event", View{Title: e.Name + " " + e.ID, Principal: p, Active: "events",
		Data: eventData{Event: e, Envelope: indentJSON(e.Envelope), Deliveries: rows(ds, ep.endpointURLs(r, p))}})
}

type header struct{ Name, Value string }

type attemptView struct {
	delivery.Attempt
	Request, Response []header
}

type deliveryData struct {
	Delivery deliveryRow
	Attempts []attemptView
	CanRetry bool
	// Body is the exact body every attempt sends (the event's envelope), indented for
	// reading; RawBody is the bytes themselves, for the copy button.
	Body, RawBody string
}

func sortedHeaders(h map[string][]string) []header {
	out := make([]header, 0, len(h))
	for k, vs := range h {
		out = append(out, header{k, strings.Join(vs, ", ")})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

var deliveryFlashes = map[string]string{
	"redelivered": "Redelivery queued: a new attempt is being made now.",
}

func (ep *eventPages) deliveryPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	ep.renderDelivery(w, r, p, http.StatusOK, "")
}

func (ep *eventPages) renderDelivery(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, errMsg string) {
	d, atts, err := ep.deliveries.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if err != nil {
		ep.fail(w, r, p, err)
		return
	}
	data := deliveryData{Delivery: rows([]delivery.Delivery{d}, ep.endpointURLs(r, p))[0], CanRetry: p.Can(access.Developer, access.Editor)}
	if e, _, err := ep.events.Event(r.Context(), p.WorkspaceID, d.EventID); err == nil {
		data.Body, data.RawBody = indentJSON(e.Envelope), string(e.Envelope)
	} else if !errors.Is(err, store.ErrNotFound) {
		ep.fail(w, r, p, err)
		return
	}
	for _, a := range atts {
		data.Attempts = append(data.Attempts, attemptView{Attempt: a, Request: sortedHeaders(a.RequestHeaders), Response: sortedHeaders(a.ResponseHeaders)})
	}
	ep.s.Render(w, r, status, "events_delivery", View{Title: "Delivery " + d.ID, Principal: p, Active: "events", Error: errMsg,
		Flash: deliveryFlashes[r.URL.Query().Get("ok")], Data: data})
}

func (ep *eventPages) retry(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	id := r.PathValue("id")
	_, err := ep.deliveries.Retry(access.With(r.Context(), p), p.WorkspaceID, id)
	var nd *delivery.NotDeliverableError
	switch {
	case errors.As(err, &nd):
		ep.renderDelivery(w, r, p, http.StatusConflict, "Cannot redeliver: "+nd.Reason+".")
		return
	case errors.Is(err, delivery.ErrInFlight):
		ep.renderDelivery(w, r, p, http.StatusConflict, "An attempt of this delivery is in progress; try again in a moment.")
		return
	case errors.Is(err, delivery.ErrWaiting):
		ep.renderDelivery(w, r, p, http.StatusConflict, "This delivery waits its turn: its endpoint delivers in publish order, one at a time. Developer Tools shows which delivery is ahead of it.")
		return
	case err != nil:
		ep.fail(w, r, p, err)
		return
	}
	http.Redirect(w, r, "/settings/developer/deliveries/"+url.PathEscape(id)+"?ok=redelivered", http.StatusSeeOther)
}

// indentJSON pretty-prints stored JSON for reading; anything unreadable is shown as is.
func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return string(b)
	}
	return buf.String()
}
