package app_test

import (
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/egress"
)

// TestEndpointPortPolicy: the port policy refuses service ports when an endpoint is saved
// or edited, through the API, on both stores; the
// operator's RELAYDESK_ENDPOINT_PORTS replaces the default set.
func TestEndpointPortPolicy(t *testing.T) {
	public := egress.StaticResolver{"hooks.example.com": {"93.184.215.14"}}
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		env.App.Endpoints.SetPolicy(egress.Policy{Resolver: public})
		ws := env.NewWorkspace("Ports")
		for url, want := range map[string]string{
			"https://hooks.example.com/":      "",
			"https://hooks.example.com:8443/": "",
			"https://hooks.example.com:6379/": "the port 6379 (Redis) is not open to webhooks",
			"https://hooks.example.com:22/":   "the port 22 (SSH) is not open to webhooks",
			"https://93.184.215.14:5432/x":    "the port 5432 (PostgreSQL) is not open to webhooks",
		} {
			res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": url})
			if want == "" {
				if res.Status != 201 {
					t.Errorf("POST %s: %d %s, want 201", url, res.Status, res.Body)
				}
				continue
			}
			if res.Status != 422 || !strings.Contains(string(res.Body), want) || !strings.Contains(string(res.Body), `"location":"body.url"`) {
				t.Errorf("POST %s: %d %s, want 422 at body.url saying %q", url, res.Status, res.Body, want)
			}
		}
		var list struct{ Endpoints []struct{ ID, URL string } }
		ws.Admin.Do("GET", "/v1/endpoints", nil).JSON(t, &list)
		if len(list.Endpoints) != 2 {
			t.Fatalf("%d endpoints saved, want the 2 allowed ones: %+v", len(list.Endpoints), list.Endpoints)
		}
		res := ws.Admin.Do("PATCH", "/v1/endpoints/"+list.Endpoints[0].ID, map[string]any{"url": "https://hooks.example.com:11211/"})
		if res.Status != 422 || !strings.Contains(string(res.Body), "memcached") {
			t.Errorf("PATCH to :11211: %d %s", res.Status, res.Body)
		}
	})

	// The operator's set, in the app's config (also the --endpoint-ports flag).
	env := apptest.SQLite(t, func(c *app.Config) { c.EndpointPorts = "443"; c.AllowPrivateEndpoints = false })
	env.App.Endpoints.SetPolicy(egress.Policy{Resolver: public, Ports: env.App.Config.EgressPolicy().Ports})
	ws := env.NewWorkspace("Operator ports")
	if res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "https://hooks.example.com:8443/"}); res.Status != 422 ||
		!strings.Contains(string(res.Body), "allowed: 443 (RELAYDESK_ENDPOINT_PORTS)") {
		t.Errorf("ports=443, :8443: %d %s", res.Status, res.Body)
	}
	if p := env.App.Config.EgressPolicy(); p.Ports.String() != "443" || p.Ports.Allows(8443) {
		t.Errorf("EgressPolicy().Ports = %v", p.Ports)
	}
}

func TestEndpointPortsConfig(t *testing.T) {
	t.Setenv(app.EnvEndpointPorts, "443,1024-65535,!6379")
	c, err := app.DefaultConfig().FromEnv()
	if err != nil || c.EndpointPorts != "443,1024-65535,!6379" || c.Validate() != nil {
		t.Fatalf("FromEnv: %+v, %v, %v", c.EndpointPorts, err, c.Validate())
	}
	if p := c.EgressPolicy().Ports; p.Allows(6379) || !p.Allows(5432) || p.Allows(80) {
		t.Errorf("policy from %q: 6379 %v, 5432 %v, 80 %v", c.EndpointPorts, p.Allows(6379), p.Allows(5432), p.Allows(80))
	}
	for _, bad := range []string{"0", "443,http", "65536", "10-5"} {
		c.EndpointPorts = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), app.EnvEndpointPorts) {
			t.Errorf("Validate(%q) = %v, want an error naming %s", bad, err, app.EnvEndpointPorts)
		}
	}
	for _, spec := range []string{"", "default", " default "} {
		c.EndpointPorts = spec
		if p := c.EgressPolicy(); p.Ports != nil {
			t.Errorf("EndpointPorts %q: ports %v, want nil (the default set, plus 80 in development mode)", spec, p.Ports)
		}
	}
}
