// Package credential makes and checks the high-entropy bearer tokens relaydesk hands out —
// session tokens, platform tokens, API keys. A token is shown once; the database keeps a
// short lookup prefix and the SHA-256 of the whole token (enough for 256-bit random
// secrets; slow hashes are for passwords), compared in constant time.
package credential

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// New returns a token "<kind>_<43 URL-safe chars>" (32 random bytes) and its lookup prefix.
func New(kind string) (token, prefix string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	token = kind + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	return token, Prefix(token)
}

// Prefix is the part of a token stored in clear for lookup and display.
func Prefix(token string) string {
	if len(token) < 12 {
		return token
	}
	return token[:12]
}

// Hash is what the database stores for a token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Matches compares a presented token with a stored hash in constant time.
func Matches(token, storedHash string) bool {
	h := Hash(token)
	return subtle.ConstantTimeCompare([]byte(h), []byte(storedHash)) == 1
}

// HasKind reports whether a token is of the given kind ("rdk", "rdp", …).
func HasKind(token, kind string) bool { return strings.HasPrefix(token, kind+"_") }
