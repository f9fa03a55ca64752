// A receiver that verifies relaydesk's v1a (ed25519) signatures with nothing but the
// workspace's JWKS URL (Developer Tools shows it): it holds no secret that could forge a webhook.
//
//	RELAYDESK_JWKS_URL=https://relaydesk.example.com/v1/jwks/01K... go run .
package main

import (
	"log"
	"net/http"
	"os"

	"github.com/relaydesk/relaydesk/webhook"
)

func newHandler(jwksURL string) http.Handler {
	// The KeySet fetches the public keys, caches them and fetches again when a delivery
	// names a key it does not know (X-MessageDesk-Key-Id), so rotations need no change here.
	verifier := &webhook.Verifier{KeySet: webhook.NewKeySet(jwksURL)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, res, err := verifier.VerifyRequest(r, 1<<20)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// res.ID is webhook-id: skip it if you have already processed it.
		log.Printf("%s verified with key %s: %d bytes", res.ID, res.KeyID, len(body))
		w.WriteHeader(http.StatusNoContent)
	})
}

func main() {
	http.Handle("POST /webhooks", newHandler(os.Getenv("RELAYDESK_JWKS_URL")))
	log.Fatal(http.ListenAndServe("127.0.0.1:9000", nil))
}
