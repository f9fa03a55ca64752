package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

type listenSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *listenSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *listenSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func signedListenRequest(t *testing.T, url string, sec webhook.Secret, body string, tamper bool) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderEvent, "MessageReceived")
	req.Header.Set(webhook.HeaderDelivery, "01KAE8DELIVERY")
	req.Header.Set(webhook.HeaderAttempt, "3")
	signed := body
	if tamper {
		signed = strings.Replace(body, "open", "closed", 1)
	}
	webhook.Sign(req.Header, "01KAE88YX393N7SAE2VQ3WQ0ZB", time.Now(), []byte(signed), sec)
	return req
}

func TestListenHandler(t *testing.T) {
	sec := webhook.MustParseSecret(kaVerifySecret)
	body := `{"name":"MessageReceived","data":{"body":"open on Sunday?"}}`
	for _, c := range []struct {
		name   string
		status int
		tamper bool
		want   int
		out    []string
	}{
		{"valid", 200, false, 200, []string{"event:    MessageReceived", "id:       01KAE88YX393N7SAE2VQ3WQ0ZB", "delivery: 01KAE8DELIVERY",
			"attempt:  3", "verified: yes: Standard Webhooks, secret #1 (whsec_…", "\n  \"name\": \"MessageReceived\",\n", "→ 200 OK"}},
		{"chosen status", 503, false, 503, []string{"verified: yes", "→ 503 Service Unavailable"}},
		{"tampered", 200, true, 401, []string{"verified: NO: webhook: no matching signature", "→ 401 Unauthorized"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out listenSyncBuffer
			srv := httptest.NewServer(newListenHandler(&out, webhook.NewVerifier(sec), c.status, 0))
			defer srv.Close()
			resp, err := http.DefaultClient.Do(signedListenRequest(t, srv.URL+"/hook", sec, body, c.tamper))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
			for _, s := range c.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}

	t.Run("unsigned, not JSON", func(t *testing.T) {
		var out listenSyncBuffer
		h := newListenHandler(&out, webhook.NewVerifier(sec), 200, 0)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader("plain text")))
		if rec.Code != 401 || !strings.Contains(out.String(), "missing signature headers") || !strings.Contains(out.String(), "plain text") {
			t.Fatalf("%d %s", rec.Code, out.String())
		}
	})
}

func TestListenCommand(t *testing.T) {
	t.Setenv(webhookSecretEnv, "")
	sec := webhook.MustParseSecret(kaVerifySecret)
	cmd := newListenCmd()
	var out listenSyncBuffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--secret", kaVerifySecret, "--status", "202"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	addrRE := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	var url string
	testkit.Until(5*time.Second, func() bool {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	if url == "" {
		cancel()
		t.Fatalf("no listening line: %q (%v)", out.String(), <-done)
	}
	for _, tamper := range []bool{false, true} {
		resp, err := http.DefaultClient.Do(signedListenRequest(t, url, sec, `{"x":"open"}`, tamper))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: 202, true: 401}[tamper]; resp.StatusCode != want {
			t.Errorf("tamper=%v: status %d, want %d", tamper, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("listen returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("listen did not stop")
	}

	for _, args := range [][]string{{"--status", "7", "--secret", kaVerifySecret}, {"--addr", "127.0.0.1:0"}} {
		c := newListenCmd()
		c.SetOut(io.Discard)
		c.SetArgs(args)
		if err := c.Execute(); err == nil || exitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
}
