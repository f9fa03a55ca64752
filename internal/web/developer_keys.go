package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
)

// The signing key pair on Developer Tools (issue 15): generate, view and copy the public key
// and the JWKS URL, rotate with the same grace choices as the secret. There is no reveal: the
// private key never leaves the server.

// jwksPath mirrors api.JWKSPath (web does not import api).
func jwksPath(workspaceID string) string { return "/v1/jwks/" + workspaceID }

// origin is PublicURL, or the request's own scheme and host.
func (s *Server) origin(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimSuffix(s.PublicURL, "/")
	}
	scheme := "http"
	if s.SecureCookies || r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (d *developerPages) generateKey(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if _, err := d.svc.GenerateKey(d.ctx(r, p), p.WorkspaceID); err != nil {
		d.refuse(w, r, p, "generate signing key", err)
		return
	}
	d.render(w, r, p, http.StatusOK, View{Flash: "Signing key pair generated. Deliveries now also carry a v1a signature; give receivers the public key or the JWKS URL."}, nil)
}

func (d *developerPages) rotateKeyPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	info, err := d.svc.KeyInfo(r.Context(), p.WorkspaceID)
	d.renderRotate(w, r, p, "key info", err, info.Exists, "developer_key_rotate", "Rotate signing key pair",
		rotateData{Fingerprint: info.KeyID, Grace: "key-grace", Choices: keyGraceChoices})
}

// keyGraceChoices are graceChoices worded for a key.
var keyGraceChoices = func() []graceChoice {
	out := slices.Clone(graceChoices)
	for i := range out {
		switch out[i].Seconds {
		case defaultGrace:
			out[i].Note = "The old key keeps signing, and stays published, for a day: time to update every receiver that pinned it."
		case 0:
			out[i].Note = "Receivers that pinned the old public key reject your webhooks at once; the old key is unpublished. Use it when the private key leaked."
		}
	}
	return out
}()

func (d *developerPages) rotateKey(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	info, err := d.svc.RotateKey(d.ctx(r, p), p.WorkspaceID, graceParam(r))
	if err != nil {
		d.refuse(w, r, p, "rotate signing key", err)
		return
	}
	flash := "Signing key pair rotated. The old key no longer signs and is no longer published."
	if info.PreviousExpiresAt != nil {
		flash = "Signing key pair rotated. The old key also signs, and stays published, until " +
			info.PreviousExpiresAt.Format("2 Jan 2006 15:04 MST") + "."
	}
	d.render(w, r, p, http.StatusOK, View{Flash: flash}, nil)
}
