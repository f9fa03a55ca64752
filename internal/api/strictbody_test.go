package api_test

import (
	"net/http"
	"testing"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
)

// A body huma decodes is read by input's strict reader first: encoding/json would take the
// last of repeated keys and create the endpoint for the second URL.
func TestTypedBodyRefusesRepeatedKeys(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		for _, c := range []struct{ body, location string }{
			{`{"url":"http://127.0.0.1:9/a","description":"x","url":"http://127.0.0.1:9/b"}`, "body.url"},
			{`{"url":"http://127.0.0.1:9/a","enabled":true,"enabled":false}`, "body.enabled"},
		} {
			res := ws.Admin.Do("POST", "/v1/endpoints", c.body)
			var p problemBody
			res.JSON(t, &p)
			if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != c.location ||
				p.Errors[0].Message != "duplicate field" {
				t.Errorf("%s: %d %s; want 422 at %s saying duplicate field", c.body, res.Status, res.Body, c.location)
			}
		}
		var list struct{ Endpoints []struct{ URL string } }
		if ws.Admin.Do("GET", "/v1/endpoints", nil).JSON(t, &list); len(list.Endpoints) != 0 {
			t.Errorf("refused bodies made endpoints: %+v", list.Endpoints)
		}
		// The same body once is taken, and huma still answers what is not JSON.
		want(t, ws.Admin.Do("POST", "/v1/endpoints", `{"url":"http://127.0.0.1:9/a","description":"x"}`), http.StatusCreated)
		want(t, ws.Admin.Do("POST", "/v1/endpoints", `{"url":`), http.StatusBadRequest)
	})
}
