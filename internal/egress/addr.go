package egress

import (
	"fmt"
	"net/netip"
)

// AddrError reports an IP address that the policy does not let relaydesk
// connect to. It is returned by [Policy.CheckIP], wrapped by [URLError] at save
// time, and found (with errors.As) in the error chain of a refused dial.
type AddrError struct {
	Addr  netip.Addr
	Class string // what the address is, as a noun phrase: "a loopback address"
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("%s is %s; only public internet addresses are allowed", e.Addr, e.Class)
}

// Is makes errors.Is(err, ErrBlocked) true for every refused address.
func (e *AddrError) Is(target error) bool { return target == ErrBlocked }

// rangeRule classifies a prefix. devOK ranges become reachable when
// Policy.AllowPrivate is set (local receivers in development and tests);
// everything else stays refused even then.
type rangeRule struct {
	prefix netip.Prefix
	class  string
	devOK  bool
}

func rule(p, class string, devOK bool) rangeRule {
	return rangeRule{netip.MustParsePrefix(p), class, devOK}
}

// metadataAddrs are cloud instance-metadata services. They are refused even
// when private endpoints are allowed: no development setup needs them, and
// they are the classic SSRF prize.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, DigitalOcean, OpenStack…
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
	netip.MustParseAddr("169.254.170.23"),  // AWS EKS pod identity
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("192.0.0.192"),     // Oracle Cloud (legacy)
	netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	netip.MustParseAddr("fd00:ec2::23"),    // AWS EKS pod identity over IPv6
}

// The IPv4 table is the IANA IPv4 Special-Purpose Address Registry (the same
// set code.dny.dev/ssrf generates) plus 255.255.255.255, each with a
// human-readable class. Order matters only for labels: narrower first.
var v4Rules = []rangeRule{
	rule("255.255.255.255/32", "the broadcast address", false),
	rule("0.0.0.0/8", "an unspecified (\"this network\") address", false),
	rule("10.0.0.0/8", "a private (RFC 1918) address", true),
	rule("100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address", true),
	rule("127.0.0.0/8", "a loopback address", true),
	rule("169.254.0.0/16", "a link-local address", false),
	rule("172.16.0.0/12", "a private (RFC 1918) address", true),
	rule("192.0.0.0/24", "an IETF protocol-assignment address", false),
	rule("192.0.2.0/24", "a documentation (TEST-NET-1) address", false),
	rule("192.31.196.0/24", "an AS112 address", false),
	rule("192.52.193.0/24", "an AMT address", false),
	rule("192.88.99.0/24", "a 6to4 relay anycast address", false),
	rule("192.168.0.0/16", "a private (RFC 1918) address", true),
	rule("192.175.48.0/24", "an AS112 address", false),
	rule("198.18.0.0/15", "a benchmarking address", false),
	rule("198.51.100.0/24", "a documentation (TEST-NET-2) address", false),
	rule("203.0.113.0/24", "a documentation (TEST-NET-3) address", false),
	rule("224.0.0.0/4", "a multicast address", false),
	rule("240.0.0.0/4", "a reserved address", false),
}

// The IPv6 table: anything outside 2000::/3 (global unicast) is refused; these
// rules give the common cases a precise label and refuse the special-purpose
// blocks inside 2000::/3.
var v6Rules = []rangeRule{
	rule("::/128", "the unspecified address", false),
	rule("::1/128", "a loopback address", true),
	rule("fc00::/7", "a unique-local address", true),
	rule("fe80::/10", "a link-local address", false),
	rule("fec0::/10", "a site-local address", false),
	rule("ff00::/8", "a multicast address", false),
	rule("100::/64", "a discard-only address", false),
	rule("2001:db8::/32", "a documentation address", false),
	rule("3fff::/20", "a documentation address", false),
	rule("2001:2::/48", "a benchmarking address", false),
	rule("2001::/23", "an IETF protocol-assignment address", false),
	rule("2620:4f:8000::/48", "an AS112 address", false),
}

var (
	v6GlobalUnicast = netip.MustParsePrefix("2000::/3")
	v4Mapped        = netip.MustParsePrefix("::ffff:0:0/96")
	v4Compatible    = netip.MustParsePrefix("::/96")
	nat64           = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local      = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour       = netip.MustParsePrefix("2002::/16")
	teredo          = netip.MustParsePrefix("2001::/32")
)

// CheckIP reports whether relaydesk may connect to ip. It returns nil for a
// public unicast address and an *AddrError otherwise. With AllowPrivate,
// loopback, RFC 1918, CGNAT and unique-local addresses are allowed too;
// metadata, link-local, multicast, unspecified, broadcast, reserved and
// documentation addresses never are.
//
// IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64,
// 6to4, Teredo) are judged by the address they embed when that one is refused,
// so the message names it; 6to4, Teredo, NAT64 and IPv4-compatible addresses
// are refused in any case, as nothing legitimate needs them for webhooks.
func (p Policy) CheckIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return &AddrError{Addr: ip, Class: "not a valid IP address"}
	}
	ip = ip.WithZone("")
	for _, m := range metadataAddrs {
		if ip == m {
			return &AddrError{Addr: ip, Class: "a cloud metadata service address"}
		}
	}
	if ip.Is4() {
		_, err := p.checkRules(ip, v4Rules)
		return err
	}

	// IPv6 forms embedding an IPv4 address.
	switch {
	case v4Mapped.Contains(ip):
		v4 := ip.Unmap()
		if err := p.CheckIP(v4); err != nil {
			return embedded(ip, "an IPv4-mapped IPv6 form of", err)
		}
		return nil // dials the public IPv4 address itself
	case ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback() && v4Compatible.Contains(ip):
		return embeddedOr(ip, lastV4(ip), "an IPv4-compatible IPv6 form of", "a deprecated IPv4-compatible IPv6 address")
	case nat64.Contains(ip):
		return embeddedOr(ip, lastV4(ip), "a NAT64 form of", "a NAT64 address")
	case nat64Local.Contains(ip):
		return &AddrError{Addr: ip, Class: "a local-use NAT64 address"}
	case sixToFour.Contains(ip):
		b := ip.As16()
		return embeddedOr(ip, netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "a 6to4 form of", "a 6to4 address")
	case teredo.Contains(ip):
		b := ip.As16()
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return embeddedOr(ip, client, "a Teredo form of", "a Teredo address")
	}

	if matched, err := p.checkRules(ip, v6Rules); matched {
		return err
	}
	if !v6GlobalUnicast.Contains(ip) {
		return &AddrError{Addr: ip, Class: "not a global unicast address"}
	}
	return nil
}

// checkRules reports whether a rule matched ip and, if so, the refusal (nil
// when the rule is relaxed by AllowPrivate).
func (p Policy) checkRules(ip netip.Addr, rules []rangeRule) (bool, error) {
	for i := range rules {
		r := &rules[i]
		if r.prefix.Contains(ip) {
			if r.devOK && p.AllowPrivate {
				return true, nil
			}
			return true, &AddrError{Addr: ip, Class: r.class}
		}
	}
	return false, nil
}

func lastV4(ip netip.Addr) netip.Addr {
	b := ip.As16()
	return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
}

// embedded labels ip by the refused IPv4 address it carries.
func embedded(ip netip.Addr, form string, err error) error {
	ae, ok := err.(*AddrError)
	if !ok {
		return err
	}
	return &AddrError{Addr: ip, Class: fmt.Sprintf("%s %s, %s", form, ae.Addr, ae.Class)}
}

// embeddedOr refuses ip either way, naming the embedded address when that one
// is refused in production (these forms are refused even with AllowPrivate).
func embeddedOr(ip, v4 netip.Addr, form, otherwise string) error {
	if err := (Policy{}).CheckIP(v4); err != nil {
		return embedded(ip, form, err)
	}
	return &AddrError{Addr: ip, Class: otherwise}
}
