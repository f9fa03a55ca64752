package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type server struct {
	cmd  *exec.Cmd
	addr string
	out  *lockedBuffer
}

// lockedBuffer collects the server's stdout while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the output contains want.
func (l *lockedBuffer) waitFor(want string, d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(l.String(), want) {
			return true
		}
	}
	return false
}

// startServe runs `relaydesk serve` in dir with no configuration but the address, and
// waits for the line that says where it listens.
func startServe(t *testing.T, bin, dir string, env ...string) *server {
	t.Helper()
	addr := testkit.FreeAddr(t)
	cmd := exec.Command(bin, "serve", "--addr", addr)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := &lockedBuffer{}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.add(sc.Text() + "\n")
		}
	}()
	if !out.waitFor("listening on http://", 30*time.Second) {
		t.Fatalf("relaydesk serve did not start: %s", out.String())
	}
	return &server{cmd: cmd, addr: addr, out: out}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A fresh directory: serve shows the setup page, init works from a script, data survives
// a restart, and SIGTERM ends the process cleanly within 10 s.
func TestServeInitRestartSigterm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testkit.Binary(t)
	dir := t.TempDir()

	s := startServe(t, bin, dir)
	if !s.out.waitFor("/setup", 5*time.Second) {
		t.Errorf("start banner does not point at the setup page: %q", s.out.String())
	}
	if code, body := get(t, "http://"+s.addr+"/setup"); code != 200 || !strings.Contains(body, "Set up relaydesk") {
		t.Fatalf("GET /setup = %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "relaydesk.db")); err != nil {
		t.Fatalf("SQLite database not under ./data: %v", err)
	}

	// init from a script, while the server runs (SQLite WAL allows it).
	initCmd := exec.Command(bin, "init", "--workspace", "Acme", "--email", "admin@acme.test", "--password-stdin")
	initCmd.Dir = dir
	initCmd.Stdin = strings.NewReader("correct horse battery\n")
	out, err := initCmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "workspace_id=") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	if code, _ := get(t, "http://"+s.addr+"/setup"); code != http.StatusNotFound {
		t.Fatalf("GET /setup after init = %d, want 404", code)
	}

	// SIGTERM: clean exit, quickly.
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relaydesk did not exit within 10 s of SIGTERM")
	}
	t.Logf("SIGTERM → exit in %s", time.Since(start).Round(time.Millisecond))

	// Restart: the account is still there.
	s2 := startServe(t, bin, dir)
	body := `{"email":"admin@acme.test","password":"correct horse battery"}`
	res, err := http.Post("http://"+s2.addr+"/v1/sessions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("sign in after restart = %d", res.StatusCode)
	}
}

func TestInitRefusesPasswordFlagless(t *testing.T) {
	bin := testkit.Binary(t)
	cmd := exec.Command(bin, "init", "--workspace", "Acme", "--email", "a@b.test")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--password-stdin") {
		t.Fatalf("init without --password-stdin: %v %s", err, out)
	}
}
