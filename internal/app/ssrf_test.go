package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/egress"
)

// apiSSRFBattery is the egress package's battery (internal/egress/client_test.go, not
// exported), sent through the API: every form must be refused when an endpoint is saved
// or edited, and when a Zapier hook is subscribed, with private endpoints off.
var apiSSRFBattery = []string{
	"https://127.0.0.1:8443/", "https://127.0.0.2/", "https://127.255.255.254/", "https://localhost/", "https://LOCALHOST/",
	"https://localhost./", "https://api.localhost/", "https://[::1]/", "https://[0:0:0:0:0:0:0:1]/",
	"https://0.0.0.0/", "https://[::]/", "https://0/",
	"https://2130706433/", "https://017700000001/", "https://0177.0.0.1/", "https://0x7f.0.0.1/", "https://0x7f000001/",
	"https://0x7f.1/", "https://0x7f.0x0.0x0.0x1/", "https://127.1/", "https://127.0.1/", "https://127.000.000.001/", "https://2130706433./",
	"https://[::ffff:127.0.0.1]/", "https://[::ffff:7f00:1]/", "https://[::ffff:10.0.0.1]/", "https://[::ffff:169.254.169.254]/",
	"https://[::127.0.0.1]/", "https://[64:ff9b::127.0.0.1]/", "https://[2002:7f00:1::]/", "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
	"https://10.0.0.1/", "https://172.16.0.1/", "https://192.168.1.1/", "https://100.64.0.1/", "https://169.254.0.1/",
	"https://[fe80::1]/", "https://[fc00::1]/", "https://[fd12:3456::1]/",
	"https://169.254.169.254/latest/meta-data/", "https://169.254.169.254/latest/meta-data/iam/", "https://[fd00:ec2::254]/",
	"https://100.100.100.200/", "https://169.254.170.2/",
	"https://224.0.0.1/", "https://[ff02::1]/", "https://255.255.255.255/", "https://240.0.0.1/", "https://192.0.2.1/",
	"https://198.18.0.1/", "https://[2001:db8::1]/",
	"https://loopback.test/", "https://private.test/", "https://metadata.test/", "https://v6loopback.test/", "https://ula.test/",
	"https://cgnat.test/", "https://mapped.test/", "https://LOOPBACK.TEST./",
	"HTTPS://127.0.0.1/", "http://127.0.0.1/", "https://public.example@127.0.0.1/", "https://user:pass@loopback.test/",
	"https://127.0.0.1#@public.example/", "http://public.test/",
	"https://１２７.０.０.１/", "https://127。0。0。1/", "https://ｌｏｃａｌｈｏｓｔ/", "https://ＬＯＯＰＢＡＣＫ.test/",
	"ftp://public.test/", "https://", "//public.test/", "javascript:alert(1)", "https://public.test:0/",
}

// ssrfNames answers the battery's names; public.test is the one public name.
var ssrfNames = egress.StaticResolver{
	"loopback.test": {"127.0.0.1"}, "private.test": {"10.1.2.3"}, "metadata.test": {"169.254.169.254"}, "v6loopback.test": {"::1"},
	"ula.test": {"fd00::1"}, "cgnat.test": {"100.64.0.1"}, "mapped.test": {"::ffff:127.0.0.1"}, "localhost": {"127.0.0.1"},
	"public.test": {"93.184.216.34"},
}

func TestSSRFThroughTheAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		env.App.Endpoints.SetPolicy(egress.Policy{Resolver: ssrfNames})
		ws := env.NewWorkspace("SSRF")
		ws.Admin.Do("POST", "/v1/signing-secret", nil)

		// A public endpoint is accepted (the policy is not just refusing everything), and
		// is the one the edits below try to point elsewhere.
		ok := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": "https://public.test/hooks"})
		if ok.Status != 201 {
			t.Fatalf("public endpoint refused: %d %s", ok.Status, ok.Body)
		}
		var ep struct{ ID string }
		ok.JSON(t, &ep)

		refused := map[string]int{}
		for _, form := range apiSSRFBattery {
			for _, op := range []struct{ name, method, path string }{
				{"save", "POST", "/v1/endpoints"},
				{"edit", "PATCH", "/v1/endpoints/" + ep.ID},
			} {
				res := ws.Admin.Do(op.method, op.path, map[string]any{"url": form})
				var p struct {
					Detail string
					Errors []struct{ Location, Message string }
				}
				_ = json.Unmarshal(res.Body, &p)
				if res.Status != 422 || res.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s %q: %d %s, want 422 problem", op.name, form, res.Status, res.Body)
					continue
				}
				if p.Detail == "" || len(p.Errors) == 0 || p.Errors[0].Location != "body.url" || p.Errors[0].Message == "" {
					t.Errorf("%s %q: refusal does not say why at body.url: %s", op.name, form, res.Body)
					continue
				}
				refused[op.name]++
				if op.name == "save" {
					t.Logf("save %-48q → %s", form, p.Errors[0].Message)
				}
			}
		}
		// Nothing was saved: the one endpoint still points at the public name.
		var list struct{ Endpoints []struct{ URL string } }
		ws.Admin.Do("GET", "/v1/endpoints", nil).JSON(t, &list)
		if len(list.Endpoints) != 1 || list.Endpoints[0].URL != "https://public.test/hooks" {
			t.Errorf("endpoints after the battery: %+v", list.Endpoints)
		}
		n := len(apiSSRFBattery)
		t.Logf("SSRF through the API: %d/%d refused at save, %d/%d at edit", refused["save"], n, refused["edit"], n)
		if n < 40 {
			t.Errorf("battery has %d forms, want at least 40", n)
		}
	}, func(c *app.Config) { c.AllowPrivateEndpoints = false })
}

// Zapier REST hooks go through the same address rules (the system resolver: the battery's
// literal addresses and localhost spellings).
func TestSSRFZapierHooks(t *testing.T) {
	env := apptest.SQLite(t, func(c *app.Config) { c.AllowPrivateEndpoints = false })
	ws := env.NewWorkspace("Hooks")
	if res := ws.Admin.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": "https://93.184.216.34/hooks/catch/1", "event": "MessageReceived"}); res.Status != 201 {
		t.Fatalf("a public hook URL was refused: %d %s", res.Status, res.Body)
	}
	refused, tried := 0, 0
	for _, form := range apiSSRFBattery {
		if strings.Contains(strings.ToLower(form), ".test") || strings.Contains(form, "ＬＯＯＰＢＡＣＫ") {
			continue // names of the test resolver, which hooks do not use
		}
		tried++
		res := ws.Admin.Do("POST", "/v1/zapier/hooks", map[string]any{"targetUrl": form, "event": "MessageReceived"})
		if res.Status == 422 && res.Header.Get("Content-Type") == "application/problem+json" && strings.Contains(strings.ToLower(string(res.Body)), "url") {
			refused++
			continue
		}
		t.Errorf("hook %q: %d %s, want 422", form, res.Status, res.Body)
	}
	t.Logf("SSRF through Zapier hooks: %d/%d refused", refused, tried)
}
