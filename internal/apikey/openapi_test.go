package apikey_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
)

// /openapi.json is valid OpenAPI 3.1 (checked against the specification's JSON Schema by
// libopenapi-validator), describes every /v1 route of the route table and nothing else,
// and each operation states its auth and the rate limit's 429.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		res := env.Anonymous().Do("GET", "/openapi.json", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET /openapi.json: %d", res.Status)
		}
		doc, err := libopenapi.NewDocument(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
			t.Fatalf("openapi version %q, want 3.1.x", v)
		}
		if ok, errs := schema_validation.ValidateOpenAPIDocument(doc); !ok {
			for _, e := range errs {
				t.Errorf("invalid: %s: %s", e.Message, e.Reason)
				for _, se := range e.SchemaValidationErrors {
					t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
				}
			}
			t.FailNow()
		}
		// The validator is live: a document without info.version is refused.
		bad, _ := libopenapi.NewDocument([]byte(`{"openapi":"3.1.0","info":{"title":"x"},"paths":{}}`))
		if ok, _ := schema_validation.ValidateOpenAPIDocument(bad); ok {
			t.Fatal("the validator accepts a document without info.version")
		}
		if _, err := doc.BuildV3Model(); err != nil {
			t.Fatalf("build model: %v", err)
		}

		var spec struct {
			Paths map[string]map[string]struct {
				OperationID string                `json:"operationId"`
				Security    []map[string][]string `json:"security"`
				Responses   map[string]any        `json:"responses"`
			} `json:"paths"`
			Components struct {
				SecuritySchemes map[string]any `json:"securitySchemes"`
			} `json:"components"`
		}
		if err := json.Unmarshal(res.Body, &spec); err != nil {
			t.Fatal(err)
		}
		wantSchemes := map[access.Auth][]string{access.Member: {"apiKey", "session"}, access.Platform: {"platform"}}
		described := 0
		for _, r := range env.App.Routes.Routes() {
			if r.Kind != "api" {
				continue
			}
			if !strings.HasPrefix(r.Path, "/v1/") {
				t.Errorf("API route %s is outside /v1", r)
			}
			op, ok := spec.Paths[r.Path][strings.ToLower(r.Method)]
			if !ok {
				t.Errorf("%s is not in /openapi.json", r)
				continue
			}
			described++
			var schemes []string
			for _, req := range op.Security {
				for name := range req {
					schemes = append(schemes, name)
					if _, ok := spec.Components.SecuritySchemes[name]; !ok {
						t.Errorf("%s: security scheme %q is not defined", r, name)
					}
				}
			}
			slices.Sort(schemes)
			if want := wantSchemes[r.Need.Auth]; !slices.Equal(schemes, want) {
				t.Errorf("%s: security %v, want %v", r, schemes, want)
			}
			if _, ok := op.Responses["429"]; !ok {
				t.Errorf("%s: no 429 response documented", r)
			}
			if r.Need.Auth != access.Public {
				for _, code := range []string{"401", "403"} {
					if _, ok := op.Responses[code]; !ok {
						t.Errorf("%s: no %s response documented", r, code)
					}
				}
			}
		}
		// And the description holds no operation that the route table does not know.
		total := 0
		for path, ops := range spec.Paths {
			for method := range ops {
				total++
				if _, ok := env.App.Routes.Lookup(strings.ToUpper(method), path); !ok {
					t.Errorf("/openapi.json describes %s %s, which is not in the route table", method, path)
				}
			}
		}
		if described == 0 || described != total {
			t.Errorf("described %d routes of the table, the document has %d operations", described, total)
		}
		for _, want := range []string{"/v1/api-keys", "/v1/api-keys/{id}", "/v1/zapier/hooks", "/v1/zapier/hooks/{id}", "/v1/zapier/samples/{event}", "/v1/me"} {
			if _, ok := spec.Paths[want]; !ok {
				t.Errorf("%s missing", want)
			}
		}
	})
}
