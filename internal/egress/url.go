package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// MaxURLLength is the longest endpoint URL accepted, in bytes.
const MaxURLLength = 2048

// resolveTimeout bounds the save-time DNS lookup when ctx has no sooner deadline.
const resolveTimeout = 5 * time.Second

// CheckURL applies the save-time rules to an endpoint URL and returns it
// normalised (lower-case scheme and host, international names in their
// ASCII "xn--" form, no trailing dot on the host). Every refusal is a
// *URLError whose message says what to fix:
//
//   - an absolute URL, no longer than MaxURLLength, without spaces, backslashes
//     or control characters;
//   - scheme https (http too when AllowPrivate is set);
//   - a host, no user name or password, no fragment, a port in 1–65535;
//   - IPv4 literals only in canonical dotted form: hosts that a browser or
//     curl would read as a number (2130706433, 0177.0.0.1, 0x7f.1, 127.1)
//     are refused, since Go's resolver and the C library disagree about them;
//   - not "localhost" or a name under .localhost (unless AllowPrivate);
//   - every address the host resolves to passes [Policy.CheckIP];
//   - the port (443 or 80 when not given) passes [Policy.CheckPort] for each of them.
func (p Policy) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	fail := func(err error, format string, args ...any) (*url.URL, error) {
		short := raw
		if len(short) > 256 {
			short = short[:256]
		}
		return nil, &URLError{URL: short, Reason: fmt.Sprintf(format, args...), Err: err}
	}
	if raw == "" {
		return fail(nil, "enter a URL")
	}
	if len(raw) > MaxURLLength {
		return fail(nil, "the URL is %d characters long; the limit is %d", len(raw), MaxURLLength)
	}
	if !utf8.ValidString(raw) {
		return fail(nil, "the URL is not valid UTF-8 text")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return fail(nil, "the URL must not contain spaces, backslashes or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(err, "the URL is not valid: %v", err)
	}
	if u.Scheme == "" || u.Opaque != "" || !strings.HasPrefix(raw[len(u.Scheme)+1:], "//") {
		return fail(nil, "the URL must be absolute, starting with https://")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !p.AllowPrivate {
			return fail(nil, "the URL must use https")
		}
	default:
		return fail(nil, "the URL must use https, not %s", u.Scheme)
	}
	if u.User != nil {
		return fail(nil, "the URL must not contain a user name or password")
	}
	if u.Fragment != "" || strings.IndexByte(raw, '#') >= 0 {
		return fail(nil, "the URL must not contain a fragment (the part after #)")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return fail(nil, "the URL must have a host")
	}
	portNum := 443
	if u.Scheme == "http" {
		portNum = 80
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fail(nil, "the port %s is not valid; it must be between 1 and 65535", port)
		}
		portNum = n
	}

	h, ip, err := p.normalizeHost(host)
	if err != nil {
		return fail(err, "%s", err.Error())
	}
	if ip.IsValid() {
		if err := p.CheckIP(ip); err != nil {
			return fail(err, "the host %s", err.Error())
		}
		if err := p.CheckPort(ip, portNum); err != nil {
			return fail(err, "the %s", err.Error())
		}
	} else {
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		addrs, err := p.resolver().LookupIPAddr(rctx, h)
		cancel()
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return fail(err, "the host %s does not exist (no DNS records)", h)
		case err != nil:
			return fail(err, "the host %s could not be resolved; try again later", h)
		case len(addrs) == 0:
			return fail(nil, "the host %s has no addresses", h)
		}
		for _, a := range addrs {
			addr, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				return fail(nil, "the host %s resolves to an invalid address", h)
			}
			if err := p.CheckIP(addr.Unmap()); err != nil {
				var ae *AddrError
				errors.As(err, &ae)
				return fail(err, "the host %s resolves to %s, %s; only public internet addresses are allowed", h, ae.Addr, ae.Class)
			}
			if err := p.CheckPort(addr.Unmap(), portNum); err != nil {
				return fail(err, "the %s", err.Error())
			}
		}
	}

	out := *u
	out.User = nil
	out.Fragment, out.RawFragment = "", ""
	if ip.Is6() {
		h = "[" + h + "]"
	}
	if port != "" {
		h += ":" + port
	}
	out.Host = h
	if n := len(out.String()); n > MaxURLLength {
		return fail(nil, "the URL is %d characters long once normalised; the limit is %d", n, MaxURLLength)
	}
	return &out, nil
}

// normalizeHost returns the canonical ASCII form of host (lower case,
// IDNA-converted, no trailing dot) and, when host is an IP literal, its
// address. It is shared by CheckURL and the dialer, so both refuse the same
// host forms.
func (p Policy) normalizeHost(host string) (string, netip.Addr, error) {
	refuse := func(format string, args ...any) (string, netip.Addr, error) {
		return "", netip.Addr{}, &HostError{Host: host, Reason: fmt.Sprintf(format, args...)}
	}
	if host == "" {
		return refuse("the URL must have a host")
	}
	if strings.IndexByte(host, ':') >= 0 { // IPv6 literal (brackets already removed)
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() {
			return refuse("the host %s is not a valid IPv6 address", host)
		}
		if ip.Zone() != "" {
			return refuse("the host %s has an IPv6 zone; zones are not allowed", host)
		}
		return ip.String(), ip, nil
	}

	if !utf8.ValidString(host) {
		return refuse("the host is not valid UTF-8 text")
	}
	h := host
	if !isASCII(h) || strings.Contains(strings.ToLower(h), "xn--") {
		a, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return refuse("the host %s is not a valid international domain name", host)
		}
		h = a
	}
	h = strings.ToLower(h)
	h = strings.TrimSuffix(h, ".")

	if looksNumeric(h) {
		if ip, err := netip.ParseAddr(h); err == nil && ip.Is4() {
			return h, ip, nil
		}
		if ip, ok := parseLooseIPv4(h); ok {
			return refuse("the host %s is the IP address %s written in a non-standard notation; only the dotted form a.b.c.d is accepted", host, ip)
		}
		return refuse("the host %s looks like an IP address but is not a valid one", host)
	}
	if !validHostname(h) {
		return refuse("the host %s is not a valid host name", host)
	}
	if !p.AllowPrivate && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
		return refuse("the host %s is this machine (localhost); only public internet addresses are allowed", host)
	}
	return h, netip.Addr{}, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// looksNumeric implements the WHATWG URL "ends in a number" check: a host
// whose last label is decimal digits or 0x-hex is parsed as IPv4 by browsers
// and curl, so it must be a canonical dotted quad or nothing.
func looksNumeric(h string) bool {
	last := h[strings.LastIndexByte(h, '.')+1:]
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return strings.Trim(last[2:], "0123456789abcdefABCDEF") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// parseLooseIPv4 parses the IPv4 notations of the WHATWG URL standard and
// inet_aton: 1–4 parts, each decimal, octal (leading 0) or hex (0x), the last
// part filling the remaining bytes. Used only to explain a refusal.
func parseLooseIPv4(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, s := range parts {
		base := 10
		switch {
		case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
			base, s = 16, s[2:]
		case len(s) >= 2 && s[0] == '0':
			base, s = 8, s[1:]
		case s == "":
			return netip.Addr{}, false
		}
		n := uint64(0)
		if s != "" {
			var err error
			if n, err = strconv.ParseUint(s, base, 64); err != nil {
				return netip.Addr{}, false
			}
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// validHostname accepts lower-case LDH labels (plus '_', seen in the wild),
// 1–63 bytes each, 253 in all.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 || h[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			if label == 0 {
				return false
			}
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && h[len(h)-1] != '-'
}
