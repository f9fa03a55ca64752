package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// testdata/v1a_vectors.json: known answers for the asymmetric (v1a, ed25519) signatures.
// The Standard Webhooks spec publishes no v1a reference vectors and its reference libraries
// cannot sign v1a yet, so these are ours. Their key pairs are the RFC 8032 §7.1 test keys
// (TEST 1 and TEST 2), and they are checked here by two independent implementations:
// Node.js crypto (testdata/check_v1a.js) and Python cryptography (testdata/check_v1a.py),
// which re-derive each public key and kid, re-sign each message and verify each signature.

const v1aVectorsPath = "testdata/v1a_vectors.json"

type v1aVectorFile struct {
	Description string      `json:"description"`
	Keys        []v1aKey    `json:"keys"`
	Vectors     []v1aVector `json:"vectors"`
}

// v1aKey is a key pair with the RFC 8032 values it must reproduce.
type v1aKey struct {
	Name         string      `json:"name"`
	SeedHex      string      `json:"seedHex"`      // RFC 8032 SECRET KEY
	PublicKeyHex string      `json:"publicKeyHex"` // RFC 8032 PUBLIC KEY
	SigningKey   string      `json:"signingKey"`   // whsk_…
	PublicKey    string      `json:"publicKey"`    // whpk_…
	KeyID        string      `json:"kid"`          // RFC 7638 thumbprint
	JWK          webhook.JWK `json:"jwk"`
}

type v1aVector struct {
	Name      string   `json:"name"`
	Secrets   []string `json:"secrets,omitempty"` // HMAC secrets signing v1 too
	Keys      []string `json:"keys"`              // names in Keys: keys[0] current, later ones in a grace window
	ID        string   `json:"id"`
	Timestamp int64    `json:"timestamp"`
	Body      string   `json:"body"`
	// Signed is the exact message: id + "." + timestamp + "." + body.
	Signed  string            `json:"signed"`
	Headers map[string]string `json:"headers"`
}

var rfc8032 = []v1aKey{
	{Name: "rfc8032-test-1", SeedHex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		PublicKeyHex: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"},
	{Name: "rfc8032-test-2", SeedHex: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		PublicKeyHex: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"},
}

func v1aInputs() []v1aVector {
	event := `{"id":"01KAE88YX393N7SAE2VQ3WQ0ZB","object":"Event","name":"MessageReceived","workspaceId":"01K6N5WEYHS5N0796RZ1D4VQ7M","createdAt":"2025-11-19T14:28:39.459465Z","dataType":"Message","data":{"id":"01KAE88YWZ4D4R3NQ0J2YF1N7S","object":"Message","body":"Is the shop open on Sunday?","contactId":null}}`
	return []v1aVector{
		{Name: "standard-webhooks-message-v1-and-v1a", Secrets: []string{kaSecret}, Keys: []string{"rfc8032-test-1"}, ID: kaID, Timestamp: kaTS, Body: kaBody},
		{Name: "message-received", Keys: []string{"rfc8032-test-1"}, ID: "01KAE88YX393N7SAE2VQ3WQ0ZB", Timestamp: 1763562519, Body: event},
		{Name: "rotation-grace-two-keys", Secrets: []string{seqSecret(0)}, Keys: []string{"rfc8032-test-2", "rfc8032-test-1"}, ID: "01KAE88YX393N7SAE2VQ3WQ0ZB", Timestamp: 1763562524, Body: event},
		{Name: "unicode-body", Keys: []string{"rfc8032-test-2"}, ID: "01KAE8A0000000000000000000", Timestamp: 1763562600, Body: `{"body":"Grüße ✓ 😀 — ok?"}`},
		{Name: "empty-body", Keys: []string{"rfc8032-test-1"}, ID: "01KAE8A0000000000000000001", Timestamp: 1763562601, Body: ""},
	}
}

func v1aKeyByName(t testing.TB, name string) webhook.SigningKey {
	for _, k := range rfc8032 {
		if k.Name == name {
			seed, _ := hex.DecodeString(k.SeedHex)
			sk, err := webhook.SigningKeyFromSeed(seed)
			if err != nil {
				t.Fatal(err)
			}
			return sk
		}
	}
	t.Fatalf("no key %q", name)
	return webhook.SigningKey{}
}

func signV1aVector(t testing.TB, v v1aVector) http.Header {
	h := http.Header{}
	var secs []webhook.Secret
	for _, s := range v.Secrets {
		secs = append(secs, webhook.MustParseSecret(s))
	}
	var keys []webhook.SigningKey
	for _, n := range v.Keys {
		keys = append(keys, v1aKeyByName(t, n))
	}
	ts := time.Unix(v.Timestamp, 0)
	webhook.Sign(h, v.ID, ts, []byte(v.Body), secs...)
	webhook.SignV1a(h, v.ID, ts, []byte(v.Body), keys...)
	return h
}

func v1aHeaderMap(h http.Header) map[string]string {
	m := map[string]string{}
	for _, k := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderStdSignature, webhook.HeaderKeyID, webhook.HeaderSignature} {
		if v := h.Get(k); v != "" {
			m[k] = v
		}
	}
	return m
}

func buildV1aFile(t testing.TB) v1aVectorFile {
	f := v1aVectorFile{Description: "relaydesk Standard Webhooks v1a (ed25519) vectors. Keys: the RFC 8032 §7.1 TEST 1 and TEST 2 key pairs; " +
		"signingKey is whsk_ + base64 of the 64-byte private key (seed || public key), publicKey is whpk_ + base64 of the 32-byte public key, " +
		"kid is the RFC 7638 JWK thumbprint. For each vector, signed = id.timestamp.body is signed with each key in order (keys[0] current); " +
		"webhook-signature holds a v1 entry per HMAC secret (if any) then a v1a entry per key; X-MessageDesk-Key-Id lists the kids in the order of the v1a entries."}
	for _, k := range rfc8032 {
		sk := v1aKeyByName(t, k.Name)
		k.SigningKey, k.PublicKey, k.KeyID, k.JWK = sk.String(), sk.Public().String(), sk.KeyID(), sk.Public().JWK()
		f.Keys = append(f.Keys, k)
	}
	for _, v := range v1aInputs() {
		v.Signed = v.ID + "." + strconv.FormatInt(v.Timestamp, 10) + "." + v.Body
		v.Headers = v1aHeaderMap(signV1aVector(t, v))
		f.Vectors = append(f.Vectors, v)
	}
	return f
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestV1aVectors(t *testing.T) {
	want := buildV1aFile(t)
	out, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	if *update {
		if err := os.WriteFile(v1aVectorsPath, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(v1aVectorsPath)
	if err != nil {
		t.Fatalf("%v (run: go test ./webhook -run TestV1aVectors -update)", err)
	}
	if !bytes.Equal(got, out) {
		t.Fatalf("%s differs from what this package signs now; if the change is intended, run with -update and review the diff", v1aVectorsPath)
	}

	var f v1aVectorFile
	if err := json.Unmarshal(got, &f); err != nil {
		t.Fatal(err)
	}
	for _, k := range f.Keys {
		// The encoding against RFC 8032: the public key is the RFC's, and whsk_ is seed || public key.
		pk := webhook.MustParsePublicKey(k.PublicKey)
		if hex.EncodeToString(pk.Bytes()) != k.PublicKeyHex {
			t.Errorf("%s: public key %x, RFC 8032 says %s", k.Name, pk.Bytes(), k.PublicKeyHex)
		}
		sk := webhook.MustParseSigningKey(k.SigningKey)
		if !sk.Public().Equal(pk) || sk.KeyID() != k.KeyID {
			t.Errorf("%s: signing key does not match its public key or kid", k.Name)
		}
		seed, _ := hex.DecodeString(k.SeedHex)
		fromSeed := webhook.MustParseSigningKey("whsk_" + b64(seed))
		if fromSeed.String() != k.SigningKey {
			t.Errorf("%s: a seed-only whsk_ parses to %s, want %s", k.Name, fromSeed, k.SigningKey)
		}
	}
	for _, v := range f.Vectors {
		h := http.Header{}
		for name, val := range v.Headers {
			h.Set(name, val)
		}
		var pubs []webhook.PublicKey
		for _, n := range v.Keys {
			pubs = append(pubs, v1aKeyByName(t, n).Public())
		}
		at := func() time.Time { return time.Unix(v.Timestamp, 0) }
		for i, pk := range pubs {
			res, err := (&webhook.Verifier{PublicKeys: []webhook.PublicKey{pk}, Now: at}).Verify(h, []byte(v.Body))
			if err != nil || res.Scheme != webhook.SchemeStandardV1a || res.KeyID != pk.KeyID() {
				t.Errorf("%s: key #%d: %+v, %v", v.Name, i, res, err)
			}
		}
		if len(v.Secrets) > 0 {
			res, err := (&webhook.Verifier{Secrets: []webhook.Secret{webhook.MustParseSecret(v.Secrets[0])}, Now: at}).Verify(h, []byte(v.Body))
			if err != nil || res.Scheme != webhook.SchemeStandard {
				t.Errorf("%s: the v1 entry no longer verifies beside v1a: %+v, %v", v.Name, res, err)
			}
		}
	}
}

// TestV1aVectorsIndependently has Node.js crypto and Python cryptography check the vectors
// file on their own: neither uses this package.
func TestV1aVectorsIndependently(t *testing.T) {
	for _, tool := range []struct{ bin, script, hint string }{
		{"node", "check_v1a.js", "install Node.js 18 or later"},
		{"python3", "check_v1a.py", "install Python 3 and its cryptography package"},
	} {
		t.Run(tool.bin, func(t *testing.T) {
			if _, err := exec.LookPath(tool.bin); err != nil {
				needTool(t, tool.bin, tool.hint)
			}
			cmd := exec.Command(tool.bin, tool.script, "v1a_vectors.json")
			cmd.Dir = "testdata"
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
			out, err := cmd.CombinedOutput()
			if strings.Contains(string(out), "No module named 'cryptography'") {
				needTool(t, "Python cryptography", "pip install cryptography")
			}
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", tool.bin, tool.script, err, out)
			}
			want := len(v1aInputs())
			if !strings.Contains(string(out), fmt.Sprintf("ok %d vectors", want)) {
				t.Fatalf("%s did not report %d checked vectors:\n%s", tool.script, want, out)
			}
		})
	}
}
