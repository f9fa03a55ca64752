package bench

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// idPrefix starts data.id of every benchmark message: "rdb-<seq>". The receiver finds the
// event's sequence number there without decoding the JSON.
const idPrefix = "rdb-"

var idMarker = []byte(`"data":{"id":"` + idPrefix)

// Receiver is the local webhook receiver: it verifies every request's signature like a
// real receiver would, and records deliveries in the ledger. Deliveries for endpoint k
// arrive on /d/k; the bare signed-POST loop (the ceiling) uses /ceiling.
type Receiver struct {
	URL string // http://127.0.0.1:port

	ln      net.Listener
	srv     *http.Server
	refuse  atomic.Bool
	refused atomic.Int64
	ceiling atomic.Int64
	ceilBad atomic.Int64

	mu       sync.RWMutex
	verifier *webhook.Verifier
	ledger   *Ledger
}

// NewReceiver listens on a free port of 127.0.0.1.
func NewReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{URL: "http://" + ln.Addr().String(), ln: ln}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }

// Use sets the secret deliveries are verified with and the ledger they are counted in.
func (r *Receiver) Use(secret webhook.Secret, l *Ledger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verifier = &webhook.Verifier{Secrets: []webhook.Secret{secret}, StandardOnly: true}
	r.ledger = l
}

// Refuse makes the receiver answer 503 to deliveries (not to the ceiling loop).
func (r *Receiver) Refuse(on bool) { r.refuse.Store(on) }

func (r *Receiver) state() (*webhook.Verifier, *Ledger) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.verifier, r.ledger
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	v, l := r.state()
	if v == nil || req.Method != http.MethodPost {
		http.Error(w, "not ready", http.StatusNotFound)
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := io.Copy(buf, io.LimitReader(req.Body, 1<<20)); err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	body := buf.Bytes()
	_, err := v.Verify(req.Header, body)
	if req.URL.Path == "/ceiling" {
		if err != nil {
			r.ceilBad.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		r.ceiling.Add(1)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	k, ok := strings.CutPrefix(req.URL.Path, "/d/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	if r.refuse.Load() {
		r.refused.Add(1)
		http.Error(w, "refusing for the backlog phase", http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		l.BadSignature()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ep, err := strconv.Atoi(k)
	seq := parseSeq(body)
	if err != nil || seq < 0 {
		l.Delivered(-1, -1)
	} else {
		l.Delivered(seq, ep)
	}
	w.WriteHeader(http.StatusNoContent)
}

// parseSeq reads <seq> from `"data":{"id":"rdb-<seq>"`; -1 when absent.
func parseSeq(body []byte) int {
	i := bytes.Index(body, idMarker)
	if i < 0 {
		return -1
	}
	n, digits := 0, 0
	for _, c := range body[i+len(idMarker):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	if digits == 0 {
		return -1
	}
	return n
}
