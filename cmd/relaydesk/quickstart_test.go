package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeQuickStart returns the README's top commands and its demo command, as written.
func readmeQuickStart(t *testing.T) (top []string, demo string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]string
	var cur []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh"):
			in, cur = true, nil
		case in && strings.HasPrefix(line, "```"):
			in = false
			blocks = append(blocks, cur)
		case in:
			if cmd, _, _ := strings.Cut(line, "#"); strings.TrimSpace(cmd) != "" {
				cur = append(cur, strings.TrimSpace(cmd))
			}
		}
	}
	if len(blocks) < 2 {
		t.Fatalf("README has %d sh blocks, want the quick start and the demo first", len(blocks))
	}
	if len(blocks[1]) != 1 {
		t.Fatalf("the README's second block is %q, want the one demo command", blocks[1])
	}
	return blocks[0], blocks[1][0]
}

// The README's first block is exactly the two commands (serve, make test); its second
// paragraph's command, run exactly as written from an empty data directory, ends in a
// verified delivery that the API, signed in with the printed credentials, shows as
// succeeded.
func TestReadmeQuickStartDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run")
	}
	top, demo := readmeQuickStart(t)
	if len(top) != 2 || top[0] != "go run ./cmd/relaydesk serve" || top[1] != "make test" {
		t.Fatalf("README's first commands = %q, want exactly serve and make test", top)
	}
	if !strings.Contains(demo, " demo") {
		t.Fatalf("README's demo command = %q", demo)
	}
	data := t.TempDir() // empty
	start := time.Now()
	cmd := exec.Command("sh", "-c", demo)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "RELAYDESK_DATA_DIR="+data, "RELAYDESK_ADDR=127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run's child too
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	out := &lockedBuffer{}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.add(sc.Text() + "\n")
		}
	}()
	if !out.waitFor("Verified delivery", 4*time.Minute) {
		t.Fatalf("no verified delivery:\n%s", out.String())
	}
	if !out.waitFor("sign in as", 5*time.Second) {
		t.Fatalf("no sign-in line:\n%s", out.String())
	}
	t.Logf("README demo command → verified delivery in %s (including go run's build)", time.Since(start).Round(100*time.Millisecond))
	text := out.String()
	if !strings.Contains(text, "private endpoints are allowed") {
		t.Errorf("no private-endpoints banner:\n%s", text)
	}
	if !strings.Contains(text, "Standard Webhooks ✓ and X-MessageDesk-Signature ✓") {
		t.Errorf("the delivery is not reported as verified by both schemes:\n%s", text)
	}
	if _, err := os.Stat(filepath.Join(data, "relaydesk.db")); err != nil {
		t.Errorf("the demo did not use the empty data dir: %v", err)
	}

	ui := regexp.MustCompile(`(http://127\.0\.0\.1:\d+)/settings/developer/deliveries/(\w+)`).FindStringSubmatch(text)
	cred := regexp.MustCompile(`sign in as (\S+) with password (\S+)`).FindStringSubmatch(text)
	if ui == nil || cred == nil {
		t.Fatalf("no UI link or credentials:\n%s", text)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	body, _ := json.Marshal(map[string]string{"email": cred[1], "password": cred[2]})
	res, err := hc.Post(ui[1]+"/v1/sessions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("sign in with the printed credentials = %d", res.StatusCode)
	}
	res, err = hc.Get(ui[1] + "/v1/deliveries/" + ui[2])
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Status   string
		Attempts []struct {
			Status         int
			RequestHeaders map[string][]string
		}
	}
	_ = json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	if d.Status != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].Status != 200 {
		t.Fatalf("the delivery the demo points at: %+v", d)
	}
	// The version the demo printed is the one in the delivery's User-Agent and the UI footer.
	v := regexp.MustCompile(`relaydesk (\S+) \(SQLite`).FindStringSubmatch(text)
	if v == nil {
		t.Fatalf("no version in the start line:\n%s", text)
	}
	if ua := d.Attempts[0].RequestHeaders["User-Agent"]; len(ua) != 1 || ua[0] != "relaydesk/"+v[1] {
		t.Errorf("User-Agent sent = %q, want relaydesk/%s", ua, v[1])
	}
	res, err = hc.Get(ui[0])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET %s signed in = %d", ui[0], res.StatusCode)
	}
	if !strings.Contains(string(page), "<footer>relaydesk "+v[1]+"</footer>") {
		t.Errorf("the UI footer does not show version %s", v[1])
	}

	// It keeps serving until interrupted, then exits cleanly.
	if !out.waitFor("Ctrl-C stops it", 5*time.Second) {
		t.Errorf("no Ctrl-C hint:\n%s", out.String())
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Error("the demo did not stop within 15 s of Ctrl-C")
	}
}
