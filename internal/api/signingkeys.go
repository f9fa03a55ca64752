package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/webhook"
)

// JWKSPath is where a workspace's public signing keys are published.
func JWKSPath(workspaceID string) string { return "/v1/jwks/" + workspaceID }

// JWKSMaxAge is how long receivers may cache the JWKS document. A receiver meeting an
// unknown kid fetches again sooner (webhook.KeySet does), so a rotation without grace does
// not wait for it.
const JWKSMaxAge = 5 * time.Minute

type keyBody struct {
	endpoint.KeyInfo
	JWKSURL string `json:"jwksUrl,omitempty" doc:"The public, unauthenticated JWKS URL serving the current (and during a grace window, previous) public keys."`
}

type keyOut struct{ Body keyBody }

type jwksOut struct {
	Status       int
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	ETag         string `header:"ETag"`
	AllowOrigin  string `header:"Access-Control-Allow-Origin"`
	Body         []byte
}

// keyResult is the answer describing the key pair, with its JWKS URL when there is one.
func (s *Server) keyResult(ctx context.Context, publicURL string, info endpoint.KeyInfo) *keyOut {
	o := &keyOut{Body: keyBody{KeyInfo: info}}
	if info.Exists {
		o.Body.JWKSURL = s.origin(ctx, publicURL) + JWKSPath(access.From(ctx).WorkspaceID)
	}
	return o
}

// RegisterSigningKeys adds the workspace's ed25519 signing key pair (issue 15): developer
// viewers see the public key, editors generate and rotate it; the JWKS URL is public and
// serves public keys only. publicURL, when set, is the origin of the JWKS URL shown;
// otherwise the request's own origin is.
func (s *Server) RegisterSigningKeys(svc *endpoint.Service, publicURL string) {
	h := &signingKeysAPI{Server: s, publicURL: publicURL, svc: svc}
	tags := []string{"Signing key pair"}
	viewer, editor := access.Require(access.Developer, access.Viewer), access.Require(access.Developer, access.Editor)

	Register(s, huma.Operation{OperationID: "getSigningKey", Method: http.MethodGet, Path: "/v1/signing-key", Summary: "Describe the signing key pair",
		Description: "Whether the workspace has an ed25519 signing key pair, its public key (whpk_…), kid and JWKS URL, and the previous key while a rotation grace window lasts. " +
			"The private key never leaves the server.", Tags: tags},
		viewer, h.getSigningKey)

	Register(s, huma.Operation{OperationID: "generateSigningKey", Method: http.MethodPost, Path: "/v1/signing-key", Summary: "Generate the signing key pair",
		Description: "Creates the workspace's ed25519 key pair. From then on every delivery's webhook-signature carries a v1a entry besides the v1 (HMAC) one, " +
			"and X-MessageDesk-Key-Id names the key. 409 when there is one already (rotate it).", Tags: tags, Errors: []int{http.StatusConflict}},
		editor, h.generateSigningKey)

	Register(s, huma.Operation{OperationID: "rotateSigningKey", Method: http.MethodPost, Path: "/v1/signing-key/rotate", Summary: "Rotate the signing key pair",
		Description: "Replaces the key pair. With graceSeconds 0 (the default) the old key stops signing and leaves the JWKS document at once; with graceSeconds up to 86400, " +
			"deliveries carry a v1a signature for both keys and the JWKS document lists both until the window ends. 409 when there is no key pair yet.",
		Tags: tags, Errors: []int{http.StatusConflict}},
		editor, h.rotateSigningKey)

	Register(s, huma.Operation{OperationID: "getJwks", Method: http.MethodGet, Path: "/v1/jwks/{workspaceId}", Summary: "The workspace's public signing keys (JWKS)",
		Description: "Public and unauthenticated: the workspace's current ed25519 public key and, during a rotation grace window, the previous one, as a JWK Set " +
			"(kty OKP, crv Ed25519, kid, use sig). Each delivery's X-MessageDesk-Key-Id names the kid that signed it. Cacheable for 5 minutes; " +
			"fetch again on an unknown kid. 404 when the workspace publishes no key.",
		Tags: tags, Errors: []int{http.StatusNotFound}},
		access.Anyone, h.getJwks)
}

// signingKeysAPI holds the handlers RegisterSigningKeys adds, with what they use.
type signingKeysAPI struct {
	*Server
	publicURL string
	svc       *endpoint.Service
}

func (s *signingKeysAPI) getSigningKey(ctx context.Context, _ *struct{}) (*keyOut, error) {
	info, err := s.svc.KeyInfo(ctx, access.From(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	return s.keyResult(ctx, s.publicURL, info), nil
}

func (s *signingKeysAPI) generateSigningKey(ctx context.Context, _ *struct{}) (*keyOut, error) {
	info, err := s.svc.GenerateKey(ctx, access.From(ctx).WorkspaceID)
	if err != nil {
		return nil, err
	}
	return s.keyResult(ctx, s.publicURL, info), nil
}

type rotateSigningKeyRequest struct {
	GraceSeconds int64 `json:"graceSeconds,omitempty" minimum:"0" maximum:"86400" doc:"How long the previous key keeps signing and stays published."`
}

type rotateSigningKeyIn struct{ Body *rotateSigningKeyRequest }

func (s *signingKeysAPI) rotateSigningKey(ctx context.Context, in *rotateSigningKeyIn) (*keyOut, error) {
	var grace time.Duration
	if in.Body != nil {
		grace = time.Duration(in.Body.GraceSeconds) * time.Second
	}
	info, err := s.svc.RotateKey(ctx, access.From(ctx).WorkspaceID, grace)
	if err != nil {
		return nil, err
	}
	return s.keyResult(ctx, s.publicURL, info), nil
}

type getJwksIn struct {
	WorkspaceID string `path:"workspaceId" maxLength:"26" doc:"The workspace's id (workspaceId in every event)."`
	IfNoneMatch string `header:"If-None-Match"`
}

func (s *signingKeysAPI) getJwks(ctx context.Context, in *getJwksIn) (*jwksOut, error) {
	keys, err := s.svc.PublishedKeys(ctx, in.WorkspaceID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		// The same answer for an unknown workspace: this URL says nothing else.
		return nil, huma.Error404NotFound("no signing keys are published for this workspace")
	}
	doc := webhook.MarshalJWKS(keys...)
	sum := sha256.Sum256(doc)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	o := &jwksOut{Status: http.StatusOK, ContentType: "application/jwk-set+json", ETag: etag, AllowOrigin: "*",
		CacheControl: "public, max-age=" + strconv.Itoa(int(JWKSMaxAge/time.Second)), Body: doc}
	for _, t := range strings.Split(in.IfNoneMatch, ",") {
		if t = strings.TrimSpace(t); t == etag || t == "W/"+etag {
			o.Status, o.Body = http.StatusNotModified, nil
		}
	}
	return o, nil
}

// origin is publicURL, or the request's own scheme and host.
func (s *Server) origin(ctx context.Context, publicURL string) string {
	if publicURL != "" {
		return strings.TrimSuffix(publicURL, "/")
	}
	r := requestFrom(ctx)
	scheme := "http"
	if s.SecureCookies || (r != nil && r.TLS != nil) {
		scheme = "https"
	}
	host := ""
	if r != nil {
		host = r.Host
	}
	return scheme + "://" + host
}
