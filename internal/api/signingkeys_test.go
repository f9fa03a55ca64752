package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/api"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/testkit"
	"github.com/relaydesk/relaydesk/webhook"
)

type keyBody struct {
	Exists            bool   `json:"exists"`
	PublicKey         string `json:"publicKey"`
	KeyID             string `json:"kid"`
	PreviousPublicKey string `json:"previousPublicKey"`
	PreviousKeyID     string `json:"previousKid"`
	JWKSURL           string `json:"jwksUrl"`
}

// Must show 3: only developer editors generate and rotate; viewers see the public key; the
// JWKS URL is public, cacheable, and reveals public keys only.
func TestSigningKeyPermissionsAndJWKS(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme")
		viewer := ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Viewer})
		editor := ws.AddMember("editor@acme.test", "Dev editor", access.Levels{access.Developer: access.Editor})
		operator := ws.AddMember("operator@acme.test", "Operator", nil)
		anon := env.Anonymous()

		var kb keyBody
		res := viewer.Do("GET", "/v1/signing-key", nil)
		want(t, res, http.StatusOK)
		if res.JSON(t, &kb); kb.Exists {
			t.Fatalf("before: %s", res.Body)
		}
		want(t, anon.Do("GET", api.JWKSPath(ws.ID), nil), http.StatusNotFound)
		for _, c := range []*apptest.Client{viewer, operator, anon} {
			for _, path := range []string{"/v1/signing-key", "/v1/signing-key/rotate"} {
				if res := c.Do("POST", path, nil); res.Status != http.StatusForbidden && res.Status != http.StatusUnauthorized {
					t.Fatalf("%s POST %s: %d %s", c.Email, path, res.Status, res.Body)
				}
			}
		}
		want(t, operator.Do("GET", "/v1/signing-key", nil), http.StatusForbidden)
		want(t, editor.Do("POST", "/v1/signing-key/rotate", nil), http.StatusConflict)

		res = editor.Do("POST", "/v1/signing-key", nil)
		want(t, res, http.StatusOK)
		res.JSON(t, &kb)
		pk, err := webhook.ParsePublicKey(kb.PublicKey)
		if err != nil || kb.KeyID != pk.KeyID() || kb.JWKSURL != env.URL()+api.JWKSPath(ws.ID) {
			t.Fatalf("generate: %s (%v)", res.Body, err)
		}
		if strings.Contains(string(res.Body), "whsk_") {
			t.Fatal("the API returned a private key")
		}
		want(t, editor.Do("POST", "/v1/signing-key", nil), http.StatusConflict)
		res = viewer.Do("GET", "/v1/signing-key", nil)
		want(t, res, http.StatusOK)
		var seen keyBody
		if res.JSON(t, &seen); seen.PublicKey != kb.PublicKey {
			t.Fatalf("viewer sees %s", res.Body)
		}

		// The JWKS document, anonymously.
		res = anon.Do("GET", api.JWKSPath(ws.ID), nil)
		want(t, res, http.StatusOK)
		if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "application/jwk-set+json" || cc != "public, max-age=300" {
			t.Fatalf("Content-Type %q, Cache-Control %q", ct, cc)
		}
		var doc struct{ Keys []map[string]any }
		res.JSON(t, &doc)
		if len(doc.Keys) != 1 {
			t.Fatalf("jwks %s", res.Body)
		}
		wantMembers := map[string]any{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": pk.KeyID(),
			"x": base64.RawURLEncoding.EncodeToString(pk.Bytes())}
		if fmt.Sprint(doc.Keys[0]) != fmt.Sprint(wantMembers) {
			t.Fatalf("jwk %v, want exactly %v", doc.Keys[0], wantMembers)
		}
		// Nothing of the private key: not its whsk_ form, not its seed in either base64.
		var c keysOnly
		c.load(t, env, ws.ID)
		priv := strings.TrimPrefix(c.key.String(), "whsk_")
		raw, _ := base64.StdEncoding.DecodeString(priv)
		for _, leak := range []string{priv, base64.RawURLEncoding.EncodeToString(raw[:32]), base64.StdEncoding.EncodeToString(raw[:32])[:40]} {
			if strings.Contains(string(res.Body), leak) {
				t.Fatalf("the JWKS document holds private key material: %s", res.Body)
			}
		}
		keys, err := webhook.ParseJWKS(res.Body)
		if err != nil || len(keys) != 1 || !keys[0].Equal(pk) {
			t.Fatalf("ParseJWKS: %v %v", keys, err)
		}
		// Conditional requests.
		etag := res.Header.Get("ETag")
		if res := anon.Do("GET", api.JWKSPath(ws.ID), nil, "If-None-Match", etag); res.Status != http.StatusNotModified || len(res.Body) != 0 {
			t.Fatalf("If-None-Match: %d %q", res.Status, res.Body)
		}
		// Another workspace, or none at all: the same 404, as problem+json.
		other := env.NewWorkspace("Other")
		for _, id := range []string{other.ID, "01HZZZZZZZZZZZZZZZZZZZZZZZ"} {
			res := anon.Do("GET", api.JWKSPath(id), nil)
			if res.Status != http.StatusNotFound || !strings.Contains(res.Header.Get("Content-Type"), "problem+json") {
				t.Fatalf("jwks of %s: %d %s %s", id, res.Status, res.Header.Get("Content-Type"), res.Body)
			}
		}
	})
}

// keysOnly reads the current private key through the delivery engine's lookup, as a test
// oracle for "the private key appears nowhere".
type keysOnly struct{ key webhook.SigningKey }

func (k *keysOnly) load(t *testing.T, env *apptest.Env, workspaceID string) {
	t.Helper()
	ctx := context.Background()
	var epID string
	res := env.App.Endpoints
	list, err := res.List(ctx, workspaceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) > 0 {
		epID = list[0].ID
	} else {
		e, err := res.Create(ctx, workspaceID, endpoint.Input{URL: "http://127.0.0.1:9/oracle", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		epID = e.ID
	}
	tg, err := res.Target(ctx, workspaceID, epID)
	if err != nil || len(tg.Keys) == 0 {
		t.Fatalf("Target: %+v, %v", tg, err)
	}
	k.key = tg.Keys[0]
}

// Must show 2: a delivery verified end to end by a receiver that has only the JWKS URL, while
// a receiver with the HMAC secret still verifies v1; rotation with and without grace on a
// clock.
func TestV1aEndToEnd(t *testing.T) {
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		env.App.Endpoints.SetClock(clock)

		ws := env.NewWorkspace("Acme")
		var sec struct{ Secret string }
		res := ws.Admin.Do("POST", "/v1/signing-secret", nil)
		want(t, res, http.StatusCreated)
		res.JSON(t, &sec)
		var kb keyBody
		res = ws.Admin.Do("POST", "/v1/signing-key", nil)
		want(t, res, http.StatusOK)
		res.JSON(t, &kb)

		// The key receiver knows only the URL; MinRefresh is short so the test need not wait.
		keyRecv := testkit.NewReceiver(t).Verify(&webhook.Verifier{KeySet: &webhook.KeySet{URL: kb.JWKSURL, MinRefresh: time.Millisecond}})
		hmacRecv := testkit.NewReceiver(t).Verify(webhook.NewVerifier(webhook.MustParseSecret(sec.Secret)))
		var ids []string
		for _, u := range []string{keyRecv.URL, hmacRecv.URL} {
			res := ws.Admin.Do("POST", "/v1/endpoints", map[string]any{"url": u + "/hook"})
			want(t, res, http.StatusCreated)
			var e struct{ ID string }
			res.JSON(t, &e)
			ids = append(ids, e.ID)
		}
		relay := ws.Admin.Do("POST", "/v1/relays", map[string]any{"name": "All", "trigger": "MessageReceived",
			"actions": []map[string]any{{"type": "sendWebhook", "endpointId": ids[0]}, {"type": "sendWebhook", "endpointId": ids[1]}}})
		want(t, relay, http.StatusCreated)
		var r struct{ ID string }
		relay.JSON(t, &r)
		want(t, ws.Admin.Do("POST", "/v1/relays/"+r.ID+"/enable", nil), http.StatusOK)
		producer := env.PlatformToken()

		// publish sends one event and checks what both receivers made of it: the key receiver
		// verified a v1a signature with wantKid, among wantV1a entries.
		publish := func(step, wantKid string, wantV1a int) {
			t.Helper()
			n1, n2 := keyRecv.Len(), hmacRecv.Len()
			res := producer.Do("POST", "/v1/platform/events", map[string]any{"workspaceId": ws.ID, "name": event.MessageReceived,
				"data": testkit.Message(ws.ID)})
			want(t, res, http.StatusAccepted)
			testkit.Eventually(t, 20*time.Second, step+": both receivers", func() bool { return keyRecv.Len() > n1 && hmacRecv.Len() > n2 })
			k, h := keyRecv.Last(t), hmacRecv.Last(t)
			if k.Err != nil || k.Result.Scheme != webhook.SchemeStandardV1a || k.Result.KeyID != wantKid {
				t.Fatalf("%s: key receiver: %+v, %v (want kid %s)", step, k.Result, k.Err, wantKid)
			}
			if got := strings.Count(k.Header.Get("webhook-signature"), "v1a,"); got != wantV1a {
				t.Fatalf("%s: %d v1a entries, want %d: %s", step, got, wantV1a, k.Header.Get("webhook-signature"))
			}
			if !strings.HasPrefix(k.Header.Get(webhook.HeaderKeyID), wantKid) {
				t.Fatalf("%s: X-MessageDesk-Key-Id %q does not start with %s", step, k.Header.Get(webhook.HeaderKeyID), wantKid)
			}
			if h.Err != nil || h.Result.Scheme != webhook.SchemeStandard {
				t.Fatalf("%s: HMAC receiver: %+v, %v", step, h.Result, h.Err)
			}
		}
		jwksKids := func() []string {
			res := env.Anonymous().Do("GET", api.JWKSPath(ws.ID), nil)
			want(t, res, http.StatusOK)
			keys, err := webhook.ParseJWKS(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, k := range keys {
				out = append(out, k.KeyID())
			}
			return out
		}

		publish("first key", kb.KeyID, 1)

		// Rotation with a one-hour grace window: both keys sign and are published.
		var rotated keyBody
		res = ws.Admin.Do("POST", "/v1/signing-key/rotate", map[string]any{"graceSeconds": 3600})
		want(t, res, http.StatusOK)
		res.JSON(t, &rotated)
		if rotated.PreviousKeyID != kb.KeyID || rotated.KeyID == kb.KeyID {
			t.Fatalf("rotate with grace: %s", res.Body)
		}
		if got := jwksKids(); len(got) != 2 || got[0] != rotated.KeyID || got[1] != kb.KeyID {
			t.Fatalf("JWKS in the window: %v", got)
		}
		publish("grace window", rotated.KeyID, 2)
		// A receiver pinned to the old public key still verifies during the window.
		k := keyRecv.Last(t)
		if res, err := webhook.NewKeyVerifier(webhook.MustParsePublicKey(kb.PublicKey)).Verify(k.Header, k.Body); err != nil || res.KeyID != kb.KeyID {
			t.Fatalf("old key during the window: %+v, %v", res, err)
		}
		if k.Header.Get(webhook.HeaderKeyID) != rotated.KeyID+" "+kb.KeyID {
			t.Fatalf("key ids during the window: %q", k.Header.Get(webhook.HeaderKeyID))
		}

		// The window ends on the clock: one key again.
		advance(time.Hour)
		if got := jwksKids(); len(got) != 1 || got[0] != rotated.KeyID {
			t.Fatalf("JWKS after the window: %v", got)
		}
		publish("after the window", rotated.KeyID, 1)

		// Rotation without grace: the old key stops at once; the key receiver meets an
		// unknown kid, refetches the JWKS and verifies.
		var third keyBody
		res = ws.Admin.Do("POST", "/v1/signing-key/rotate", map[string]any{"graceSeconds": 0})
		want(t, res, http.StatusOK)
		res.JSON(t, &third)
		if third.PreviousKeyID != "" {
			t.Fatalf("rotate without grace kept %s", third.PreviousKeyID)
		}
		if got := jwksKids(); len(got) != 1 || got[0] != third.KeyID {
			t.Fatalf("JWKS after a no-grace rotation: %v", got)
		}
		publish("no-grace rotation", third.KeyID, 1)
	})
}
