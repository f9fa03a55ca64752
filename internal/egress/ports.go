package egress

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Ports is the set of TCP ports an endpoint may use (RELAYDESK_ENDPOINT_PORTS). Signed
// POSTs aimed at a host's SSH, SMTP, Redis or database port are a cross-protocol attack
// on a third party, so a port is checked like an address: when an endpoint is saved and
// again just before every connection. Build one with [ParsePorts]; nil means
// [DefaultPorts].
type Ports struct {
	allow, deny []portRange
	spec        string // as given, normalised; "" for the default set
}

type portRange struct{ lo, hi int }

func (r portRange) has(p int) bool { return p >= r.lo && p <= r.hi }

// ServicePort is a well-known service port that the default set refuses.
type ServicePort struct {
	Port    int
	Service string
}

// DeniedServicePorts are the ports from 1024 up that the default set refuses: services
// that are never webhook receivers and that a request can harm or probe. Two sources:
// the Fetch standard's "bad ports" from 1024 up (browsers refuse them for the same
// cross-protocol reason), and the databases, caches, queues and control planes that
// answer (or misread) an HTTP request on their default port. 8080, 8443, 3000, 5000 and
// 9000 stay open: they are common application and webhook-receiver ports.
var DeniedServicePorts = []ServicePort{
	{1080, "SOCKS proxy"},
	{1433, "Microsoft SQL Server"},
	{1521, "Oracle Database"},
	{1719, "H.323 registration (Fetch bad port)"},
	{1720, "H.323 call signalling (Fetch bad port)"},
	{1723, "PPTP VPN (Fetch bad port)"},
	{2049, "NFS (Fetch bad port)"},
	{2181, "ZooKeeper"},
	{2375, "Docker Engine API"},
	{2376, "Docker Engine API over TLS"},
	{2379, "etcd client API"},
	{2380, "etcd peer API"},
	{3128, "HTTP proxy (Squid)"},
	{3306, "MySQL / MariaDB"},
	{3389, "Remote Desktop (RDP)"},
	{3659, "Apple SASL (Fetch bad port)"},
	{4045, "NFS lock daemon (Fetch bad port)"},
	{4190, "ManageSieve (Fetch bad port)"},
	{4369, "Erlang port mapper (RabbitMQ, CouchDB clusters)"},
	{5060, "SIP (Fetch bad port)"},
	{5061, "SIP over TLS (Fetch bad port)"},
	{5432, "PostgreSQL"},
	{5672, "AMQP (RabbitMQ)"},
	{5900, "VNC"},
	{5984, "CouchDB"},
	{6000, "X11 (Fetch bad port)"},
	{6379, "Redis"},
	{6443, "Kubernetes API server"},
	{6566, "SANE scanner daemon (Fetch bad port)"},
	{6665, "IRC (Fetch bad port)"},
	{6666, "IRC (Fetch bad port)"},
	{6667, "IRC (Fetch bad port)"},
	{6668, "IRC (Fetch bad port)"},
	{6669, "IRC (Fetch bad port)"},
	{6679, "IRC over TLS (Fetch bad port)"},
	{6697, "IRC over TLS (Fetch bad port)"},
	{9042, "Cassandra"},
	{9092, "Kafka"},
	{9200, "Elasticsearch / OpenSearch HTTP API"},
	{9300, "Elasticsearch transport"},
	{10080, "Amanda backup (Fetch bad port)"},
	{10250, "Kubernetes kubelet API"},
	{11211, "memcached"},
	{15672, "RabbitMQ management API"},
	{27017, "MongoDB"},
}

var defaultPorts = func() *Ports {
	p := &Ports{allow: []portRange{{443, 443}, {1024, 65535}}}
	for _, s := range DeniedServicePorts {
		p.deny = append(p.deny, portRange{s.Port, s.Port})
	}
	return p
}()

// DefaultPorts is the set used when RELAYDESK_ENDPOINT_PORTS is not set: 443, and 1024 to
// 65535 except [DeniedServicePorts].
func DefaultPorts() *Ports { return defaultPorts }

// ParsePorts reads a port set: comma-separated items, each a port (443), a range
// (1024-65535), an exclusion of either (!6379, !6000-6100), or the word default (the
// default set). Exclusions win over inclusions. A list of exclusions only applies them to
// the default set ("!9000" is the default set without 9000); an empty spec is the default
// set. Examples: "443,8443" (only those two), "default,80" (the default set plus 80),
// "1-65535" (every port).
func ParsePorts(spec string) (*Ports, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "default" {
		return defaultPorts, nil
	}
	p := &Ports{}
	base := false
	var norm []string
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if item == "default" {
			base = true
			norm = append(norm, item)
			continue
		}
		neg := strings.HasPrefix(item, "!")
		r, err := parsePortRange(strings.TrimSpace(strings.TrimPrefix(item, "!")))
		if err != nil {
			return nil, fmt.Errorf("port set %q: %q: %w", spec, item, err)
		}
		s := strconv.Itoa(r.lo)
		if r.hi != r.lo {
			s += "-" + strconv.Itoa(r.hi)
		}
		if neg {
			p.deny = append(p.deny, r)
			s = "!" + s
		} else {
			p.allow = append(p.allow, r)
		}
		norm = append(norm, s)
	}
	if len(p.allow) == 0 {
		if !base && len(p.deny) == 0 {
			return nil, fmt.Errorf("port set %q: no ports", spec)
		}
		base = true
	}
	if base {
		p.allow = append(p.allow, defaultPorts.allow...)
		p.deny = append(p.deny, defaultPorts.deny...)
		if !slices.Contains(norm, "default") {
			norm = append([]string{"default"}, norm...)
		}
	}
	p.spec = strings.Join(norm, ",")
	if p.allowsNone() {
		return nil, fmt.Errorf("port set %q allows no port", spec)
	}
	return p, nil
}

func parsePortRange(s string) (portRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := parsePort(strings.TrimSpace(lo))
	if err != nil {
		return portRange{}, err
	}
	if !isRange {
		return portRange{a, a}, nil
	}
	b, err := parsePort(strings.TrimSpace(hi))
	if err != nil {
		return portRange{}, err
	}
	if b < a {
		return portRange{}, fmt.Errorf("the range ends before it starts")
	}
	return portRange{a, b}, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("want a port from 1 to 65535, a range such as 1024-65535, !port, or default")
	}
	return n, nil
}

func (p *Ports) allowsNone() bool {
	for _, r := range p.allow {
		for port := r.lo; port <= r.hi; port++ {
			if p.Allows(port) {
				return false
			}
		}
	}
	return true
}

// Allows reports whether port is in the set.
func (p *Ports) Allows(port int) bool {
	if p == nil {
		p = defaultPorts
	}
	for _, r := range p.deny {
		if r.has(port) {
			return false
		}
	}
	for _, r := range p.allow {
		if r.has(port) {
			return true
		}
	}
	return false
}

// String is the set in ParsePorts' syntax ("default" for the default set).
func (p *Ports) String() string {
	if p == nil || p == defaultPorts || p.spec == "" {
		return "default"
	}
	return p.spec
}

// describe says which ports are allowed, for a refusal.
func (p *Ports) describe() string {
	switch p {
	case nil, defaultPorts:
		return "443, or 1024 to 65535 except well-known service ports"
	case devPorts:
		return "80, 443, or 1024 to 65535 except well-known service ports"
	}
	return p.spec + " (RELAYDESK_ENDPOINT_PORTS)"
}

// PortError reports a port the policy does not let relaydesk connect to. Like
// [AddrError], errors.Is(err, ErrBlocked) is true for it.
type PortError struct {
	Port    int
	Service string // the well-known service on that port, when known
	Allowed string // which ports are allowed, in words
}

func (e *PortError) Error() string {
	what := ""
	if e.Service != "" {
		what = " (" + e.Service + ")"
	}
	return fmt.Sprintf("port %d%s is not open to webhooks; allowed: %s", e.Port, what, e.Allowed)
}

// Is makes errors.Is(err, ErrBlocked) true for every refused port.
func (e *PortError) Is(target error) bool { return target == ErrBlocked }

// serviceName is the well-known service on port, or "".
func serviceName(port int) string {
	for _, s := range DeniedServicePorts {
		if s.Port == port {
			return s.Service
		}
	}
	switch port {
	case 22:
		return "SSH"
	case 23:
		return "Telnet"
	case 25, 465, 587:
		return "SMTP"
	case 53:
		return "DNS"
	case 80:
		return "plain HTTP; endpoints use https on 443"
	case 110, 995:
		return "POP3"
	case 143, 993:
		return "IMAP"
	case 389, 636:
		return "LDAP"
	}
	return ""
}

// CheckPort reports whether relaydesk may connect to port on ip. With AllowPrivate any
// port on a loopback address is allowed (local receivers and test servers listen
// wherever the system puts them); everything else must be in the policy's Ports.
func (p Policy) CheckPort(ip netip.Addr, port int) error {
	if p.AllowPrivate && ip.Unmap().IsLoopback() {
		return nil
	}
	ports := p.ports()
	if ports.Allows(port) {
		return nil
	}
	return &PortError{Port: port, Service: serviceName(port), Allowed: ports.describe()}
}

// devPorts is the default set plus 80, for AllowPrivate: http:// is allowed then, and 80
// is its default port.
var devPorts = func() *Ports {
	p := &Ports{allow: append([]portRange{{80, 80}}, defaultPorts.allow...), deny: defaultPorts.deny}
	p.spec = "default,80"
	return p
}()

func (p Policy) ports() *Ports {
	switch {
	case p.Ports != nil:
		return p.Ports
	case p.AllowPrivate:
		return devPorts
	}
	return defaultPorts
}
