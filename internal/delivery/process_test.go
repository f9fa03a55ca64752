package delivery_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

const testMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 test bytes

func TestMain(m *testing.M) { testkit.Main(m) }

// relaydeskBin builds cmd/relaydesk once per test binary.
func relaydeskBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs relaydesk processes")
	}
	return testkit.Binary(t)
}

// fixture is a database with a workspace, its signing secret and one endpoint.
type fixture struct {
	db        *store.DB
	ws, ep    string
	svc       *delivery.Service
	recv      *testkit.Receiver
	dbURL     string
	dataDir   string
	processes []*process
}

func newFixture(t *testing.T, engine string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dataDir: t.TempDir()}
	if engine == "postgres" {
		f.dbURL = storetest.MigratedURL(t)
	}
	db, err := store.Open(ctx, f.dbURL, f.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	f.db = db
	f.ws = store.NewID()
	if _, err := db.Exec(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES (?, 'Acme', 0)`, f.ws); err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	policy := egress.Policy{AllowPrivate: true}
	eps, err := endpoint.New(db, key, policy, &delivery.Sender{Client: policy.Client(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := eps.GenerateSecret(ctx, f.ws)
	if err != nil {
		t.Fatal(err)
	}
	// The receiver counts deliveries by id and checks every signature.
	f.recv = testkit.NewReceiver(t).Verify(webhook.NewVerifier(secret)).Reply(http.StatusNoContent, "")
	t.Cleanup(func() {
		for _, r := range f.recv.Requests() {
			if r.Err != nil {
				t.Errorf("signature: %v", r.Err)
			}
		}
	})
	ep, err := eps.Create(ctx, f.ws, endpoint.Input{URL: f.recv.URL + "/hook", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	f.ep = ep.ID
	if f.svc, err = delivery.New(delivery.Options{DB: db, Targets: eps}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range f.processes {
			p.stop()
		}
	})
	return f
}

// publish stores n events for the endpoint, 100 per transaction.
func (f *fixture) publish(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	for done := 0; done < n; {
		err := f.db.InTx(ctx, func(tx *store.Tx) error {
			for i := 0; i < 100 && done+i < n; i++ {
				body := fmt.Appendf(nil, `{"n":%d}`, done+i)
				if _, err := f.svc.Publish(ctx, tx, delivery.Event{WorkspaceID: f.ws, Name: "TestEvent", DataType: "Test", Body: body}, []string{f.ep}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		done += 100
	}
}

type process struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// start runs `relaydesk serve` on the fixture's database.
func (f *fixture) start(t *testing.T, extraEnv ...string) *process {
	t.Helper()
	cmd := exec.Command(relaydeskBin(t), "serve", "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(),
		"RELAYDESK_DATABASE_URL="+f.dbURL, "RELAYDESK_DATA_DIR="+f.dataDir, "RELAYDESK_MASTER_KEY="+testMasterKey,
		"RELAYDESK_ALLOW_PRIVATE_ENDPOINTS=true", "RELAYDESK_LOG_LEVEL=info")
	cmd.Env = append(cmd.Env, extraEnv...)
	p := &process{cmd: cmd, logs: &bytes.Buffer{}, done: make(chan struct{})}
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, p.logs}
	cmd.Stderr = lockedWriter{&mu, p.logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	f.processes = append(f.processes, p)
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Logf("relaydesk pid %d logs:\n%s", cmd.Process.Pid, tail(p.logs.String(), 4000))
			mu.Unlock()
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// waitSucceeded waits until n deliveries succeeded.
func (f *fixture) waitSucceeded(t *testing.T, n int, within time.Duration) {
	t.Helper()
	var got int
	succeeded := func() bool {
		if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE state = 'succeeded'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got == n
	}
	if testkit.Until(within, succeeded) {
		return
	}
	rows, _ := f.db.Query(context.Background(), `SELECT state, COUNT(*) FROM deliveries GROUP BY state`)
	var states []string
	for rows != nil && rows.Next() {
		var s string
		var c int
		_ = rows.Scan(&s, &c)
		states = append(states, fmt.Sprintf("%s=%d", s, c))
	}
	t.Fatalf("%d of %d deliveries succeeded after %s (%v)", got, n, within, states)
}

// TestTwoProcessesShareTheWork: two `relaydesk serve` on one PostgreSQL deliver 2,000 events,
// each exactly once, and both do part of the work.
func TestTwoProcessesShareTheWork(t *testing.T) {
	f := newFixture(t, "postgres")
	relaydeskBin(t)
	const n = 2000
	start := time.Now()
	f.publish(t, n)
	t.Logf("published %d events in %s", n, time.Since(start))
	start = time.Now()
	f.start(t, "RELAYDESK_WORKERS=20")
	f.start(t, "RELAYDESK_WORKERS=20")
	f.waitSucceeded(t, n, 60*time.Second)
	t.Logf("delivered %d in %s", n, time.Since(start))

	seen := f.recv.Counts(webhook.HeaderDelivery)
	if len(seen) != n {
		t.Fatalf("receiver saw %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s received %d times", id, c)
		}
	}
	var attempts int
	if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM attempts`).Scan(&attempts); err != nil || attempts != n {
		t.Errorf("%d attempt rows (%v), want %d", attempts, err, n)
	}
	// Which process made each attempt: the attempt log records it.
	split := workerSplit(t, f)
	t.Logf("attempts per process: %v", split)
	if len(split) != 2 {
		t.Fatalf("attempts made by %d processes, want 2: %v", len(split), split)
	}
	for client, c := range split {
		if c < n/10 {
			t.Errorf("process %s worked only %d of %d", client, c, n)
		}
	}
}

// TestKilledMidDelivery: a process killed with SIGKILL while attempts are in flight; after a
// restart every delivery still succeeds (at least once), none is lost.
func TestKilledMidDelivery(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t, engine)
			relaydeskBin(t)
			const n = 200
			f.publish(t, n)
			f.recv.Hold(true)
			env := []string{"RELAYDESK_WORKERS=20", "RELAYDESK_DELIVERY_TIMEOUT=2s"}
			first := f.start(t, env...)
			if !testkit.Until(30*time.Second, func() bool { return f.recv.Held() >= 20 }) {
				t.Fatalf("only %d attempts in flight", f.recv.Held())
			}
			if err := first.cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			<-first.done
			var inFlight int
			if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM deliveries WHERE state = 'delivering'`).Scan(&inFlight); err != nil {
				t.Fatal(err)
			}
			t.Logf("killed with %d deliveries in flight", inFlight)
			if inFlight == 0 {
				t.Fatal("nothing was in flight when the process died")
			}
			f.recv.Hold(false)
			start := time.Now()
			f.start(t, env...)
			// Every delivery the dead process held gets its next attempt once its lease
			// (8 s) ends: measured, and bounded loosely so a regression to minutes fails.
			var waiting int
			attempted := func() bool {
				if err := f.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM deliveries d
					WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id)`).Scan(&waiting); err != nil {
					t.Fatal(err)
				}
				return waiting == 0
			}
			if !testkit.Until(30*time.Second-time.Since(start), attempted) {
				t.Fatalf("%d deliveries still without an attempt %s after the restart", waiting, time.Since(start))
			}
			t.Logf("every unfinished delivery had its next attempt %s after the restart", time.Since(start).Round(time.Millisecond))
			f.waitSucceeded(t, n, 50*time.Second)
			t.Logf("all %d delivered %s after the restart", n, time.Since(start))
			if seen := f.recv.Counts(webhook.HeaderDelivery); len(seen) != n {
				t.Fatalf("receiver saw %d distinct deliveries, want %d", len(seen), n)
			}
		})
	}
}
