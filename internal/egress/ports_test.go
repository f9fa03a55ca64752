package egress

import (
	"errors"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParsePorts(t *testing.T) {
	cases := []struct {
		spec         string
		norm         string
		allow, block []int
	}{
		{"", "default", []int{443, 1024, 8080, 8443, 9000, 65535}, []int{1, 22, 25, 80, 1023, 3306, 5432, 6379, 11211, 27017}},
		{"default", "default", []int{443, 3000}, []int{80, 6379}},
		{"443,8443", "443,8443", []int{443, 8443}, []int{80, 1024, 8080}},
		{" 443 , 1024-65535 , !6379 ", "443,1024-65535,!6379", []int{443, 5432, 8080}, []int{80, 6379}},
		{"!9000", "default,!9000", []int{443, 8080}, []int{9000, 6379, 80}},
		{"default,80", "default,80", []int{80, 443}, []int{22, 6379}},
		{"1-65535", "1-65535", []int{1, 22, 6379, 65535}, nil},
		{"1-65535,!1-1023", "1-65535,!1-1023", []int{1024}, []int{443, 22}},
	}
	for _, c := range cases {
		p, err := ParsePorts(c.spec)
		if err != nil {
			t.Errorf("ParsePorts(%q): %v", c.spec, err)
			continue
		}
		if p.String() != c.norm {
			t.Errorf("ParsePorts(%q).String() = %q, want %q", c.spec, p.String(), c.norm)
		}
		for _, n := range c.allow {
			if !p.Allows(n) {
				t.Errorf("ParsePorts(%q) refuses %d", c.spec, n)
			}
		}
		for _, n := range c.block {
			if p.Allows(n) {
				t.Errorf("ParsePorts(%q) allows %d", c.spec, n)
			}
		}
	}
	for _, bad := range []string{"0", "65536", "x", "10-5", "443-", "!", "1-65535,!1-65535", ",", "4 43", "-1"} {
		if p, err := ParsePorts(bad); err == nil {
			t.Errorf("ParsePorts(%q) = %v, want an error", bad, p)
		}
	}
	// Every denied service port is refused by the default set and has a name.
	for _, s := range DeniedServicePorts {
		if DefaultPorts().Allows(s.Port) || s.Service == "" || s.Port < 1024 {
			t.Errorf("denied service port %+v: allowed=%v", s, DefaultPorts().Allows(s.Port))
		}
	}
}

// publicNames answers one public address for every name the tests use: the port policy
// is what must refuse, not the address policy.
var publicNames = StaticResolver{"hooks.example.com": {"93.184.215.14"}, "lan.example.com": {"10.1.2.3"}, "dual.example.com": {"93.184.215.14", "127.0.0.1"}, "localhost": {"127.0.0.1"}}

func TestPortPolicyAtSaveTime(t *testing.T) {
	prod := Policy{Resolver: publicNames}
	dev := Policy{Resolver: publicNames, AllowPrivate: true}
	only443, err := ParsePorts("443")
	if err != nil {
		t.Fatal(err)
	}
	custom := Policy{Resolver: publicNames, Ports: only443}
	cases := []struct {
		p      Policy
		url    string
		reason string // "" = accepted; else a substring of the refusal
	}{
		{prod, "https://hooks.example.com/", ""},
		{prod, "https://hooks.example.com:443/", ""},
		{prod, "https://hooks.example.com:8443/", ""},
		{prod, "https://hooks.example.com:9000/", ""},
		{prod, "https://93.184.215.14:8080/", ""},
		{prod, "https://hooks.example.com:22/", "the port 22 (SSH) is not open to webhooks; allowed: 443, or 1024 to 65535 except well-known service ports"},
		{prod, "https://hooks.example.com:25/", "port 25 (SMTP)"},
		{prod, "https://hooks.example.com:80/", "port 80"},
		{prod, "https://hooks.example.com:6379/", "the port 6379 (Redis) is not open to webhooks"},
		{prod, "https://93.184.215.14:5432/", "the port 5432 (PostgreSQL) is not open to webhooks"},
		{prod, "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:11211/", "port 11211 (memcached)"},
		{prod, "https://hooks.example.com:1023/", "port 1023 is not open"},
		{custom, "https://hooks.example.com/", ""},
		{custom, "https://hooks.example.com:8443/", "the port 8443 is not open to webhooks; allowed: 443 (RELAYDESK_ENDPOINT_PORTS)"},
		// Development mode: 80 for http://, any port on loopback, the port set elsewhere.
		{dev, "http://hooks.example.com/", ""},
		{dev, "http://127.0.0.1:6379/", ""},
		{dev, "http://localhost:22/", ""},
		{dev, "http://[::1]:5432/", ""},
		{dev, "http://10.1.2.3:6379/", "the port 6379 (Redis) is not open to webhooks; allowed: 80, 443"},
		{dev, "http://lan.example.com:3306/", "port 3306 (MySQL / MariaDB)"},
		{dev, "http://hooks.example.com:6379/", "port 6379 (Redis)"},
		// Every address is checked: one public address refuses the port even when the
		// other is loopback.
		{dev, "http://dual.example.com:6379/", "port 6379"},
	}
	for _, c := range cases {
		_, err := c.p.CheckURL(t.Context(), c.url)
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("CheckURL(%s): %v, want accepted", c.url, err)
		case c.reason != "" && err == nil:
			t.Errorf("CheckURL(%s) accepted, want %q", c.url, c.reason)
		case c.reason != "":
			var pe *PortError
			if !strings.Contains(err.Error(), c.reason) || !errors.As(err, &pe) || !IsBlocked(err) {
				t.Errorf("CheckURL(%s) = %q (PortError %v, blocked %v), want %q", c.url, err, pe != nil, IsBlocked(err), c.reason)
			}
		}
	}
	// localhost resolves through the system in dev mode; make sure of the port check there.
	if err := dev.CheckPort(netip.MustParseAddr("127.0.0.1"), 6379); err != nil {
		t.Errorf("dev: loopback 6379 refused: %v", err)
	}
	if err := prod.CheckPort(netip.MustParseAddr("::ffff:93.184.215.14"), 6379); err == nil {
		t.Error("prod: mapped public address on 6379 allowed")
	}
}

// TestPortPolicyAtDialTime: the client refuses a port just before connecting, whatever
// was saved, and a refused port never reaches the network; an allowed port gets past the
// policy (and fails, or not, on the network).
func TestPortPolicyAtDialTime(t *testing.T) {
	only443, _ := ParsePorts("443")
	for _, c := range []struct {
		name string
		p    Policy
		url  string
		port int // refused port, 0 = must not be refused by the policy
	}{
		{"prod redis", Policy{Resolver: publicNames}, "https://hooks.example.com:6379/", 6379},
		{"prod ssh literal", Policy{Resolver: publicNames}, "https://93.184.215.14:22/", 22},
		{"prod plain http port", Policy{Resolver: publicNames, AllowPrivate: false}, "https://hooks.example.com:80/", 80},
		{"custom set", Policy{Resolver: publicNames, Ports: only443}, "https://hooks.example.com:8443/", 8443},
		{"dev private address", Policy{Resolver: publicNames, AllowPrivate: true}, "http://lan.example.com:6379/", 6379},
		{"prod allowed port", Policy{Resolver: publicNames}, "https://hooks.example.com:8443/", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			client := c.p.Client(300 * time.Millisecond)
			res, err := client.Get(c.url)
			if res != nil {
				res.Body.Close()
			}
			var pe *PortError
			if c.port == 0 {
				if errors.As(err, &pe) {
					t.Fatalf("GET %s refused by the port policy: %v", c.url, err)
				}
				return
			}
			if !errors.As(err, &pe) || pe.Port != c.port || !IsBlocked(err) {
				t.Fatalf("GET %s = %v, want a PortError for %d", c.url, err, c.port)
			}
		})
	}

	// Dev mode: any port on loopback, at dial time too.
	port, accepts := trap(t)
	only443Dev := Policy{AllowPrivate: true, Ports: only443}
	res, err := only443Dev.Client(time.Second).Get("http://127.0.0.1:" + port + "/")
	if err == nil {
		res.Body.Close()
	}
	if accepts.Load() != 1 {
		t.Fatalf("dev mode, loopback port %s with ports=443: %d connections (%v), want 1", port, accepts.Load(), err)
	}
	// Without dev mode the same loopback connection is refused by the address policy.
	if _, err := (Policy{}).Client(time.Second).Get("https://127.0.0.1:" + port + "/"); !IsBlocked(err) || accepts.Load() != 1 {
		t.Fatalf("prod, loopback: %v, %d connections", err, accepts.Load())
	}
}

// TestPortListDocumented: docs/operations.md lists every port the default set refuses.
func TestPortListDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## Endpoint ports")
	if start < 0 {
		t.Fatal("docs/operations.md has no Endpoint ports section")
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, s := range DeniedServicePorts {
		p := strconv.Itoa(s.Port)
		if !strings.Contains(section, " "+p+" ") && !strings.Contains(section, " "+p+",") && !strings.Contains(section, p+"–") && !strings.Contains(section, "–"+p) {
			t.Errorf("port %d (%s) is refused by default but not listed in docs/operations.md", s.Port, s.Service)
		}
	}
}
