package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/testkit"
)

// docs/producer-api.md's commands, run as written (the relaydesk binary for `go run
// ./cmd/relaydesk`, free ports for 8080 and 9000, the two long-running commands in the
// background): every step answers and the receiver prints a verified MessageReceived.
func TestProducerDocWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the walkthrough needs %s", tool)
			}
			t.Skipf("no %s on PATH", tool)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "producer-api.md"))
	if err != nil {
		t.Fatal(err)
	}
	var script strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		script.WriteString(m[1])
	}
	s := script.String()
	bin := testkit.Binary(t)
	api, recv := testkit.FreeAddr(t), testkit.FreeAddr(t)
	for _, r := range []struct{ old, new string }{
		{"go run ./cmd/relaydesk serve --allow-private-endpoints     # terminal 1",
			bin + " serve --allow-private-endpoints --addr " + api + " > serve.log 2>&1 &\nfor i in $(seq 100); do curl -sf http://" + api + "/readyz > /dev/null && break; sleep 0.1; done"},
		{`go run ./cmd/relaydesk listen --addr 127.0.0.1:9000 --secret "$SECRET"      # terminal 3: verifies and prints each delivery`,
			bin + ` listen --addr ` + recv + ` --secret "$SECRET" > listen.log 2>&1 &` + "\nsleep 0.5"},
		{"go run ./cmd/relaydesk", bin},
		{"http://127.0.0.1:8080", "http://" + api},
		{"127.0.0.1:9000", recv},
	} {
		if !strings.Contains(s, r.old) {
			t.Fatalf("the walkthrough no longer contains %q", r.old)
		}
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	dir := t.TempDir()
	full := "set -eu\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n" + s +
		"\nfor i in $(seq 100); do grep -q 'verified:' listen.log && break; sleep 0.1; done\ncat listen.log\n"
	cmd := exec.Command("bash", "-c", full)
	cmd.Dir = dir
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the walkthrough did not finish:\n%s", out)
	}
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	o := string(out)
	for _, want := range []string{`"workspace":{"id":`, `"deliveries":1`, "event:    MessageReceived", "verified: yes: Standard Webhooks", `"contactId": null`} {
		if !strings.Contains(o, want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, o)
		}
	}
}
