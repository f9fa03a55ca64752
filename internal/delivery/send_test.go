package delivery

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/webhook"
)

// received is what a test receiver saw.
type received struct {
	header http.Header
	body   []byte
}

// receiver starts a local server whose answer is produced by respond; it
// records every request and counts new connections.
func receiver(t testing.TB, respond http.HandlerFunc) (srv *httptest.Server, got func() []received, conns *atomic.Int32) {
	t.Helper()
	var mu sync.Mutex
	var reqs []received
	conns = new(atomic.Int32)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, received{r.Header.Clone(), body})
		mu.Unlock()
		respond(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), reqs...)
	}, conns
}

func devSender(timeout time.Duration) *Sender {
	return &Sender{Client: egress.Policy{AllowPrivate: true}.Client(timeout), UserAgent: "relaydesk/test"}
}

var (
	testSecret = webhook.MustParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	oldSecret  = webhook.MustParseSecret("whsec_" + strings.Repeat("QUJD", 8))
	testBody   = []byte(`{"id":"01KAE88YX393N7SAE2","object":"Event","name":"MessageReceived","workspaceId":"01K6N5WEYHS5N0796","createdAt":"2025-11-19T14:28:39.459465Z","dataType":"Message","data":{"body":"héllo \u2028 \"quoted\"  spaced"}}`)
)

func testRequest(url string) Request {
	return Request{
		URL: url, EventID: "01KAE88YX393N7SAE2", EventName: "MessageReceived",
		DeliveryID: "01KDELIVERY", Attempt: 3, Body: testBody,
		Secrets: []webhook.Secret{testSecret}, Now: time.Now(),
	}
}

func TestSendSignedAndByteIdentical(t *testing.T) {
	srv, got, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Secret-Internal", "not kept")
		w.Write([]byte("thanks"))
	})
	req := testRequest(srv.URL + "/hook?x=1")
	req.Secrets = []webhook.Secret{testSecret, oldSecret} // rotation grace window
	res := devSender(5*time.Second).Send(t.Context(), req)
	if res.Err != nil || res.Status != 200 || res.Outcome() != Delivered {
		t.Fatalf("result %+v", res)
	}
	if string(res.ResponseBody) != "thanks" || res.ResponseHeaders.Get("Content-Type") != "text/plain" {
		t.Fatalf("response kept: %q %v", res.ResponseBody, res.ResponseHeaders)
	}
	if _, ok := res.ResponseHeaders["X-Secret-Internal"]; ok {
		t.Fatal("unselected response header kept")
	}
	if res.Duration <= 0 {
		t.Fatal("no duration")
	}

	rs := got()
	if len(rs) != 1 {
		t.Fatalf("%d requests", len(rs))
	}
	h, body := rs[0].header, rs[0].body
	if !bytes.Equal(body, testBody) {
		t.Fatalf("body changed in transit:\n got %q\nwant %q", body, testBody)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", "User-Agent": "relaydesk/test",
		"X-MessageDesk-Event": "MessageReceived", "X-MessageDesk-Delivery": "01KDELIVERY",
		"X-MessageDesk-Attempt": "3", "webhook-id": "01KAE88YX393N7SAE2",
		"webhook-timestamp": strconv.FormatInt(req.Now.Unix(), 10),
	} {
		if v := h.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	// Both schemes verify, with the current and with the previous secret.
	for _, sec := range []webhook.Secret{testSecret, oldSecret} {
		if _, err := webhook.NewVerifier(sec).Verify(h, body); err != nil {
			t.Errorf("Standard Webhooks signature does not verify with %s: %v", sec.Fingerprint(), err)
		}
	}
	md := h.Clone()
	md.Del("webhook-id")
	md.Del("webhook-timestamp")
	md.Del("webhook-signature")
	if _, err := webhook.NewVerifier(testSecret).Verify(md, body); err != nil {
		t.Errorf("X-MessageDesk-Signature does not verify: %v", err)
	}

	// The log copy has the same headers, signatures masked.
	rh := res.RequestHeaders
	if rh.Get("webhook-signature") != "v1,…(masked) v1,…(masked)" || rh.Get("X-MessageDesk-Signature") != "…(masked)" {
		t.Errorf("masked: %q / %q", rh.Get("webhook-signature"), rh.Get("X-MessageDesk-Signature"))
	}
	if rh.Get("webhook-id") != "01KAE88YX393N7SAE2" || rh.Get("X-MessageDesk-Attempt") != "3" {
		t.Errorf("request headers logged: %v", rh)
	}
	for k, vs := range rh {
		for _, v := range vs {
			if strings.Contains(v, h.Get("X-MessageDesk-Signature")) || (k != "Webhook-Signature" && strings.Contains(v, "v1,") && v != "v1,…(masked)") {
				t.Errorf("signature leaked in logged header %s: %q", k, v)
			}
		}
	}
}

func TestSendStatuses(t *testing.T) {
	var redirectTarget atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { redirectTarget.Add(1) }))
	defer target.Close()
	httpDate := time.Now().Add(2 * time.Hour).UTC().Format(http.TimeFormat)

	cases := []struct {
		name       string
		respond    http.HandlerFunc
		status     int
		outcome    Outcome
		retryAfter time.Duration // approximate for the date form
		minDelay   time.Duration
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {}, 200, Delivered, 0, 0},
		{"202", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) }, 202, Delivered, 0, 0},
		{"204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }, 204, Delivered, 0, 0},
		{"302 not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
		}, 302, Retry, 0, 0},
		{"307 not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
		}, 307, Retry, 0, 0},
		{"400", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad", 400) }, 400, Retry, 0, 0},
		{"401", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad signature", 401) }, 401, Retry, 0, 0},
		{"404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, 404, Retry, 0, 0},
		{"410", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) }, 410, Gone, 0, 0},
		{"429 no Retry-After", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(429) }, 429, Retry, 0, time.Minute},
		{"429 Retry-After seconds", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "300")
			w.WriteHeader(429)
		}, 429, Retry, 5 * time.Minute, 5 * time.Minute},
		{"429 Retry-After short", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(429)
		}, 429, Retry, 5 * time.Second, time.Minute},
		{"429 Retry-After date", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", httpDate)
			w.WriteHeader(429)
		}, 429, Retry, 2 * time.Hour, 2 * time.Hour},
		{"503 Retry-After 3 days", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "259200")
			w.WriteHeader(503)
		}, 503, Retry, 72 * time.Hour, 24 * time.Hour},
		{"500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, 500, Retry, 0, 0},
		{"502", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }, 502, Retry, 0, time.Minute},
		{"504", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(504) }, 504, Retry, 0, time.Minute},
	}
	s := devSender(5 * time.Second)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, got, _ := receiver(t, c.respond)
			res := s.Send(t.Context(), testRequest(srv.URL))
			if res.Err != nil {
				t.Fatalf("transport error: %v", res.Err)
			}
			if res.Status != c.status || res.Outcome() != c.outcome {
				t.Fatalf("status %d outcome %v, want %d %v", res.Status, res.Outcome(), c.status, c.outcome)
			}
			if d := res.RetryAfter - c.retryAfter; d < -5*time.Second || d > 0 {
				t.Errorf("RetryAfter = %v, want ≈ %v", res.RetryAfter, c.retryAfter)
			}
			if d := res.MinDelay() - c.minDelay; d < -5*time.Second || d > 0 {
				t.Errorf("MinDelay = %v, want ≈ %v", res.MinDelay(), c.minDelay)
			}
			if len(got()) != 1 {
				t.Errorf("receiver saw %d requests", len(got()))
			}
			if res.Status/100 == 3 && res.ResponseHeaders.Get("Location") == "" {
				t.Errorf("Location not kept")
			}
		})
	}
	if redirectTarget.Load() != 0 {
		t.Fatal("a redirect was followed")
	}
}

func TestSendTimeout(t *testing.T) {
	release := make(chan struct{})
	srv, _, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	res := devSender(200*time.Millisecond).Send(t.Context(), testRequest(srv.URL))
	if res.Err == nil || !IsTimeout(res.Err) {
		t.Fatalf("err = %v, want a timeout", res.Err)
	}
	if res.Status != 0 || res.Outcome() != Retry || res.MinDelay() != time.Minute {
		t.Fatalf("status %d outcome %v min delay %v", res.Status, res.Outcome(), res.MinDelay())
	}
	if el := time.Since(start); el > 5*time.Second { // generous: shared CI machines
		t.Fatalf("timeout took %v", el)
	}
	if res.RequestHeaders.Get("X-MessageDesk-Signature") != "…(masked)" {
		t.Fatal("request headers missing on a transport error")
	}
}

func TestSendConnectionReset(t *testing.T) {
	for _, mode := range []string{"reset", "close"} {
		t.Run(mode, func(t *testing.T) {
			srv, _, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				if tc, ok := conn.(*net.TCPConn); ok && mode == "reset" {
					tc.SetLinger(0) // RST instead of FIN
				}
				conn.Close()
			})
			res := devSender(5*time.Second).Send(t.Context(), testRequest(srv.URL))
			if res.Err == nil || res.Status != 0 {
				t.Fatalf("status %d err %v, want a transport error", res.Status, res.Err)
			}
			if res.Outcome() != Retry || res.MinDelay() != 0 || IsTimeout(res.Err) {
				t.Fatalf("outcome %v min delay %v", res.Outcome(), res.MinDelay())
			}
			t.Logf("%s: %v", mode, res.Err)
		})
	}
}

func TestSendRefusedByPolicy(t *testing.T) {
	srv, got, _ := receiver(t, func(http.ResponseWriter, *http.Request) {})
	s := &Sender{Client: egress.Policy{}.Client(time.Second)}
	https := strings.Replace(srv.URL, "http://", "https://", 1)
	res := s.Send(t.Context(), testRequest(https))
	if !egress.IsBlocked(res.Err) || res.Outcome() != Retry {
		t.Fatalf("err = %v, want a policy refusal", res.Err)
	}
	if len(got()) != 0 {
		t.Fatal("the private receiver was reached")
	}
	if res := s.Send(t.Context(), testRequest("::not a url")); res.Err == nil {
		t.Fatal("bad URL accepted")
	}
}

func TestSendLargeResponseKeepsConnection(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100<<10)
	srv, _, conns := receiver(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(big)
	})
	s := devSender(5 * time.Second)
	for range 5 {
		res := s.Send(t.Context(), testRequest(srv.URL))
		if res.Err != nil || len(res.ResponseBody) != MaxResponseBody || !bytes.Equal(res.ResponseBody, big[:MaxResponseBody]) {
			t.Fatalf("err %v, kept %d bytes", res.Err, len(res.ResponseBody))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential sends, want 1 (keep-alive)", n)
	}
}

func TestSendContextCancelled(t *testing.T) {
	srv, _, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	res := devSender(5*time.Second).Send(ctx, testRequest(srv.URL))
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("err = %v", res.Err)
	}
}

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	s := devSender(5 * time.Second)
	req := testRequest(srv.URL + "/hook")
	req.Body = bytes.Repeat([]byte("a"), 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(req.Body)))
	b.ResetTimer()
	for b.Loop() {
		res := s.Send(context.Background(), req)
		if res.Status != 204 {
			b.Fatal(res.Err)
		}
	}
}

// BenchmarkBarePost is the floor BenchmarkSend is measured against: the same
// POST through the same client, without signing, headers or the attempt log.
func BenchmarkBarePost(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c := egress.Policy{AllowPrivate: true}.Client(5 * time.Second)
	body := bytes.Repeat([]byte("a"), 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/hook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// With signing keys, the request carries a v1a entry per key besides the v1 ones, and the
// key ids; receivers with only a public key and receivers with only the secret both verify,
// and the attempt log masks the v1a signatures too.
func TestSendV1a(t *testing.T) {
	srv, got, _ := receiver(t, func(w http.ResponseWriter, r *http.Request) {})
	cur, err := webhook.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	prev, _ := webhook.NewSigningKey()
	req := testRequest(srv.URL)
	req.Keys = []webhook.SigningKey{cur, prev}
	res := devSender(5*time.Second).Send(t.Context(), req)
	if res.Err != nil || res.Status != 200 {
		t.Fatalf("result %+v", res)
	}
	h, body := got()[0].header, got()[0].body
	entries := strings.Fields(h.Get("webhook-signature"))
	if len(entries) != 3 || !strings.HasPrefix(entries[0], "v1,") || !strings.HasPrefix(entries[1], "v1a,") || !strings.HasPrefix(entries[2], "v1a,") {
		t.Fatalf("webhook-signature %q", h.Get("webhook-signature"))
	}
	if got := h.Get(webhook.HeaderKeyID); got != cur.KeyID()+" "+prev.KeyID() {
		t.Fatalf("key ids %q", got)
	}
	for _, pk := range []webhook.PublicKey{cur.Public(), prev.Public()} {
		if res, err := webhook.NewKeyVerifier(pk).Verify(h, body); err != nil || res.Scheme != webhook.SchemeStandardV1a {
			t.Errorf("public key %s: %+v, %v", pk.KeyID(), res, err)
		}
	}
	if res, err := webhook.NewVerifier(testSecret).Verify(h, body); err != nil || res.Scheme != webhook.SchemeStandard {
		t.Errorf("secret: %+v, %v", res, err)
	}
	if got := res.RequestHeaders.Get("webhook-signature"); got != "v1,…(masked) v1a,…(masked) v1a,…(masked)" {
		t.Errorf("masked: %q", got)
	}
	if got := res.RequestHeaders.Get(webhook.HeaderKeyID); got != cur.KeyID()+" "+prev.KeyID() {
		t.Errorf("key ids logged: %q", got)
	}
	// Without keys, no v1a and no key id header.
	req.Keys = nil
	devSender(5*time.Second).Send(t.Context(), req)
	if h := got()[1].header; strings.Contains(h.Get("webhook-signature"), "v1a,") || h.Get(webhook.HeaderKeyID) != "" {
		t.Errorf("without keys: %v", h)
	}
}
