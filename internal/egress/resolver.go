package egress

import (
	"context"
	"net"
	"strings"
)

// StaticResolver answers from a table (host, lower case → addresses); other names do not
// exist. Tests give it to a Policy to decide what names resolve to without DNS.
type StaticResolver map[string][]string

// LookupIPAddr implements Resolver.
func (r StaticResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := r[strings.ToLower(host)]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, len(ips))
	for i, s := range ips {
		out[i] = net.IPAddr{IP: net.ParseIP(s)}
	}
	return out, nil
}
