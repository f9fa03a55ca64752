package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/webhook"
)

// The example, against a live relaydesk: Developer Tools' "Send test event" is signed by the
// server with the workspace's key pair and verified here with only the JWKS URL; a request
// signed with another key, or only with the HMAC secret, is refused.
func TestExampleReceiverLive(t *testing.T) {
	env := apptest.SQLite(t)
	ws := env.NewWorkspace("Acme")
	if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
		t.Fatalf("secret: %d %s", res.Status, res.Body)
	}
	res := ws.Admin.Do("POST", "/v1/signing-key", nil)
	var jwks struct {
		URL string `json:"jwksUrl"`
	}
	res.JSON(t, &jwks)
	if res.Status != http.StatusOK || jwks.URL == "" {
		t.Fatalf("key: %d %s", res.Status, res.Body)
	}

	srv := httptest.NewServer(newHandler(jwks.URL))
	defer srv.Close()
	res = ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": srv.URL + "/webhooks"})
	var ep struct{ ID string }
	res.JSON(t, &ep)
	res = ws.Admin.Do("POST", "/v1/endpoints/"+ep.ID+"/test", nil)
	var test struct {
		OK     bool
		Status int
	}
	res.JSON(t, &test)
	if !test.OK || test.Status != http.StatusNoContent {
		t.Fatalf("live test event: %s", res.Body)
	}

	// Forged: another key pair, or the HMAC v1 entry alone.
	other, _ := webhook.NewSigningKey()
	body := `{"id":"01KAE88YX393N7SAE2VQ3WQ0ZB","object":"Event","name":"TestEvent"}`
	for name, sign := range map[string]func(h http.Header){
		"another key": func(h http.Header) { webhook.SignV1a(h, "01KAE88YX393N7SAE2VQ3WQ0ZB", time.Now(), []byte(body), other) },
		"hmac only": func(h http.Header) {
			webhook.Sign(h, "01KAE88YX393N7SAE2VQ3WQ0ZB", time.Now(), []byte(body), webhook.MustParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
		},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/webhooks", strings.NewReader(body))
		sign(req.Header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, resp.StatusCode)
		}
	}
}
