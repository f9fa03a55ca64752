package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeResolver is the package's StaticResolver under the tests' old name.
type fakeResolver = StaticResolver

// rebindingResolver says "public" on the first lookup and 127.0.0.1 after.
type rebindingResolver struct{ calls atomic.Int32 }

func (r *rebindingResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	if r.calls.Add(1) == 1 {
		return []net.IPAddr{{IP: net.ParseIP("93.184.216.34")}}, nil
	}
	return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}}, nil
}

func TestCheckIP(t *testing.T) {
	prod, dev := Policy{}, Policy{AllowPrivate: true}
	cases := []struct {
		ip       string
		prod     bool // allowed in production
		dev      bool // allowed with AllowPrivate
		contains string
	}{
		{"8.8.8.8", true, true, ""},
		{"93.184.216.34", true, true, ""},
		{"2606:4700:4700::1111", true, true, ""},
		{"::ffff:8.8.8.8", true, true, ""},
		{"127.0.0.1", false, true, "loopback"},
		{"127.8.9.10", false, true, "loopback"},
		{"::1", false, true, "loopback"},
		{"10.0.0.1", false, true, "private"},
		{"172.16.0.1", false, true, "private"},
		{"172.31.255.255", false, true, "private"},
		{"172.32.0.1", true, true, ""},
		{"192.168.0.1", false, true, "private"},
		{"100.64.0.1", false, true, "carrier-grade NAT"},
		{"100.127.255.255", false, true, "carrier-grade NAT"},
		{"100.128.0.1", true, true, ""},
		{"fc00::1", false, true, "unique-local"},
		{"fd12:3456::1", false, true, "unique-local"},
		{"169.254.169.254", false, false, "metadata"},
		{"169.254.170.2", false, false, "metadata"},
		{"100.100.100.200", false, false, "metadata"},
		{"fd00:ec2::254", false, false, "metadata"},
		{"169.254.1.1", false, false, "link-local"},
		{"fe80::1", false, false, "link-local"},
		{"fe80::1%eth0", false, false, "link-local"},
		{"0.0.0.0", false, false, "unspecified"},
		{"0.1.2.3", false, false, "unspecified"},
		{"::", false, false, "unspecified"},
		{"255.255.255.255", false, false, "broadcast"},
		{"224.0.0.1", false, false, "multicast"},
		{"239.255.255.250", false, false, "multicast"},
		{"ff02::1", false, false, "multicast"},
		{"240.0.0.1", false, false, "reserved"},
		{"192.0.2.1", false, false, "documentation"},
		{"198.51.100.7", false, false, "documentation"},
		{"203.0.113.9", false, false, "documentation"},
		{"198.18.0.1", false, false, "benchmarking"},
		{"198.19.255.255", false, false, "benchmarking"},
		{"2001:db8::1", false, false, "documentation"},
		{"3fff::1", false, false, "documentation"},
		{"192.0.0.8", false, false, "IETF"},
		{"::ffff:127.0.0.1", false, true, "IPv4-mapped IPv6 form of 127.0.0.1, a loopback"},
		{"::ffff:10.0.0.1", false, true, "IPv4-mapped IPv6 form of 10.0.0.1, a private"},
		{"::ffff:169.254.169.254", false, false, "metadata"},
		{"::127.0.0.1", false, false, "IPv4-compatible IPv6 form of 127.0.0.1"},
		{"::8.8.8.8", false, false, "IPv4-compatible"},
		{"64:ff9b::10.0.0.1", false, false, "NAT64 form of 10.0.0.1"},
		{"64:ff9b::8.8.8.8", false, false, "NAT64 address"},
		{"64:ff9b:1::1", false, false, "local-use NAT64"},
		{"2002:7f00:1::", false, false, "6to4 form of 127.0.0.1"},
		{"2002:a9fe:a9fe::1", false, false, "6to4 form of 169.254.169.254"},
		{"2002:808:808::1", false, false, "6to4 address"},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", false, false, "Teredo form of 127.0.0.1"},
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", false, false, "Teredo address"}, // client 8.8.8.8
		{"2001:2::1", false, false, "benchmarking"},
		{"2001:10::1", false, false, "IETF"},
		{"100::1", false, false, "discard"},
		{"fec0::1", false, false, "site-local"},
		{"4000::1", false, false, "global unicast"},
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.ip)
		for _, pc := range []struct {
			p     Policy
			allow bool
		}{{prod, c.prod}, {dev, c.dev}} {
			err := pc.p.CheckIP(ip)
			if (err == nil) != pc.allow {
				t.Errorf("AllowPrivate=%v CheckIP(%s) = %v, want allowed=%v", pc.p.AllowPrivate, c.ip, err, pc.allow)
				continue
			}
			if err != nil {
				if !strings.Contains(err.Error(), c.contains) {
					t.Errorf("CheckIP(%s) = %q, want it to mention %q", c.ip, err, c.contains)
				}
				if !errors.Is(err, ErrBlocked) || !IsBlocked(err) {
					t.Errorf("CheckIP(%s): error does not match ErrBlocked", c.ip)
				}
			}
		}
	}
	if err := prod.CheckIP(netip.Addr{}); err == nil {
		t.Error("the zero Addr was allowed")
	}
}

func TestCheckURLAccepts(t *testing.T) {
	r := fakeResolver{
		"example.com":             {"93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"},
		"hooks.example.com":       {"93.184.216.34"},
		"xn--bcher-kva.example":   {"93.184.216.34"},
		"my_host.example.com":     {"93.184.216.34"},
		"mapped-public.example":   {"::ffff:93.184.216.34"},
		"dev.internal":            {"10.0.0.5"},
		"localhost":               {"127.0.0.1"},
		"receiver.test":           {"127.0.0.1"},
		"xn--nxasmq6b.example":    {"93.184.216.34"},
		"xn--fsqu00a.xn--0zwm56d": {"93.184.216.34"},
	}
	prod := Policy{Resolver: r}
	dev := Policy{Resolver: r, AllowPrivate: true}
	cases := []struct {
		p        Policy
		in, want string
	}{
		{prod, "https://example.com/hooks", "https://example.com/hooks"},
		{prod, "  https://example.com/hooks  ", "https://example.com/hooks"},
		{prod, "HTTPS://EXAMPLE.COM/Path?Q=1", "https://example.com/Path?Q=1"},
		{prod, "https://example.com./x", "https://example.com/x"},
		{prod, "https://example.com:8443/x", "https://example.com:8443/x"},
		{prod, "https://hooks.example.com", "https://hooks.example.com"},
		{prod, "https://bücher.example/", "https://xn--bcher-kva.example/"},
		{prod, "https://BÜCHER.example/", "https://xn--bcher-kva.example/"},
		{prod, "https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"},
		{prod, "https://my_host.example.com/", "https://my_host.example.com/"},
		{prod, "https://mapped-public.example/", "https://mapped-public.example/"},
		{prod, "https://93.184.216.34/hook", "https://93.184.216.34/hook"},
		{prod, "https://[2606:4700:4700::1111]/hook", "https://[2606:4700:4700::1111]/hook"},
		{prod, "https://[2606:4700:4700:0:0:0:0:1111]:443/hook", "https://[2606:4700:4700::1111]:443/hook"},
		{prod, "https://example.com/a%20b?x=%2F", "https://example.com/a%20b?x=%2F"},
		{dev, "http://localhost:8080/hook", "http://localhost:8080/hook"},
		{dev, "http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook"},
		{dev, "http://[::1]:8080/hook", "http://[::1]:8080/hook"},
		{dev, "https://dev.internal/hook", "https://dev.internal/hook"},
		{dev, "http://receiver.test/", "http://receiver.test/"},
	}
	for _, c := range cases {
		u, err := c.p.CheckURL(t.Context(), c.in)
		if err != nil {
			t.Errorf("AllowPrivate=%v CheckURL(%q): %v", c.p.AllowPrivate, c.in, err)
			continue
		}
		if u.String() != c.want {
			t.Errorf("CheckURL(%q) = %q, want %q", c.in, u, c.want)
		}
	}
}

func TestCheckURLRefusals(t *testing.T) {
	r := fakeResolver{
		"example.com":   {"93.184.216.34"},
		"mixed.test":    {"93.184.216.34", "192.168.1.10"},
		"loopback.test": {"127.0.0.1"},
		"empty.test":    {},
	}
	prod := Policy{Resolver: r}
	dev := Policy{Resolver: r, AllowPrivate: true}
	long := "https://example.com/" + strings.Repeat("a", 3000)
	cases := []struct {
		p      Policy
		in     string
		reason string // exact message
	}{
		{prod, "", "enter a URL"},
		{prod, long, "the URL is 3020 characters long; the limit is 2048"},
		{prod, "http://example.com/", "the URL must use https"},
		{prod, "ftp://example.com/", "the URL must use https, not ftp"},
		{dev, "ftp://example.com/", "the URL must use https, not ftp"},
		{prod, "javascript:alert(1)", "the URL must be absolute, starting with https://"},
		{prod, "https:example.com", "the URL must be absolute, starting with https://"},
		{prod, "//example.com/x", "the URL must be absolute, starting with https://"},
		{prod, "example.com/x", "the URL must be absolute, starting with https://"},
		{prod, "https:///path", "the URL must have a host"},
		{prod, "https://user:pass@example.com/", "the URL must not contain a user name or password"},
		{prod, "https://@example.com/", "the URL must not contain a user name or password"},
		{prod, "https://example.com/#frag", "the URL must not contain a fragment (the part after #)"},
		{prod, "https://example.com/#", "the URL must not contain a fragment (the part after #)"},
		{prod, "https://exa mple.com/", "the URL must not contain spaces, backslashes or control characters"},
		{prod, "https://example.com\\@evil/", "the URL must not contain spaces, backslashes or control characters"},
		{prod, "https://example.com/\x00", "the URL must not contain spaces, backslashes or control characters"},
		{prod, "https://example.com:0/", "the port 0 is not valid; it must be between 1 and 65535"},
		{prod, "https://example.com:70000/", "the port 70000 is not valid; it must be between 1 and 65535"},
		{prod, "https://127.0.0.1/", "the host 127.0.0.1 is a loopback address; only public internet addresses are allowed"},
		{prod, "https://10.0.0.1/", "the host 10.0.0.1 is a private (RFC 1918) address; only public internet addresses are allowed"},
		{prod, "https://169.254.169.254/", "the host 169.254.169.254 is a cloud metadata service address; only public internet addresses are allowed"},
		{dev, "http://169.254.169.254/", "the host 169.254.169.254 is a cloud metadata service address; only public internet addresses are allowed"},
		{prod, "https://[::1]/", "the host ::1 is a loopback address; only public internet addresses are allowed"},
		{prod, "https://[::ffff:10.0.0.1]/", "the host ::ffff:10.0.0.1 is an IPv4-mapped IPv6 form of 10.0.0.1, a private (RFC 1918) address; only public internet addresses are allowed"},
		{prod, "https://[fe80::1%25eth0]/", "the host fe80::1%eth0 has an IPv6 zone; zones are not allowed"},
		{prod, "https://localhost/", "the host localhost is this machine (localhost); only public internet addresses are allowed"},
		{prod, "https://loopback.test/", "the host loopback.test resolves to 127.0.0.1, a loopback address; only public internet addresses are allowed"},
		{prod, "https://mixed.test/", "the host mixed.test resolves to 192.168.1.10, a private (RFC 1918) address; only public internet addresses are allowed"},
		{prod, "https://nowhere.test/", "the host nowhere.test does not exist (no DNS records)"},
		{prod, "https://empty.test/", "the host empty.test has no addresses"},
		{prod, "https://2130706433/", "the host 2130706433 is the IP address 127.0.0.1 written in a non-standard notation; only the dotted form a.b.c.d is accepted"},
		{prod, "https://0177.0.0.1/", "the host 0177.0.0.1 is the IP address 127.0.0.1 written in a non-standard notation; only the dotted form a.b.c.d is accepted"},
		{prod, "https://0x7f.1/", "the host 0x7f.1 is the IP address 127.0.0.1 written in a non-standard notation; only the dotted form a.b.c.d is accepted"},
		{prod, "https://8.8.2056/", "the host 8.8.2056 is the IP address 8.8.8.8 written in a non-standard notation; only the dotted form a.b.c.d is accepted"},
		{prod, "https://1.2.3.4.5/", "the host 1.2.3.4.5 looks like an IP address but is not a valid one"},
		{prod, "https://256.1.1.1/", "the host 256.1.1.1 looks like an IP address but is not a valid one"},
		{prod, "https://-bad-.example.com/", "the host -bad-.example.com is not a valid host name"},
		{prod, "https://a..b/", "the host a..b is not a valid host name"},
		{prod, "https://xn--a.example/", "the host xn--a.example is not a valid international domain name"},
	}
	for _, c := range cases {
		_, err := c.p.CheckURL(t.Context(), c.in)
		var ue *URLError
		if !errors.As(err, &ue) {
			t.Errorf("CheckURL(%.60q) = %v, want a *URLError", c.in, err)
			continue
		}
		if ue.Reason != c.reason || err.Error() != c.reason {
			t.Errorf("CheckURL(%.60q):\n got %q\nwant %q", c.in, ue.Reason, c.reason)
		}
	}
}

func TestParseLooseIPv4(t *testing.T) {
	for in, want := range map[string]string{
		"2130706433":     "127.0.0.1",
		"017700000001":   "127.0.0.1",
		"0x7f000001":     "127.0.0.1",
		"0x7f.1":         "127.0.0.1",
		"127.1":          "127.0.0.1",
		"127.0.1":        "127.0.0.1",
		"0177.0.0.01":    "127.0.0.1",
		"0x7f.0x0.0.0x1": "127.0.0.1",
		"0":              "0.0.0.0",
		"0x":             "0.0.0.0",
		"1.2.3.4":        "1.2.3.4",
		"10.0x10000":     "10.1.0.0",
	} {
		got, ok := parseLooseIPv4(in)
		if !ok || got.String() != want {
			t.Errorf("parseLooseIPv4(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.2.65536", "4294967296", "09", "0x1g", "1..2"} {
		if got, ok := parseLooseIPv4(in); ok {
			t.Errorf("parseLooseIPv4(%q) = %v, want failure", in, got)
		}
	}
}
