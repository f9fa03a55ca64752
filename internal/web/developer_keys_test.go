package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/webhook"
)

// The signing key pair on Developer Tools over plain HTTP: editors generate and rotate,
// viewers see the public key and the JWKS URL only, the private key is never on a page.
func TestDeveloperSigningKeyPage(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		viewer := ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})

		expect(t, ws.Admin.Do("GET", "/settings/developer", nil), http.StatusOK, "page before", `id="generate-key"`)
		res := viewer.Do("GET", "/settings/developer", nil)
		expect(t, res, http.StatusOK, "viewer before", `id="no-key"`)
		if strings.Contains(string(res.Body), `id="generate-key"`) {
			t.Fatal("a viewer is offered to generate a key pair")
		}
		for _, path := range []string{"/settings/developer/signing-key", "/settings/developer/signing-key/rotate"} {
			expect(t, postForm(viewer, path, url.Values{"graceSeconds": {"0"}}), http.StatusForbidden, "viewer POST "+path)
		}
		expect(t, viewer.Do("GET", "/settings/developer/signing-key/rotate", nil), http.StatusForbidden, "viewer rotate page")
		// Rotating before generating sends the editor back to the page.
		if res := ws.Admin.Do("GET", "/settings/developer/signing-key/rotate", nil); res.Status != http.StatusOK && res.Status != http.StatusSeeOther {
			t.Fatalf("rotate page before: %d", res.Status)
		}

		res = postForm(ws.Admin, "/settings/developer/signing-key", url.Values{})
		jwksURL := env.URL() + "/v1/jwks/" + ws.ID
		expect(t, res, http.StatusOK, "generate", "Signing key pair generated", `id="public-key"`, jwksURL)
		pub := regexp.MustCompile(`value="(whpk_[^"]+)"`).FindStringSubmatch(string(res.Body))
		if pub == nil {
			t.Fatalf("no public key on the page:\n%s", res.Body)
		}
		pk, err := webhook.ParsePublicKey(strings.ReplaceAll(pub[1], "&#43;", "+"))
		if err != nil {
			t.Fatal(err)
		}
		// The page's key is the published one.
		doc := env.Anonymous().Do("GET", "/v1/jwks/"+ws.ID, nil)
		keys, err := webhook.ParseJWKS(doc.Body)
		if err != nil || len(keys) != 1 || !keys[0].Equal(pk) || !strings.Contains(string(res.Body), pk.KeyID()) {
			t.Fatalf("page key %s vs published %v (%v)", pk, keys, err)
		}
		expect(t, postForm(ws.Admin, "/settings/developer/signing-key", url.Values{}), http.StatusConflict, "generate twice", "already has a signing key pair")

		res = viewer.Do("GET", "/settings/developer", nil)
		expect(t, res, http.StatusOK, "viewer after", pk.KeyID(), jwksURL)
		if strings.Contains(string(res.Body), `id="rotate-key"`) {
			t.Fatal("a viewer is offered to rotate")
		}

		expect(t, ws.Admin.Do("GET", "/settings/developer/signing-key/rotate", nil), http.StatusOK, "rotate page", pk.KeyID(), `name="graceSeconds"`)
		expect(t, postForm(ws.Admin, "/settings/developer/signing-key/rotate", url.Values{"graceSeconds": {"999999"}}), http.StatusUnprocessableEntity,
			"rotate with a bad grace", "Grace period: the grace period must be between 0 and 86400 seconds")
		res = postForm(ws.Admin, "/settings/developer/signing-key/rotate", url.Values{"graceSeconds": {"3600"}})
		expect(t, res, http.StatusOK, "rotate with grace", "The old key also signs, and stays published, until", `id="previous-key"`, pk.KeyID())
		res = postForm(ws.Admin, "/settings/developer/signing-key/rotate", url.Values{"graceSeconds": {"0"}})
		expect(t, res, http.StatusOK, "rotate without grace", "The old key no longer signs")
		if strings.Contains(string(res.Body), `id="previous-key"`) {
			t.Fatal("a no-grace rotation still shows a previous key")
		}
		for _, c := range []*apptest.Client{ws.Admin, viewer} {
			if res := c.Do("GET", "/settings/developer", nil); strings.Contains(string(res.Body), "whsk_") {
				t.Fatal("a private key on the page")
			}
		}
	})
}
