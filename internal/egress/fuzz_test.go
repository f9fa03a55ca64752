package egress

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// fuzzResolver: names under .pub are public, under .priv private, anything
// else does not exist.
type fuzzResolver struct{}

func (fuzzResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	switch {
	case strings.HasSuffix(host, ".pub"):
		return []net.IPAddr{{IP: net.ParseIP("93.184.216.34")}, {IP: net.ParseIP("2606:4700::1")}}, nil
	case strings.HasSuffix(host, ".priv"):
		return []net.IPAddr{{IP: net.ParseIP("93.184.216.34")}, {IP: net.ParseIP("10.0.0.1")}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func FuzzCheckURL(f *testing.F) {
	for _, s := range ssrfBattery {
		f.Add(strings.ReplaceAll(s, "{p}", "8443"))
	}
	for _, s := range []string{
		"https://hooks.example.pub/x?y=1", "https://EXAMPLE.PUB.:443/", "https://bücher.pub/",
		"https://93.184.216.34/", "https://[2606:4700::1]/", "https://a.priv/", "http://a.pub/",
		"https://a.pub/#x", "https://u@a.pub/", "https://0x5d.0xb8.0xd8.0x22/", "https://%61.pub/",
		"https://a.pub:0/", "https://[::ffff:93.184.216.34]/", "https://xn--bcher-kva.pub/",
	} {
		f.Add(s)
	}
	p := Policy{Resolver: fuzzResolver{}}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := p.CheckURL(context.Background(), raw)
		if err != nil {
			if _, ok := err.(*URLError); !ok {
				t.Fatalf("CheckURL(%q) returned %T, want *URLError", raw, err)
			}
			return
		}
		s := u.String()
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || len(s) > MaxURLLength {
			t.Fatalf("CheckURL(%q) accepted %q", raw, s)
		}
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); err == nil {
			if err := p.CheckIP(ip); err != nil {
				t.Fatalf("CheckURL(%q) accepted %q: %v", raw, s, err)
			}
		} else {
			if !strings.HasSuffix(host, ".pub") || host != strings.ToLower(host) {
				t.Fatalf("CheckURL(%q) accepted host %q", raw, host)
			}
			addrs, _ := fuzzResolver{}.LookupIPAddr(context.Background(), host)
			for _, a := range addrs {
				ip, _ := netip.AddrFromSlice(a.IP)
				if err := p.CheckIP(ip.Unmap()); err != nil {
					t.Fatalf("CheckURL(%q) accepted %q resolving to %v", raw, s, ip)
				}
			}
		}
		// The normalised form is itself accepted, unchanged.
		u2, err := p.CheckURL(context.Background(), s)
		if err != nil || u2.String() != s {
			t.Fatalf("normalised %q (from %q) re-checks as %v, %v", s, raw, u2, err)
		}
	})
}
