package webhook

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a webhook-timestamp may be from the receiver's clock, in either
// direction, before a Standard Webhooks signature is rejected.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verifier.Verify, wrapped with details; test for them with errors.Is.
var (
	// ErrMissingHeaders: no signature headers at all, or an incomplete Standard Webhooks set
	// (webhook-id, webhook-timestamp and webhook-signature are all required together).
	ErrMissingHeaders = errors.New("webhook: missing signature headers")
	// ErrMalformedHeader: a signature header is present but cannot be read.
	ErrMalformedHeader = errors.New("webhook: malformed signature header")
	// ErrTimestampTooOld: webhook-timestamp is older than the tolerance (a replay, or a
	// request held up too long).
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew: webhook-timestamp is further in the future than the tolerance.
	ErrTimestampTooNew = errors.New("webhook: timestamp too far in the future")
	// ErrNoMatchingSignature: the headers are well formed but no signature matches any of the
	// secrets (wrong secret, or the body, id or timestamp were changed).
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	// ErrNoSecrets: the Verifier has no usable secret and no usable public key.
	ErrNoSecrets = errors.New("webhook: verifier has no secret or public key")
)

// Scheme names a signature scheme.
type Scheme int

const (
	// SchemeStandard is Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature):
	// signs id, timestamp and body, so a receiver can reject replays.
	SchemeStandard Scheme = iota + 1
	// SchemeMessageDesk is X-MessageDesk-Signature: signs the body only. It carries no
	// timestamp, so a captured request can be replayed; deduplicate on the event id.
	SchemeMessageDesk
	// SchemeStandardV1a is Standard Webhooks with an asymmetric "v1a" (ed25519) signature,
	// verified with a public key: the receiver holds nothing that could forge a webhook.
	SchemeStandardV1a
)

func (s Scheme) String() string {
	switch s {
	case SchemeStandard:
		return "Standard Webhooks"
	case SchemeMessageDesk:
		return HeaderSignature
	case SchemeStandardV1a:
		return "Standard Webhooks v1a (ed25519)"
	}
	return "none"
}

// Result describes a successful verification.
type Result struct {
	Scheme      Scheme
	SecretIndex int       // index in Verifier.Secrets of the secret that matched (v1, X-MessageDesk-Signature)
	KeyIndex    int       // index in Verifier.PublicKeys, then the KeySet's keys, of the key that matched (v1a)
	KeyID       string    // kid of the key that matched (v1a)
	ID          string    // webhook-id (Standard Webhooks only)
	Timestamp   time.Time // webhook-timestamp (Standard Webhooks only)
}

// Verifier checks the signature of incoming webhooks. Its fields may be set directly;
// a Verifier must not be changed while in use, and is then safe for concurrent use.
//
// When any Standard Webhooks header is present, only that scheme is checked (a failure there
// does not fall back to X-MessageDesk-Signature). Otherwise X-MessageDesk-Signature is checked,
// unless StandardOnly is set.
type Verifier struct {
	// Secrets are tried in turn; any match passes. Keep the previous secret here while you
	// rotate, if your receiver is updated before the sender.
	Secrets []Secret
	// PublicKeys verify "v1a" (ed25519) entries of webhook-signature; any match passes. A
	// Verifier may have secrets, public keys or both. Public keys check Standard Webhooks
	// only: X-MessageDesk-Signature is an HMAC and needs the secret.
	PublicKeys []PublicKey
	// KeySet, when set, adds the keys published at a JWKS URL to PublicKeys, fetched and
	// refreshed as KeySet describes. It is consulted only for requests with a v1a entry.
	KeySet *KeySet
	// Tolerance is the largest allowed distance between webhook-timestamp and Now, in either
	// direction. Zero means DefaultTolerance; a negative value disables the check (not advised).
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StandardOnly rejects requests that carry only X-MessageDesk-Signature, so that every
	// accepted request is protected against replay by its timestamp.
	StandardOnly bool
}

// NewVerifier returns a Verifier for the given secrets with the default tolerance.
func NewVerifier(secrets ...Secret) *Verifier { return &Verifier{Secrets: secrets} }

// NewKeyVerifier returns a Verifier for the given public keys (v1a only) with the default
// tolerance.
func NewKeyVerifier(keys ...PublicKey) *Verifier { return &Verifier{PublicKeys: keys} }

// VerifyRequest reads and verifies r's body, returning the body for the caller to decode.
// The body is read whole, up to maxBytes (≤ 0 means 10 MiB), and r.Body is closed.
func (v *Verifier) VerifyRequest(r *http.Request, maxBytes int64) ([]byte, Result, error) {
	if maxBytes <= 0 {
		maxBytes = 10 << 20
	}
	defer r.Body.Close()
	body, err := readAll(r.Body, maxBytes)
	if err != nil {
		return nil, Result{}, err
	}
	res, err := v.VerifyContext(r.Context(), r.Header, body)
	return body, res, err
}

// Verify checks the signature headers in h against the raw body, exactly as received.
// It never panics; every failure wraps one of the Err* values of this package.
func (v *Verifier) Verify(h http.Header, body []byte) (Result, error) {
	return v.VerifyContext(context.Background(), h, body)
}

// VerifyContext is Verify with a context for fetching the KeySet, when there is one.
func (v *Verifier) VerifyContext(ctx context.Context, h http.Header, body []byte) (Result, error) {
	if v.KeySet != nil {
		if sig, _ := header(h, canonStdSignature, HeaderStdSignature); strings.Contains(sig, "v1a,") {
			kidHdr, _ := header(h, canonKeyID, HeaderKeyID)
			kids := strings.Fields(kidHdr)
			if len(kids) > 8 {
				kids = kids[:8]
			}
			fetched, err := v.KeySet.Keys(ctx, kids...)
			if err != nil {
				vv := *v
				vv.KeySet = nil
				if secrets, keys := vv.usable(); !secrets && !keys {
					return Result{}, err // nothing else to verify with
				}
			}
			vv := *v
			vv.KeySet = nil
			vv.PublicKeys = append(append([]PublicKey(nil), v.PublicKeys...), fetched...)
			if secrets, keys := vv.usable(); err == nil && !secrets && !keys {
				return Result{}, fmt.Errorf("%w: %s lists no ed25519 signature key", ErrKeySet, v.KeySet.URL)
			}
			v = &vv
		}
	}
	secrets, keys := v.usable()
	if !secrets && !keys {
		return Result{}, ErrNoSecrets
	}

	id, idOK := header(h, canonID, HeaderID)
	ts, tsOK := header(h, canonTimestamp, HeaderTimestamp)
	sig, sigOK := header(h, canonStdSignature, HeaderStdSignature)
	if idOK || tsOK || sigOK {
		return v.verifyStandard(id, ts, sig, body)
	}
	if v.StandardOnly || !secrets {
		return Result{}, fmt.Errorf("%w: %s, %s and %s are required", ErrMissingHeaders, HeaderID, HeaderTimestamp, HeaderStdSignature)
	}
	md, mdOK := header(h, canonSignature, HeaderSignature)
	if !mdOK {
		return Result{}, fmt.Errorf("%w: expected %s, %s and %s, or %s", ErrMissingHeaders, HeaderID, HeaderTimestamp, HeaderStdSignature, HeaderSignature)
	}
	return v.verifyMessageDesk(md, body)
}

func (v *Verifier) verifyStandard(id, ts, sig string, body []byte) (Result, error) {
	var missing []string
	if id == "" {
		missing = append(missing, HeaderID)
	}
	if ts == "" {
		missing = append(missing, HeaderTimestamp)
	}
	if sig == "" {
		missing = append(missing, HeaderStdSignature)
	}
	if len(missing) > 0 {
		return Result{}, fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}
	if !isDigits(ts) || len(ts) > 18 {
		return Result{}, fmt.Errorf("%w: %s %s is not Unix seconds", ErrMalformedHeader, HeaderTimestamp, quote(ts))
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s %s is not Unix seconds", ErrMalformedHeader, HeaderTimestamp, quote(ts))
	}
	if tol := v.tolerance(); tol >= 0 {
		now := v.now().Unix()
		tolSec := int64(tol / time.Second)
		// sec is in [0, 1e18), now and tolSec are small: no overflow.
		if sec < now-tolSec {
			return Result{}, fmt.Errorf("%w: %s is %s old (tolerance %s)", ErrTimestampTooOld, HeaderTimestamp, span(now-sec), tol)
		}
		if sec > now+tolSec {
			return Result{}, fmt.Errorf("%w: %s is %s ahead (tolerance %s)", ErrTimestampTooNew, HeaderTimestamp, span(sec-now), tol)
		}
	}

	// Parse the signature list: space-separated "version,base64"; unknown versions are ignored.
	var v1, v1a []string
	entries := 0
	for _, e := range strings.Fields(sig) {
		ver, s, ok := strings.Cut(e, ",")
		if !ok || ver == "" {
			continue
		}
		entries++
		switch {
		case s == "":
		case ver == "v1":
			v1 = append(v1, s)
		case ver == "v1a":
			v1a = append(v1a, s)
		}
	}
	if entries == 0 {
		return Result{}, fmt.Errorf("%w: %s %s has no \"version,signature\" entry", ErrMalformedHeader, HeaderStdSignature, quote(sig))
	}
	secrets, keys := v.usable()
	if !(secrets && len(v1) > 0) && !(keys && len(v1a) > 0) {
		var want []string
		if secrets {
			want = append(want, "v1")
		}
		if keys {
			want = append(want, "v1a")
		}
		return Result{}, fmt.Errorf("%w: %s has no %s signature", ErrNoMatchingSignature, HeaderStdSignature, strings.Join(want, " or "))
	}

	sc := getScratch()
	defer putScratch(sc)
	prefix := append(sc.prefix[:0], id...)
	prefix = append(prefix, '.')
	prefix = append(prefix, ts...)
	prefix = append(prefix, '.')
	sc.prefix = prefix
	for i, s := range v.Secrets {
		if s.k == nil || len(v1) == 0 {
			continue
		}
		want := s.k.stdMAC(sc.out[:0], sc.sum[:], prefix, body)
		sc.out = want
		for _, got := range v1 {
			if hmac.Equal([]byte(got), want) {
				return Result{Scheme: SchemeStandard, SecretIndex: i, ID: id, Timestamp: time.Unix(sec, 0)}, nil
			}
		}
	}
	if keys && len(v1a) > 0 {
		// ed25519 verification takes the whole message at once.
		msg := make([]byte, 0, len(prefix)+len(body))
		msg = append(append(msg, prefix...), body...)
		var raw [66]byte // base64.DecodedLen of 88 characters
		for _, got := range v1a {
			if len(got) != 88 {
				continue // not a padded base64 ed25519 signature (64 bytes)
			}
			n, err := base64.StdEncoding.Decode(raw[:], []byte(got))
			if err != nil || n != 64 {
				continue
			}
			for i, k := range v.PublicKeys {
				if !k.IsZero() && k.verify(msg, raw[:64]) {
					return Result{Scheme: SchemeStandardV1a, KeyIndex: i, KeyID: k.KeyID(), ID: id, Timestamp: time.Unix(sec, 0)}, nil
				}
			}
		}
	}
	var parts []string
	if secrets && len(v1) > 0 {
		parts = append(parts, fmt.Sprintf("none of %d v1 signature(s) matches the body, id and timestamp with %s", len(v1), v.secretsDesc()))
	}
	if keys && len(v1a) > 0 {
		parts = append(parts, fmt.Sprintf("none of %d v1a signature(s) matches the body, id and timestamp with %s", len(v1a), v.keysDesc()))
	}
	return Result{}, fmt.Errorf("%w: %s", ErrNoMatchingSignature, strings.Join(parts, "; "))
}

// usable reports whether v has a non-zero secret, and a non-zero public key or a KeySet.
func (v *Verifier) usable() (secrets, keys bool) {
	for _, s := range v.Secrets {
		if !s.IsZero() {
			secrets = true
			break
		}
	}
	for _, k := range v.PublicKeys {
		if !k.IsZero() {
			keys = true
			break
		}
	}
	return secrets, keys || v.KeySet != nil
}

func (v *Verifier) keysDesc() string { return listed("public key", v.PublicKeys, PublicKey.KeyID) }

func (v *Verifier) verifyMessageDesk(md string, body []byte) (Result, error) {
	md = strings.TrimSpace(md)
	if md == "" {
		return Result{}, fmt.Errorf("%w: %s is empty", ErrMissingHeaders, HeaderSignature)
	}
	if len(md) != 44 || !isBase64(md) {
		return Result{}, fmt.Errorf("%w: %s %s is not base64 of 32 bytes", ErrMalformedHeader, HeaderSignature, quote(md))
	}
	sc := getScratch()
	defer putScratch(sc)
	for i, s := range v.Secrets {
		if s.k == nil {
			continue
		}
		want := s.k.mdMAC(sc.out[:0], sc.sum[:], body)
		sc.out = want
		if hmac.Equal([]byte(md), want) {
			return Result{Scheme: SchemeMessageDesk, SecretIndex: i}, nil
		}
	}
	return Result{}, fmt.Errorf("%w: %s does not match the body with %s", ErrNoMatchingSignature, HeaderSignature, v.secretsDesc())
}

func (v *Verifier) tolerance() time.Duration {
	if v.Tolerance == 0 {
		return DefaultTolerance
	}
	return v.Tolerance
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) secretsDesc() string { return listed("secret", v.Secrets, Secret.Fingerprint) }

// listed names the non-zero xs by name: one ("secret whsec_…a1") or several ("secrets
// whsec_…a1, whsec_…b2").
func listed[T interface{ IsZero() bool }](what string, xs []T, name func(T) string) string {
	var names []string
	for _, x := range xs {
		if !x.IsZero() {
			names = append(names, name(x))
		}
	}
	if len(names) == 1 {
		return what + " " + names[0]
	}
	return what + "s " + strings.Join(names, ", ")
}

// header returns the first value of a header by its canonical name, or, for header maps
// built by hand, by its documented spelling.
func header(h http.Header, canon, name string) (string, bool) {
	if vs, ok := h[canon]; ok && len(vs) > 0 {
		return vs[0], true
	}
	if vs, ok := h[name]; ok && len(vs) > 0 {
		return vs[0], true
	}
	if lower := strings.ToLower(name); lower != name {
		if vs, ok := h[lower]; ok && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// quote quotes an untrusted header value for an error message, cut to a readable length.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
}

// span formats a number of seconds, without overflowing time.Duration for absurd values.
func span(sec int64) string {
	if sec < 9e9 {
		return (time.Duration(sec) * time.Second).String()
	}
	return strconv.FormatInt(sec, 10) + "s"
}
