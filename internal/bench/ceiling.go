package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// Ceiling is the bare loop: signed 1 KiB POSTs to the same receiver, with the same
// concurrency, and nothing else (no database, no queue).
type Ceiling struct {
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	PerSec      float64 `json:"perSec"`
	Concurrency int     `json:"concurrency"`
}

// runCeiling POSTs for d with concurrency workers, each request signed with Sign exactly as
// a delivery is (Standard Webhooks headers and X-MessageDesk-Signature).
func runCeiling(ctx context.Context, rc *Receiver, secret webhook.Secret, concurrency int, d time.Duration) Ceiling {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost, tr.MaxIdleConns = concurrency, concurrency
	hc := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	defer tr.CloseIdleConnections()
	body := append([]byte(nil), `{"id":"ceiling","object":"Event","name":"MessageReceived","data":{"body":"`...)
	body = append(body, strings.Repeat("x", 1024-len(body)-3)...)
	body = append(body, `"}}`...) // 1024 bytes
	url := rc.URL + "/ceiling"
	before := rc.ceiling.Load()
	var errs atomic.Int64
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	var n atomic.Int64
	for range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := n.Add(1)
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					errs.Add(1)
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "relaydesk-bench")
				webhook.Sign(req.Header, "ceiling-"+strconv.FormatInt(i, 10), time.Now(), body, secret)
				res, err := hc.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode/100 != 2 {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	done := rc.ceiling.Load() - before
	return Ceiling{Requests: done, Errors: errs.Load(), Seconds: el.Seconds(), PerSec: float64(done) / el.Seconds(), Concurrency: concurrency}
}
