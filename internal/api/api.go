// Package api is relaydesk's JSON API under /v1: huma operations over the domain services,
// described as OpenAPI 3.1 at /openapi.json, errors as application/problem+json. Every
// operation is registered through Register, which records its access.Need in the route
// table; the middleware enforces it and refuses any operation that has none.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/store"
)

// DefaultMaxBody bounds request bodies unless an operation sets its own MaxBodyBytes.
const DefaultMaxBody = 64 << 10

// Server holds the API and what its handlers share.
type Server struct {
	API      huma.API
	Routes   *access.Table
	Auth     *auth.Authenticator
	Accounts *account.Service
	Throttle *account.Throttle
	Log      *slog.Logger
	// SecureCookies marks cookies Secure even when relaydesk itself is not serving TLS
	// (behind an HTTPS proxy).
	SecureCookies bool
}

const needKey = "relaydesk.need"

// New creates the API on mux.
func New(mux *http.ServeMux, version string, routes *access.Table, a *auth.Authenticator, accounts *account.Service, log *slog.Logger) *Server {
	cfg := huma.DefaultConfig("relaydesk", version)
	cfg.Info.Description = "Signed webhooks for a business-texting workspace."
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = "" // served by the pages with vendored assets, never a CDN
	cfg.SchemasPath = ""
	cfg.CreateHooks = nil // no $schema links in responses
	cfg.RejectUnknownQueryParameters = true
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"session":  {Type: "apiKey", In: "cookie", Name: auth.CookieName, Description: "Session cookie from POST /v1/sessions or the sign-in page."},
		"apiKey":   {Type: "http", Scheme: "bearer", Description: "A member's API key (rdk_…), acting with the member's current role."},
		"platform": {Type: "http", Scheme: "bearer", Description: "A platform token (rdp_…): the producer's credential."},
	}
	s := &Server{API: humago.New(mux, cfg), Routes: routes, Auth: a, Accounts: accounts, Throttle: account.NewThrottle(), Log: log}
	s.API.UseMiddleware(s.enforce, s.strictBody)
	return s
}

// idIn is the input of an operation on one thing named by the path's id, where the
// operation's description says what the id is.
type idIn struct {
	ID string `path:"id" maxLength:"26"`
}

// Register adds an operation that needs need. It is the only way operations are added.
func Register[I, O any](s *Server, op huma.Operation, need access.Need, h func(context.Context, *I) (*O, error)) {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[needKey] = need
	op.Metadata[typedBodyKey] = hasTypedBody[I]()
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = DefaultMaxBody
	}
	switch need.Auth {
	case access.Member:
		op.Security = []map[string][]string{{"session": {}}, {"apiKey": {}}}
		if need.Feature != "" {
			op.Description = strings.TrimSpace(op.Description + "\n\nRequires " + need.String() + ".")
		}
	case access.Platform:
		op.Security = []map[string][]string{{"platform": {}}}
	}
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusUnprocessableEntity)
	if need.Auth != access.Public {
		op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	}
	// Any route may find the database unreachable: 503 with Retry-After (problem.go).
	op.Errors = append(op.Errors, http.StatusServiceUnavailable)
	s.Routes.Add(access.Route{Kind: "api", Method: op.Method, Path: op.Path, Need: need})
	// Handlers return the domain's errors as they are; Problem maps them here, once, so no
	// route can answer a raw error (an internal message as a 500's detail).
	huma.Register(s.API, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.Problem(ctx, err)
		}
		return out, nil
	})
}

// enforce authenticates the caller and applies the operation's need.
func (s *Server) enforce(ctx huma.Context, next func(huma.Context)) {
	need, ok := ctx.Operation().Metadata[needKey].(access.Need)
	if !ok {
		// Fail closed: an operation registered without Register has no declared need.
		_ = huma.WriteErr(s.API, ctx, http.StatusInternalServerError, "this route declares no access requirement")
		return
	}
	r, _ := humago.Unwrap(ctx)
	if msg := badText(r); msg != "" {
		_ = huma.WriteErr(s.API, ctx, http.StatusBadRequest, msg)
		return
	}
	p, err := s.Auth.Principal(r)
	if err != nil && store.IsUnavailable(err) {
		s.Log.Warn("authenticate: database unavailable", "err", err)
		ctx.SetHeader("Retry-After", strconv.Itoa(RetryAfterUnavailable))
		_ = writeProblem(s.API, ctx, unavailable())
		return
	}
	if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
		s.Log.Error("authenticate", "err", err)
		_ = huma.WriteErr(s.API, ctx, http.StatusInternalServerError, "could not check the credential")
		return
	}
	if need.Auth != access.Public {
		if p == nil {
			msg := "sign in or send a bearer token"
			if err != nil {
				msg = err.Error()
			}
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="relaydesk"`)
			_ = huma.WriteErr(s.API, ctx, http.StatusUnauthorized, msg)
			return
		}
		if !need.Allows(p) {
			_ = huma.WriteErr(s.API, ctx, http.StatusForbidden, forbidden(need, p))
			return
		}
	}
	c := context.WithValue(ctx.Context(), requestKey{}, r)
	if p != nil {
		c = access.With(c, p)
	}
	next(huma.WithContext(ctx, c))
}

func forbidden(need access.Need, p *access.Principal) string {
	switch {
	case need.Auth == access.Platform:
		return "this route is for the producer's platform token"
	case p.Platform:
		return "a platform token cannot act as a workspace member"
	case p.WorkspaceID == "":
		return "you are not a member of any workspace"
	default:
		return fmt.Sprintf("this needs %s; your role %s has %s", need, p.RoleName, p.Levels.Of(need.Feature))
	}
}

// RetryAfter formats a wait for the Retry-After header (whole seconds, at least 1).
func RetryAfter(d time.Duration) string {
	sec := int((d + time.Second - 1) / time.Second)
	return strconv.Itoa(max(sec, 1))
}
