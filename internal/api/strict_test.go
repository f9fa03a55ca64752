package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/api"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// The producer API reads its body with input's strict reader before encoding/json decodes
// it: a key given twice, at any depth, and a key in another case than the field's are
// refused naming the field; bytes that are not UTF-8 are malformed JSON like a syntax error.
func TestPublishRefusesWhatEncodingJSONWouldTake(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		producer := env.PlatformToken()
		data := string(testkit.MessageJSON(ws.ID))
		event := `"workspaceId":"` + ws.ID + `","name":"MessageReceived","data":` + data
		for _, c := range []struct {
			name, body, location, says string
		}{
			{"repeated top-level key", `{` + event + `,"name":"TestEvent"}`, "body.name", "duplicate field"},
			{"repeated key in data", `{` + event[:len(event)-1] + `,"body":"again"}}`, "body.data.body", "duplicate field"},
			{"repeated key in a batch event's context", `{"events":[{` + event + `},{` + event +
				`,"context":{"isNewConversation":true,"isNewConversation":false}}]}`, "body.events[1].context.isNewConversation", "duplicate field"},
			{"key in another case", `{` + strings.Replace(event, "workspaceId", "WorkspaceId", 1) + `}`, "body.WorkspaceId", "unknown field"},
			{"key in another case in a batch", `{"events":[{` + strings.Replace(event, `"name"`, `"Name"`, 1) + `}]}`, "body.events[0].Name", "unknown field"},
		} {
			res := producer.Do("POST", "/v1/platform/events", c.body)
			var p problemBody
			res.JSON(t, &p)
			if res.Status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Location != c.location ||
				p.Errors[0].Message != c.says {
				t.Errorf("%s: %d %s; want 422 at %s saying %q", c.name, res.Status, res.Body, c.location, c.says)
			}
		}
		for name, body := range map[string]string{
			"not UTF-8":     `{` + strings.Replace(event, `"body":"`, "\"body\":\"\xff", 1) + `}`,
			"trailing data": `{` + event + `}{}`,
		} {
			res := producer.Do("POST", "/v1/platform/events", body)
			var p struct{ Type, Detail string }
			if json.Unmarshal(res.Body, &p); res.Status != http.StatusBadRequest || p.Type != api.MalformedJSONType {
				t.Errorf("%s: %d %s; want the malformed-JSON answer", name, res.Status, res.Body)
			}
		}
		// The same event without the repetition is taken.
		if res := producer.Do("POST", "/v1/platform/events", `{`+event+`}`); res.Status != http.StatusAccepted {
			t.Errorf("the event itself: %d %s", res.Status, res.Body)
		}
	})
}

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
