package chaos_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// plan is the size of a run.
type plan struct {
	Events     int
	Kills      int
	PGRestarts int // PostgreSQL variant only, and only as root
	Outages    int // PostgreSQL stopped for OutageFor while relaydesk runs (as root only)
	OutageFor  time.Duration
	Publishers int
	Timeout    time.Duration // RELAYDESK_DELIVERY_TIMEOUT of the server
	Drain      time.Duration // how long, after the stream, every accepted event may take to arrive
	Full       bool
}

func planFromEnv(t *testing.T) plan {
	p := plan{Events: 1000, Kills: 2, Publishers: 8, OutageFor: 30 * time.Second, Timeout: 2 * time.Second, Drain: 90 * time.Second}
	if os.Getenv("RELAYDESK_CHAOS") == "full" {
		p = plan{Events: 20000, Kills: 12, PGRestarts: 2, Outages: 1, OutageFor: 30 * time.Second, Publishers: 16, Timeout: 2 * time.Second, Drain: 10 * time.Minute, Full: true}
	}
	for name, dst := range map[string]*int{"RELAYDESK_CHAOS_EVENTS": &p.Events, "RELAYDESK_CHAOS_KILLS": &p.Kills, "RELAYDESK_CHAOS_PG_RESTARTS": &p.PGRestarts, "RELAYDESK_CHAOS_OUTAGES": &p.Outages} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				t.Fatalf("%s=%q: want a count", name, v)
			}
			*dst = n
		}
	}
	return p
}

func TestMain(m *testing.M) { testkit.Main(m) }

func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run: builds and kills the relaydesk binary")
	}
	p := planFromEnv(t)
	bin := testkit.Binary(t)
	t.Run("sqlite", func(t *testing.T) {
		run(t, bin, p, nil, false)
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresURL(t)
		env := []string{"RELAYDESK_DATABASE_URL=" + url, "RELAYDESK_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
		run(t, bin, p, env, true)
	})
}

// ---- the relaydesk subprocess ----

type server struct {
	bin, addr, dir, logPath string
	env                     []string
	mu                      sync.Mutex
	cmd                     *exec.Cmd
	exited                  chan struct{}
}

func (s *server) environ() []string {
	return append(append(os.Environ(),
		"RELAYDESK_DATA_DIR="+filepath.Join(s.dir, "data"),
		"RELAYDESK_ADDR="+s.addr,
		"RELAYDESK_ALLOW_PRIVATE_ENDPOINTS=true",
		"RELAYDESK_RATE_LIMIT=0",
		"RELAYDESK_IP_RATE_LIMIT=0",
		"RELAYDESK_LOG_LEVEL=warn",
	), s.env...)
}

// cli runs a relaydesk command to completion and returns its standard output.
func (s *server) cli(stdin string, args ...string) (string, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.environ()
	cmd.Dir = s.dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("relaydesk %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// start runs `relaydesk serve` and waits until /readyz answers 200.
func (s *server) start() error {
	f, err := os.OpenFile(s.logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "---- start %s ----\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(s.bin, "serve")
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = s.environ(), s.dir, f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("relaydesk serve exited at start:\n%s", s.tail())
		default:
		}
		res, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("relaydesk serve not ready after 60 s:\n%s", s.tail())
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

func (s *server) tail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// ---- the receiver ----

// receiver answers like an unreliable webhook consumer until calm is set.
type receiver struct {
	verifier atomic.Pointer[webhook.Verifier]
	timeout  time.Duration
	calm     atomic.Bool

	mu  sync.Mutex
	got map[string]int // webhook-id → 2xx answers

	requests, fails, hangs, resets, badSig atomic.Int64
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if v := rc.verifier.Load(); v == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	} else if _, err := v.Verify(r.Header, body); err != nil {
		rc.badSig.Add(1)
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	if !rc.calm.Load() {
		switch x := rand.Float64(); {
		case x < 0.06:
			rc.fails.Add(1)
			http.Error(w, "chaos: 500", http.StatusInternalServerError)
			return
		case x < 0.09:
			// Hang past the sender's timeout; if it is somehow still there, say no.
			rc.hangs.Add(1)
			select {
			case <-r.Context().Done():
			case <-time.After(rc.timeout + 2*time.Second):
			}
			http.Error(w, "chaos: too late", http.StatusServiceUnavailable)
			return
		case x < 0.12:
			rc.resets.Add(1)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST instead of FIN
				}
				conn.Close()
			}
			return
		}
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.got[id]++
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) snapshot() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return copyMap(rc.got)
}

func copyMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ---- a small API client ----

type client struct {
	base, cookie, bearer string
	http                 *http.Client
}

func (c *client) do(method, path string, body any, headers ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if c.cookie == "" {
		for _, ck := range res.Cookies() {
			if ck.Name == "relaydesk_session" && ck.Value != "" {
				c.cookie = ck.Name + "=" + ck.Value
			}
		}
	}
	return res.StatusCode, b, err
}

// must is do for setup steps: it retries while the server restarts and wants want.
func (c *client) must(t *testing.T, want int, method, path string, body any, out any) {
	t.Helper()
	var code int
	var b []byte
	var err error
	for range 50 {
		code, b, err = c.do(method, path, body)
		if err == nil && code < 500 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || code != want {
		t.Fatalf("%s %s = %d %v: %s", method, path, code, err, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// eventIDs reads the ids of a 202 from the producer API (one event or a batch).
func eventIDs(b []byte) []string {
	var one struct {
		ID      string   `json:"id"`
		EventID string   `json:"eventId"`
		IDs     []string `json:"ids"`
		Events  []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	if json.Unmarshal(b, &one) != nil {
		return nil
	}
	var ids []string
	for _, s := range append([]string{one.ID, one.EventID}, one.IDs...) {
		if s != "" {
			ids = append(ids, s)
		}
	}
	for _, e := range one.Events {
		if e.ID != "" {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// ---- the run ----

type outcome struct {
	accepted        map[string]int // event id → logical event number
	publishRetries  atomic.Int64
	gaveUp          atomic.Int64
	kills, restarts atomic.Int64
	pgRestarts      atomic.Int64
	outages         atomic.Int64
	outageErrs      map[string]int // what failed publishes saw while PostgreSQL was stopped
	inOutage        atomic.Bool
	manualRetries   atomic.Int64
	mu              sync.Mutex
	publishErrs     map[string]int // what failed publishes saw (status and problem, or the transport error)
	fatal           error
}

func (o *outcome) fail(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fatal == nil {
		o.fatal = err
	}
}

func (o *outcome) failed() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fatal
}

func (o *outcome) acceptedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.accepted)
}

func run(t *testing.T, bin string, p plan, extraEnv []string, postgres bool) {
	started := time.Now()
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	srv := &server{bin: bin, addr: addr, dir: dir, logPath: filepath.Join(dir, "serve.log"), env: append([]string{
		"RELAYDESK_DELIVERY_TIMEOUT=" + p.Timeout.String(), "RELAYDESK_WORKERS=50"}, extraEnv...)}

	rc := &receiver{timeout: p.Timeout, got: map[string]int{}}
	rcv := httptest.NewServer(rc)
	t.Cleanup(rcv.Close)

	// Workspace and producer token through the CLI, before the first start.
	out, err := srv.cli("correct horse battery\n", "init", "--workspace", "Chaos", "--email", "chaos@example.test", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	wsID := ""
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "workspace_id="); ok {
			wsID = strings.TrimSpace(v)
		}
	}
	token, err := srv.cli("", "platform-token", "create", "chaos producer")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	if wsID == "" || token == "" {
		t.Fatalf("init/platform-token gave workspace %q, token %q", wsID, token)
	}

	if err := srv.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.kill)
	base := "http://" + addr
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	// Sign in, add the endpoint, generate the secret, create the all-inbound relay, enable it.
	admin := &client{base: base, http: hc}
	admin.must(t, http.StatusCreated, "POST", "/v1/sessions", map[string]string{"email": "chaos@example.test", "password": "correct horse battery"}, nil)
	var ep struct{ ID string }
	admin.must(t, http.StatusCreated, "POST", "/v1/endpoints", map[string]any{"url": rcv.URL + "/hook", "description": "chaos receiver"}, &ep)
	var sec struct{ Secret string }
	admin.must(t, http.StatusCreated, "POST", "/v1/signing-secret", nil, &sec)
	secret, err := webhook.ParseSecret(sec.Secret)
	if err != nil {
		t.Fatalf("signing secret %q: %v", sec.Secret, err)
	}
	rc.verifier.Store(webhook.NewVerifier(secret))
	var rl struct{ ID string }
	admin.must(t, http.StatusCreated, "POST", "/v1/relays/from-template", map[string]string{"templateId": "all-inbound", "endpointId": ep.ID}, &rl)
	admin.must(t, http.StatusOK, "POST", "/v1/relays/"+rl.ID+"/enable", nil, nil)

	producer := &client{base: base, bearer: token, http: hc}
	res := &outcome{accepted: map[string]int{}, publishErrs: map[string]int{}, outageErrs: map[string]int{}}
	data := testkit.MessageJSON(wsID)

	// Publishers: each logical event is published until a 202, with the same
	// Idempotency-Key on every try (the producer's side of "at least once").
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	work := make(chan int)
	var pubs sync.WaitGroup
	for range p.Publishers {
		pubs.Go(func() {
			for i := range work {
				publish(producer, res, wsID, data, runID, i)
			}
		})
	}
	// The killer: SIGKILL at random points of the stream, then restart after a random pause.
	killAt := thresholds(p.Kills, p.Events)
	pgAt, outAt := []int{}, []int{}
	if postgres && p.PGRestarts+p.Outages > 0 {
		if os.Geteuid() != 0 {
			t.Logf("not root: skipping the %d PostgreSQL restarts and %d outages", p.PGRestarts, p.Outages)
		} else {
			pgAt = thresholds(p.PGRestarts, p.Events)
			// Outages in the middle of the stream, away from the restarts' thresholds.
			for i := range p.Outages {
				outAt = append(outAt, p.Events*(2*i+1)/(2*p.Outages)+p.Events/20)
			}
		}
	}
	streamDone := make(chan struct{})
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for len(killAt) > 0 || len(pgAt) > 0 || len(outAt) > 0 {
			n := res.acceptedCount()
			select {
			case <-streamDone:
				n = p.Events // the stream ended: do the rest now
			default:
			}
			if res.failed() != nil {
				return
			}
			switch {
			case len(killAt) > 0 && n >= killAt[0]:
				killAt = killAt[1:]
				time.Sleep(rand.N(300 * time.Millisecond))
				srv.kill()
				res.kills.Add(1)
				time.Sleep(rand.N(time.Second))
				if err := srv.start(); err != nil {
					res.fail(fmt.Errorf("restart after kill: %w", err))
					return
				}
				res.restarts.Add(1)
			case len(pgAt) > 0 && n >= pgAt[0]:
				pgAt = pgAt[1:]
				if err := restartPostgres(); err != nil {
					res.fail(err)
					return
				}
				res.pgRestarts.Add(1)
			case len(outAt) > 0 && n >= outAt[0]:
				outAt = outAt[1:]
				srv.mu.Lock()
				exited := srv.exited
				srv.mu.Unlock()
				res.inOutage.Store(true)
				err := postgresOutage(p.OutageFor)
				res.inOutage.Store(false)
				if err != nil {
					res.fail(err)
					return
				}
				select {
				case <-exited:
					res.fail(fmt.Errorf("relaydesk exited during the PostgreSQL outage:\n%s", srv.tail()))
					return
				default:
				}
				res.outages.Add(1)
			default:
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	for i := range p.Events {
		if res.failed() != nil {
			break
		}
		work <- i
	}
	close(work)
	pubs.Wait()
	close(streamDone)
	<-killerDone
	if err := res.failed(); err != nil {
		t.Fatalf("%v\nserver log tail:\n%s", err, srv.tail())
	}
	streamed := time.Since(started)

	// Drain: the receiver behaves now. Natural retries come within seconds; those the
	// schedule put a minute or more away (after a hang: 60 s floor; after a second failure:
	// 5 min) are retried by hand through POST /v1/deliveries/{id}/retry.
	rc.calm.Store(true)
	drainStart := time.Now()
	lastSweep := time.Now()
	firstPending := -1
	missing := res.missing(rc.snapshot())
	for len(missing) > 0 && time.Since(drainStart) < p.Drain {
		time.Sleep(500 * time.Millisecond)
		if time.Since(lastSweep) > 6*time.Second {
			lastSweep = time.Now()
			counts := stateCounts(admin)
			if firstPending < 0 {
				firstPending = counts["pending"]
			}
			t.Logf("drain %s: %d missing; not succeeded: %v", time.Since(drainStart).Round(time.Second), len(missing), counts)
			retryStuck(t, admin, res)
		}
		missing = res.missing(rc.snapshot())
	}
	drained := time.Since(drainStart)

	// The ledger.
	got := rc.snapshot()
	accepted := res.acceptedIDs()
	delivered, dups, stray := 0, 0, 0
	for _, id := range accepted {
		if n := got[id]; n > 0 {
			delivered++
			dups += n - 1
		}
	}
	for id := range got {
		if _, ok := res.accepted[id]; !ok {
			stray++ // delivered, but its publish never got a 202 (it gave up)
		}
	}
	dupPct := 0.0
	if delivered > 0 {
		dupPct = 100 * float64(dups) / float64(delivered)
	}
	store := "sqlite"
	if postgres {
		store = "postgres"
	}
	balanced := len(accepted) == delivered+len(missing) && len(missing) == 0
	summary := fmt.Sprintf("chaos %s: events=%d accepted=%d kills=%d restarts=%d pg_restarts=%d outages=%d delivered=%d duplicates=%d (%.2f%%) missing=%d ledger=%s "+
		"[pending 6 s into the drain=%d; receiver: requests=%d 500s=%d hangs=%d resets=%d bad_signatures=%d; publish retries=%d gave_up=%d stray=%d; manual retries=%d; stream %s, drain %s]",
		store, p.Events, len(accepted), res.kills.Load(), res.restarts.Load(), res.pgRestarts.Load(), res.outages.Load(), delivered, dups, dupPct, len(missing),
		map[bool]string{true: fmt.Sprintf("balanced(accepted %d == delivered %d + missing %d)", len(accepted), delivered, len(missing)), false: "UNBALANCED"}[balanced],
		max(firstPending, 0), rc.requests.Load(), rc.fails.Load(), rc.hangs.Load(), rc.resets.Load(), rc.badSig.Load(),
		res.publishRetries.Load(), res.gaveUp.Load(), stray, res.manualRetries.Load(), streamed.Round(time.Millisecond), drained.Round(time.Millisecond))
	t.Log(summary)
	t.Logf("failed publish attempts by cause: %v", res.publishErrs)
	if res.outages.Load() > 0 {
		t.Logf("during the outage: %v", res.outageErrs)
		for why, n := range res.outageErrs {
			// While the database is away a publish is refused with 503 (and Retry-After);
			// any other 5xx, or a 2xx for an event that was not stored, is a failure.
			if len(why) >= 3 && why[0] == '5' && !strings.HasPrefix(why, "503") {
				t.Errorf("%d publishes answered %q during the outage; want 503", n, why)
			}
		}
	}
	fmt.Println(summary) // visible without -v: the figure the run exists for

	if len(accepted) != p.Events-int(res.gaveUp.Load()) {
		t.Errorf("accepted %d of %d events (gave up on %d)", len(accepted), p.Events, res.gaveUp.Load())
	}
	if res.gaveUp.Load() > 0 {
		t.Errorf("the producer gave up on %d events (publish kept failing)", res.gaveUp.Load())
	}
	if len(missing) > 0 {
		show := missing[:min(len(missing), 10)]
		t.Errorf("%d accepted events were never delivered with a 2xx, e.g. %v\nserver log tail:\n%s", len(missing), show, srv.tail())
	}
	if rc.badSig.Load() > 0 {
		t.Errorf("%d requests carried a bad signature", rc.badSig.Load())
	}
	if res.kills.Load() != int64(p.Kills) || res.restarts.Load() != int64(p.Kills) {
		t.Errorf("kills=%d restarts=%d, want %d", res.kills.Load(), res.restarts.Load(), p.Kills)
	}
	// Duplicates come from interruptions: a killed process's attempts that were answered but
	// not yet recorded are made again (at-least-once), and so can those in flight across a
	// database restart or outage. Each interruption can duplicate at most what one process
	// holds (4 × RELAYDESK_WORKERS = 200); more would mean something else repeats attempts.
	interruptions := res.kills.Load() + res.pgRestarts.Load() + res.outages.Load()
	perInterruption := 0.0
	if interruptions > 0 {
		perInterruption = float64(dups) / float64(interruptions)
	}
	t.Logf("duplicates per interruption (kill, PostgreSQL restart or outage): %.1f over %d", perInterruption, interruptions)
	if bound := int(interruptions) * 4 * 50; dups > bound {
		t.Errorf("%d duplicates after %d interruptions: more than the %d the held deliveries allow", dups, interruptions, bound)
	}
}

// publish sends logical event i until the producer API accepts it.
func publish(c *client, res *outcome, wsID string, data json.RawMessage, runID string, i int) {
	key := fmt.Sprintf("chaos-%s-%d", runID, i)
	body := map[string]any{"workspaceId": wsID, "name": event.MessageReceived, "data": withBody(data, fmt.Sprintf("chaos %s #%d", runID, i))}
	deadline := time.Now().Add(3 * time.Minute)
	for try := 0; ; try++ {
		code, b, err := c.do("POST", "/v1/platform/events", body, "Idempotency-Key", key)
		switch {
		case err == nil && code == http.StatusAccepted:
			ids := eventIDs(b)
			if len(ids) != 1 {
				res.fail(fmt.Errorf("202 without one event id: %s", b))
				return
			}
			res.mu.Lock()
			if prev, dup := res.accepted[ids[0]]; dup && prev != i {
				res.mu.Unlock()
				res.fail(fmt.Errorf("events %d and %d got the same id %s", prev, i, ids[0]))
				return
			}
			res.accepted[ids[0]] = i
			res.mu.Unlock()
			return
		case err == nil && code < 500 && code != http.StatusTooManyRequests:
			res.fail(fmt.Errorf("publish event %d: %d %s", i, code, b))
			return
		}
		why := fmt.Sprint(err)
		if err == nil {
			why = fmt.Sprintf("%d %.120s", code, b)
		} else if strings.Contains(why, "connection refused") {
			why = "connection refused"
		} else if strings.Contains(why, "EOF") || strings.Contains(why, "reset") {
			why = "connection lost"
		}
		res.mu.Lock()
		res.publishErrs[why]++
		if res.inOutage.Load() {
			res.outageErrs[why]++
		}
		res.mu.Unlock()
		if time.Now().After(deadline) {
			res.gaveUp.Add(1)
			return
		}
		res.publishRetries.Add(1)
		time.Sleep(time.Duration(min(try+1, 10)) * 30 * time.Millisecond)
	}
}

func (o *outcome) acceptedIDs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := make([]string, 0, len(o.accepted))
	for id := range o.accepted {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (o *outcome) missing(got map[string]int) []string {
	var out []string
	for _, id := range o.acceptedIDs() {
		if got[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// retryStuck asks for one more attempt, now, of every delivery waiting for a retry.
func retryStuck(t *testing.T, admin *client, res *outcome) {
	// Pending and delivering deliveries are never retried by hand: a killed process's are
	// due again when their lease ends (8 s), and the drain must show they are.
	for _, state := range []string{"retrying", "failed"} {
		cursor := ""
		for {
			path := "/v1/deliveries?limit=100&status=" + state
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			code, b, err := admin.do("GET", path, nil)
			if err != nil || code != 200 {
				t.Logf("list %s deliveries: %d %v %s", state, code, err, b)
				return
			}
			var page struct {
				Deliveries []struct{ ID string }
				NextCursor string
			}
			if err := json.Unmarshal(b, &page); err != nil {
				t.Logf("list deliveries: %v", err)
				return
			}
			for _, d := range page.Deliveries {
				if code, _, err := admin.do("POST", "/v1/deliveries/"+d.ID+"/retry", nil); err == nil && code == http.StatusAccepted {
					res.manualRetries.Add(1)
				}
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
}

// stateCounts counts the deliveries in each state but succeeded (for the drain log).
func stateCounts(admin *client) map[string]int {
	out := map[string]int{}
	for _, state := range []string{"pending", "delivering", "retrying", "failed", "cancelled", "skipped"} {
		cursor := ""
		for {
			path := "/v1/deliveries?limit=100&status=" + state
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			code, b, err := admin.do("GET", path, nil)
			if err != nil || code != 200 {
				out[state] = -1
				break
			}
			var page struct {
				Deliveries []struct{ ID string }
				NextCursor string
			}
			_ = json.Unmarshal(b, &page)
			out[state] += len(page.Deliveries)
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	return out
}

// thresholds returns n sorted random points of a stream of total events, away from both ends.
func thresholds(n, total int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = total/20 + rand.N(max(total*9/10, 1))
	}
	slices.Sort(out)
	return out
}

// postgresOutage stops the local cluster for d, then starts it again (full run, as root).
func postgresOutage(d time.Duration) error {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		return fmt.Errorf("no /etc/postgresql cluster to stop: %v", err)
	}
	v := versions[0].Name()
	if out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "stop", "-m", "fast").CombinedOutput(); err != nil {
		return fmt.Errorf("stop PostgreSQL: %v: %s", err, out)
	}
	time.Sleep(d)
	if out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "start").CombinedOutput(); err != nil {
		return fmt.Errorf("start PostgreSQL: %v: %s", err, out)
	}
	return nil
}

// restartPostgres restarts the local cluster (full run, as root only).
func restartPostgres() error {
	versions, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(versions) == 0 {
		return fmt.Errorf("no /etc/postgresql cluster to restart: %v", err)
	}
	out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", versions[0].Name(), "main", "restart").CombinedOutput()
	if err != nil {
		return fmt.Errorf("restart PostgreSQL: %v: %s", err, out)
	}
	return nil
}

func withBody(data json.RawMessage, body string) json.RawMessage {
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	m["body"] = body
	b, _ := json.Marshal(m)
	return b
}
