package webhook_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// FuzzVerify feeds arbitrary header values and bodies to the Verifier. It must never panic,
// must fail only with this package's errors, and must accept what Sign produces for the
// same id, timestamp and body.
func FuzzVerify(f *testing.F) {
	f.Add(kaID, "1614265330", kaSig, "", []byte(kaBody))
	f.Add(kaID, "1614265330", "v1,AAAA v2,abc "+kaSig, "", []byte(kaBody))
	f.Add("", "", "", "gOyKic480iEzoQZsrstNBP6nRnZXyFFNcX7ELDilyUw=", []byte(kaBody))
	f.Add("", "", "", "", []byte{})
	f.Add("id", "-1", "v1,", "", []byte("x"))
	f.Add("id", "99999999999999999999999", ",,, v1 ,", "=", []byte("x"))
	f.Add("id", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", "not base64", []byte(nil))
	f.Add("id.with.dots", "0", "\x00 \t v1,\xff", "\xff", []byte("\x00"))

	sec := webhook.MustParseSecret(kaSecret)
	errs := []error{webhook.ErrMissingHeaders, webhook.ErrMalformedHeader, webhook.ErrTimestampTooOld,
		webhook.ErrTimestampTooNew, webhook.ErrNoMatchingSignature}

	f.Fuzz(func(t *testing.T, id, ts, sig, md string, body []byte) {
		for _, standardOnly := range []bool{false, true} {
			v := &webhook.Verifier{Secrets: []webhook.Secret{sec}, Now: clock(kaTS), StandardOnly: standardOnly}
			h := http.Header{}
			for k, val := range map[string]string{webhook.HeaderID: id, webhook.HeaderTimestamp: ts,
				webhook.HeaderStdSignature: sig, webhook.HeaderSignature: md} {
				if val != "" {
					h.Set(k, val)
				}
			}
			res, err := v.Verify(h, body)
			if err == nil {
				if res.Scheme == 0 {
					t.Fatalf("accepted without a scheme: %+v", res)
				}
				continue
			}
			known := false
			for _, e := range errs {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("unexpected error type: %v", err)
			}
		}

		// Round trip: whatever the id and body, our own signature verifies.
		h := http.Header{}
		webhook.Sign(h, id, time.Unix(kaTS, 0), body, sec)
		v := &webhook.Verifier{Secrets: []webhook.Secret{sec}, Now: clock(kaTS)}
		if id != "" {
			if _, err := v.Verify(h, body); err != nil {
				t.Fatalf("own signature rejected: %v (id %q)", err, id)
			}
		}
	})
}

// FuzzVerifyV1a feeds arbitrary webhook-signature and key-id values to a Verifier with public
// keys (and a secret): it must never panic, must fail only with this package's errors, and
// must accept what SignV1a produces for the same id and body.
func FuzzVerifyV1a(f *testing.F) {
	seed := make([]byte, 32)
	k, _ := webhook.SigningKeyFromSeed(seed)
	good := http.Header{}
	webhook.SignV1a(good, kaID, time.Unix(kaTS, 0), []byte(kaBody), k)
	f.Add(kaID, good.Get(webhook.HeaderStdSignature), good.Get(webhook.HeaderKeyID), []byte(kaBody))
	f.Add(kaID, "v1a,"+strings.Repeat("A", 88)+" v1a,=== v1a,"+strings.Repeat("/", 200), "x y z", []byte(kaBody))
	f.Add("", "v1a, v1, v2,x", "", []byte{})
	f.Add("id.with.dots", "v1a,\xff\x00", "\xff", []byte("\x00"))

	keys := []webhook.PublicKey{webhook.MustParsePublicKey(mustKeyString(f)), k.Public()}
	v := &webhook.Verifier{PublicKeys: keys, Secrets: []webhook.Secret{webhook.MustParseSecret(kaSecret)}, Now: clock(kaTS)}
	errs := []error{webhook.ErrMissingHeaders, webhook.ErrMalformedHeader, webhook.ErrNoMatchingSignature}
	f.Fuzz(func(t *testing.T, id, sig, kid string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, "1614265330")
		h.Set(webhook.HeaderStdSignature, sig)
		h.Set(webhook.HeaderKeyID, kid)
		res, err := v.Verify(h, body)
		if err == nil && res.Scheme == webhook.SchemeStandardV1a && res.KeyIndex != 1 {
			t.Fatalf("matched key #%d, which signed nothing", res.KeyIndex)
		}
		if err != nil {
			known := false
			for _, e := range errs {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("unexpected error %v", err)
			}
		}
		// What we sign for this id and body verifies.
		if id == "" || strings.ContainsAny(id, "\r\n") {
			return
		}
		h2 := http.Header{}
		webhook.SignV1a(h2, id, time.Unix(kaTS, 0), body, k)
		if res, err := v.Verify(h2, body); err != nil || res.Scheme != webhook.SchemeStandardV1a {
			t.Fatalf("own signature rejected: %+v, %v", res, err)
		}
	})
}

func mustKeyString(f *testing.F) string {
	k, err := webhook.NewSigningKey()
	if err != nil {
		f.Fatal(err)
	}
	return k.Public().String()
}

// FuzzParseJWKS: any document is read or refused with ErrInvalidPublicKey, never a panic,
// and what it returns marshals back to a document that parses to the same keys.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(webhook.MarshalJWKS(webhook.MustParsePublicKey("whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="))))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"","d":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":1,"crv":null,"x":[]}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := webhook.ParseJWKS(doc)
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidPublicKey) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := webhook.ParseJWKS(webhook.MarshalJWKS(keys...))
		if err != nil || len(again) != len(keys) {
			t.Fatalf("re-marshalled: %v %v", again, err)
		}
		for i := range keys {
			if !keys[i].Equal(again[i]) {
				t.Fatalf("key #%d changed", i)
			}
		}
	})
}
