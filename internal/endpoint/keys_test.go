package endpoint

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/webhook"
)

// The key pair through a rotation with and without grace, on a clock: what signs
// (Target.Keys), what is published (PublishedKeys), what is shown (KeyInfo), what is stored.
func TestSigningKeyLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := memberCtx("dev@acme.test")
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		svc := newService(t, db)
		svc.SetClock(clock)
		ws, other := newWorkspace(t, db), newWorkspace(t, db)
		e, err := svc.Create(ctx, ws, Input{URL: "http://127.0.0.1:9/h", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.GenerateSecret(ctx, ws); err != nil {
			t.Fatal(err)
		}

		if info, err := svc.KeyInfo(ctx, ws); err != nil || info.Exists {
			t.Fatalf("before: %+v, %v", info, err)
		}
		if keys, err := svc.PublishedKeys(ctx, ws); err != nil || len(keys) != 0 {
			t.Fatalf("published before: %v, %v", keys, err)
		}
		if tg, _ := svc.Target(ctx, ws, e.ID); len(tg.Keys) != 0 || len(tg.Secrets) != 1 {
			t.Fatalf("Target before: %+v", tg)
		}
		if _, err := svc.RotateKey(ctx, ws, 0); !errors.Is(err, ErrNoKey) {
			t.Fatalf("rotate before generate: %v", err)
		}

		first, err := svc.GenerateKey(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.GenerateKey(ctx, ws); !errors.Is(err, ErrKeyExists) {
			t.Fatalf("second generate: %v", err)
		}
		pk1 := webhook.MustParsePublicKey(first.PublicKey)
		if first.KeyID != pk1.KeyID() || !first.Exists {
			t.Fatalf("info %+v", first)
		}
		// Generate dropped the cache: the key signs at once, and it is the published key's pair.
		tg, _ := svc.Target(ctx, ws, e.ID)
		if len(tg.Keys) != 1 || !tg.Keys[0].Public().Equal(pk1) {
			t.Fatalf("Target after generate: %+v", tg.Keys)
		}
		k1 := tg.Keys[0]
		if keys, _ := svc.PublishedKeys(ctx, ws); len(keys) != 1 || !keys[0].Equal(pk1) {
			t.Fatalf("published %v", keys)
		}
		// Another workspace has none.
		if keys, _ := svc.PublishedKeys(ctx, other); len(keys) != 0 {
			t.Fatal("another workspace publishes this one's key")
		}

		// The private key is stored sealed: neither its string nor its base64 is in the row.
		var stored, public string
		if err := db.QueryRow(ctx, `SELECT ciphertext, public_key FROM signing_keys WHERE workspace_id = ?`, ws).Scan(&stored, &public); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, strings.TrimPrefix(k1.String(), "whsk_")) || !strings.HasPrefix(stored, "v1:") || public != first.PublicKey {
			t.Fatalf("stored %q / %q", stored, public)
		}
		// Sealed for this workspace and purpose: it does not open as a secret or elsewhere.
		if _, err := svc.sealer.open(ws, stored); err == nil {
			t.Fatal("a sealed key opens as a signing secret")
		}
		if _, err := svc.sealer.openKey(other, stored); err == nil {
			t.Fatal("a sealed key opens for another workspace")
		}

		// Rotation with a grace window: both sign and both are published until it ends.
		second, err := svc.RotateKey(ctx, ws, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if second.PreviousKeyID != first.KeyID || second.PreviousExpiresAt == nil || second.KeyID == first.KeyID {
			t.Fatalf("rotated %+v", second)
		}
		tg, _ = svc.Target(ctx, ws, e.ID)
		if len(tg.Keys) != 2 || tg.Keys[0].KeyID() != second.KeyID || tg.Keys[1].KeyID() != first.KeyID {
			t.Fatalf("Target in the window: %v", tg.Keys)
		}
		if keys, _ := svc.PublishedKeys(ctx, ws); len(keys) != 2 || keys[0].KeyID() != second.KeyID || keys[1].KeyID() != first.KeyID {
			t.Fatalf("published in the window: %v", keys)
		}
		advance(time.Hour)
		if tg, _ := svc.Target(ctx, ws, e.ID); len(tg.Keys) != 1 || tg.Keys[0].KeyID() != second.KeyID {
			t.Fatalf("Target after the window: %v", tg.Keys)
		}
		if keys, _ := svc.PublishedKeys(ctx, ws); len(keys) != 1 || keys[0].KeyID() != second.KeyID {
			t.Fatalf("published after the window: %v", keys)
		}
		if info, _ := svc.KeyInfo(ctx, ws); info.PreviousKeyID != "" || info.KeyID != second.KeyID {
			t.Fatalf("info after the window: %+v", info)
		}

		// Rotation without grace: the old key stops at once.
		third, err := svc.RotateKey(ctx, ws, 0)
		if err != nil {
			t.Fatal(err)
		}
		if third.PreviousKeyID != "" {
			t.Fatalf("no-grace rotation kept %q", third.PreviousKeyID)
		}
		if tg, _ := svc.Target(ctx, ws, e.ID); len(tg.Keys) != 1 || tg.Keys[0].KeyID() != third.KeyID {
			t.Fatalf("Target after a no-grace rotation: %v", tg.Keys)
		}
		if keys, _ := svc.PublishedKeys(ctx, ws); len(keys) != 1 || keys[0].KeyID() != third.KeyID {
			t.Fatalf("published after a no-grace rotation: %v", keys)
		}
		for _, g := range []time.Duration{-time.Second, MaxGrace + time.Second} {
			var inv *input.Error
			if _, err := svc.RotateKey(ctx, ws, g); !errors.As(err, &inv) || inv.Field != "graceSeconds" {
				t.Fatalf("grace %s: %v", g, err)
			}
		}

		// Audited with the kids, never the private key.
		entries, _, err := audit.List(context.Background(), db, ws, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var gen, rot int
		for _, en := range entries {
			switch en.Action {
			case "signing_key.generate":
				gen++
			case "signing_key.rotate":
				rot++
			}
			if strings.Contains(string(en.Detail), "whsk_") {
				t.Fatalf("audit entry %s holds a private key", en.Action)
			}
		}
		if gen != 1 || rot != 2 {
			t.Fatalf("%d generate and %d rotate entries", gen, rot)
		}
	})
}

func TestConcurrentKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := memberCtx("dev@acme.test")
		svc := newService(t, db)
		ws := newWorkspace(t, db)
		if _, err := svc.GenerateKey(ctx, ws); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for range 4 {
			wg.Go(func() {
				info, err := svc.RotateKey(ctx, ws, time.Minute)
				if err != nil && !errors.Is(err, ErrKeyConflict) {
					t.Error(err)
					return
				}
				if err == nil {
					mu.Lock()
					won = append(won, info.KeyID)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		info, err := svc.KeyInfo(ctx, ws)
		if err != nil || len(won) == 0 {
			t.Fatalf("%v, %d winners", err, len(won))
		}
		found := false
		for _, k := range won {
			found = found || k == info.KeyID
		}
		if !found {
			t.Fatalf("stored kid %s is none of the winners %v", info.KeyID, won)
		}
		var c cachedSecrets
		if err := svc.loadKeys(ctx, ws, &c); err != nil || c.key.KeyID() != info.KeyID {
			t.Fatalf("stored key does not decrypt to the published one: %v", err)
		}
	})
}
