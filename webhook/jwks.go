package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JWK is one public key of a JWKS document (RFC 7517, RFC 8037 for ed25519).
type JWK struct {
	Kty string `json:"kty"`           // "OKP"
	Crv string `json:"crv"`           // "Ed25519"
	X   string `json:"x"`             // base64url (no padding) of the 32-byte public key
	Kid string `json:"kid,omitempty"` // PublicKey.KeyID
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // "EdDSA"
}

// JWKS is a JWK Set document: {"keys":[…]}.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK returns the key as a JWK with kid, use "sig" and alg "EdDSA".
func (k PublicKey) JWK() JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.k), Kid: k.kid, Use: "sig", Alg: "EdDSA"}
}

// MarshalJWKS returns the JWKS document publishing keys (zero keys are left out).
func MarshalJWKS(keys ...PublicKey) []byte {
	doc := JWKS{Keys: []JWK{}}
	for _, k := range keys {
		if !k.IsZero() {
			doc.Keys = append(doc.Keys, k.JWK())
		}
	}
	b, _ := json.Marshal(doc) // strings only: cannot fail
	return b
}

// ParseJWKS reads a JWKS document and returns its ed25519 signature keys, in order. Keys of
// other types or curves, or with a use other than "sig", are skipped. A document carrying a
// private key member ("d") is refused: whoever published it leaked a key. An ed25519 key
// whose kid is not its RFC 7638 thumbprint is refused too, since the kid in each delivery's
// X-MessageDesk-Key-Id header would not find it.
func ParseJWKS(data []byte) ([]PublicKey, error) {
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: not a JWKS document: %v", ErrInvalidPublicKey, err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("%w: not a JWKS document: no \"keys\" array", ErrInvalidPublicKey)
	}
	var out []PublicKey
	for i, m := range doc.Keys {
		if _, ok := m["d"]; ok {
			return nil, fmt.Errorf("%w: key #%d carries a private key (\"d\"); refusing the document", ErrInvalidPublicKey, i+1)
		}
		str := func(name string) string { s, _ := m[name].(string); return s }
		if str("kty") != "OKP" || str("crv") != "Ed25519" || (str("use") != "" && str("use") != "sig") {
			continue
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(str("x"), "="))
		if err != nil {
			return nil, fmt.Errorf("%w: key #%d: \"x\" is not base64url", ErrInvalidPublicKey, i+1)
		}
		k, err := PublicKeyFromBytes(raw)
		if err != nil {
			return nil, fmt.Errorf("key #%d: %w", i+1, err)
		}
		if kid := str("kid"); kid != "" && kid != k.KeyID() {
			return nil, fmt.Errorf("%w: key #%d: kid %q is not the key's RFC 7638 thumbprint %q", ErrInvalidPublicKey, i+1, kid, k.KeyID())
		}
		out = append(out, k)
	}
	return out, nil
}

// ErrKeySet is returned (wrapped) when a KeySet cannot fetch or read its JWKS document.
var ErrKeySet = errors.New("webhook: cannot get the published public keys")

// Defaults of KeySet.
const (
	DefaultKeySetMaxAge     = 5 * time.Minute
	DefaultKeySetMinRefresh = 10 * time.Second
	maxJWKSBytes            = 64 << 10
)

// KeySet is a receiver's copy of the public keys a sender publishes at a JWKS URL. Set it
// as Verifier.KeySet: the receiver then needs only the URL. The document is fetched when
// first needed and again when it is older than its Cache-Control max-age (or MaxAge), and at
// once when a delivery names a kid (X-MessageDesk-Key-Id) the copy does not hold — that is
// how a rotation reaches the receiver — but at most once per MinRefresh, so forged kids
// cannot make the receiver hammer the sender. When a refresh fails, the keys already held
// are kept.
//
// Fetch only a URL you trust (your workspace's, over HTTPS): whoever controls the document
// controls which webhooks verify. A KeySet is safe for concurrent use.
type KeySet struct {
	URL string
	// Client fetches the document; nil means a client with a 10 s timeout.
	Client *http.Client
	// MaxAge is used when the response has no Cache-Control max-age; 0 means 5 minutes.
	MaxAge time.Duration
	// MinRefresh is the least time between two fetches; 0 means 10 seconds.
	MinRefresh time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	keys    []PublicKey
	fetched time.Time // zero: never fetched successfully
	tried   time.Time // last attempt, successful or not
	expires time.Time
}

var defaultKeySetClient = &http.Client{Timeout: 10 * time.Second}

// NewKeySet returns a KeySet for url with the defaults.
func NewKeySet(url string) *KeySet { return &KeySet{URL: url} }

func (s *KeySet) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Keys returns the current keys, fetching the document when it is due. kids, when given,
// are key ids a request names: one the copy lacks makes it refresh early (see KeySet).
func (s *KeySet) Keys(ctx context.Context, kids ...string) ([]PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	due := s.fetched.IsZero() || !now.Before(s.expires)
	if !due {
		for _, kid := range kids {
			if !slices.ContainsFunc(s.keys, func(k PublicKey) bool { return k.KeyID() == kid }) {
				due = true
				break
			}
		}
	}
	minRefresh := s.MinRefresh
	if minRefresh <= 0 {
		minRefresh = DefaultKeySetMinRefresh
	}
	if due && (s.tried.IsZero() || now.Sub(s.tried) >= minRefresh || s.fetched.IsZero() && now.Sub(s.tried) >= time.Second) {
		s.tried = now
		keys, maxAge, err := s.fetch(ctx)
		if err != nil {
			if s.fetched.IsZero() {
				return nil, err
			}
			return slices.Clone(s.keys), nil // keep what we have
		}
		s.keys, s.fetched, s.expires = keys, now, now.Add(maxAge)
	}
	if s.fetched.IsZero() {
		return nil, fmt.Errorf("%w: %s could not be fetched recently; retrying soon", ErrKeySet, s.URL)
	}
	return slices.Clone(s.keys), nil
}

func (s *KeySet) fetch(ctx context.Context) ([]PublicKey, time.Duration, error) {
	c := s.Client
	if c == nil {
		c = defaultKeySetClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrKeySet, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrKeySet, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading %s: %v", ErrKeySet, s.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("%w: %s answered %s: %s", ErrKeySet, s.URL, resp.Status, quote(string(bytes.TrimSpace(body))))
	}
	if len(body) > maxJWKSBytes {
		return nil, 0, fmt.Errorf("%w: %s is larger than %d bytes", ErrKeySet, s.URL, maxJWKSBytes)
	}
	keys, err := ParseJWKS(body)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrKeySet, s.URL, err)
	}
	maxAge := s.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultKeySetMaxAge
	}
	if ma, ok := cacheMaxAge(resp.Header.Get("Cache-Control")); ok {
		maxAge = ma
	}
	return keys, maxAge, nil
}

// cacheMaxAge reads max-age from a Cache-Control value (no-store and no-cache mean 0).
func cacheMaxAge(cc string) (time.Duration, bool) {
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		if d == "no-store" || d == "no-cache" {
			return 0, true
		}
		if v, ok := strings.CutPrefix(d, "max-age="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return min(time.Duration(n)*time.Second, 24*time.Hour), true
			}
		}
	}
	return 0, false
}
