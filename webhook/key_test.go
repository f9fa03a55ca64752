package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

func mustKey(t testing.TB) webhook.SigningKey {
	t.Helper()
	k, err := webhook.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// RFC 8037 appendix A.3 gives the JWK thumbprint of the RFC 8032 TEST 1 key: our kid.
func TestKeyIDIsRFC8037Thumbprint(t *testing.T) {
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	k, err := webhook.SigningKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.KeyID(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("kid %s, RFC 8037 A.3 says %s", got, want)
	}
	if got, want := k.Public().JWK().X, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"; got != want {
		t.Fatalf("x %s, RFC 8037 A.2 says %s", got, want)
	}
}

func signBoth(h http.Header, id string, ts time.Time, body []byte, secs []webhook.Secret, keys ...webhook.SigningKey) {
	webhook.Sign(h, id, ts, body, secs...)
	webhook.SignV1a(h, id, ts, body, keys...)
}

func TestV1aRoundTripAndTampering(t *testing.T) {
	k, other := mustKey(t), mustKey(t)
	sec := mustNew(t)
	body := []byte(`{"id":"01KAE88YX393N7SAE2VQ3WQ0ZB","object":"Event"}`)
	now := time.Unix(1763562519, 0)
	at := func() time.Time { return now }
	h := http.Header{}
	signBoth(h, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body, []webhook.Secret{sec}, k)

	sig := h.Get(webhook.HeaderStdSignature)
	if f := strings.Fields(sig); len(f) != 2 || !strings.HasPrefix(f[0], "v1,") || !strings.HasPrefix(f[1], "v1a,") {
		t.Fatalf("webhook-signature %q: want a v1 then a v1a entry", sig)
	}
	if got := h.Get(webhook.HeaderKeyID); got != k.KeyID() {
		t.Fatalf("key id header %q, want %q", got, k.KeyID())
	}

	res, err := (&webhook.Verifier{PublicKeys: []webhook.PublicKey{k.Public()}, Now: at}).Verify(h, body)
	if err != nil || res.Scheme != webhook.SchemeStandardV1a || res.KeyID != k.KeyID() || res.ID != "01KAE88YX393N7SAE2VQ3WQ0ZB" {
		t.Fatalf("public key: %+v, %v", res, err)
	}
	// A receiver with the HMAC secret still verifies v1 (v1a is ignored by it).
	if res, err := (&webhook.Verifier{Secrets: []webhook.Secret{sec}, Now: at}).Verify(h, body); err != nil || res.Scheme != webhook.SchemeStandard {
		t.Fatalf("secret: %+v, %v", res, err)
	}
	// The wrong key, a changed body, id or timestamp fail.
	if _, err := (&webhook.Verifier{PublicKeys: []webhook.PublicKey{other.Public()}, Now: at}).Verify(h, body); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	v := &webhook.Verifier{PublicKeys: []webhook.PublicKey{k.Public()}, Now: at}
	if _, err := v.Verify(h, append([]byte(nil), append(body, ' ')...)); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Fatalf("changed body: %v", err)
	}
	for name, val := range map[string]string{webhook.HeaderID: "01KAE88YX393N7SAE2VQ3WQ0ZC", webhook.HeaderTimestamp: "1763562520"} {
		bad := h.Clone()
		bad.Set(name, val)
		if _, err := v.Verify(bad, body); !errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Fatalf("changed %s: %v", name, err)
		}
	}
	// Stripping the v1a entry leaves a key-only receiver nothing to check.
	stripped := h.Clone()
	stripped.Set(webhook.HeaderStdSignature, strings.Fields(sig)[0])
	if _, err := v.Verify(stripped, body); !errors.Is(err, webhook.ErrNoMatchingSignature) || !strings.Contains(err.Error(), "no v1a signature") {
		t.Fatalf("no v1a entry: %v", err)
	}
	// Public keys cannot check X-MessageDesk-Signature, which is an HMAC.
	md := http.Header{}
	md.Set(webhook.HeaderSignature, h.Get(webhook.HeaderSignature))
	if _, err := v.Verify(md, body); !errors.Is(err, webhook.ErrMissingHeaders) {
		t.Fatalf("X-MessageDesk-Signature only: %v", err)
	}
	// An old timestamp is refused as with v1.
	late := &webhook.Verifier{PublicKeys: []webhook.PublicKey{k.Public()}, Now: func() time.Time { return now.Add(10 * time.Minute) }}
	if _, err := late.Verify(h, body); !errors.Is(err, webhook.ErrTimestampTooOld) {
		t.Fatalf("replayed: %v", err)
	}
}

func TestV1aRotationGrace(t *testing.T) {
	cur, prev := mustKey(t), mustKey(t)
	body := []byte(`{"n":1}`)
	now := time.Now()
	h := http.Header{}
	webhook.SignV1a(h, "msg_1", now, body, cur, webhook.SigningKey{}, prev)
	if got := h.Get(webhook.HeaderKeyID); got != cur.KeyID()+" "+prev.KeyID() {
		t.Fatalf("key ids %q", got)
	}
	if h.Get(webhook.HeaderSignature) != "" {
		t.Fatal("SignV1a alone must not invent an X-MessageDesk-Signature")
	}
	for i, pk := range []webhook.PublicKey{cur.Public(), prev.Public()} {
		if _, err := webhook.NewKeyVerifier(pk).Verify(h, body); err != nil {
			t.Fatalf("key #%d: %v", i, err)
		}
	}
	res, err := webhook.NewKeyVerifier(mustKey(t).Public(), prev.Public()).Verify(h, body)
	if err != nil || res.KeyIndex != 1 || res.KeyID != prev.KeyID() {
		t.Fatalf("second key of the verifier: %+v, %v", res, err)
	}
	// No keys: the headers stay as they were.
	h2 := http.Header{}
	webhook.SignV1a(h2, "msg_1", now, body)
	if len(h2) != 0 {
		t.Fatalf("SignV1a with no keys set %v", h2)
	}
}

func TestParseKeys(t *testing.T) {
	k := mustKey(t)
	if got := webhook.MustParseSigningKey("  " + k.String() + "\n"); got.String() != k.String() {
		t.Fatal("signing key does not round-trip")
	}
	if got := webhook.MustParsePublicKey(strings.TrimPrefix(k.Public().String(), "whpk_")); !got.Equal(k.Public()) {
		t.Fatal("public key without prefix does not parse")
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(k.String(), "whsk_"))
	mismatched := append(append([]byte(nil), raw[:32]...), mustKey(t).Public().Bytes()...)
	for _, bad := range []string{"", "whsk_", "whsk_!!!", "whsk_" + base64.StdEncoding.EncodeToString(raw[:31]),
		"whsk_" + base64.StdEncoding.EncodeToString(mismatched)} {
		if _, err := webhook.ParseSigningKey(bad); !errors.Is(err, webhook.ErrInvalidSigningKey) {
			t.Errorf("ParseSigningKey(%q): %v", bad, err)
		}
	}
	for _, bad := range []string{"", "whpk_", "whpk_%%", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)), k.String()} {
		if _, err := webhook.ParsePublicKey(bad); !errors.Is(err, webhook.ErrInvalidPublicKey) {
			t.Errorf("ParsePublicKey(%q): %v", bad, err)
		}
	}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "key", k)
	if strings.Contains(sb.String(), k.String()) || !strings.Contains(sb.String(), k.KeyID()) {
		t.Fatalf("slog shows %q", sb.String())
	}
}

func TestJWKS(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	doc := webhook.MarshalJWKS(a.Public(), webhook.PublicKey{}, b.Public())
	keys, err := webhook.ParseJWKS(doc)
	if err != nil || len(keys) != 2 || !keys[0].Equal(a.Public()) || !keys[1].Equal(b.Public()) {
		t.Fatalf("round trip: %v %v\n%s", keys, err, doc)
	}
	if strings.Contains(string(doc), `"d"`) {
		t.Fatalf("a JWKS with a private member: %s", doc)
	}
	if got := string(webhook.MarshalJWKS()); got != `{"keys":[]}` {
		t.Fatalf("empty set %s", got)
	}
	x := a.Public().JWK().X
	other := fmt.Sprintf(`{"keys":[{"kty":"RSA","n":"abc","e":"AQAB"},{"kty":"OKP","crv":"X25519","x":%q},{"kty":"OKP","crv":"Ed25519","use":"enc","x":%q},{"kty":"OKP","crv":"Ed25519","x":%q}]}`, x, x, x)
	if keys, err := webhook.ParseJWKS([]byte(other)); err != nil || len(keys) != 1 || !keys[0].Equal(a.Public()) {
		t.Fatalf("skipping other keys: %v %v", keys, err)
	}
	for name, bad := range map[string]string{
		"private":    fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"d":"AAAA"}]}`, x),
		"kid":        fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"kid":"nope"}]}`, x),
		"short x":    `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`,
		"not base64": `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"***"}]}`,
		"no keys":    `{}`,
		"not json":   `<html>`,
	} {
		if _, err := webhook.ParseJWKS([]byte(bad)); !errors.Is(err, webhook.ErrInvalidPublicKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// jwksServer serves the current key set and counts fetches.
type jwksServer struct {
	*httptest.Server
	keys    atomic.Pointer[[]webhook.PublicKey]
	fetches atomic.Int32
	fail    atomic.Bool
	cc      string
}

func newJWKSServer(t *testing.T, cc string, keys ...webhook.PublicKey) *jwksServer {
	s := &jwksServer{cc: cc}
	s.set(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if s.cc != "" {
			w.Header().Set("Cache-Control", s.cc)
		}
		w.Write(webhook.MarshalJWKS(*s.keys.Load()...))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...webhook.PublicKey) { s.keys.Store(&keys) }

func TestKeySetFollowsRotation(t *testing.T) {
	k1, k2 := mustKey(t), mustKey(t)
	srv := newJWKSServer(t, "public, max-age=300", k1.Public())
	now := time.Unix(1763562519, 0)
	clock := func() time.Time { return now }
	ks := &webhook.KeySet{URL: srv.URL, Now: clock, MinRefresh: 10 * time.Second}
	v := &webhook.Verifier{KeySet: ks, Now: clock}
	body := []byte(`{"n":1}`)
	send := func(k webhook.SigningKey) error {
		h := http.Header{}
		webhook.SignV1a(h, "msg_1", now, body, k)
		_, err := v.Verify(h, body)
		return err
	}

	for range 3 {
		if err := send(k1); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for three deliveries within max-age", n)
	}
	// A request without a v1a entry never fetches.
	h := http.Header{}
	webhook.Sign(h, "msg_1", now, body, mustNew(t))
	if _, err := v.Verify(h, body); !errors.Is(err, webhook.ErrNoMatchingSignature) || srv.fetches.Load() != 1 {
		t.Fatalf("v1-only request: %v, %d fetches", err, srv.fetches.Load())
	}

	// Rotation without grace: the sender publishes k2 only and signs with it. The unknown kid
	// makes the receiver refetch (once MinRefresh has passed since the last fetch).
	srv.set(k2.Public())
	if err := send(k2); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Fatalf("within MinRefresh of the last fetch: %v", err)
	}
	now = now.Add(11 * time.Second)
	if err := send(k2); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if err := send(k1); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Fatalf("the retired key still verifies: %v", err)
	}
	// Forged kids do not make it fetch more than once per MinRefresh.
	before := srv.fetches.Load()
	for range 20 {
		h := http.Header{}
		webhook.SignV1a(h, "msg_1", now, body, mustKey(t))
		v.Verify(h, body)
	}
	if n := srv.fetches.Load() - before; n > 1 {
		t.Fatalf("%d fetches for 20 unknown kids within MinRefresh", n)
	}
	// The document going away keeps the keys already held.
	srv.fail.Store(true)
	now = now.Add(time.Hour)
	if err := send(k2); err != nil {
		t.Fatalf("with the JWKS URL failing: %v", err)
	}
}

func TestKeySetFirstFetchFails(t *testing.T) {
	srv := newJWKSServer(t, "")
	srv.fail.Store(true)
	v := &webhook.Verifier{KeySet: webhook.NewKeySet(srv.URL)}
	h := http.Header{}
	webhook.SignV1a(h, "msg_1", time.Now(), nil, mustKey(t))
	_, err := v.VerifyContext(context.Background(), h, nil)
	if !errors.Is(err, webhook.ErrKeySet) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("%v", err)
	}
}
