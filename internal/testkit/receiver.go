package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// Receiver is a local webhook receiver. It records each request it answers and answers
// 200 {"received":true} unless told otherwise; with a verifier it checks every signature
// and answers a failure 401 with the error. Its methods are safe while requests arrive.
type Receiver struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Request
	next     int           // the first request Next has not returned
	arrived  chan struct{} // closed (and replaced) when a request is recorded
	status   int
	body     string
	verifier *webhook.Verifier
	hold     bool
	delay    time.Duration

	held atomic.Int32
}

// Request is one request a Receiver answered.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
	// Result and Err are what the verifier said (zero without one).
	Result webhook.Result
	Err    error
}

// NewReceiver starts a receiver, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	rc := &Receiver{arrived: make(chan struct{}), status: http.StatusOK, body: `{"received":true}`}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req := Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	rc.mu.Lock()
	v, hold, delay := rc.verifier, rc.hold, rc.delay
	rc.mu.Unlock()
	if v != nil {
		req.Result, req.Err = v.VerifyContext(r.Context(), r.Header, body)
	}
	if req.Err != nil {
		rc.record(req)
		http.Error(w, req.Err.Error(), http.StatusUnauthorized)
		return
	}
	if hold { // never answered, so not recorded
		rc.held.Add(1)
		<-r.Context().Done()
		return
	}
	time.Sleep(delay)
	status, answer := rc.record(req)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// record keeps req and returns the answer to give.
func (rc *Receiver) record(req Request) (int, string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests = append(rc.requests, req)
	close(rc.arrived)
	rc.arrived = make(chan struct{})
	return rc.status, rc.body
}

// Reply sets the answer to the requests from now on.
func (rc *Receiver) Reply(status int, body string) *Receiver {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status, rc.body = status, body
	return rc
}

// Verify checks the signatures of the requests from now on with v (nil: no check).
func (rc *Receiver) Verify(v *webhook.Verifier) *Receiver {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.verifier = v
	return rc
}

// Hold makes the requests from now on wait, unanswered, until their client gives up (on) or
// be answered again (off).
func (rc *Receiver) Hold(on bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hold = on
}

// Held is how many requests have been held.
func (rc *Receiver) Held() int { return int(rc.held.Load()) }

// Delay makes the answers from now on wait d.
func (rc *Receiver) Delay(d time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.delay = d
}

// Requests is every request answered so far, in order.
func (rc *Receiver) Requests() []Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Request(nil), rc.requests...)
}

// Len is how many requests it answered.
func (rc *Receiver) Len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

// Count is how many requests for path it answered.
func (rc *Receiver) Count(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, r := range rc.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// Counts is how many requests it answered per value of header (webhook.HeaderDelivery:
// per delivery).
func (rc *Receiver) Counts(header string) map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]int{}
	for _, r := range rc.requests {
		out[r.Header.Get(header)]++
	}
	return out
}

// Last is the latest request; the test fails if there was none.
func (rc *Receiver) Last(t testing.TB) Request {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.requests) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return rc.requests[len(rc.requests)-1]
}

// Next waits up to within for the first request Next has not returned yet, and reports
// whether there was one.
func (rc *Receiver) Next(within time.Duration) (Request, bool) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		rc.mu.Lock()
		if rc.next < len(rc.requests) {
			r := rc.requests[rc.next]
			rc.next++
			rc.mu.Unlock()
			return r, true
		}
		arrived := rc.arrived
		rc.mu.Unlock()
		select {
		case <-arrived:
		case <-timer.C:
			return Request{}, false
		}
	}
}
