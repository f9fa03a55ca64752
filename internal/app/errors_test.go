package app_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// TestErrorsEchoOnlyAnExcerpt: a refused request's answer quotes at most a short excerpt
// of what was sent (a 60 KiB body got an 80 KiB answer), says what was expected, and
// times outside the window are refused (issue 18).
func TestErrorsEchoOnlyAnExcerpt(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Excerpts")
		producer := env.PlatformToken()
		big := strings.Repeat("x", 60<<10)
		type problem struct {
			Status int
			Detail string
			Errors []struct {
				Message, Location string
				Value             any
			}
		}
		refuse := func(c *apptest.Client, path string, body any, status int, location, says string) {
			t.Helper()
			res := c.Do("POST", path, body)
			var p problem
			if err := json.Unmarshal(res.Body, &p); err != nil || res.Status != status {
				t.Errorf("POST %s: %d %.300s, want %d", path, res.Status, res.Body, status)
				return
			}
			if len(res.Body) > 1024 {
				t.Errorf("POST %s: a %d-byte answer to a refused request: %.200s…", path, len(res.Body), res.Body)
			}
			found := false
			for _, e := range p.Errors {
				if e.Location == location && strings.Contains(e.Message, says) {
					found = true
				}
				if s, ok := e.Value.(string); ok && len(s) > 100 {
					t.Errorf("POST %s: errors[].value is %d bytes", path, len(s))
				}
			}
			if !found || !strings.Contains(p.Detail+" "+string(res.Body), says) {
				t.Errorf("POST %s: %s, want an error at %s saying %q", path, res.Body, location, says)
			}
		}
		// Endpoints: huma's validation and the address policy both quote the value.
		refuse(ws.Admin, "/v1/endpoints", map[string]any{"url": "https://example.com/", "description": big}, 422, "body.description", "expected length <= 500")
		refuse(ws.Admin, "/v1/endpoints", map[string]any{"url": big}, 422, "body.url", "the URL is 61440 characters long")
		refuse(ws.Admin, "/v1/endpoints", map[string]any{"url": map[string]any{"a": big}}, 422, "body.url", "expected string")
		refuse(ws.Admin, "/v1/roles", map[string]any{"name": big}, 422, "body.name", "")
		// The producer API: what was expected, in words; unknown field names cut short.
		refuse(producer, "/v1/platform/events", map[string]any{"workspaceId": 5, "name": "MessageReceived", "data": testkit.Message(ws.ID)},
			422, "body.workspaceId", "must be a string: the workspace's id")
		refuse(producer, "/v1/platform/events", map[string]any{"events": []any{map[string]any{"workspaceId": true}}},
			422, "body.events[0].workspaceId", "must be a string: the workspace's id (a ULID such as 01K6N5WEYHS5N0796ZSQ2R5V8B), not a bool")
		refuse(producer, "/v1/platform/events", map[string]any{"events": "x"}, 422, "body.events", "must be an array, not a string")
		refuse(producer, "/v1/platform/events", map[string]any{"workspaceId": ws.ID, big: 1}, 422, "body."+strings.Repeat("x", 64)+"…(61440 bytes)", "unknown field")
		res := producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": 5})
		if strings.Contains(string(res.Body), "JSON number") || strings.Contains(string(res.Body), "publishEvent") {
			t.Errorf("numeric workspaceId: %s", res.Body)
		}

		// Times: occurredAt and data.createdAt inside [2000-01-01, now + 24 h].
		event := func(occurredAt, createdAt string) map[string]any {
			d := testkit.Message(ws.ID)
			if createdAt != "" {
				d["createdAt"] = createdAt
			}
			e := map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": d}
			if occurredAt != "" {
				e["occurredAt"] = occurredAt
			}
			return e
		}
		future := time.Now().Add(49 * time.Hour).UTC().Format(time.RFC3339)
		refuse(producer, "/v1/platform/events", event("0001-01-01T00:00:00Z", ""), 422, "body.occurredAt", "must be a time after 2000-01-01T00:00:00Z, not 0001-01-01T00:00:00Z")
		refuse(producer, "/v1/platform/events", event("1970-01-01T00:00:00Z", ""), 422, "body.occurredAt", "must be a time after 2000-01-01")
		refuse(producer, "/v1/platform/events", event(future, ""), 422, "body.occurredAt", "must not be more than 24 hours in the future")
		refuse(producer, "/v1/platform/events", event("", "0001-01-01T00:00:00Z"), 422, "body.data.createdAt", "must be a time after 2000-01-01T00:00:00Z")
		refuse(producer, "/v1/platform/events", event("", "9999-12-31T23:59:59Z"), 422, "body.data.createdAt", "must not be more than 24 hours in the future")
		refuse(producer, "/v1/platform/events", map[string]any{"events": []any{event("", "0001-01-01T00:00:00Z")}}, 422, "body.events[0].data.createdAt", "must be a time after")
		// Inside the window: accepted (the window is not refusing everything).
		now := time.Now().UTC().Format(time.RFC3339Nano)
		if res := producer.Do("POST", "/v1/platform/events", event(now, now)); res.Status != 202 {
			t.Errorf("event at now: %d %s", res.Status, res.Body)
		}
		if res := producer.Do("POST", "/v1/platform/events", event(time.Now().Add(23*time.Hour).UTC().Format(time.RFC3339), "2000-01-01T00:00:00Z")); res.Status != 202 {
			t.Errorf("event at the window's edges: %d %s", res.Status, res.Body)
		}
	})
}
