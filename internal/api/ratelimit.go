package api

import (
	"container/list"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/credential"
)

// RateLimits configures the token buckets on /v1. A rate of 0 turns that bucket off.
//
//   - Per caller (Rate, Burst): one bucket per API key, and one per signed-in user for
//     session requests, checked after authentication.
//   - Per client IP (IPRate, IPBurst): checked before authentication, so floods of bad
//     credentials are refused without touching the database.
//   - The producer's platform tokens are exempt from both: their traffic is the product's
//     throughput, and refusing it would only make the producer retry. Requests that present
//     a platform token which fails authentication do count against a per-IP bucket, so
//     guessing is throttled while valid producer traffic is not.
//
// Behind a reverse proxy every request has the proxy's address (relaydesk trusts no
// forwarding header), so the per-IP bucket then limits all clients together: raise
// IPRate or set it to 0 there.
type RateLimits struct {
	Rate    float64 // requests per second per API key or session user
	Burst   int
	IPRate  float64 // requests per second per client IP
	IPBurst int
	// MaxTracked bounds each bucket map; the least recently seen caller is evicted first
	// (an evicted caller comes back with a full bucket). 0 means 10,000.
	MaxTracked int
}

// RateLimiter enforces RateLimits. It is safe for concurrent use.
type RateLimiter struct {
	cfg      RateLimits
	callers  *bucketSet
	ips      *bucketSet
	platform *bucketSet // failed platform-token attempts per IP
	now      clock.Clock
}

// NewRateLimiter prepares the buckets.
func NewRateLimiter(cfg RateLimits) *RateLimiter {
	if cfg.MaxTracked <= 0 {
		cfg.MaxTracked = 10_000
	}
	return &RateLimiter{cfg: cfg,
		callers:  newBucketSet(cfg.MaxTracked, cfg.Rate, cfg.Burst),
		ips:      newBucketSet(cfg.MaxTracked, cfg.IPRate, cfg.IPBurst),
		platform: newBucketSet(cfg.MaxTracked, cfg.IPRate, cfg.IPBurst),
	}
}

// bucketSet is a bounded map of token buckets with least-recently-used eviction.
type bucketSet struct {
	mu    sync.Mutex
	max   int
	limit rate.Limit
	burst int
	m     map[string]*list.Element
	lru   *list.List // front = most recently used
}

type bucketEntry struct {
	key string
	lim *rate.Limiter
}

func newBucketSet(max int, r float64, burst int) *bucketSet {
	if burst < 1 {
		burst = 1
	}
	return &bucketSet{max: max, limit: rate.Limit(r), burst: burst, m: map[string]*list.Element{}, lru: list.New()}
}

func (b *bucketSet) enabled() bool { return b.limit > 0 }

func (b *bucketSet) get(key string) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.m[key]; ok {
		b.lru.MoveToFront(e)
		return e.Value.(*bucketEntry).lim
	}
	for b.lru.Len() >= b.max {
		old := b.lru.Back()
		b.lru.Remove(old)
		delete(b.m, old.Value.(*bucketEntry).key)
	}
	lim := rate.NewLimiter(b.limit, b.burst)
	b.m[key] = b.lru.PushFront(&bucketEntry{key: key, lim: lim})
	return lim
}

func (b *bucketSet) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lru.Len()
}

// take spends one token of key's bucket; when none is left it returns how long until one
// is, and spends nothing.
func (b *bucketSet) take(key string, now time.Time) (wait time.Duration, ok bool) {
	if !b.enabled() {
		return 0, true
	}
	r := b.get(key).ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, true
}

// peek reports whether key's bucket has a token, without spending it.
func (b *bucketSet) peek(key string, now time.Time) (wait time.Duration, ok bool) {
	if !b.enabled() {
		return 0, true
	}
	t := b.get(key).TokensAt(now)
	if t >= 1 {
		return 0, true
	}
	return time.Duration((1 - t) / float64(b.limit) * float64(time.Second)), false
}

// LimitIPs wraps the whole HTTP surface: requests under /v1/ pass the per-IP bucket first.
func (l *RateLimiter) LimitIPs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") || !l.ips.enabled() {
			next.ServeHTTP(w, r)
			return
		}
		ip := auth.ClientIP(r)
		if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			credential.HasKind(strings.TrimSpace(token), credential.PlatformKind) {
			// Valid platform tokens are exempt; failed ones spend from their own bucket.
			if wait, ok := l.platform.peek(ip, l.now.Now()); !ok {
				writeTooMany(w, wait, "too many failed platform-token requests from your address")
				return
			}
			sw := &statusWriter{ResponseWriter: w}
			next.ServeHTTP(sw, r)
			if sw.status == http.StatusUnauthorized {
				l.platform.take(ip, l.now.Now())
			}
			return
		}
		if wait, ok := l.ips.take(ip, l.now.Now()); !ok {
			writeTooMany(w, wait, "too many requests from your address")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeTooMany answers 429 as problem+json, like every API error.
func writeTooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", RetryAfter(wait))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(http.StatusTooManyRequests), "status": http.StatusTooManyRequests,
		"detail": fmt.Sprintf("%s; retry after %s seconds", msg, RetryAfter(wait))})
}

// UseRateLimits adds the per-caller bucket to every operation (after authentication, so
// it knows the key or user) and documents the 429 answer on every /v1 operation.
func (s *Server) UseRateLimits(l *RateLimiter) {
	s.API.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		p := access.From(ctx.Context())
		if p == nil || p.Platform || p.UserID == "" {
			next(ctx)
			return
		}
		key := "user:" + p.UserID
		if p.Via == "apikey" {
			key = "key:" + p.APIKeyID
		}
		if wait, ok := l.callers.take(key, l.now.Now()); !ok {
			ctx.SetHeader("Retry-After", RetryAfter(wait))
			_ = huma.WriteErr(s.API, ctx, http.StatusTooManyRequests,
				fmt.Sprintf("rate limit of %s requests per second exceeded; retry after %s seconds", formatRate(l.cfg.Rate), RetryAfter(wait)))
			return
		}
		next(ctx)
	})
	oapi := s.API.OpenAPI()
	document := func(_ *huma.OpenAPI, op *huma.Operation) {
		if !strings.HasPrefix(op.Path, "/v1/") {
			return
		}
		if op.Responses == nil {
			op.Responses = map[string]*huma.Response{}
		}
		if _, ok := op.Responses["429"]; !ok {
			op.Responses["429"] = &huma.Response{Description: "Too many requests: wait for the number of seconds in Retry-After.",
				Headers: map[string]*huma.Param{"Retry-After": {Description: "Seconds to wait.", Schema: &huma.Schema{Type: "integer"}}},
				Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}}}}
		}
	}
	for _, item := range oapi.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head, item.Options} {
			if op != nil {
				document(oapi, op)
			}
		}
	}
	oapi.OnAddOperation = append(oapi.OnAddOperation, document)
}

func formatRate(r float64) string {
	if r == math.Trunc(r) {
		return fmt.Sprintf("%d", int64(r))
	}
	return fmt.Sprintf("%g", r)
}
