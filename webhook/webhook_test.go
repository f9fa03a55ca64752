package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// The Standard Webhooks reference known answer (docs/architecture.md §2).
const (
	kaSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	kaID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	kaTS     = 1614265330
	kaBody   = `{"test": 2432232314}`
	kaSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestKnownAnswer(t *testing.T) {
	h := http.Header{}
	webhook.Sign(h, kaID, time.Unix(kaTS, 0), []byte(kaBody), webhook.MustParseSecret(kaSecret))
	if got := h.Get(webhook.HeaderStdSignature); got != kaSig {
		t.Fatalf("webhook-signature = %q, want %q", got, kaSig)
	}
	if got := h.Get(webhook.HeaderID); got != kaID {
		t.Errorf("webhook-id = %q", got)
	}
	if got := h.Get(webhook.HeaderTimestamp); got != "1614265330" {
		t.Errorf("webhook-timestamp = %q", got)
	}
	// X-MessageDesk-Signature, computed independently: key = the secret string as shown.
	m := hmac.New(sha256.New, []byte(kaSecret))
	m.Write([]byte(kaBody))
	if got, want := h.Get(webhook.HeaderSignature), base64.StdEncoding.EncodeToString(m.Sum(nil)); got != want {
		t.Errorf("X-MessageDesk-Signature = %q, want %q", got, want)
	}
	if len(h) != 4 {
		t.Errorf("Sign set %d headers, want 4: %v", len(h), h)
	}
	// Without the prefix the same key, and String adds the prefix back.
	s := webhook.MustParseSecret(strings.TrimPrefix(kaSecret, "whsec_"))
	if s.String() != kaSecret {
		t.Errorf("String() = %q", s.String())
	}
	v := webhook.Verifier{Secrets: []webhook.Secret{s}, Now: clock(kaTS)}
	res, err := v.Verify(h, []byte(kaBody))
	if err != nil || res.Scheme != webhook.SchemeStandard || res.ID != kaID || res.Timestamp.Unix() != kaTS {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

func clock(unix int64) func() time.Time { return func() time.Time { return time.Unix(unix, 0) } }

func TestSecrets(t *testing.T) {
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	str := s.String()
	if !strings.HasPrefix(str, "whsec_") {
		t.Fatalf("NewSecret = %q", str)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(str, "whsec_"))
	if err != nil || len(key) != 32 {
		t.Fatalf("NewSecret key: %d bytes, %v", len(key), err)
	}
	s2, err := webhook.NewSecret()
	if err != nil || s2.Equal(s) {
		t.Fatalf("two NewSecret calls are equal or failed: %v", err)
	}
	p, err := webhook.ParseSecret("  " + str + "\n")
	if err != nil || !p.Equal(s) || p.String() != str {
		t.Fatalf("ParseSecret round trip: %q, %v", p.String(), err)
	}
	fp := s.Fingerprint()
	if !strings.HasPrefix(fp, "whsec_…") || len(fp) != len("whsec_…")+8 {
		t.Errorf("Fingerprint = %q", fp)
	}
	if s.Fingerprint() == s2.Fingerprint() {
		t.Error("different secrets, same fingerprint")
	}
	if got := webhook.MustParseSecret(kaSecret).Fingerprint(); got != webhook.MustParseSecret(kaSecret).Fingerprint() {
		t.Error("fingerprint not stable")
	}
	if lv := s.LogValue().String(); lv != fp {
		t.Errorf("LogValue = %q, want the fingerprint", lv)
	}
	var zero webhook.Secret
	if !zero.IsZero() || zero.String() != "" || zero.Fingerprint() != "" || s.IsZero() {
		t.Error("IsZero / zero value")
	}

	for _, bad := range []string{
		"", "whsec_", "   ",
		"whsec_not base64!",
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",                        // bad length
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), // too short
		"whsec_AAAA",
		"whsec_" + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 32))), // URL alphabet
	} {
		if _, err := webhook.ParseSecret(bad); !errors.Is(err, webhook.ErrInvalidSecret) {
			t.Errorf("ParseSecret(%q) = %v, want ErrInvalidSecret", bad, err)
		}
	}
	if _, err := webhook.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 24))); err != nil {
		t.Errorf("24-byte key rejected: %v", err)
	}
}

func TestSignRotationAndZeroSecrets(t *testing.T) {
	cur, prev := mustNew(t), mustNew(t)
	body := []byte(`{"hello":"world"}`)
	ts := time.Unix(1700000000, 0)
	h := http.Header{}
	webhook.Sign(h, "evt_1", ts, body, cur, webhook.Secret{}, prev)
	sigs := strings.Split(h.Get(webhook.HeaderStdSignature), " ")
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Fatalf("webhook-signature = %q", h.Get(webhook.HeaderStdSignature))
	}
	// Each signature on its own verifies with its own secret only.
	for i, s := range []webhook.Secret{cur, prev} {
		one := h.Clone()
		one.Set(webhook.HeaderStdSignature, sigs[i])
		if _, err := (&webhook.Verifier{Secrets: []webhook.Secret{s}, Now: clock(ts.Unix())}).Verify(one, body); err != nil {
			t.Errorf("signature %d with its secret: %v", i, err)
		}
		other := []webhook.Secret{prev, cur}[i]
		if _, err := (&webhook.Verifier{Secrets: []webhook.Secret{other}, Now: clock(ts.Unix())}).Verify(one, body); !errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Errorf("signature %d with the other secret: %v", i, err)
		}
	}
	// A receiver that only knows the old secret still accepts the rotated request.
	res, err := (&webhook.Verifier{Secrets: []webhook.Secret{prev}, Now: clock(ts.Unix())}).Verify(h, body)
	if err != nil || res.SecretIndex != 0 {
		t.Fatalf("previous secret: %+v %v", res, err)
	}
	// X-MessageDesk-Signature is keyed with the current secret only.
	h2 := h.Clone()
	for _, k := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderStdSignature} {
		h2.Del(k)
	}
	if res, err := (&webhook.Verifier{Secrets: []webhook.Secret{prev, cur}}).Verify(h2, body); err != nil || res.Scheme != webhook.SchemeMessageDesk || res.SecretIndex != 1 {
		t.Fatalf("MessageDesk with [prev, cur]: %+v %v", res, err)
	}
	if _, err := (&webhook.Verifier{Secrets: []webhook.Secret{prev}}).Verify(h2, body); !errors.Is(err, webhook.ErrNoMatchingSignature) {
		t.Fatalf("MessageDesk with prev only: %v", err)
	}

	// Re-signing replaces; no secret removes the signatures.
	webhook.Sign(h, "evt_2", ts, body)
	if h.Get(webhook.HeaderID) != "evt_2" || h.Get(webhook.HeaderTimestamp) != "1700000000" ||
		h.Get(webhook.HeaderStdSignature) != "" || h.Get(webhook.HeaderSignature) != "" {
		t.Fatalf("Sign without secrets: %v", h)
	}
}

func mustNew(t testing.TB) webhook.Secret {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejects(t *testing.T) {
	sec := webhook.MustParseSecret(kaSecret)
	now := int64(kaTS)
	body := []byte(kaBody)
	signed := func() http.Header {
		h := http.Header{}
		webhook.Sign(h, kaID, time.Unix(now, 0), body, sec)
		return h
	}
	std := func(h http.Header) http.Header { h.Del(webhook.HeaderSignature); return h }
	mdOnly := func(h http.Header) http.Header {
		h.Del(webhook.HeaderID)
		h.Del(webhook.HeaderTimestamp)
		h.Del(webhook.HeaderStdSignature)
		return h
	}
	set := func(h http.Header, k, v string) http.Header { h.Set(k, v); return h }
	del := func(h http.Header, k string) http.Header { h.Del(k); return h }
	ts := func(d int64) string { return strconv.FormatInt(now+d, 10) }
	signedAt := func(d int64) http.Header {
		h := http.Header{}
		webhook.Sign(h, kaID, time.Unix(now+d, 0), body, sec)
		return h
	}
	wrong := mustNew(t)

	cases := []struct {
		name string
		h    http.Header
		body string
		v    *webhook.Verifier
		want error
	}{
		{"tampered body (standard)", std(signed()), `{"test": 2432232315}`, nil, webhook.ErrNoMatchingSignature},
		{"tampered body (messagedesk)", mdOnly(signed()), `{"test": 2432232315}`, nil, webhook.ErrNoMatchingSignature},
		{"tampered id", set(signed(), webhook.HeaderID, "msg_other"), "", nil, webhook.ErrNoMatchingSignature},
		{"tampered timestamp", set(signed(), webhook.HeaderTimestamp, ts(1)), "", nil, webhook.ErrNoMatchingSignature},
		{"tampered timestamp, too old", set(signed(), webhook.HeaderTimestamp, ts(-301)), "", nil, webhook.ErrTimestampTooOld},
		{"expired", signedAt(-301), "", nil, webhook.ErrTimestampTooOld},
		{"future", signedAt(301), "", nil, webhook.ErrTimestampTooNew},
		{"far future", set(signed(), webhook.HeaderTimestamp, "999999999999999999"), "", nil, webhook.ErrTimestampTooNew},
		{"expired, custom tolerance", signedAt(-61), "", &webhook.Verifier{Secrets: []webhook.Secret{sec}, Tolerance: time.Minute, Now: clock(now)}, webhook.ErrTimestampTooOld},
		{"wrong secret (standard)", std(signed()), "", &webhook.Verifier{Secrets: []webhook.Secret{wrong}, Now: clock(now)}, webhook.ErrNoMatchingSignature},
		{"wrong secret (messagedesk)", mdOnly(signed()), "", &webhook.Verifier{Secrets: []webhook.Secret{wrong}, Now: clock(now)}, webhook.ErrNoMatchingSignature},
		{"no headers", http.Header{}, "", nil, webhook.ErrMissingHeaders},
		{"empty webhook-signature", set(std(signed()), webhook.HeaderStdSignature, ""), "", nil, webhook.ErrMissingHeaders},
		{"empty X-MessageDesk-Signature", set(mdOnly(signed()), webhook.HeaderSignature, " "), "", nil, webhook.ErrMissingHeaders},
		{"missing webhook-id", del(signed(), webhook.HeaderID), "", nil, webhook.ErrMissingHeaders},
		{"missing webhook-timestamp", del(signed(), webhook.HeaderTimestamp), "", nil, webhook.ErrMissingHeaders},
		{"missing webhook-signature, no fallback", del(signed(), webhook.HeaderStdSignature), "", nil, webhook.ErrMissingHeaders},
		{"timestamp not a number", set(signed(), webhook.HeaderTimestamp, "2021-02-25T15:02:10Z"), "", nil, webhook.ErrMalformedHeader},
		{"negative timestamp", set(signed(), webhook.HeaderTimestamp, "-1614265330"), "", nil, webhook.ErrMalformedHeader},
		{"huge timestamp", set(signed(), webhook.HeaderTimestamp, strings.Repeat("9", 40)), "", nil, webhook.ErrMalformedHeader},
		{"signature without version", set(signed(), webhook.HeaderStdSignature, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), "", nil, webhook.ErrMalformedHeader},
		{"only unknown versions", set(signed(), webhook.HeaderStdSignature, strings.Replace(kaSig, "v1,", "v2,", 1)), "", nil, webhook.ErrNoMatchingSignature},
		{"v1a is not v1", set(signed(), webhook.HeaderStdSignature, strings.Replace(kaSig, "v1,", "v1a,", 1)), "", nil, webhook.ErrNoMatchingSignature},
		{"messagedesk garbage", set(mdOnly(signed()), webhook.HeaderSignature, "sha256=abc"), "", nil, webhook.ErrMalformedHeader},
		{"messagedesk only, StandardOnly", mdOnly(signed()), "", &webhook.Verifier{Secrets: []webhook.Secret{sec}, StandardOnly: true, Now: clock(now)}, webhook.ErrMissingHeaders},
		{"no secret", signed(), "", &webhook.Verifier{Secrets: []webhook.Secret{{}}}, webhook.ErrNoSecrets},
		{"nil secrets", signed(), "", &webhook.Verifier{}, webhook.ErrNoSecrets},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := c.v
			if v == nil {
				v = &webhook.Verifier{Secrets: []webhook.Secret{sec}, Now: clock(now)}
			}
			b := body
			if c.body != "" {
				b = []byte(c.body)
			}
			res, err := v.Verify(c.h, b)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %+v, %v; want %v", res, err, c.want)
			}
			for _, other := range []error{webhook.ErrMissingHeaders, webhook.ErrMalformedHeader, webhook.ErrTimestampTooOld,
				webhook.ErrTimestampTooNew, webhook.ErrNoMatchingSignature, webhook.ErrNoSecrets} {
				if other != c.want && errors.Is(err, other) {
					t.Errorf("error %v also matches %v", err, other)
				}
			}
			if res != (webhook.Result{}) {
				t.Errorf("failed Verify returned a result: %+v", res)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	sec := webhook.MustParseSecret(kaSecret)
	body := []byte(kaBody)
	base := http.Header{}
	webhook.Sign(base, kaID, time.Unix(kaTS, 0), body, sec)
	v := &webhook.Verifier{Secrets: []webhook.Secret{mustNew(t), sec}, Now: clock(kaTS)}

	cases := map[string]func(http.Header){
		"as signed":              func(http.Header) {},
		"edge of tolerance, old": func(h http.Header) { v.Now = clock(kaTS + 300) },
		"edge of tolerance, new": func(h http.Header) { v.Now = clock(kaTS - 300) },
		"unknown versions ignored": func(h http.Header) {
			h.Set(webhook.HeaderStdSignature, "v2,abc v1,AAAA "+kaSig+" garbage v1a,xyz")
		},
		"extra spaces": func(h http.Header) { h.Set(webhook.HeaderStdSignature, "  "+kaSig+"  ") },
		"lower-case keys built by hand": func(h http.Header) {
			for _, k := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderStdSignature} {
				h[k] = []string{h.Get(k)}
				delete(h, http.CanonicalHeaderKey(k))
			}
		},
		"messagedesk only": func(h http.Header) {
			h.Del(webhook.HeaderID)
			h.Del(webhook.HeaderTimestamp)
			h.Del(webhook.HeaderStdSignature)
			v.Now = clock(kaTS + 86400*365) // no timestamp, no expiry
		},
		"tolerance disabled": func(h http.Header) { v.Tolerance = -1; v.Now = clock(kaTS + 86400) },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			v.Now, v.Tolerance = clock(kaTS), 0
			h := base.Clone()
			mod(h)
			res, err := v.Verify(h, body)
			if err != nil || res.SecretIndex != 1 {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
		})
	}
}

func TestVerifyRequest(t *testing.T) {
	sec := mustNew(t)
	body := strings.Repeat("x", 100)
	r, _ := http.NewRequest("POST", "http://x/", strings.NewReader(body))
	webhook.Sign(r.Header, "evt", time.Now(), []byte(body), sec)
	got, res, err := webhook.NewVerifier(sec).VerifyRequest(r, 0)
	if err != nil || string(got) != body || res.Scheme != webhook.SchemeStandard {
		t.Fatalf("VerifyRequest: %v %+v", err, res)
	}
	r, _ = http.NewRequest("POST", "http://x/", strings.NewReader(body))
	webhook.Sign(r.Header, "evt", time.Now(), []byte(body), sec)
	if _, _, err := webhook.NewVerifier(sec).VerifyRequest(r, 99); !errors.Is(err, webhook.ErrBodyTooLarge) {
		t.Fatalf("over limit: %v", err)
	}
}
