package webhook_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

func BenchmarkSign(b *testing.B) {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	cur, prev := mustNew(b), mustNew(b)
	ts := time.Unix(1763562519, 0)
	for _, bc := range []struct {
		name    string
		secrets []webhook.Secret
	}{
		{"1KiB/1secret", []webhook.Secret{cur}},
		{"1KiB/2secrets", []webhook.Secret{cur, prev}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := make(http.Header, 8)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				webhook.Sign(h, "01KAE88YX393N7SAE2VQ3WQ0ZB", ts, body, bc.secrets...)
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	body := make([]byte, 1024)
	sec := mustNew(b)
	h := http.Header{}
	now := time.Now()
	webhook.Sign(h, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body, sec)
	v := webhook.NewVerifier(sec)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}
