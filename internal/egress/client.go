package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Client tuning. MaxIdleConnsPerHost matters most: a busy receiver gets many
// deliveries in parallel, and each one that finds no idle connection pays a
// TCP and TLS handshake.
const (
	maxIdleConns        = 1024
	maxIdleConnsPerHost = 64
	idleConnTimeout     = 90 * time.Second
	maxDialTimeout      = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	maxResponseHeader   = 64 << 10
)

// Client returns the guarded HTTP client for deliveries and test-sends.
// Build it once and share it: its connection pool is the point.
//
//   - every connection's address and port are checked with CheckIP and
//     CheckPort just before the socket connects (net.Dialer.ControlContext), whatever resolved it, so
//     DNS rebinding cannot reach a refused address; host forms refused by
//     CheckURL (numeric notations, localhost) are refused before resolving;
//   - no proxy from the environment; redirects are never followed (the 3xx
//     response itself is returned, and is a failed attempt);
//   - https only unless AllowPrivate; TLS 1.2 or later;
//   - timeout bounds the whole request including reading the response, and
//     is also the response-header timeout; a zero timeout means 15 s.
func (p Policy) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	d := &dialer{
		policy: p,
		net: net.Dialer{
			Timeout:        min(timeout, maxDialTimeout),
			KeepAlive:      30 * time.Second,
			ControlContext: p.control,
		},
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    min(timeout, tlsHandshakeTimeout),
		ResponseHeaderTimeout:  timeout,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxResponseHeader,
		DisableCompression:     true, // the excerpt we keep is what the receiver sent
	}
	return &http.Client{
		Transport:     &transport{Transport: tr, allowHTTP: p.AllowPrivate},
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// transport refuses plain http unless private endpoints are allowed, then
// hands the request to the pooled *http.Transport.
type transport struct {
	*http.Transport
	allowHTTP bool
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" && !(t.allowHTTP && r.URL.Scheme == "http") {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &HostError{Host: r.URL.Host, Reason: fmt.Sprintf("the %s scheme is not allowed; only https", r.URL.Scheme)}
	}
	return t.Transport.RoundTrip(r)
}

type dialer struct {
	policy Policy
	net    net.Dialer
}

// DialContext refuses refused host forms, then either lets the standard
// dialer resolve (nil Resolver: keeps Happy Eyeballs) or resolves through
// the policy's Resolver and tries each address in turn. Either way the
// address is checked again in control, just before connect.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	h, ip, err := d.policy.normalizeHost(host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if ip.IsValid() || d.policy.Resolver == nil {
		if ip.IsValid() {
			h = ip.String()
		}
		return d.net.DialContext(ctx, network, net.JoinHostPort(h, port))
	}
	addrs, err := d.policy.Resolver.LookupIPAddr(ctx, h)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	if len(addrs) == 0 {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no addresses", Name: h, IsNotFound: true}}
	}
	var first error
	for _, a := range addrs {
		c, err := d.net.DialContext(ctx, network, net.JoinHostPort(a.IP.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// control runs after resolution, immediately before connect(2), with the
// numeric address the socket is about to reach.
func (p Policy) control(_ context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return &HostError{Host: address, Reason: "network " + network + " is not allowed"}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &HostError{Host: address, Reason: "cannot parse the address " + address}
	}
	if err := p.CheckIP(ap.Addr()); err != nil {
		return err
	}
	return p.CheckPort(ap.Addr(), int(ap.Port()))
}

// IsBlocked reports whether err (from CheckURL, CheckIP or a request through
// Client) is a refusal by this policy rather than a network failure.
func IsBlocked(err error) bool { return errors.Is(err, ErrBlocked) }
