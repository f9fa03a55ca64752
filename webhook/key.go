package webhook

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Prefixes of the Standard Webhooks asymmetric (v1a, ed25519) key serialisations.
const (
	SigningKeyPrefix = "whsk_" // the private key: base64 of the 64-byte ed25519 private key
	PublicKeyPrefix  = "whpk_" // the public key: base64 of the 32-byte ed25519 public key
)

// Errors returned (wrapped) by ParseSigningKey, ParsePublicKey and ParseJWKS.
var (
	ErrInvalidSigningKey = errors.New("webhook: invalid signing key")
	ErrInvalidPublicKey  = errors.New("webhook: invalid public key")
)

// SigningKey is an ed25519 private key that signs Standard Webhooks "v1a" signatures. Only the
// sender holds it; receivers verify with its PublicKey. The zero value is no key (see IsZero).
//
// The string form is "whsk_" + standard base64 of the 64-byte private key (seed then public
// key, as RFC 8032 implementations such as Go's crypto/ed25519 and libsodium store it).
// A SigningKey is immutable and safe for concurrent use.
type SigningKey struct {
	priv ed25519.PrivateKey
	pub  PublicKey
}

// PublicKey is an ed25519 public key that verifies "v1a" signatures. Its string form is
// "whpk_" + standard base64 of the 32 bytes; its KeyID is the RFC 7638 JWK thumbprint.
type PublicKey struct {
	k   ed25519.PublicKey
	kid string
}

// NewSigningKey generates a fresh ed25519 key pair.
func NewSigningKey() (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("webhook: generating signing key: %w", err)
	}
	return signingKeyOf(priv), nil
}

// SigningKeyFromSeed makes the key pair of a 32-byte RFC 8032 seed (for tests and for
// importing keys made elsewhere).
func SigningKeyFromSeed(seed []byte) (SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("%w: seed is %d bytes, want %d", ErrInvalidSigningKey, len(seed), ed25519.SeedSize)
	}
	return signingKeyOf(ed25519.NewKeyFromSeed(seed)), nil
}

func signingKeyOf(priv ed25519.PrivateKey) SigningKey {
	return SigningKey{priv: priv, pub: publicKeyOf(priv.Public().(ed25519.PublicKey))}
}

func publicKeyOf(k ed25519.PublicKey) PublicKey {
	return PublicKey{k: k, kid: thumbprint(k)}
}

// ParseSigningKey reads "whsk_…" (the prefix is optional, surrounding white space ignored):
// standard base64 of the 64-byte private key, or of the 32-byte seed alone. A 64-byte key
// whose public half does not belong to its seed is refused.
func ParseSigningKey(s string) (SigningKey, error) {
	b, err := decodeKey(s, SigningKeyPrefix, ErrInvalidSigningKey)
	if err != nil {
		return SigningKey{}, err
	}
	switch len(b) {
	case ed25519.SeedSize:
		return SigningKeyFromSeed(b)
	case ed25519.PrivateKeySize:
		k := signingKeyOf(ed25519.NewKeyFromSeed(b[:ed25519.SeedSize]))
		if !k.pub.k.Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
			return SigningKey{}, fmt.Errorf("%w: its public half does not match its seed", ErrInvalidSigningKey)
		}
		return k, nil
	}
	return SigningKey{}, fmt.Errorf("%w: %d bytes, want %d (or a %d-byte seed)", ErrInvalidSigningKey, len(b), ed25519.PrivateKeySize, ed25519.SeedSize)
}

// MustParseSigningKey is ParseSigningKey for tests and examples; it panics on error.
func MustParseSigningKey(s string) SigningKey { return must(ParseSigningKey(s)) }

// IsZero reports whether k is the zero SigningKey.
func (k SigningKey) IsZero() bool { return k.priv == nil }

// String returns "whsk_…": the private key itself. Never log it (slog prints the key id).
func (k SigningKey) String() string { return encodeKey(SigningKeyPrefix, k.priv) }

// Public returns the key's public half.
func (k SigningKey) Public() PublicKey { return k.pub }

// KeyID is the public key's id (see PublicKey.KeyID).
func (k SigningKey) KeyID() string { return k.pub.kid }

// LogValue makes log/slog print the key id, never the private key.
func (k SigningKey) LogValue() slog.Value { return slog.StringValue("whsk_…" + k.pub.kid) }

// sign appends the base64 ed25519 signature of prefix+body ("id.timestamp." + body) to dst.
func (k SigningKey) sign(dst, msg []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, ed25519.Sign(k.priv, msg))
}

// ParsePublicKey reads "whpk_…" (the prefix is optional, surrounding white space ignored):
// standard base64 of a 32-byte ed25519 public key.
func ParsePublicKey(s string) (PublicKey, error) {
	b, err := decodeKey(s, PublicKeyPrefix, ErrInvalidPublicKey)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKeyFromBytes(b)
}

// decodeKey reads a key's string form: optional prefix, then standard base64; invalid is
// the error its problems wrap.
func decodeKey(s, prefix string, invalid error) ([]byte, error) {
	b64 := strings.TrimPrefix(strings.TrimSpace(s), prefix)
	if b64 == "" {
		return nil, fmt.Errorf("%w: empty", invalid)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not standard base64", invalid, prefix)
	}
	return b, nil
}

// encodeKey is a key's string form, decodeKey's inverse; "" for the zero key.
func encodeKey(prefix string, b []byte) string {
	if b == nil {
		return ""
	}
	return prefix + base64.StdEncoding.EncodeToString(b)
}

// PublicKeyFromBytes makes a PublicKey of the 32 raw bytes.
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	if len(b) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidPublicKey, len(b), ed25519.PublicKeySize)
	}
	return publicKeyOf(ed25519.PublicKey(append([]byte(nil), b...))), nil
}

// MustParsePublicKey is ParsePublicKey for tests and examples; it panics on error.
func MustParsePublicKey(s string) PublicKey { return must(ParsePublicKey(s)) }

// IsZero reports whether k is the zero PublicKey.
func (k PublicKey) IsZero() bool { return k.k == nil }

// String returns "whpk_" + base64 of the key. It is public: safe to show and log.
func (k PublicKey) String() string { return encodeKey(PublicKeyPrefix, k.k) }

// Bytes returns a copy of the 32-byte key.
func (k PublicKey) Bytes() []byte { return append([]byte(nil), k.k...) }

// KeyID returns the key's id: its RFC 7638 JWK thumbprint (base64url, no padding, of the
// SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"…"}). It names the key in the JWKS document
// and in the X-MessageDesk-Key-Id header, and anyone can recompute it from the key.
func (k PublicKey) KeyID() string { return k.kid }

// Equal reports whether two public keys are the same key.
func (k PublicKey) Equal(o PublicKey) bool { return k.k.Equal(o.k) }

func (k PublicKey) verify(msg []byte, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.k, msg, sig)
}

func thumbprint(k ed25519.PublicKey) string {
	// RFC 7638 §3: the required members in lexicographic order, no white space.
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(k) + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
