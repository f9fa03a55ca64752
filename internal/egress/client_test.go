package egress

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// trap is a loopback listener that counts connections: any accept means a
// refused address was reached.
func trap(t *testing.T) (port string, accepts *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepts = new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), accepts
}

// ssrfBattery is the issue #10 battery: URL forms that must be refused both
// when an endpoint is saved and when the delivery client dials. {p} is the
// port of a loopback trap listener.
var ssrfBattery = []string{
	// loopback, v4 and v6, and "localhost" spellings
	"https://127.0.0.1:{p}/",
	"https://127.0.0.2:{p}/",
	"https://127.255.255.254:{p}/",
	"https://localhost:{p}/",
	"https://LOCALHOST:{p}/",
	"https://localhost.:{p}/",
	"https://api.localhost:{p}/",
	"https://[::1]:{p}/",
	"https://[0:0:0:0:0:0:0:1]:{p}/",
	// unspecified
	"https://0.0.0.0:{p}/",
	"https://[::]:{p}/",
	"https://0:{p}/",
	// decimal, octal, hex and short IPv4 notations
	"https://2130706433:{p}/",
	"https://017700000001:{p}/",
	"https://0177.0.0.1:{p}/",
	"https://0x7f.0.0.1:{p}/",
	"https://0x7f000001:{p}/",
	"https://0x7f.1:{p}/",
	"https://0x7f.0x0.0x0.0x1:{p}/",
	"https://127.1:{p}/",
	"https://127.0.1:{p}/",
	"https://127.000.000.001:{p}/",
	"https://2130706433.:{p}/",
	// IPv4-mapped, -compatible and embedding IPv6
	"https://[::ffff:127.0.0.1]:{p}/",
	"https://[::ffff:7f00:1]:{p}/",
	"https://[::ffff:10.0.0.1]:{p}/",
	"https://[::ffff:169.254.169.254]:{p}/",
	"https://[::127.0.0.1]:{p}/",
	"https://[64:ff9b::127.0.0.1]:{p}/",
	"https://[2002:7f00:1::]:{p}/",
	"https://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{p}/",
	// private, CGNAT, link-local, unique-local
	"https://10.0.0.1:{p}/",
	"https://172.16.0.1:{p}/",
	"https://192.168.1.1:{p}/",
	"https://100.64.0.1:{p}/",
	"https://169.254.0.1:{p}/",
	"https://[fe80::1]:{p}/",
	"https://[fc00::1]:{p}/",
	"https://[fd12:3456::1]:{p}/",
	// metadata services
	"https://169.254.169.254:{p}/latest/meta-data/",
	"https://169.254.169.254/latest/meta-data/iam/",
	"https://[fd00:ec2::254]:{p}/",
	"https://100.100.100.200:{p}/",
	"https://169.254.170.2:{p}/",
	// multicast, broadcast, reserved, documentation, benchmarking
	"https://224.0.0.1:{p}/",
	"https://[ff02::1]:{p}/",
	"https://255.255.255.255:{p}/",
	"https://240.0.0.1:{p}/",
	"https://192.0.2.1:{p}/",
	"https://198.18.0.1:{p}/",
	"https://[2001:db8::1]:{p}/",
	// names that resolve to refused addresses (test resolver)
	"https://loopback.test:{p}/",
	"https://private.test:{p}/",
	"https://metadata.test:{p}/",
	"https://v6loopback.test:{p}/",
	"https://ula.test:{p}/",
	"https://cgnat.test:{p}/",
	"https://mapped.test:{p}/",
	"https://LOOPBACK.TEST.:{p}/",
	// scheme, user-info and fragment tricks
	"HTTPS://127.0.0.1:{p}/",
	"http://127.0.0.1:{p}/",
	"https://public.example@127.0.0.1:{p}/",
	"https://user:pass@loopback.test:{p}/",
	"https://127.0.0.1:{p}#@public.example/",
	// IDN hosts that map to refused hosts
	"https://１２７.０.０.１:{p}/",
	"https://127。0。0。1:{p}/",
	"https://ｌｏｃａｌｈｏｓｔ:{p}/",
	"https://ＬＯＯＰＢＡＣＫ.test:{p}/",
}

var batteryResolver = fakeResolver{
	"loopback.test":   {"127.0.0.1"},
	"private.test":    {"10.1.2.3"},
	"metadata.test":   {"169.254.169.254"},
	"v6loopback.test": {"::1"},
	"ula.test":        {"fd00::1"},
	"cgnat.test":      {"100.64.0.1"},
	"mapped.test":     {"::ffff:127.0.0.1"},
	"localhost":       {"127.0.0.1"},
}

func TestSSRFBattery(t *testing.T) {
	port, accepts := trap(t)
	p := Policy{Resolver: batteryResolver}
	client := p.Client(2 * time.Second)
	defer client.CloseIdleConnections()

	refusedSave, refusedDial := 0, 0
	for _, form := range ssrfBattery {
		raw := strings.ReplaceAll(form, "{p}", port)
		_, err := p.CheckURL(t.Context(), raw)
		var ue *URLError
		if errors.As(err, &ue) {
			refusedSave++
			t.Logf("save %-52s → %s", form, ue.Reason)
		} else {
			t.Errorf("save %s: accepted (err=%v)", form, err)
		}

		resp, err := client.Post(raw, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			t.Errorf("dial %s: got a response (%s)", form, resp.Status)
			continue
		}
		if IsBlocked(err) {
			refusedDial++
		} else {
			t.Errorf("dial %s: failed, but not by the policy: %v", form, err)
		}
	}
	if n := accepts.Load(); n != 0 {
		t.Errorf("the loopback trap accepted %d connections", n)
	}
	t.Logf("SSRF battery: %d/%d refused at save time, %d/%d refused at dial time",
		refusedSave, len(ssrfBattery), refusedDial, len(ssrfBattery))
	if len(ssrfBattery) < 40 {
		t.Errorf("battery has %d forms, want at least 40", len(ssrfBattery))
	}
}

// A name that is public when the endpoint is saved and 127.0.0.1 when the
// delivery dials (DNS rebinding) is refused at dial time.
func TestDNSRebindingRefusedAtDial(t *testing.T) {
	port, accepts := trap(t)
	r := &rebindingResolver{}
	p := Policy{Resolver: r}
	raw := "https://rebind.example:" + port + "/hook"
	if _, err := p.CheckURL(t.Context(), raw); err != nil {
		t.Fatalf("CheckURL with a public answer: %v", err)
	}
	_, err := p.Client(2*time.Second).Post(raw, "application/json", strings.NewReader(`{}`))
	var ae *AddrError
	if !errors.As(err, &ae) || ae.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("dial after rebinding: err = %v, want an *AddrError for 127.0.0.1", err)
	}
	if accepts.Load() != 0 {
		t.Fatal("the rebound address was reached")
	}
	t.Logf("rebinding refused: %v", err)
}

// With the system resolver (nil Resolver) the standard dialer resolves, and
// the connect-time check still sees and refuses the loopback address.
func TestSystemResolvedLoopbackRefusedAtDial(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 || !netip.MustParseAddr(addrs[0]).IsLoopback() {
		t.Skipf("hostname %q does not resolve to loopback here (%v %v)", host, addrs, err)
	}
	port, accepts := trap(t)
	_, err = Policy{}.Client(2 * time.Second).Get("https://" + host + ":" + port + "/")
	var ae *AddrError
	if !errors.As(err, &ae) || !ae.Addr.IsLoopback() {
		t.Fatalf("err = %v, want a loopback *AddrError", err)
	}
	if accepts.Load() != 0 {
		t.Fatal("loopback was reached")
	}
}

// A "public" receiver that answers 302 to a private address: the 302 is the
// result, and the private server is never contacted. The test dials the
// "public" receiver directly; every other address goes through the policy.
func TestRedirectNotFollowed(t *testing.T) {
	var private atomic.Int32
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		private.Add(1)
	}))
	defer inner.Close()
	outer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+"/admin", http.StatusFound)
	}))
	defer outer.Close()
	outerAddr := netip.MustParseAddrPort(outer.Listener.Addr().String())

	p := Policy{}
	client := p.Client(2 * time.Second)
	tr := client.Transport.(*transport)
	pool := x509.NewCertPool()
	pool.AddCert(outer.Certificate())
	tr.TLSClientConfig.RootCAs = pool
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == outerAddr.String() {
			return (&net.Dialer{}).DialContext(ctx, network, addr) // the "public" receiver
		}
		return (&dialer{policy: p, net: net.Dialer{ControlContext: p.control}}).DialContext(ctx, network, addr)
	}

	resp, err := client.Post(outer.URL+"/hook", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != inner.URL+"/admin" {
		t.Fatalf("got %s Location=%q, want the 302 itself", resp.Status, resp.Header.Get("Location"))
	}

	// Even a client that did follow it would be refused at dial.
	follow := *client
	follow.CheckRedirect = nil
	_, err = follow.Post(outer.URL+"/hook", "application/json", strings.NewReader(`{}`))
	if !IsBlocked(err) {
		t.Fatalf("following the redirect: err = %v, want a policy refusal", err)
	}
	if private.Load() != 0 {
		t.Fatal("the private server was reached")
	}
}

func TestClientAllowPrivate(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	// Production: http and loopback refused.
	if _, err := (Policy{}).Client(time.Second).Get(srv.URL); !IsBlocked(err) {
		t.Fatalf("production client reached %s: %v", srv.URL, err)
	}
	// Development: allowed, through the pool.
	dev := Policy{AllowPrivate: true}
	c := dev.Client(time.Second)
	for range 3 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if hits.Load() != 3 {
		t.Fatalf("hits = %d", hits.Load())
	}
	// Metadata stays refused even in development.
	if _, err := c.Get("http://169.254.169.254/latest/meta-data/"); !IsBlocked(err) {
		t.Fatalf("metadata in dev mode: %v", err)
	}
	// Other schemes never.
	if _, err := c.Get("ftp://example.com/"); err == nil {
		t.Fatal("ftp accepted")
	}
}

func TestClientConfig(t *testing.T) {
	c := Policy{}.Client(0)
	if c.Timeout != 15*time.Second {
		t.Errorf("default timeout %v", c.Timeout)
	}
	tr := c.Transport.(*transport).Transport
	if tr.Proxy != nil {
		t.Error("proxy set")
	}
	if tr.TLSClientConfig.MinVersion < 0x0303 {
		t.Error("TLS < 1.2 allowed")
	}
	if tr.MaxIdleConnsPerHost != maxIdleConnsPerHost || tr.ResponseHeaderTimeout != 15*time.Second {
		t.Errorf("pool/timeouts: %d %v", tr.MaxIdleConnsPerHost, tr.ResponseHeaderTimeout)
	}
	if err := c.CheckRedirect(nil, nil); err != http.ErrUseLastResponse {
		t.Errorf("CheckRedirect = %v", err)
	}
	if err := (Policy{}).control(t.Context(), "udp", "8.8.8.8:53", nil); !IsBlocked(err) {
		t.Errorf("udp allowed: %v", err)
	}
	if err := (Policy{}).control(t.Context(), "tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("public refused: %v", err)
	}
}
