package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The bucket map is bounded: past MaxTracked callers the least recently seen is evicted,
// and a caller seen recently keeps its (spent) bucket.
func TestBucketSetEvictsLeastRecentlyUsed(t *testing.T) {
	b := newBucketSet(3, 1, 1)
	now := time.Now()
	for _, k := range []string{"a", "b", "c"} {
		if _, ok := b.take(k, now); !ok {
			t.Fatalf("%s: first request refused", k)
		}
	}
	if _, ok := b.take("a", now); ok { // a is spent, and now the most recently used
		t.Fatal("a: second request allowed")
	}
	b.take("d", now) // evicts b, the least recently used
	if b.len() != 3 {
		t.Fatalf("tracking %d callers, want 3", b.len())
	}
	if _, ok := b.take("a", now); ok {
		t.Fatal("a was evicted instead of b")
	}
	if _, ok := b.take("b", now); !ok {
		t.Fatal("b should come back with a full bucket")
	}
	for i := range 1000 {
		b.take(fmt.Sprint(i), now)
	}
	if b.len() != 3 {
		t.Fatalf("tracking %d callers after 1000 new ones, want 3", b.len())
	}
}

// A refused request spends nothing, and Retry-After says when a token is back.
func TestBucketWaitAndRecovery(t *testing.T) {
	b := newBucketSet(10, 2, 2) // 2/s, burst 2
	now := time.Now()
	b.take("k", now)
	b.take("k", now)
	wait, ok := b.take("k", now)
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("third request: ok %v wait %v", ok, wait)
	}
	if RetryAfter(wait) != "1" {
		t.Fatalf("Retry-After %q", RetryAfter(wait))
	}
	// Refusals do not push the recovery further away.
	for range 10 {
		b.take("k", now)
	}
	if _, ok := b.take("k", now.Add(wait)); !ok {
		t.Fatal("not recovered after the wait")
	}
	if newBucketSet(1, 0, 0).enabled() {
		t.Fatal("rate 0 should disable the bucket")
	}
}

// LimitIPs only looks at /v1/, answers 429 as problem+json with Retry-After, and lets
// valid platform tokens through while charging failed ones.
func TestLimitIPs(t *testing.T) {
	l := NewRateLimiter(RateLimits{IPRate: 0.001, IPBurst: 2})
	status := http.StatusOK
	h := l.LimitIPs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	do := func(path, bearer string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = "192.0.2.1:1234"
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	for range 5 {
		if w := do("/settings", ""); w.Code != http.StatusOK {
			t.Fatalf("page limited: %d", w.Code)
		}
	}
	do("/v1/me", "")
	do("/v1/me", "")
	w := do("/v1/me", "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("third /v1 request: %d %v", w.Code, w.Header())
	}
	// Valid platform tokens (the handler does not answer 401) are never limited.
	for range 10 {
		if w := do("/v1/platform/events", "rdp_valid"); w.Code != http.StatusOK {
			t.Fatalf("platform request limited: %d", w.Code)
		}
	}
	status = http.StatusUnauthorized
	do("/v1/platform/events", "rdp_guess")
	do("/v1/platform/events", "rdp_guess")
	if w := do("/v1/platform/events", "rdp_guess"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("third failed platform token: %d", w.Code)
	}
}
