package api

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/relaydesk/relaydesk/internal/input"
)

// typedBodyKey marks, in an operation's metadata, an input with a Body that huma decodes.
const typedBodyKey = "relaydesk.typedBody"

// hasTypedBody reports whether huma decodes the input type I's body (a Body field; RawBody
// routes read their body strictly themselves, with decodeStrict or relay.DecodeDefinition).
func hasTypedBody[I any]() bool {
	_, ok := reflect.TypeFor[I]().FieldByName("Body")
	return ok
}

// strictBody reads a JSON body that huma is to decode with input's strict reader first:
// encoding/json keeps the last of repeated keys, so {"url":"https://a…","url":"https://b…"}
// would create an endpoint for b. A repeated key at any depth is refused, 422 naming it.
// Everything else (the size limit, a body that is not JSON, the schema) stays huma's, which
// reads the body afterwards as it was sent.
func (s *Server) strictBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	r, _ := humago.Unwrap(ctx)
	ct := ctx.Header("Content-Type")
	if op.Metadata[typedBodyKey] != true || r.Body == nil || (ct != "" && !strings.Contains(ct, "json")) {
		next(ctx)
		return
	}
	if op.BodyReadTimeout > 0 {
		_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout))
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, op.MaxBodyBytes))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	if err == nil && int64(len(b)) < op.MaxBodyBytes {
		if c, err := input.Compact("", b); err == nil {
			if err := checkKeys("", c, nil); err != nil {
				_ = writeProblem(s.API, ctx, inputProblem(err.(*input.Error)).(huma.StatusError))
				return
			}
		}
	}
	next(ctx)
}
