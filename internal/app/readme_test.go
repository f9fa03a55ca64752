package app_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/delivery"
)

// The README's configuration table is one table (no blank line cuts it, which renders the
// rest as raw pipes) and has a row for every setting.
func TestReadmeConfigurationTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "| Variable | Flag | Default | Meaning |")
	if i < 0 {
		t.Fatal("no configuration table in the README")
	}
	var rows []string
	for _, line := range strings.Split(s[i:], "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		rows = append(rows, line)
	}
	table := strings.Join(rows, "\n")
	if rest := s[i+len(table):]; strings.Contains(strings.SplitN(rest, "\n## ", 2)[0], "| `RELAYDESK_") {
		t.Error("a configuration row follows the end of the table (a blank line cuts it)")
	}
	for _, env := range []string{app.EnvAddr, app.EnvDataDir, app.EnvDatabaseURL, app.EnvMasterKey, app.EnvAllowPrivate, app.EnvRole,
		app.EnvLogLevel, app.EnvSecureCookies, app.EnvTimeout, app.EnvWorkers, app.EnvRateLimit, app.EnvRateBurst, app.EnvIPRateLimit,
		app.EnvIPRateBurst, app.EnvSMTPURL, app.EnvSMTPFrom, app.EnvPublicURL, app.EnvRetention, app.EnvPlatformHook, app.EnvPlatformKey,
		app.EnvPprof} {
		if !strings.Contains(table, "`"+env+"`") {
			t.Errorf("the configuration table has no row for %s", env)
		}
	}
}

// The README and the receiving guide state the retry schedule's span and the auto-disable
// window as the code has them, side by side.
func TestDocsRetryScheduleAndDisableWindow(t *testing.T) {
	var total time.Duration
	for n := 1; ; n++ {
		d, more := delivery.NextDelay(n, nil)
		if !more {
			break
		}
		total += d
	}
	span := fmt.Sprintf("(%d h)", int(total.Hours()))
	window := "for 5 days straight"
	if delivery.FailingFor != 5*24*time.Hour {
		t.Fatalf("FailingFor = %s: update the docs", delivery.FailingFor)
	}
	for _, f := range []string{"../../README.md", "../../docs/receiving-webhooks.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), span) || !strings.Contains(string(b), window) {
			t.Errorf("%s does not state the schedule's span %s and the disable window %q", f, span, window)
		}
	}
}
