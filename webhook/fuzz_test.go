package webhook_test

import (
	"errors"
	"net/http"
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
