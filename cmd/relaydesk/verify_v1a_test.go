package main

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

// rfc8032Key is the RFC 8032 TEST 1 key pair.
func rfc8032Key(t *testing.T) webhook.SigningKey {
	seed, _ := hex.DecodeString("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
	k, err := webhook.SigningKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jwksServer(t *testing.T, keys ...webhook.PublicKey) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(webhook.MarshalJWKS(keys...))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyCommandV1a(t *testing.T) {
	t.Setenv(webhookSecretEnv, "")
	k := rfc8032Key(t)
	other, _ := webhook.NewSigningKey()
	dir := t.TempDir()
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, []byte(kaVerifyBody), 0o600); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	webhook.Sign(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(kaVerifyBody), webhook.MustParseSecret(kaVerifySecret))
	webhook.SignV1a(h, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(kaVerifyBody), k)
	var hdrs []string
	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderStdSignature, webhook.HeaderKeyID} {
		hdrs = append(hdrs, "-H", name+": "+h.Get(name))
	}
	base := append([]string{"--body-file", body, "--at", "1614265330"}, hdrs...)
	with := func(args ...string) []string { return append(append([]string(nil), args...), base...) }
	jwks := jwksServer(t, other.Public(), k.Public())
	empty := jwksServer(t)

	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"public key", with("--public-key", k.Public().String()), 0, "valid: Standard Webhooks v1a (ed25519), key " + k.KeyID()},
		{"jwks", with("--jwks", jwks.URL), 0, "key " + k.KeyID()},
		{"secret still verifies v1", with("--secret", kaVerifySecret), 0, "valid: Standard Webhooks, secret #1"},
		{"wrong public key", with("--public-key", other.Public().String()), 1, "none of 1 v1a signature(s) matches"},
		{"jwks without keys", with("--jwks", empty.URL), 1, "lists no ed25519 signature key"},
		{"jwks without this key", with("--jwks", jwksServer(t, other.Public()).URL), 1, "no matching signature"},
		{"bad public key", with("--public-key", "whpk_short"), 2, "invalid public key"},
		{"private key given as public", with("--public-key", k.String()), 2, "invalid public key"},
		{"bad jwks URL", with("--jwks", "ftp://x"), 2, "is not an http(s) URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code, err := runVerifyCmd(t, c.args...)
			if err != nil {
				out += err.Error()
			}
			if code != c.code || !strings.Contains(out, c.want) {
				t.Fatalf("exit %d, output %q; want exit %d containing %q", code, out, c.code, c.want)
			}
		})
	}
}

func TestListenJWKS(t *testing.T) {
	t.Setenv(webhookSecretEnv, "")
	k, _ := webhook.NewSigningKey()
	jwks := jwksServer(t, k.Public())
	cmd := newListenCmd()
	var out listenSyncBuffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--jwks", jwks.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	addrRE := regexp.MustCompile(`listening on (http://[0-9.:]+)`)
	var url string
	testkit.Until(5*time.Second, func() bool {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	if url == "" {
		t.Fatalf("no listening line: %q", out.String())
	}
	for i, signer := range []webhook.SigningKey{k, mustSigningKey(t)} {
		body := `{"x":` + strconv.Itoa(i) + `}`
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		webhook.SignV1a(req.Header, "01KAE88YX393N7SAE2VQ3WQ0ZB", time.Now(), []byte(body), signer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if want := []int{200, 401}[i]; resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d", i, resp.StatusCode, want)
		}
	}
	if !strings.Contains(out.String(), "verified: yes: Standard Webhooks v1a (ed25519), key "+k.KeyID()) {
		t.Errorf("output:\n%s", out.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func mustSigningKey(t *testing.T) webhook.SigningKey {
	k, err := webhook.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
