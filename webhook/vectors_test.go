package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/relaydesk/relaydesk/webhook"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the vector inputs")

// vectorFile is the published format of testdata/vectors.json.
type vectorFile struct {
	Description string   `json:"description"`
	Vectors     []vector `json:"vectors"`
}

type vector struct {
	Name      string            `json:"name"`
	Secrets   []string          `json:"secrets"` // secrets[0] is current; later ones are in a rotation grace window
	ID        string            `json:"id"`
	Timestamp int64             `json:"timestamp"`
	Body      string            `json:"body"` // the raw body, exactly (UTF-8)
	Headers   map[string]string `json:"headers"`
}

const vectorsPath = "testdata/vectors.json"

func seqSecret(start byte) string {
	b := make([]byte, 32)
	for i := range b {
		b[i] = start + byte(i)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// vectorInputs are the cases; the expected headers are filled in by -update and then
// checked independently below (official library, plain crypto/hmac).
func vectorInputs() []vector {
	k32 := seqSecret(0)
	k32b := seqSecret(100)
	event := `{"id":"01KAE88YX393N7SAE2VQ3WQ0ZB","object":"Event","name":"MessageReceived","workspaceId":"01K6N5WEYHS5N0796RZ1D4VQ7M","createdAt":"2025-11-19T14:28:39.459465Z","dataType":"Message","data":{"id":"01KAE88YWZ4D4R3NQ0J2YF1N7S","object":"Message","workspaceId":"01K6N5WEYHS5N0796RZ1D4VQ7M","conversationId":"01KAE88YWXK6T7G3QZ8M2D1P4R","communicationType":"sms","direction":"inbound","from":"+15555550123","to":["+15555550100"],"body":"Is the shop open on Sunday?","media":[],"contactId":null,"createdAt":"2025-11-19T14:28:39.459465Z"}}`
	return []vector{
		{Name: "standard-webhooks-known-answer", Secrets: []string{kaSecret}, ID: kaID, Timestamp: kaTS, Body: kaBody},
		{Name: "message-received", Secrets: []string{k32}, ID: "01KAE88YX393N7SAE2VQ3WQ0ZB", Timestamp: 1763562519, Body: event},
		{Name: "rotation-two-secrets", Secrets: []string{k32b, k32}, ID: "01KAE88YX393N7SAE2VQ3WQ0ZB", Timestamp: 1763562524, Body: event},
		{Name: "rotation-known-answer-previous", Secrets: []string{k32, kaSecret}, ID: kaID, Timestamp: kaTS, Body: kaBody},
		{Name: "unicode-body", Secrets: []string{k32}, ID: "01KAE8A0000000000000000000", Timestamp: 1763562600, Body: `{"body":"Grüße ✓ 😀 — ok?"}`},
		{Name: "empty-body", Secrets: []string{k32}, ID: "01KAE8A0000000000000000001", Timestamp: 1763562601, Body: ""},
		{Name: "trailing-newline-is-signed", Secrets: []string{k32}, ID: "01KAE8A0000000000000000002", Timestamp: 1763562602, Body: "{\"test\":1}\n"},
	}
}

func signVector(v vector) http.Header {
	var secs []webhook.Secret
	for _, s := range v.Secrets {
		secs = append(secs, webhook.MustParseSecret(s))
	}
	h := http.Header{}
	webhook.Sign(h, v.ID, time.Unix(v.Timestamp, 0), []byte(v.Body), secs...)
	return h
}

func headerMap(h http.Header) map[string]string {
	return map[string]string{
		webhook.HeaderID:           h.Get(webhook.HeaderID),
		webhook.HeaderTimestamp:    h.Get(webhook.HeaderTimestamp),
		webhook.HeaderStdSignature: h.Get(webhook.HeaderStdSignature),
		webhook.HeaderSignature:    h.Get(webhook.HeaderSignature),
	}
}

func TestVectors(t *testing.T) {
	if *update {
		f := vectorFile{
			Description: "relaydesk webhook signing vectors. For each vector, sign body with secrets (secrets[0] current, " +
				"later ones previous secrets in a rotation grace window) at id and timestamp; expect exactly these headers. " +
				"webhook-signature: Standard Webhooks v1, key = base64-decoded part after whsec_, message = id.timestamp.body, one entry per secret. " +
				"X-MessageDesk-Signature: base64 HMAC-SHA256 of body keyed with the UTF-8 bytes of secrets[0] as written (whsec_ included).",
		}
		for _, v := range vectorInputs() {
			v.Headers = headerMap(signVector(v))
			f.Vectors = append(f.Vectors, v)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) < len(vectorInputs()) {
		t.Fatalf("%s has %d vectors, want %d (run go test -run TestVectors -update)", vectorsPath, len(f.Vectors), len(vectorInputs()))
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			// 1. We reproduce the file.
			got := headerMap(signVector(v))
			for k, want := range v.Headers {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			if len(v.Headers) != 4 {
				t.Errorf("vector has %d headers, want 4", len(v.Headers))
			}
			if v.Headers[webhook.HeaderTimestamp] != strconv.FormatInt(v.Timestamp, 10) || v.Headers[webhook.HeaderID] != v.ID {
				t.Errorf("id/timestamp headers do not match the inputs")
			}
			// 2. The file is right independently of our code.
			m := hmac.New(sha256.New, []byte(v.Secrets[0]))
			m.Write([]byte(v.Body))
			if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); v.Headers[webhook.HeaderSignature] != want {
				t.Errorf("X-MessageDesk-Signature in file %q, plain HMAC gives %q", v.Headers[webhook.HeaderSignature], want)
			}
			var sigs []string
			for _, s := range v.Secrets {
				ref, err := standardwebhooks.NewWebhook(s)
				if err != nil {
					t.Fatal(err)
				}
				sig, _ := ref.Sign(v.ID, time.Unix(v.Timestamp, 0), []byte(v.Body))
				sigs = append(sigs, sig)
				h := http.Header{}
				for k, val := range v.Headers {
					h.Set(k, val)
				}
				if err := ref.VerifyIgnoringTimestamp([]byte(v.Body), h); err != nil {
					t.Errorf("official library rejects the vector with %s: %v", s, err)
				}
			}
			if want := joinSpace(sigs); v.Headers[webhook.HeaderStdSignature] != want {
				t.Errorf("webhook-signature in file %q, official library gives %q", v.Headers[webhook.HeaderStdSignature], want)
			}
			if v.Name == "standard-webhooks-known-answer" && v.Headers[webhook.HeaderStdSignature] != kaSig {
				t.Errorf("known answer changed: %q", v.Headers[webhook.HeaderStdSignature])
			}
			// 3. We verify it with each secret alone.
			h := http.Header{}
			for k, val := range v.Headers {
				h.Set(k, val)
			}
			for i, s := range v.Secrets {
				vr := webhook.Verifier{Secrets: []webhook.Secret{webhook.MustParseSecret(s)}, Now: clock(v.Timestamp)}
				if _, err := vr.Verify(h, []byte(v.Body)); err != nil {
					t.Errorf("Verify with secrets[%d]: %v", i, err)
				}
			}
		})
	}
}

func joinSpace(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}
