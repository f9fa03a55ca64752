package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// The Node.js and Python examples in docs/examples (which docs/receiving-webhooks.md
// quotes verbatim) are run against requests signed by this package.

const (
	examplesDir = "../docs/examples"
	receiverDoc = "../docs/receiving-webhooks.md"
)

type exampleCase struct {
	Name       string            `json:"name"`
	Secret     string            `json:"secret"`
	BodyBase64 string            `json:"bodyBase64"`
	Headers    map[string]string `json:"headers"`
	// PublicKeys (whpk_…) and the same keys as a JWKS document, for the v1a verifiers.
	PublicKeys []string        `json:"publicKeys,omitempty"`
	JWKS       json.RawMessage `json:"jwks,omitempty"`

	wantStandard    bool
	wantMessageDesk bool
	wantAsymmetric  bool
}

type exampleResult struct {
	Name        string `json:"name"`
	Standard    string `json:"standard"` // "ok" or the error
	MessageDesk bool   `json:"messageDesk"`
	// Asymmetric and AsymmetricJwk are "ok" or the error of the v1a verifier, given the
	// whpk_ strings and the JWKS keys; empty for cases without public keys.
	Asymmetric    string `json:"asymmetric"`
	AsymmetricJwk string `json:"asymmetricJwk"`
}

func exampleCases(t *testing.T) []exampleCase {
	rng := rand.New(rand.NewPCG(3, 4))
	var cases []exampleCase
	add := func(name string, sec webhook.Secret, body []byte, id string, ts time.Time, signBody []byte, wantStd, wantMD bool, signWith ...webhook.Secret) {
		h := http.Header{}
		webhook.Sign(h, id, ts, signBody, signWith...)
		hm := map[string]string{} // as Node's req.headers: lower-case names
		for k := range h {
			hm[strings.ToLower(k)] = h.Get(k)
		}
		cases = append(cases, exampleCase{Name: name, Secret: sec.String(), BodyBase64: base64.StdEncoding.EncodeToString(body),
			Headers: hm, wantStandard: wantStd, wantMessageDesk: wantMD})
	}
	now := time.Now()
	for i := range 20 {
		sec, other := mustNew(t), mustNew(t)
		body := randomJSON(rng)
		id := "01KAE" + randomID(rng)[:21]
		tampered := bytes.Replace(body, []byte(`"n":`), []byte(`"n":1`), 1)
		add(fmt.Sprintf("valid-%d", i), sec, body, id, now, body, true, true, sec)
		add(fmt.Sprintf("rotation-old-secret-%d", i), sec, body, id, now, body, true, false, other, sec)
		add(fmt.Sprintf("tampered-body-%d", i), sec, tampered, id, now, body, false, false, sec)
		add(fmt.Sprintf("wrong-secret-%d", i), other, body, id, now, body, false, false, sec)
		// No timestamp in X-MessageDesk-Signature: an old request still passes it (documented).
		add(fmt.Sprintf("expired-%d", i), sec, body, id, now.Add(-10*time.Minute), body, false, true, sec)
		add(fmt.Sprintf("future-%d", i), sec, body, id, now.Add(10*time.Minute), body, false, true, sec)
	}
	// v1a (ed25519): signed with keys, verified with public keys only.
	addV1a := func(name string, sec webhook.Secret, body []byte, id string, ts time.Time, signBody []byte, signKeys []webhook.SigningKey, verifyKeys []webhook.PublicKey, want bool) {
		h := http.Header{}
		webhook.Sign(h, id, ts, signBody, sec)
		webhook.SignV1a(h, id, ts, signBody, signKeys...)
		hm := map[string]string{}
		for k := range h {
			hm[strings.ToLower(k)] = h.Get(k)
		}
		var pks []string
		for _, k := range verifyKeys {
			pks = append(pks, k.String())
		}
		cases = append(cases, exampleCase{Name: name, Secret: sec.String(), BodyBase64: base64.StdEncoding.EncodeToString(body), Headers: hm,
			PublicKeys: pks, JWKS: webhook.MarshalJWKS(verifyKeys...), wantStandard: bytes.Equal(body, signBody) && time.Since(ts).Abs() < time.Minute,
			wantMessageDesk: bytes.Equal(body, signBody), wantAsymmetric: want})
	}
	for i := range 10 {
		sec := mustNew(t)
		k, old, other := mustKey(t), mustKey(t), mustKey(t)
		body := randomJSON(rng)
		id := "01KAE" + randomID(rng)[:21]
		tampered := bytes.Replace(body, []byte(`"n":`), []byte(`"n":1`), 1)
		one := []webhook.SigningKey{k}
		addV1a(fmt.Sprintf("v1a-valid-%d", i), sec, body, id, now, body, one, []webhook.PublicKey{k.Public()}, true)
		addV1a(fmt.Sprintf("v1a-rotation-old-key-%d", i), sec, body, id, now, body, []webhook.SigningKey{k, old}, []webhook.PublicKey{old.Public()}, true)
		addV1a(fmt.Sprintf("v1a-second-of-two-keys-%d", i), sec, body, id, now, body, one, []webhook.PublicKey{other.Public(), k.Public()}, true)
		addV1a(fmt.Sprintf("v1a-wrong-key-%d", i), sec, body, id, now, body, one, []webhook.PublicKey{other.Public()}, false)
		addV1a(fmt.Sprintf("v1a-tampered-body-%d", i), sec, tampered, id, now, body, one, []webhook.PublicKey{k.Public()}, false)
		addV1a(fmt.Sprintf("v1a-expired-%d", i), sec, body, id, now.Add(-10*time.Minute), body, one, []webhook.PublicKey{k.Public()}, false)
		addV1a(fmt.Sprintf("v1a-hmac-only-%d", i), sec, body, id, now, body, nil, []webhook.PublicKey{k.Public()}, false)
	}
	k := mustKey(t)
	sec0 := mustNew(t)
	body0 := randomJSON(rng)
	addV1a("v1a-tampered-id", sec0, body0, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body0, []webhook.SigningKey{k}, []webhook.PublicKey{k.Public()}, false)
	cases[len(cases)-1].Headers["webhook-id"] = "01KAE88YX393N7SAE2VQ3WQ0ZC"
	cases[len(cases)-1].wantStandard = false
	addV1a("v1a-tampered-timestamp", sec0, body0, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body0, []webhook.SigningKey{k}, []webhook.PublicKey{k.Public()}, false)
	cases[len(cases)-1].Headers["webhook-timestamp"] = fmt.Sprint(now.Unix() - 1)
	cases[len(cases)-1].wantStandard = false
	addV1a("v1a-garbage-entry", sec0, body0, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body0, nil, []webhook.PublicKey{k.Public()}, false)
	cases[len(cases)-1].Headers["webhook-signature"] += " v1a,!!! v1a," + strings.Repeat("A", 88) + " v1a"

	// Tampered id and timestamp.
	sec := mustNew(t)
	body := randomJSON(rng)
	add("tampered-id", sec, body, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body, false, true, sec)
	cases[len(cases)-1].Headers["webhook-id"] = "01KAE88YX393N7SAE2VQ3WQ0ZC"
	add("tampered-timestamp", sec, body, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body, false, true, sec)
	cases[len(cases)-1].Headers["webhook-timestamp"] = fmt.Sprint(now.Unix() - 1)
	add("empty-signature-headers", sec, body, "01KAE88YX393N7SAE2VQ3WQ0ZB", now, body, false, false, sec)
	cases[len(cases)-1].Headers["webhook-signature"] = ""
	cases[len(cases)-1].Headers["x-messagedesk-signature"] = ""
	return cases
}

// randomJSON makes an event-like JSON body with non-ASCII text.
func randomJSON(rng *rand.Rand) []byte {
	words := []string{"open", "Sunday", "Grüße", "✓", "😀", `"quoted"`, "back\\slash", "new\nline", "tab\t", "<b>&</b>"}
	var sb strings.Builder
	for range 1 + rng.IntN(30) {
		sb.WriteString(words[rng.IntN(len(words))])
		sb.WriteByte(' ')
	}
	b, _ := json.Marshal(map[string]any{"object": "Event", "name": "MessageReceived", "n": rng.Int64(),
		"data": map[string]any{"body": sb.String(), "to": []string{"+15555550100"}}})
	return b
}

// needTool skips when a tool or the example's dependencies are missing, except in CI
// (CI non-empty), where that is a failure.
func needTool(t *testing.T, what, hint string) {
	t.Helper()
	msg := what + " is not available; " + hint
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (required when CI is set)")
	}
	t.Skip(msg)
}

func runExample(t *testing.T, dir string, name string, args ...string) []exampleResult {
	t.Helper()
	cases := exampleCases(t)
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1") // leave no __pycache__ in docs/
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	var res []exampleResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if len(res) != len(cases) {
		t.Fatalf("%d results for %d cases", len(res), len(cases))
	}
	for i, c := range cases {
		r := res[i]
		if (r.Standard == "ok") != c.wantStandard || r.MessageDesk != c.wantMessageDesk {
			t.Errorf("%s: standard %q, messageDesk %v; want standard ok=%v, messageDesk %v",
				c.Name, r.Standard, r.MessageDesk, c.wantStandard, c.wantMessageDesk)
		}
		if c.PublicKeys != nil && ((r.Asymmetric == "ok") != c.wantAsymmetric || (r.AsymmetricJwk == "ok") != c.wantAsymmetric) {
			t.Errorf("%s: v1a %q, with the JWKS keys %q; want ok=%v", c.Name, r.Asymmetric, r.AsymmetricJwk, c.wantAsymmetric)
		}
		if c.PublicKeys == nil && (r.Asymmetric != "" || r.AsymmetricJwk != "") {
			t.Errorf("%s: the harness ran v1a without keys", c.Name)
		}
	}
	return res
}

func TestNodeExample(t *testing.T) {
	dir := filepath.Join(examplesDir, "node")
	if _, err := exec.LookPath("node"); err != nil {
		needTool(t, "node", "install Node.js 18 or later")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks")); err != nil {
		needTool(t, "docs/examples/node/node_modules", "run: npm ci --prefix docs/examples/node")
	}
	runExample(t, dir, "node", "check.js")
}

func TestPythonExample(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		needTool(t, "python3", "install Python 3.9 or later")
	}
	runExample(t, filepath.Join(examplesDir, "python"), "python3", "check.py")
}

// TestDocsQuoteExamples keeps the snippets in the guide identical to the tested files.
func TestDocsQuoteExamples(t *testing.T) {
	doc, err := os.ReadFile(receiverDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"node/receiver.js", "python/receiver.py", "python/receiver_v1a.py", "go/v1a/main.go"} {
		src, err := os.ReadFile(filepath.Join(examplesDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, src) {
			t.Errorf("%s does not quote docs/examples/%s verbatim; copy the file into the guide", receiverDoc, f)
		}
	}
}
