package webhook_test

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/relaydesk/relaydesk/webhook"
)

// TestInteropStandardWebhooks checks both directions against the official Standard Webhooks
// Go library: what we sign, it verifies; what it signs, we verify.
func TestInteropStandardWebhooks(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		sec := mustNew(t)
		ref, err := standardwebhooks.NewWebhook(sec.String())
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, rng.IntN(4096))
		for j := range body {
			body[j] = byte(rng.UintN(256))
		}
		id := "msg_" + randomID(rng)
		now := time.Now()

		// Ours → theirs.
		h := http.Header{}
		webhook.Sign(h, id, now, body, sec)
		if err := ref.Verify(body, h); err != nil {
			t.Fatalf("#%d: the official library rejects our signature: %v", i, err)
		}
		// Ours with rotation (their key second) → theirs.
		h2 := http.Header{}
		webhook.Sign(h2, id, now, body, mustNew(t), sec)
		if err := ref.Verify(body, h2); err != nil {
			t.Fatalf("#%d: the official library rejects our rotated signatures: %v", i, err)
		}
		// Tampered → theirs rejects too.
		if len(body) > 0 {
			bad := append([]byte(nil), body...)
			bad[rng.IntN(len(bad))] ^= 1
			if err := ref.Verify(bad, h); !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Fatalf("#%d: the official library accepts a tampered body: %v", i, err)
			}
		}

		// Theirs → ours.
		sig, err := ref.Sign(id, now, body)
		if err != nil {
			t.Fatal(err)
		}
		if sig != h.Get(webhook.HeaderStdSignature) {
			t.Fatalf("#%d: signatures differ: ours %q, theirs %q", i, h.Get(webhook.HeaderStdSignature), sig)
		}
		th := http.Header{}
		th.Set(standardwebhooks.HeaderWebhookID, id)
		th.Set(standardwebhooks.HeaderWebhookTimestamp, h.Get(webhook.HeaderTimestamp))
		th.Set(standardwebhooks.HeaderWebhookSignature, sig)
		if _, err := webhook.NewVerifier(sec).Verify(th, body); err != nil {
			t.Fatalf("#%d: we reject the official library's signature: %v", i, err)
		}
	}
}

func randomID(rng *rand.Rand) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
