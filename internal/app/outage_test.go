package app_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/api"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/internal/testkit"
)

// outageAnswer is one request made around an outage.
type outageAnswer struct {
	key        string // Idempotency-Key of a publish ("" for other requests)
	status     int
	retryAfter string
	ctype      string
	problem    string // problem type
	id         string // event id of a 202
	err        error  // transport error
}

// do sends one request with a deadline (a request that hangs during an outage is a
// finding, not a stuck test).
func outageDo(c *http.Client, base, bearer, method, path string, body any, headers ...string) outageAnswer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return outageAnswer{err: err}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var p struct{ Type, ID string }
	_ = json.Unmarshal(b, &p)
	return outageAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), ctype: res.Header.Get("Content-Type"), problem: p.Type, id: p.ID}
}

// unavailableOK reports how a would-be 503 differs from the documented answer.
func unavailableOK(a outageAnswer) string {
	switch {
	case a.err != nil:
		return a.err.Error()
	case a.status != http.StatusServiceUnavailable:
		return fmt.Sprintf("status %d", a.status)
	case a.retryAfter == "":
		return "no Retry-After"
	case a.ctype != "application/problem+json" || a.problem != api.DatabaseUnavailableType:
		return fmt.Sprintf("content type %q, problem type %q", a.ctype, a.problem)
	}
	return ""
}

// TestDatabaseOutage cuts PostgreSQL away from a running relaydesk three times (a TCP proxy
// on loopback in front of the shared server: the server itself is never stopped) while a
// producer publishes without pause. While the database is gone /readyz fails and every
// request that needs it answers 503 with Retry-After and problem+json — never a 500, never
// a 2xx for an event that was not stored; when it is back everything works again without a
// restart, and the ledger balances: every key answered 202 is stored once, every key
// answered 503 is stored once after a retry. Goroutines and database connections are
// counted before and after. Request side only (role api): the delivery workers' outage
// behaviour is the delivery engine's.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("outage test: several seconds")
	}
	dbURL := storetest.MigratedURL(t)
	proxy, proxied := storetest.NewProxy(t, dbURL)
	env := apptest.SQLite(t, func(c *app.Config) {
		c.DatabaseURL = proxied
		c.MasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
		c.Role = "api"
		c.RateLimit, c.IPRateLimit = 0, 0
	})
	ws := env.NewWorkspace("Outage")
	producer := env.PlatformToken()
	var ep struct{ ID string }
	mustDo(t, ws.Admin, 201, "POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook"}).JSON(t, &ep)
	mustDo(t, ws.Admin, 201, "POST", "/v1/signing-secret", nil)
	var rl struct{ ID string }
	mustDo(t, ws.Admin, 201, "POST", "/v1/relays/from-template", map[string]any{"templateId": "all-inbound", "endpointId": ep.ID}).JSON(t, &rl)
	mustDo(t, ws.Admin, 200, "POST", "/v1/relays/"+rl.ID+"/enable", nil)
	var key struct{ Key string }
	mustDo(t, ws.Admin, 201, "POST", "/v1/api-keys", map[string]any{"name": "outage"}).JSON(t, &key)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	base := env.URL()
	publish := func(k string) outageAnswer {
		a := outageDo(client, base, producer.Bearer, "POST", "/v1/platform/events",
			map[string]any{"workspaceId": ws.ID, "name": "MessageReceived", "data": testkit.Message(ws.ID)}, "Idempotency-Key", k)
		a.key = k
		return a
	}
	for i := range 5 {
		if a := publish(fmt.Sprintf("warm-%d", i)); a.status != 202 {
			t.Fatalf("warm-up publish: %+v", a)
		}
	}
	if a := outageDo(client, base, "", "GET", "/readyz", nil); a.status != 200 {
		t.Fatalf("readyz before: %+v", a)
	}

	adminDB := openAdmin(t)
	dbName := strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
	pgConns := func() int {
		var n int
		if err := adminDB.QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1`, dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// relaydesk's goroutines: the proxy's own two per connection are not counted.
	settle := func() int {
		client.CloseIdleConnections()
		env.Server.CloseClientConnections()
		time.Sleep(300 * time.Millisecond)
		return runtime.NumGoroutine() - 2*proxy.Open()
	}
	g0, c0 := settle(), pgConns()

	var (
		mu      sync.Mutex
		answers []outageAnswer
	)
	record := func(a outageAnswer) {
		mu.Lock()
		answers = append(answers, a)
		mu.Unlock()
	}
	var recoveries []time.Duration
	goroutinesAfter := []int{}
	for cycle := range 3 {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					a := publish(fmt.Sprintf("c%d-w%d-%d", cycle, w, n))
					record(a)
					if a.status == http.StatusServiceUnavailable {
						time.Sleep(50 * time.Millisecond) // a producer backs off (Retry-After, shortened)
					}
				}
			})
		}
		time.Sleep(300 * time.Millisecond)
		proxy.Cut()
		cutAt := time.Now()

		// While it is gone: readiness fails, and writes by every kind of caller are 503.
		time.Sleep(200 * time.Millisecond)
		if a := outageDo(client, base, "", "GET", "/readyz", nil); a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("cycle %d: /readyz during the outage: %+v", cycle, a)
		}
		for _, w := range []struct {
			what, bearer, method, path string
			body                       any
		}{
			{"API key: add an endpoint", key.Key, "POST", "/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/other"}},
			{"API key: change an endpoint", key.Key, "PATCH", "/v1/endpoints/" + ep.ID, map[string]any{"description": "x"}},
			{"API key: disable a relay", key.Key, "POST", "/v1/relays/" + rl.ID + "/disable", nil},
			{"API key: list endpoints", key.Key, "GET", "/v1/endpoints", nil},
			{"platform: create a workspace", producer.Bearer, "POST", "/v1/platform/workspaces", map[string]any{"name": "During", "adminEmail": "during@outage.test"}},
			{"anonymous: sign in", "", "POST", "/v1/sessions", map[string]any{"email": "outage-admin@example.test", "password": "correct horse battery"}},
		} {
			a := outageDo(client, base, w.bearer, w.method, w.path, w.body)
			if diff := unavailableOK(a); diff != "" {
				t.Errorf("cycle %d: %s (%s %s) during the outage: %s", cycle, w.what, w.method, w.path, diff)
			}
		}
		time.Sleep(time.Second)
		proxy.Restore()
		restoredAt := time.Now()
		t.Logf("cycle %d: database cut for %s", cycle, restoredAt.Sub(cutAt).Round(time.Millisecond))

		// Back: ready and accepting again within seconds, without a restart.
		deadline := restoredAt.Add(15 * time.Second)
		for {
			r := outageDo(client, base, "", "GET", "/readyz", nil)
			p := publish(fmt.Sprintf("c%d-probe-%d", cycle, time.Now().UnixNano()))
			record(p)
			if r.status == 200 && p.status == 202 {
				recoveries = append(recoveries, time.Since(restoredAt))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cycle %d: not recovered 15 s after the database came back: readyz %+v, publish %+v", cycle, r, p)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		close(stop)
		wg.Wait()
		goroutinesAfter = append(goroutinesAfter, settle())
	}

	// The ledger.
	counts := map[int]int{}
	var retry []string
	accepted := map[string]string{} // key → event id
	for _, a := range answers {
		switch {
		case a.err != nil:
			t.Errorf("publish %s: transport error %v", a.key, a.err)
		case a.status == 202:
			accepted[a.key] = a.id
		case a.status == 503:
			if diff := unavailableOK(a); diff != "" {
				t.Errorf("publish %s: 503 but %s", a.key, diff)
			}
			retry = append(retry, a.key)
		default:
			t.Errorf("publish %s: %d (want 202 or 503 only)", a.key, a.status)
		}
		counts[a.status]++
	}
	if counts[503] == 0 || counts[202] < 10 {
		t.Fatalf("answers %v: the outage was not observed", counts)
	}
	// The producer retries what was refused (4 at a time).
	retried := make([]outageAnswer, len(retry))
	var rwg sync.WaitGroup
	for w := range 4 {
		rwg.Go(func() {
			for i := w; i < len(retry); i += 4 {
				retried[i] = publish(retry[i])
			}
		})
	}
	rwg.Wait()
	for _, a := range retried {
		if a.status != 202 {
			t.Errorf("retry of %s after the outage: %+v", a.key, a)
		} else if id, ok := accepted[a.key]; ok && id != a.id {
			t.Errorf("retry of %s: a second event %s (first %s)", a.key, a.id, id)
		} else {
			accepted[a.key] = a.id
		}
	}
	var stored, distinct int
	if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM events WHERE workspace_id = ?`, ws.ID).Scan(&stored, &distinct); err != nil {
		t.Fatal(err)
	}
	want := len(accepted) + 5 // + the warm-up events
	if stored != want || distinct != want {
		t.Errorf("events stored %d (distinct keys %d), want %d: one per key answered 202", stored, distinct, want)
	}
	for k, id := range accepted {
		var n int
		if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM events WHERE id = ? AND idempotency_key = ?`, id, k).Scan(&n); err != nil || n != 1 {
			t.Errorf("event %s (key %s) answered 202 but stored %d times (%v)", id, k, n, err)
		}
	}

	// No leak: goroutines settle back to where they were, database connections stay
	// within the two pools.
	deadline := time.Now().Add(10 * time.Second)
	g := settle()
	for g > g0+5 && time.Now().Before(deadline) {
		g = settle()
	}
	c := pgConns()
	t.Logf("answers %v over 3 cuts, %d refused publishes retried; recovered %v after the database came back; relaydesk goroutines %d before, %v after each cycle, %d at the end; PostgreSQL connections %d before, %d after (%d open through the proxy, %d accepted in all); log: %d handler 503s, %d authentication 503s",
		counts, len(retry), recoveries, g0, goroutinesAfter, g, c0, c, proxy.Open(), proxy.Accepted(),
		strings.Count(env.Logs.String(), `"msg":"database unavailable"`), strings.Count(env.Logs.String(), `"msg":"authenticate: database unavailable"`))
	if g > g0+5 {
		t.Errorf("goroutines: %d before the outages, %d after (leak?)", g0, g)
	}
	if c > 24+8 || proxy.Open() > 24+8 {
		t.Errorf("PostgreSQL connections after the outages: %d (proxy %d), want at most the pools' 32", c, proxy.Open())
	}
	if strings.Contains(env.Logs.String(), `"status":500`) {
		t.Errorf("a 500 was logged")
	}
}

func openAdmin(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
