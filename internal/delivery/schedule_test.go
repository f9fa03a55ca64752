package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

var wantSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

func TestNextDelaySchedule(t *testing.T) {
	below1 := math.Nextafter(1, 0)
	for i, want := range wantSchedule {
		attempt := i + 1
		if d, ok := NextDelay(attempt, nil); !ok || d != want {
			t.Errorf("NextDelay(%d, nil) = %v, %v; want %v", attempt, d, ok, want)
		}
		lo := time.Duration(float64(want) * 0.8)
		hi := time.Duration(float64(want) * 1.2)
		if d, _ := NextDelay(attempt, func() float64 { return 0 }); d != lo {
			t.Errorf("NextDelay(%d, 0) = %v, want exactly -20%% = %v", attempt, d, lo)
		}
		if d, _ := NextDelay(attempt, func() float64 { return 0.5 }); d != want {
			t.Errorf("NextDelay(%d, 0.5) = %v, want %v", attempt, d, want)
		}
		if d, _ := NextDelay(attempt, func() float64 { return below1 }); d < hi-time.Microsecond || d > hi {
			t.Errorf("NextDelay(%d, →1) = %v, want +20%% = %v", attempt, d, hi)
		}
		for range 1000 {
			if d, _ := NextDelay(attempt, rand.Float64); d < lo || d > hi {
				t.Fatalf("NextDelay(%d, rand) = %v outside [%v, %v]", attempt, d, lo, hi)
			}
		}
	}
	for _, attempt := range []int{-1, 0, MaxAttempts, MaxAttempts + 1} {
		if d, ok := NextDelay(attempt, rand.Float64); ok {
			t.Errorf("NextDelay(%d) = %v, true; want exhausted", attempt, d)
		}
	}
}

// TestScheduleOnFakeClock runs a delivery that always fails through the
// whole schedule on synctest's fake clock: exactly MaxAttempts attempts,
// spread over 75h35m5s without jitter and within ±20 % of it with jitter.
func TestScheduleOnFakeClock(t *testing.T) {
	const total = 75*time.Hour + 35*time.Minute + 5*time.Second
	for _, tc := range []struct {
		name   string
		rnd    func() float64
		lo, hi time.Duration
	}{
		{"no jitter", nil, total, total},
		{"jitter -20%", func() float64 { return 0 }, total * 8 / 10, total * 8 / 10},
		{"jitter +20%", func() float64 { return math.Nextafter(1, 0) }, total*12/10 - time.Millisecond, total * 12 / 10},
		{"random jitter", rand.Float64, total * 8 / 10, total * 12 / 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var at []time.Duration
				attempts := 0
				for {
					attempts++ // an attempt happens now, and fails
					at = append(at, time.Since(start))
					d, ok := NextDelay(attempts, tc.rnd)
					if !ok {
						break
					}
					timer := time.NewTimer(d)
					<-timer.C
				}
				elapsed := time.Since(start)
				if attempts != MaxAttempts {
					t.Fatalf("attempts = %d, want %d", attempts, MaxAttempts)
				}
				if elapsed < tc.lo || elapsed > tc.hi {
					t.Fatalf("last attempt at %v, want within [%v, %v]", elapsed, tc.lo, tc.hi)
				}
				if tc.rnd == nil && at[1] != 5*time.Second {
					t.Fatalf("second attempt at %v", at[1])
				}
			})
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now() // the bubble's fake clock
		cases := []struct {
			in   string
			want time.Duration
			ok   bool
		}{
			{"120", 2 * time.Minute, true},
			{" 30 ", 30 * time.Second, true},
			{"0", 0, true},
			{"86400", 24 * time.Hour, true},
			{"999999999999999999999999", maxRetryAfterSeconds * time.Second, true},
			{now.Add(90 * time.Minute).UTC().Format(http.TimeFormat), 90 * time.Minute, true},
			{now.Add(3 * time.Hour).UTC().Format(time.RFC850), 3 * time.Hour, true},
			{now.Add(48 * time.Hour).UTC().Format(time.ANSIC), 48 * time.Hour, true},
			{now.Add(-time.Hour).UTC().Format(http.TimeFormat), 0, true},
			{"", 0, false},
			{"-5", 0, false},
			{"1.5", 0, false},
			{"soon", 0, false},
			{"Wed, 32 Oct 2015 07:28:00 GMT", 0, false},
		}
		for _, c := range cases {
			d, ok := ParseRetryAfter(c.in, now)
			if d != c.want || ok != c.ok {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, d, ok, c.want, c.ok)
			}
		}
	})
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassifyAndMinDelay(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	clientTimeout := fmt.Errorf("Post %q: %w (Client.Timeout exceeded while awaiting headers)", "x", context.DeadlineExceeded)
	netTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	tlsErr := errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")
	cases := []struct {
		status     int
		err        error
		retryAfter time.Duration
		outcome    Outcome
		minDelay   time.Duration
	}{
		{200, nil, 0, Delivered, 0},
		{201, nil, 0, Delivered, 0},
		{204, nil, 0, Delivered, 0},
		{299, nil, 0, Delivered, 0},
		{301, nil, 0, Retry, 0},
		{302, nil, 0, Retry, 0},
		{304, nil, 0, Retry, 0},
		{400, nil, 0, Retry, 0},
		{401, nil, 0, Retry, 0},
		{404, nil, 0, Retry, 0},
		{410, nil, 0, Gone, 0},
		{429, nil, 0, Retry, time.Minute},
		{429, nil, 10 * time.Second, Retry, time.Minute},
		{429, nil, 2 * time.Hour, Retry, 2 * time.Hour},
		{429, nil, 48 * time.Hour, Retry, 24 * time.Hour},
		{500, nil, 0, Retry, 0},
		{500, nil, time.Hour, Retry, 0}, // Retry-After only counts for slow-down statuses
		{502, nil, 0, Retry, time.Minute},
		{503, nil, 5 * time.Minute, Retry, 5 * time.Minute},
		{504, nil, 0, Retry, time.Minute},
		{0, clientTimeout, 0, Retry, time.Minute},
		{0, netTimeout, 0, Retry, time.Minute},
		{0, os.ErrDeadlineExceeded, 0, Retry, time.Minute},
		{0, reset, 0, Retry, 0},
		{0, tlsErr, 0, Retry, 0},
		{0, io.EOF, 0, Retry, 0},
		{200, reset, 0, Retry, 0}, // a transport error wins over a status
	}
	for _, c := range cases {
		if o := Classify(c.status, c.err); o != c.outcome {
			t.Errorf("Classify(%d, %v) = %v, want %v", c.status, c.err, o, c.outcome)
		}
		if d := MinDelay(c.status, c.err, c.retryAfter); d != c.minDelay {
			t.Errorf("MinDelay(%d, %v, %v) = %v, want %v", c.status, c.err, c.retryAfter, d, c.minDelay)
		}
	}
	if Delivered.String() != "delivered" || Gone.String() != "gone" || Retry.String() != "retry" {
		t.Error("Outcome.String")
	}
}
