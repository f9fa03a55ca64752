package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"sync"
)

// SecretPrefix starts the string form of every signing secret.
const SecretPrefix = "whsec_"

// MinSecretBytes is the shortest decoded key ParseSecret accepts. Secrets made by NewSecret
// have 32 bytes; 24 is accepted because the Standard Webhooks reference secrets use it.
const MinSecretBytes = 24

// ErrInvalidSecret is returned (wrapped) by ParseSecret for a secret it cannot use.
var ErrInvalidSecret = errors.New("webhook: invalid signing secret")

// Secret is a workspace signing secret. It holds both the string form shown to the user
// ("whsec_" + base64) and the decoded key. Its zero value is no secret at all (see IsZero).
//
// A Secret is immutable and safe for concurrent use; copies share their precomputed state.
type Secret struct {
	k *secretKey
}

type secretKey struct {
	str string // "whsec_…", exactly as shown
	key []byte // base64-decoded part after the prefix

	// Pools of HMAC states keyed with this secret, so signing allocates (almost) nothing.
	std sync.Pool // Standard Webhooks: key = decoded bytes
	md  sync.Pool // X-MessageDesk-Signature: key = UTF-8 bytes of str
}

func newSecretKey(str string, key []byte) *secretKey {
	k := &secretKey{str: str, key: key}
	k.std.New = func() any { return hmac.New(sha256.New, k.key) }
	k.md.New = func() any { return hmac.New(sha256.New, []byte(k.str)) }
	return k
}

// NewSecret generates a fresh secret: "whsec_" + base64 of 32 random bytes.
func NewSecret() (Secret, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return Secret{}, fmt.Errorf("webhook: generating secret: %w", err)
	}
	return Secret{newSecretKey(SecretPrefix+base64.StdEncoding.EncodeToString(key), key)}, nil
}

// ParseSecret reads a secret in its string form, with or without the "whsec_" prefix
// (surrounding white space is ignored). The part after the prefix must be standard, padded
// base64 of at least MinSecretBytes bytes. The returned secret's String always has the prefix.
func ParseSecret(s string) (Secret, error) {
	s = strings.TrimSpace(s)
	b64 := strings.TrimPrefix(s, SecretPrefix)
	if b64 == "" {
		return Secret{}, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return Secret{}, fmt.Errorf("%w: the part after %q is not standard base64 (%v)", ErrInvalidSecret, SecretPrefix, err)
	}
	if len(key) < MinSecretBytes {
		return Secret{}, fmt.Errorf("%w: key is %d bytes, at least %d are required", ErrInvalidSecret, len(key), MinSecretBytes)
	}
	return Secret{newSecretKey(SecretPrefix+b64, key)}, nil
}

// MustParseSecret is ParseSecret for tests and examples; it panics on error.
func MustParseSecret(s string) Secret { return must(ParseSecret(s)) }

// must is the body of the MustParse functions.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// IsZero reports whether s is the zero Secret (no key). Sign and Verifier skip zero secrets.
func (s Secret) IsZero() bool { return s.k == nil }

// String returns the secret exactly as shown to the user: "whsec_" + base64.
// It is the secret itself: never log it (use Fingerprint, or slog, which calls LogValue).
func (s Secret) String() string {
	if s.k == nil {
		return ""
	}
	return s.k.str
}

// Fingerprint identifies the secret without revealing it: "whsec_…" followed by the first
// 8 hex digits of the SHA-256 of the string form. Safe to show to viewers and to log.
func (s Secret) Fingerprint() string {
	if s.k == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(s.k.str))
	return SecretPrefix + "…" + hex.EncodeToString(sum[:4])
}

// LogValue makes log/slog print the fingerprint, never the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.Fingerprint()) }

// Equal reports whether two secrets have the same string form, in constant time.
func (s Secret) Equal(o Secret) bool {
	return hmac.Equal([]byte(s.String()), []byte(o.String()))
}

// stdMAC appends to dst the base64 Standard Webhooks signature of prefix+body
// (prefix is "id.timestamp.").
func (k *secretKey) stdMAC(dst, sum, prefix, body []byte) []byte {
	h := k.std.Get().(hash.Hash)
	h.Reset()
	h.Write(prefix)
	h.Write(body)
	sum = h.Sum(sum[:0])
	k.std.Put(h)
	return base64.StdEncoding.AppendEncode(dst, sum)
}

// mdMAC appends to dst the base64 X-MessageDesk-Signature of body.
func (k *secretKey) mdMAC(dst, sum, body []byte) []byte {
	h := k.md.Get().(hash.Hash)
	h.Reset()
	h.Write(body)
	sum = h.Sum(sum[:0])
	k.md.Put(h)
	return base64.StdEncoding.AppendEncode(dst, sum)
}
