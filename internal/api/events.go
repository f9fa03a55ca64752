package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/ingest"
	"github.com/relaydesk/relaydesk/internal/input"
)

const (
	// MaxPublishBatch is how many events one publish request may carry.
	MaxPublishBatch = 500
	// MaxPublishBody bounds a publish request. One event's envelope is at most 256 KiB;
	// a batch may be up to 500 events but at most 8 MiB in all (split larger batches).
	MaxPublishBody = 8 << 20
)

// publishEvent is one event of a publish request.
type publishEvent struct {
	WorkspaceID    string          `json:"workspaceId"`
	Name           string          `json:"name"`
	Data           json.RawMessage `json:"data"`
	Context        json.RawMessage `json:"context,omitempty"`
	OccurredAt     string          `json:"occurredAt,omitempty"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
}

type publishRequest struct {
	publishEvent
	Events []json.RawMessage `json:"events"`
}

// publishEventDoc and publishDoc describe the request in the OpenAPI document; the body is
// decoded strictly by hand so every error names its field (events[3].data.to[1]).
type publishEventDoc struct {
	WorkspaceID    string         `json:"workspaceId" doc:"The workspace the event belongs to; it must exist."`
	Name           string         `json:"name" doc:"An event type from GET /v1/event-types, e.g. MessageReceived."`
	Data           map[string]any `json:"data" doc:"The event's data, exactly as the catalog describes it (for MessageReceived a Message, every key present)."`
	Context        *event.Context `json:"context,omitempty" doc:"Facts for relay conditions that the data does not carry; never delivered."`
	OccurredAt     *time.Time     `json:"occurredAt,omitempty" doc:"When it happened, when the data does not say (activeHours)."`
	IdempotencyKey string         `json:"idempotencyKey,omitempty" maxLength:"255" doc:"Batch only (one event: the Idempotency-Key header). The same key within 24 h returns the first event's id."`
}

type publishDoc struct {
	publishEventDoc
	Events []publishEventDoc `json:"events,omitempty" maxItems:"500" doc:"A batch: send either one event's fields or events, not both."`
}

type publishResult struct {
	ID         string `json:"id"`
	Duplicate  bool   `json:"duplicate" doc:"The idempotency key was seen in the last 24 h: id is the first event's and nothing new was stored."`
	Deliveries int    `json:"deliveries" doc:"Deliveries made for the event (one per matched endpoint; 0 for a duplicate)."`
}

type publishBody struct {
	ID         string          `json:"id,omitempty" doc:"One event: its id."`
	Duplicate  *bool           `json:"duplicate,omitempty"`
	Deliveries *int            `json:"deliveries,omitempty"`
	Events     []publishResult `json:"events,omitempty" doc:"A batch: one result per event, in order."`
}

// decodeStrict decodes one JSON object into v. input's strict reader reads it first: a body
// that is not JSON (a syntax error, trailing data, bytes that are not UTF-8) gets the
// malformed-JSON answer, the same on every route; a key given twice anywhere (data included),
// or one that is not exactly the JSON name of a field of v (encoding/json would take any
// case), is refused naming the field under prefix. Then encoding/json decodes it, and a wrong
// type is refused saying what was expected.
func decodeStrict(b []byte, v any, prefix string) error {
	c, err := input.Compact("", b)
	if err != nil {
		if merr := checkJSON(b); merr != nil {
			return merr
		}
		return malformedJSON(err.(*input.Error).Reason) // JSON must be UTF-8 (RFC 8259 §8.1)
	}
	return decodeCompact(c, v, prefix)
}

// decodeCompact is decodeStrict of input that is compact already: an element of a
// json.RawMessage field that decodeStrict filled.
func decodeCompact(c []byte, v any, prefix string) error {
	if err := checkKeys(strings.TrimSuffix(prefix, "."), c, reflect.TypeOf(v)); err != nil {
		return inputProblem(err.(*input.Error))
	}
	err := json.Unmarshal(c, v)
	if err == nil {
		return nil
	}
	at := strings.TrimSuffix(prefix, ".")
	if at == "" {
		at = "body"
	}
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		field := jsonField(te.Field)
		return inputProblem(&input.Error{Field: prefix + field, Reason: "must be " + expected(field, te.Type) + ", not " + article(te.Value)})
	case errors.As(err, &te):
		return inputProblem(&input.Error{Field: at, Reason: "must be a JSON object, not " + article(te.Value)})
	}
	return inputProblem(&input.Error{Field: at, Reason: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")})
}

// checkKeys reads the compact JSON v, to be decoded into a t, with input's strict reader at
// every depth: Members refuses a key given twice, and a key of an object read into a struct
// must be exactly the JSON name of one of its fields. field names v. A nil t is any JSON,
// checked for repeated keys only.
//
// A json.RawMessage is not read: the publish route reads each one with a strict reader of
// its own (an event of a batch with decodeCompact, data with event validation, context with
// event.DecodeContext), so walking it here too would read every event's data twice.
func checkKeys(field string, v []byte, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessage {
		return nil
	}
	if t != nil && (t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(jsonUnmarshaler)) {
		t = nil // any JSON (json.RawMessage, time.Time): only duplicate keys are refused
	}
	switch input.Kind(v) {
	case "object":
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		} else if t != nil && t.Kind() == reflect.Map {
			elem = t.Elem()
		}
		return input.Members(field, v, func(key string, val []byte) error {
			ft, known := fields[key]
			if fields == nil {
				ft, known = elem, true
			}
			if !known {
				return &input.Error{Field: input.Join(field, Excerpt(key, maxValueExcerpt)), Reason: "unknown field"}
			}
			if !nested(val) {
				return nil // a scalar has no keys: skip building its path (an allocation per member)
			}
			return checkKeys(input.Join(field, key), val, ft)
		})
	case "array":
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		return input.Elements(field, v, func(i int, el []byte) error {
			if !nested(el) {
				return nil
			}
			return checkKeys(input.Index(field, i), el, elem)
		})
	}
	return nil
}

// nested reports whether the compact JSON value v is an object or an array.
func nested(v []byte) bool { return len(v) > 0 && (v[0] == '{' || v[0] == '[') }

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	rawMessage      = reflect.TypeFor[json.RawMessage]()
)

// structFields caches jsonFields: reflect.Type → map[string]reflect.Type.
var structFields sync.Map

// jsonFields maps the JSON names of the struct t's fields, as encoding/json reads them
// (embedded structs without a tag promote theirs), to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := structFields.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		tag := f.Tag.Get("json")
		if f.Anonymous || !f.IsExported() || tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	structFields.Store(t, m)
	return m
}

// jsonField is a decoder's field path without the Go names of embedded structs.
func jsonField(f string) string {
	return strings.TrimPrefix(f, "publishEvent.")
}

// expected says in words what JSON a field of Go type t takes.
func expected(field string, t reflect.Type) string {
	switch {
	case strings.HasSuffix(field, "workspaceId"):
		return "a string: the workspace's id (a ULID such as 01K6N5WEYHS5N0796ZSQ2R5V8B)"
	case strings.HasSuffix(field, "occurredAt"):
		return "a string: an RFC 3339 time such as 2025-11-19T14:28:39.459465Z"
	}
	if t == nil {
		return "another JSON type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another JSON type"
}

// article names a JSON kind as the decoder reports it ("number", "string", …).
func article(kind string) string {
	switch {
	case kind == "":
		return "this value"
	case kind == "array" || kind == "object":
		return "an " + kind
	case strings.HasPrefix(kind, "number"):
		return "a number"
	}
	return "a " + kind
}

func (e publishEvent) input(headerKey string) (ingest.Input, error) {
	in := ingest.Input{WorkspaceID: e.WorkspaceID, Name: e.Name, Data: e.Data, Context: e.Context, IdempotencyKey: e.IdempotencyKey}
	if headerKey != "" {
		if in.IdempotencyKey != "" && in.IdempotencyKey != headerKey {
			return in, &input.Error{Field: "idempotencyKey", Reason: "differs from the Idempotency-Key header"}
		}
		in.IdempotencyKey = headerKey
	}
	if e.OccurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, e.OccurredAt)
		if err != nil {
			return in, &input.Error{Field: "occurredAt", Reason: "must be an RFC 3339 time such as 2025-11-19T14:28:39.459465Z"}
		}
		if reason := event.CheckTime(t); reason != "" {
			return in, &input.Error{Field: "occurredAt", Reason: reason}
		}
		in.OccurredAt = t
	}
	return in, nil
}

func (e publishEvent) empty() bool {
	return e.WorkspaceID == "" && e.Name == "" && e.Data == nil && e.Context == nil && e.OccurredAt == "" && e.IdempotencyKey == ""
}

type eventsOut struct {
	Body struct {
		Events     []ingest.StoredEvent `json:"events"`
		NextCursor string               `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
	}
}

type eventOut struct {
	Body struct {
		Event      ingest.StoredEvent  `json:"event"`
		Deliveries []delivery.Delivery `json:"deliveries"`
	}
}

// RegisterEvents adds the producer API (POST /v1/platform/events), the event catalog and
// the event log.
func (s *Server) RegisterEvents(pub *ingest.Service) {
	h := &eventsAPI{Server: s, pub: pub}
	Register(s, huma.Operation{OperationID: "publishEvents", Method: http.MethodPost, Path: "/v1/platform/events",
		Summary: "Publish events", Tags: []string{"Platform"}, DefaultStatus: http.StatusAccepted,
		MaxBodyBytes: MaxPublishBody,
		Errors:       []int{http.StatusNotFound, http.StatusRequestEntityTooLarge},
		Description: "For the producer: publishes one event ({workspaceId, name, data, context?, occurredAt?}) or a batch " +
			"({events: [...]}, at most 500 events and 8 MiB). Each event is validated against the catalog (422 naming the field, " +
			"e.g. events[3].data.to[1]; 413 when its envelope would exceed 256 KiB), matched to the workspace's enabled relays, " +
			"and stored with one delivery per matched endpoint. The answer (202) comes after the events, their deliveries and " +
			"their jobs are committed together: all of a request or none. The same Idempotency-Key (header for one event, " +
			"idempotencyKey per event in a batch) within 24 h returns the first event's id instead of a new event."},
		access.ByPlatform, h.publishEvents)
	s.describeBody(http.MethodPost, "/v1/platform/events", reflect.TypeFor[publishDoc]())

	Register(s, huma.Operation{OperationID: "listEventTypes", Method: http.MethodGet, Path: "/v1/event-types", Summary: "List event types",
		Description: "The event catalog: each type's name, data type, description and a JSON example of its data.", Tags: []string{"Events"}},
		access.SignedIn, h.listEventTypes)

	viewer := access.Require(access.Developer, access.Viewer)
	Register(s, huma.Operation{OperationID: "listEvents", Method: http.MethodGet, Path: "/v1/events", Summary: "List events",
		Description: "The workspace's accepted events, newest first.", Tags: []string{"Events"}},
		viewer, h.listEvents)

	Register(s, huma.Operation{OperationID: "getEvent", Method: http.MethodGet, Path: "/v1/events/{id}", Summary: "Get an event",
		Description: "One event with the exact envelope delivered and its deliveries.", Tags: []string{"Events"}},
		viewer, h.getEvent)
}

// eventsAPI holds the handlers RegisterEvents adds, with what they use.
type eventsAPI struct {
	*Server
	pub *ingest.Service
}

type publishEventsIn struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"One event: the same key within 24 h returns the first event's id."`
	RawBody        []byte
}

type publishEventsOut struct{ Body publishBody }

func (s *eventsAPI) publishEvents(ctx context.Context, in *publishEventsIn) (*publishEventsOut, error) {
	var req publishRequest
	if err := decodeStrict(in.RawBody, &req, ""); err != nil {
		return nil, err
	}
	batch := req.Events != nil
	var prepared []ingest.Prepared
	prefix := func(i int) string {
		if batch {
			return "events[" + strconv.Itoa(i) + "]."
		}
		return ""
	}
	if batch {
		switch {
		case !req.publishEvent.empty():
			return nil, huma.Error422UnprocessableEntity("send either one event or events, not both",
				&huma.ErrorDetail{Location: "body.events", Message: "send either one event or events, not both"})
		case len(req.Events) == 0:
			return nil, inputProblem(&input.Error{Field: "events", Reason: "at least one event"})
		case len(req.Events) > MaxPublishBatch:
			return nil, inputProblem(&input.Error{Field: "events", Reason: fmt.Sprintf("at most %d events per request", MaxPublishBatch)})
		case in.IdempotencyKey != "":
			return nil, huma.Error422UnprocessableEntity("a batch takes idempotencyKey per event, not the Idempotency-Key header")
		}
		prepared = make([]ingest.Prepared, len(req.Events))
		for i, raw := range req.Events {
			var e publishEvent
			if err := decodeCompact(raw, &e, prefix(i)); err != nil {
				return nil, err
			}
			pin, err := e.input("")
			if err == nil {
				prepared[i], err = s.pub.Prepare(pin)
			}
			if err != nil {
				return nil, s.Problem(ctx, withPrefix(prefix(i), err))
			}
		}
	} else {
		pin, err := req.publishEvent.input(in.IdempotencyKey)
		if err != nil {
			return nil, err
		}
		p, err := s.pub.Prepare(pin)
		if err != nil {
			return nil, err
		}
		prepared = []ingest.Prepared{p}
	}
	acc, err := s.pub.Publish(ctx, prepared)
	var uw *ingest.UnknownWorkspaceError
	if errors.As(err, &uw) {
		field := prefix(uw.Index) + "workspaceId"
		return nil, huma.Error404NotFound(field+": no such workspace", &huma.ErrorDetail{Location: "body." + field, Message: "no such workspace", Value: uw.WorkspaceID})
	}
	if err != nil {
		return nil, err
	}
	out := &publishEventsOut{}
	if batch {
		out.Body.Events = make([]publishResult, len(acc))
		for i, a := range acc {
			out.Body.Events[i] = publishResult{ID: a.ID, Duplicate: a.Duplicate, Deliveries: a.Deliveries}
		}
	} else {
		a := acc[0]
		out.Body.ID, out.Body.Duplicate, out.Body.Deliveries = a.ID, &a.Duplicate, &a.Deliveries
	}
	return out, nil
}

type listEventTypesResponse struct {
	EventTypes []event.Type `json:"eventTypes"`
}

type listEventTypesOut struct{ Body listEventTypesResponse }

func (s *eventsAPI) listEventTypes(ctx context.Context, _ *struct{}) (*listEventTypesOut, error) {
	out := &listEventTypesOut{}
	out.Body.EventTypes = event.Types()
	return out, nil
}

type listEventsIn struct {
	Name   string    `query:"name" maxLength:"100" doc:"Only events of this type."`
	Since  time.Time `query:"since" doc:"Only events created at or after this time (RFC 3339)."`
	Until  time.Time `query:"until" doc:"Only events created at or before this time (RFC 3339)."`
	Cursor string    `query:"cursor" maxLength:"100" doc:"The nextCursor of the previous page."`
	Limit  int       `query:"limit" minimum:"1" maximum:"100" default:"50"`
}

func (s *eventsAPI) listEvents(ctx context.Context, in *listEventsIn) (*eventsOut, error) {
	evs, next, err := s.pub.Events(ctx, access.From(ctx).WorkspaceID, ingest.EventQuery{
		Name: in.Name, Since: in.Since, Until: in.Until, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return nil, err
	}
	out := &eventsOut{}
	out.Body.Events, out.Body.NextCursor = evs, next
	return out, nil
}

func (s *eventsAPI) getEvent(ctx context.Context, in *idIn) (*eventOut, error) {
	e, ds, err := s.pub.Event(ctx, access.From(ctx).WorkspaceID, in.ID)
	if err != nil {
		return nil, err
	}
	out := &eventOut{}
	out.Body.Event, out.Body.Deliveries = e, ds
	return out, nil
}
