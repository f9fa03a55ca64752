package delivery

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// MaxAttempts is the number of HTTP attempts a delivery gets before it is
// failed: the first try plus one per entry of the retry schedule.
const MaxAttempts = 10

// retrySchedule is docs/architecture.md §2: the wait after attempt n (1-based) is
// retrySchedule[n-1], ±20 % jitter.
var retrySchedule = [MaxAttempts - 1]time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// Jitter is the ± fraction applied to every scheduled delay.
const Jitter = 0.20

// Floors and caps for receivers that ask us to slow down (docs/architecture.md §2).
const (
	SlowDownMinDelay = 60 * time.Second
	MaxRetryAfter    = 24 * time.Hour
)

// NextDelay returns how long to wait before the next attempt, given the
// number of attempts made so far (1-based), or false when the delivery has
// had all MaxAttempts. rnd returns a value in [0, 1) (math/rand/v2.Float64);
// 0 gives the scheduled delay -20 %, values approaching 1 give +20 %; a nil
// rnd means no jitter.
func NextDelay(attempt int, rnd func() float64) (time.Duration, bool) {
	if attempt < 1 || attempt >= MaxAttempts {
		return 0, false
	}
	d := retrySchedule[attempt-1]
	if rnd == nil {
		return d, true
	}
	f := 1 + Jitter*(2*rnd()-1)
	return time.Duration(float64(d) * f), true
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an HTTP
// date (RFC 9110 §10.2.3). It returns false for an empty or unparseable
// value; a date in the past is 0, true. The result is not capped to
// MaxRetryAfter here (MinDelay does that), only clamped to 2^31 s.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > maxRetryAfterSeconds {
			n = maxRetryAfterSeconds // absurd values are clamped; MinDelay caps anyway
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}

const maxRetryAfterSeconds = 1<<31 - 1

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Outcome is what one attempt means for its delivery.
type Outcome int

const (
	// Retry: the attempt failed; try again on the schedule (if any attempts remain).
	Retry Outcome = iota
	// Delivered: the receiver answered 2xx.
	Delivered
	// Gone: the receiver answered 410; disable the endpoint and stop.
	Gone
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case Gone:
		return "gone"
	case Retry:
		return "retry"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify maps an attempt's result to its outcome: a response (err == nil)
// with a 2xx status is Delivered, 410 is Gone; everything else — 3xx (never
// followed), other 4xx and 5xx, timeouts, resets, TLS and dial errors,
// refusals by the egress policy — is Retry.
func Classify(status int, err error) Outcome {
	if err != nil {
		return Retry
	}
	switch {
	case status >= 200 && status <= 299:
		return Delivered
	case status == http.StatusGone:
		return Gone
	}
	return Retry
}

// MinDelay is the least the next attempt must wait, on top of the schedule:
// after 429, 502, 503, 504 or a timeout, at least SlowDownMinDelay, or the
// receiver's Retry-After when longer, capped at MaxRetryAfter. For other
// failures it is 0 (the schedule alone decides). The caller waits
// max(NextDelay, MinDelay).
func MinDelay(status int, err error, retryAfter time.Duration) time.Duration {
	slow := false
	if err != nil {
		slow = IsTimeout(err)
	} else {
		switch status {
		case http.StatusTooManyRequests, http.StatusBadGateway,
			http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			slow = true
		}
	}
	if !slow {
		return 0
	}
	return min(max(retryAfter, SlowDownMinDelay), MaxRetryAfter)
}

// IsTimeout reports whether err is a timeout: the client's own deadline, a
// context deadline, or a network timeout (net.Error.Timeout).
func IsTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
