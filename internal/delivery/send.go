package delivery

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// MaxResponseBody is how much of a response body an attempt keeps (docs/architecture.md §2).
const MaxResponseBody = 16 << 10

// maxDrain bounds how much more of a response body Send reads and discards
// so the connection can go back to the pool; past it, the connection is
// closed instead (cheaper than reading a huge body).
const maxDrain = 256 << 10

// Sender makes one delivery attempt at a time. It holds no per-request
// state and is safe for concurrent use; share one per process.
type Sender struct {
	// Client must be the guarded client from egress.Policy.Client.
	Client *http.Client
	// UserAgent is "relaydesk/<version>".
	UserAgent string
}

// Request is one attempt of one delivery.
type Request struct {
	URL        string
	EventID    string // webhook-id: the same on every attempt and endpoint
	EventName  string // X-MessageDesk-Event
	DeliveryID string // X-MessageDesk-Delivery
	Attempt    int    // X-MessageDesk-Attempt, 1-based
	Body       []byte // the stored event JSON, sent unchanged
	// Secrets sign the request: Secrets[0] is the current secret, later
	// ones previous secrets still inside a rotation grace window.
	Secrets []webhook.Secret
	// Keys add a v1a (ed25519) entry each to webhook-signature, named in
	// X-MessageDesk-Key-Id: Keys[0] is the current key pair, later ones previous keys in a
	// grace window. None: v1 only.
	Keys []webhook.SigningKey
	// Now is the attempt's timestamp (webhook-timestamp); zero means time.Now.
	Now time.Time
}

// Result is what an attempt produced, ready to be stored in the attempt log.
type Result struct {
	Status          int           // HTTP status; 0 when no response came
	Duration        time.Duration // from sending the request to having read the kept body
	RequestHeaders  http.Header   // as sent, signature values masked
	ResponseHeaders http.Header   // the selected headers (see keptResponseHeaders)
	ResponseBody    []byte        // at most MaxResponseBody bytes
	RetryAfter      time.Duration // parsed Retry-After, 0 if none
	Err             error         // transport error; nil when a response came
}

// Outcome classifies the result (see Classify).
func (r *Result) Outcome() Outcome { return Classify(r.Status, r.Err) }

// MinDelay is the least the next attempt must wait (see MinDelay).
func (r *Result) MinDelay() time.Duration { return MinDelay(r.Status, r.Err, r.RetryAfter) }

// Canonical header keys, so the hot path sets map entries directly.
var (
	hdrContentType = textproto.CanonicalMIMEHeaderKey("Content-Type")
	hdrUserAgent   = textproto.CanonicalMIMEHeaderKey("User-Agent")
	hdrEvent       = textproto.CanonicalMIMEHeaderKey(webhook.HeaderEvent)
	hdrDelivery    = textproto.CanonicalMIMEHeaderKey(webhook.HeaderDelivery)
	hdrAttempt     = textproto.CanonicalMIMEHeaderKey(webhook.HeaderAttempt)
	hdrSignature   = textproto.CanonicalMIMEHeaderKey(webhook.HeaderSignature)
	hdrStdSig      = textproto.CanonicalMIMEHeaderKey(webhook.HeaderStdSignature)

	contentTypeJSON = []string{"application/json"}
)

// keptResponseHeaders are the response headers worth keeping in the attempt log.
var keptResponseHeaders = []string{
	"Content-Type", "Content-Length", "Location", "Retry-After", "Date", "Server",
	"X-Request-Id", "Www-Authenticate",
}

// Masked signature values, shown in the attempt log instead of the real ones.
const (
	maskedMD  = "…(masked)"
	maskedStd = "v1,…(masked)"
	maskedV1a = "v1a,…(masked)"
)

var bodyBufs = sync.Pool{New: func() any { b := make([]byte, MaxResponseBody); return &b }}

// Send makes one attempt: it POSTs r.Body with the delivery and signature
// headers through s.Client and reads up to MaxResponseBody of the answer.
// It never follows redirects itself (the client must not either) and never
// retries; the caller classifies the Result.
func (s *Sender) Send(ctx context.Context, r Request) Result {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Result{Err: err}
	}
	h := req.Header
	h[hdrContentType] = contentTypeJSON
	ua := s.UserAgent
	if ua == "" {
		ua = "relaydesk"
	}
	vals := [...]string{ua, r.EventName, r.DeliveryID, strconv.Itoa(r.Attempt)}
	vs := vals[:] // one backing array for the four values
	h[hdrUserAgent] = vs[0:1:1]
	h[hdrEvent] = vs[1:2:2]
	h[hdrDelivery] = vs[2:3:3]
	h[hdrAttempt] = vs[3:4:4]
	webhook.Sign(h, r.EventID, now, r.Body, r.Secrets...)
	webhook.SignV1a(h, r.EventID, now, r.Body, r.Keys...)
	// The log copy is taken before sending: the transport may add to h.
	res := Result{RequestHeaders: maskHeaders(h)}

	start := time.Now()
	resp, err := s.Client.Do(req)
	if err != nil {
		res.Duration = time.Since(start)
		res.Err = err
		return res
	}
	res.Status = resp.StatusCode
	res.ResponseHeaders = keepHeaders(resp.Header)
	if v := resp.Header.Get("Retry-After"); v != "" {
		res.RetryAfter, _ = ParseRetryAfter(v, time.Now())
	}

	bp := bodyBufs.Get().(*[]byte)
	n, _ := io.ReadFull(resp.Body, *bp) // a short or failed body read still leaves the status
	if n > 0 {
		res.ResponseBody = append([]byte(nil), (*bp)[:n]...)
	}
	bodyBufs.Put(bp)
	res.Duration = time.Since(start)
	if n == MaxResponseBody {
		io.CopyN(io.Discard, resp.Body, maxDrain) // so keep-alive can reuse the connection
	}
	resp.Body.Close()
	return res
}

// maskHeaders copies h with the signature values replaced by a marker that
// keeps their shape ("v1,…(masked) v1,…(masked)" during a rotation, then
// "v1a,…(masked)" per ed25519 entry). The key ids are public and stay.
func maskHeaders(h http.Header) http.Header {
	c := h.Clone()
	if v := c[hdrSignature]; len(v) > 0 {
		c[hdrSignature] = []string{maskedMD}
	}
	if v := c[hdrStdSig]; len(v) > 0 {
		n, a := 0, 0
		for _, s := range v {
			for _, e := range strings.Fields(s) {
				if strings.HasPrefix(e, "v1a,") {
					a++
				} else {
					n++
				}
			}
		}
		m := maskedStdValue(n)
		for range a {
			if m != "" {
				m += " "
			}
			m += maskedV1a
		}
		c[hdrStdSig] = []string{m}
	}
	return c
}

var maskedStdValues = [...]string{"", maskedStd, maskedStd + " " + maskedStd, maskedStd + " " + maskedStd + " " + maskedStd}

func maskedStdValue(n int) string {
	if n < len(maskedStdValues) {
		return maskedStdValues[n]
	}
	return strings.TrimSuffix(strings.Repeat(maskedStd+" ", n), " ")
}

func keepHeaders(h http.Header) http.Header {
	out := make(http.Header, 4)
	for _, k := range keptResponseHeaders {
		if v, ok := h[k]; ok {
			out[k] = v
		}
	}
	return out
}
