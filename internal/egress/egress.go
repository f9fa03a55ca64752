// Package egress is relaydesk's one outbound-HTTP policy: which URLs an
// endpoint may be saved with ([Policy.CheckURL]), which IP addresses may be
// reached ([Policy.CheckIP]), and the single guarded HTTP client that
// deliveries and test-sends go through ([Policy.Client]).
//
// The same rules run twice on purpose. At save time they give the user a
// clear reason; at dial time the client's dialer re-checks every address it
// is about to connect to, so a name that resolved to a public address when the
// endpoint was saved and to 127.0.0.1 later (DNS rebinding) is still refused.
package egress

import (
	"context"
	"errors"
	"net"
)

// Resolver looks up a host's addresses. *net.Resolver satisfies it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Policy is the outbound address policy. The zero value is the production
// policy: https only, public addresses only, the system resolver.
type Policy struct {
	// AllowPrivate (RELAYDESK_ALLOW_PRIVATE_ENDPOINTS, development and tests
	// only) lets http:// URLs and loopback, RFC 1918, CGNAT and unique-local
	// addresses through. Metadata, link-local, multicast, unspecified,
	// broadcast, reserved and documentation addresses stay refused.
	AllowPrivate bool

	// Resolver resolves host names, at save time and at dial time. Nil means
	// net.DefaultResolver (and, at dial time, the standard dialer's own
	// resolution with Happy Eyeballs; every address is still checked before
	// connecting).
	Resolver Resolver

	// Ports are the TCP ports endpoints may use (RELAYDESK_ENDPOINT_PORTS), checked at
	// save time and at dial time like addresses. Nil means DefaultPorts (plus 80 when
	// AllowPrivate is set). With AllowPrivate any port on loopback is allowed.
	Ports *Ports
}

// ErrBlocked is matched (errors.Is) by every refusal of an address or host
// form, whether at save time or at dial time.
var ErrBlocked = errors.New("egress: destination not allowed")

// URLError is a save-time refusal. Error returns Reason, a sentence meant for
// the person who typed the URL.
type URLError struct {
	URL    string // the URL as given (truncated to 256 bytes)
	Reason string // e.g. "the URL must use https"
	Err    error  // the underlying *AddrError, *HostError or resolver error, if any
}

func (e *URLError) Error() string { return e.Reason }
func (e *URLError) Unwrap() error { return e.Err }

// HostError reports a host that is refused for its form rather than its
// address: an IPv4 address in a non-canonical notation, "localhost", a
// malformed or unconvertible international name.
type HostError struct {
	Host   string
	Reason string
}

func (e *HostError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrBlocked) true for every refused host.
func (e *HostError) Is(target error) bool { return target == ErrBlocked }

func (p Policy) resolver() Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return net.DefaultResolver
}
