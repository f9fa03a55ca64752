// Package webhook signs and verifies relaydesk webhooks. It depends on the standard library
// only, so receivers can import it.
//
// Every delivery carries two independent signatures over the same raw body:
//
//   - Standard Webhooks (https://www.standardwebhooks.com): webhook-id, webhook-timestamp and
//     webhook-signature ("v1,<base64 HMAC-SHA256>" keyed with the base64-decoded secret over
//     "id.timestamp.body"). The timestamp lets receivers reject replays; during a secret
//     rotation the header holds one v1 signature per active secret.
//   - X-MessageDesk-Signature: base64 HMAC-SHA256 of the body keyed with the secret string as
//     shown ("whsec_…"). Kept for existing receivers; it has no timestamp and so no replay
//     protection.
//
// When the workspace has a signing key pair, webhook-signature also carries Standard
// Webhooks "v1a" entries: "v1a,<base64 ed25519 signature of id.timestamp.body>", one per
// key, named in X-MessageDesk-Key-Id. A receiver verifies them with the public key only
// ("whpk_…", or the workspace's JWKS URL through a KeySet), so it holds nothing that could
// forge a webhook.
//
// Senders call Sign (and SignV1a); receivers use a Verifier. Secrets are created with
// NewSecret and read with ParseSecret; key pairs with NewSigningKey and ParseSigningKey,
// public keys with ParsePublicKey or ParseJWKS.
package webhook
