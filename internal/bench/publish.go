package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// publisher sends MessageReceived events to POST /v1/platform/events.
type publisher struct {
	url, token, ws string
	hc             *http.Client
	ledger         *Ledger
	pad            string
	createdAt      string

	accepted atomic.Int64
	refused  atomic.Int64
	mu       sync.Mutex
	firstErr string
}

// padBytes makes each delivered envelope about 1 KiB, like the ceiling's bodies.
const padBytes = 560

func newPublisher(base, token, ws string, l *Ledger, conns int) *publisher {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	tr.MaxIdleConns = conns
	return &publisher{url: base + "/v1/platform/events", token: token, ws: ws, ledger: l,
		hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}, pad: strings.Repeat("x", padBytes),
		createdAt: time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")}
}

func (p *publisher) appendEvent(b []byte, seq int) []byte {
	b = append(b, `{"workspaceId":"`...)
	b = append(b, p.ws...)
	b = append(b, `","name":"MessageReceived","data":{"id":"`+idPrefix...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, `","object":"Message","workspaceId":"`...)
	b = append(b, p.ws...)
	b = append(b, `","conversationId":"conv-`...)
	b = strconv.AppendInt(b, int64(seq%997), 10)
	b = append(b, `","communicationType":"sms","direction":"inbound","from":"+15551230000","to":["+15559870000"],"body":"Benchmark message `...)
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ' ')
	b = append(b, p.pad...)
	b = append(b, `","media":[],"contactId":null,"createdAt":"`...)
	b = append(b, p.createdAt...)
	b = append(b, `"}}`...)
	return b
}

// send publishes events [from, to) in one request (a batch when more than one, or when
// batch says so), noting each one's publish time as at (0: now).
func (p *publisher) send(ctx context.Context, from, to int, batch bool, at int64) {
	b := make([]byte, 0, (to-from)*1100+16)
	if batch {
		b = append(b, `{"events":[`...)
	}
	for seq := from; seq < to; seq++ {
		if seq > from {
			b = append(b, ',')
		}
		b = p.appendEvent(b, seq)
	}
	if batch {
		b = append(b, "]}"...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(b))
	if err != nil {
		p.fail(to-from, err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	if at == 0 {
		at = p.ledger.Since()
	}
	for seq := from; seq < to; seq++ {
		p.ledger.Published(seq, at)
	}
	res, err := p.hc.Do(req)
	if err != nil {
		p.fail(to-from, err.Error())
		return
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted && res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
		p.fail(to-from, fmt.Sprintf("HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(body))))
		return
	}
	p.accepted.Add(int64(to - from))
}

func (p *publisher) fail(n int, msg string) {
	p.refused.Add(int64(n))
	p.mu.Lock()
	if p.firstErr == "" {
		if len(msg) > 500 {
			msg = msg[:500]
		}
		p.firstErr = msg
	}
	p.mu.Unlock()
}

// burst publishes [from, to) as fast as concurrency allows, in requests of batch events.
func (p *publisher) burst(ctx context.Context, from, to, batch, concurrency int) {
	type chunk struct{ from, to int }
	ch := make(chan chunk)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for c := range ch {
				p.send(ctx, c.from, c.to, batch > 1, 0)
			}
		})
	}
	for i := from; i < to && ctx.Err() == nil; i += batch {
		ch <- chunk{i, min(i+batch, to)}
	}
	close(ch)
	wg.Wait()
}

// steady publishes [from, to) one event per request at rate events/s, with at most
// concurrency requests in flight. Each event's publish time is when it was due, so a
// publisher that falls behind shows up in the latency instead of hiding it.
func (p *publisher) steady(ctx context.Context, from, to, rate, concurrency int) {
	type due struct {
		seq int
		at  int64
	}
	ch := make(chan due, to-from)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for d := range ch {
				p.send(ctx, d.seq, d.seq+1, false, d.at)
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	start := p.ledger.Since()
	for i := from; i < to && ctx.Err() == nil; i++ {
		at := start + int64(i-from)*int64(interval)
		if wait := time.Duration(at - p.ledger.Since()); wait > 0 {
			time.Sleep(wait)
		}
		ch <- due{i, at}
	}
	close(ch)
	wg.Wait()
}
