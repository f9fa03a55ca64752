package apikey_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
)

func limits(rate float64, burst int, ipRate float64, ipBurst int) apptest.Option {
	return func(c *app.Config) {
		c.RateLimit, c.RateBurst, c.IPRateLimit, c.IPRateBurst = rate, burst, ipRate, ipBurst
	}
}

// waitRetryAfter checks a 429 and sleeps for as long as it says.
func waitRetryAfter(t *testing.T, res *apptest.Response) {
	t.Helper()
	wantProblem(t, res, http.StatusTooManyRequests)
	s, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if err != nil || s < 1 || s > 5 {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	time.Sleep(time.Duration(s) * time.Second)
}

// Each API key (and each signed-in user) has its own bucket: past the burst, 429 with
// Retry-After; after that wait, requests pass again. Other callers are not affected.
func TestRateLimitPerKey(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		_, kc := newKey(t, env, ws.Admin, "script") // the session spends 2 tokens (sign-in, create)
		for i := range 3 {
			if res := kc.Do("GET", "/v1/me", nil); res.Status != http.StatusOK {
				t.Fatalf("request %d: %d %s", i+1, res.Status, res.Body)
			}
		}
		waitRetryAfter(t, kc.Do("GET", "/v1/me", nil))
		if res := kc.Do("GET", "/v1/me", nil); res.Status != http.StatusOK {
			t.Fatalf("after Retry-After: %d %s", res.Status, res.Body)
		}
		// The key's bucket is its own: the session user still has a token.
		if res := ws.Admin.Do("GET", "/v1/me", nil); res.Status != http.StatusOK {
			t.Fatalf("session user: %d %s", res.Status, res.Body)
		}
	}, limits(0.5, 3, 0, 0))
}

// The per-IP bucket is checked before authentication, so bad credentials are limited too;
// valid platform-token traffic is exempt, failed platform tokens are limited.
func TestRateLimitPerIP(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		producer := env.PlatformToken()
		anon := env.Anonymous()
		for i := range 3 {
			wantProblem(t, anon.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
			_ = i
		}
		res := anon.Do("GET", "/v1/me", nil)
		wantProblem(t, res, http.StatusTooManyRequests)
		// Pages and health checks are not under /v1 and not limited.
		if res := anon.Do("GET", "/healthz", nil); res.Status != http.StatusOK {
			t.Fatalf("healthz: %d", res.Status)
		}
		// The producer is not limited by its address's bucket.
		for i := range 10 {
			if res := producer.Do("GET", "/v1/event-types", nil); res.Status == http.StatusTooManyRequests {
				t.Fatalf("platform request %d limited", i+1)
			}
		}
		waitRetryAfter(t, res)
		wantProblem(t, anon.Do("GET", "/v1/me", nil), http.StatusUnauthorized)

		// Guessing platform tokens: limited after the burst of failures.
		guess := env.Anonymous()
		guess.Bearer = "rdp_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		for i := range 3 {
			wantProblem(t, guess.Do("GET", "/v1/me", nil), http.StatusUnauthorized)
			_ = i
		}
		wantProblem(t, guess.Do("GET", "/v1/me", nil), http.StatusTooManyRequests)
	}, limits(0, 0, 0.5, 3))
}
