package webhook_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// A receiver verifies each request before trusting it, and uses webhook-id to skip
// deliveries it has already processed.
func Example() {
	secret, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") // from Developer Tools
	if err != nil {
		log.Fatal(err)
	}
	verifier := webhook.NewVerifier(secret)

	receiver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, res, err := verifier.VerifyRequest(r, 1<<20)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			fmt.Println("rejected:", err)
			return
		}
		fmt.Printf("verified %s via %s: %s\n", res.ID, res.Scheme, body)
		w.WriteHeader(http.StatusNoContent)
	})

	// What relaydesk sends:
	body := `{"id":"01KAE88YX393N7SAE2VQ3WQ0ZB","object":"Event","name":"TestEvent"}`
	req := httptest.NewRequest("POST", "/webhooks", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	webhook.Sign(req.Header, "01KAE88YX393N7SAE2VQ3WQ0ZB", time.Now(), []byte(body), secret)
	receiver.ServeHTTP(httptest.NewRecorder(), req)

	// A forged request:
	req = httptest.NewRequest("POST", "/webhooks", strings.NewReader(`{"forged":true}`))
	req.Header.Set("webhook-id", "01KAE88YX393N7SAE2VQ3WQ0ZB")
	req.Header.Set("webhook-timestamp", fmt.Sprint(time.Now().Unix()))
	req.Header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	receiver.ServeHTTP(httptest.NewRecorder(), req)

	// Output:
	// verified 01KAE88YX393N7SAE2VQ3WQ0ZB via Standard Webhooks: {"id":"01KAE88YX393N7SAE2VQ3WQ0ZB","object":"Event","name":"TestEvent"}
	// rejected: webhook: no matching signature: none of 1 v1 signature(s) matches the body, id and timestamp with secret whsec_…96ad2ccd
}

func ExampleSign() {
	secret := webhook.MustParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	h := http.Header{}
	webhook.Sign(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`), secret)
	fmt.Println(h.Get("webhook-signature"))
	fmt.Println(h.Get("X-MessageDesk-Signature"))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// gOyKic480iEzoQZsrstNBP6nRnZXyFFNcX7ELDilyUw=
}
