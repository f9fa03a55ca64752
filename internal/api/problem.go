package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/team"
)

// MalformedJSONType is the problem type of the one answer every route gives to a request
// body that is not JSON (a syntax error, a truncated body, trailing data, an empty body
// where one is required): 400, this type, title "Malformed JSON", one error at location
// "body". A body that is JSON of the wrong shape is a 422 naming the field instead. A tag
// URI (RFC 4151), as RFC 9457 recommends for problem types that are not meant to be
// fetched; docs/operations.md lists the problem types.
const MalformedJSONType = "tag:relaydesk.dev,2026:problem:malformed-json"

// DatabaseUnavailableType is the problem type of a 503 answered while the database is
// unreachable (PostgreSQL down or restarting, SQLite's file locked or its disk full). It
// comes with Retry-After: RetryAfterUnavailable seconds. Nothing the request asked for
// was stored; the same request (with the same Idempotency-Key) may be sent again.
const DatabaseUnavailableType = "tag:relaydesk.dev,2026:problem:database-unavailable"

// RetryAfterUnavailable is the Retry-After, in seconds, of a database-unavailable 503.
const RetryAfterUnavailable = 5

// Problem is the one map from a domain error to an API answer: refused input → 422 naming
// the field (413 for a size limit), a team refusal → its status, a refusal because of the
// endpoint service's state → 409, not found → 404, a cursor no list made → 422, the
// database unreachable → 503 with
// Retry-After (nothing was stored; send the request again), anything unknown → 500
// (logged, never echoed).
func (s *Server) Problem(ctx context.Context, err error) error {
	var se huma.StatusError
	var in *input.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.As(err, &in):
		return inputProblem(in)
	case endpoint.IsConflict(err):
		return huma.Error409Conflict(err.Error())
	}
	if p := teamProblem(err); p != nil {
		return p
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound("not found")
	case errors.Is(err, store.ErrBadCursor):
		return huma.Error422UnprocessableEntity("cursor is not valid: pass the nextCursor of a previous page",
			&huma.ErrorDetail{Location: "query.cursor", Message: "invalid cursor"})
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "request cancelled")
	case store.IsUnavailable(err):
		s.Log.WarnContext(ctx, "database unavailable", "err", err)
		return huma.ErrorWithHeaders(unavailable(), http.Header{"Retry-After": {strconv.Itoa(RetryAfterUnavailable)}})
	}
	s.Log.ErrorContext(ctx, "request failed", "err", err)
	return huma.Error500InternalServerError("internal error")
}

// inputProblem is refused input's answer: 422, or 413 when a size limit refused it; with
// a field, one error at body.<field>.
func inputProblem(e *input.Error) error {
	status := http.StatusUnprocessableEntity
	if errors.Is(e, event.ErrTooLarge) {
		status = http.StatusRequestEntityTooLarge
	}
	if e.Field == "" {
		return huma.NewError(status, e.Reason)
	}
	return huma.NewError(status, e.Error(), &huma.ErrorDetail{Location: "body." + e.Field, Message: e.Reason, Value: e.Value})
}

// withPrefix places the field of refused input under prefix ("events[2].") for requests
// that carry several inputs; other errors pass unchanged.
func withPrefix(prefix string, err error) error {
	var in *input.Error
	if prefix == "" || !errors.As(err, &in) {
		return err
	}
	c := *in
	c.Field = prefix + c.Field
	return &c
}

// teamProblem is a team refusal's answer (nil for other errors); a role in use lists its
// members.
func teamProblem(err error) error {
	k, ok := team.KindOf(err)
	if !ok {
		return nil
	}
	msg := err.Error()
	switch k {
	case team.Forbidden:
		return huma.Error403Forbidden(msg)
	case team.Conflict:
		var details []error
		var te *team.Error
		if errors.As(err, &te) {
			for _, m := range te.Members {
				details = append(details, &huma.ErrorDetail{Message: m.Email, Location: "members", Value: m.UserID})
			}
		}
		return huma.Error409Conflict(msg, details...)
	case team.NotFound:
		return huma.Error404NotFound(msg)
	case team.Gone:
		return huma.Error410Gone(msg)
	default:
		return huma.Error422UnprocessableEntity(msg)
	}
}

func unavailable() huma.StatusError {
	return &huma.ErrorModel{Type: DatabaseUnavailableType, Status: http.StatusServiceUnavailable, Title: "Database unavailable",
		Detail: "the database is unreachable right now, so nothing was stored; send the request again in a few seconds"}
}

// writeProblem writes a ready-made problem (in middleware, where huma.WriteErr would
// build a generic one).
func writeProblem(api huma.API, ctx huma.Context, e huma.StatusError) error {
	ct, err := api.Negotiate(ctx.Header("Accept"))
	if err != nil {
		ct = "application/json"
	}
	if f, ok := e.(huma.ContentTypeFilter); ok {
		ct = f.ContentType(ct)
	}
	ctx.SetHeader("Content-Type", ct)
	ctx.SetStatus(e.GetStatus())
	return api.Marshal(ctx.BodyWriter(), ct, e)
}

// Lengths kept of what a request sent, when an error mentions it: the 60 KiB body of a
// refused request must not come back as an 80 KiB answer (issue 18).
const (
	maxValueExcerpt  = 64  // errors[].value, and input quoted in messages
	maxMessageLength = 512 // detail and errors[].message
	maxLocation      = 160 // errors[].location (it holds field names the client chose)
)

func init() {
	// huma builds every error through NewError: validation failures, the handlers' own
	// huma.ErrorNNN and WriteErr alike. Replacing it here is the one place that bounds
	// what an error echoes and gives malformed JSON its one shape.
	huma.NewError = newError
}

func newError(status int, msg string, errs ...error) huma.StatusError {
	details := make([]*huma.ErrorDetail, 0, len(errs))
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d huma.ErrorDetail
		if dd, ok := e.(huma.ErrorDetailer); ok {
			d = *dd.ErrorDetail()
		} else {
			d.Message = e.Error()
		}
		d.Message = Excerpt(d.Message, maxMessageLength)
		d.Location = Excerpt(d.Location, maxLocation)
		d.Value = excerptValue(d.Value)
		details = append(details, &d)
	}
	// huma's own body decoding: "validation failed" with the decoder's message at
	// location "body" (and the whole body as its value) is malformed JSON.
	if status == http.StatusBadRequest {
		switch msg {
		case "validation failed":
			for _, d := range details {
				if d.Location == "body" {
					return malformedJSON(d.Message)
				}
			}
		case "request body is required":
			return malformedJSON("the body is empty")
		}
	}
	return &huma.ErrorModel{Status: status, Title: http.StatusText(status), Detail: Excerpt(msg, maxMessageLength), Errors: details}
}

// malformedJSON is the one malformed-JSON answer.
func malformedJSON(reason string) huma.StatusError {
	reason = strings.TrimPrefix(Excerpt(reason, maxMessageLength), "json: ")
	return &huma.ErrorModel{Type: MalformedJSONType, Status: http.StatusBadRequest, Title: "Malformed JSON",
		Detail: "the request body is not valid JSON: " + reason,
		Errors: []*huma.ErrorDetail{{Location: "body", Message: reason}}}
}

// checkJSON refuses, with the malformed-JSON answer, a raw body that is not one JSON
// value (for the routes that decode their body themselves).
func checkJSON(b []byte) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		return malformedJSON("the body is empty")
	}
	if json.Valid(b) {
		return nil
	}
	var v any
	err := json.Unmarshal(b, &v)
	switch {
	case err == nil:
		return malformedJSON("invalid JSON")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return malformedJSON("unexpected end of JSON input")
	}
	return malformedJSON(err.Error())
}

// Excerpt returns s cut to at most n bytes (on a UTF-8 boundary), marked with "…" and
// the original length when cut.
func Excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// excerptValue keeps short scalars as they are, cuts long strings, and replaces an object
// or array with its JSON cut to the excerpt length.
func excerptValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int, int64, float64, json.Number:
		return v
	case string:
		return Excerpt(x, maxValueExcerpt)
	case []byte:
		return Excerpt(string(x), maxValueExcerpt)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	if len(b) <= maxValueExcerpt {
		return v
	}
	return Excerpt(string(b), maxValueExcerpt)
}
