package endpoint

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/egress"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/store/storetest"
	"github.com/relaydesk/relaydesk/webhook"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func newService(t *testing.T, db *store.DB) *Service {
	t.Helper()
	s, err := New(db, testKey, egress.Policy{AllowPrivate: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newWorkspace(t *testing.T, db *store.DB) string {
	t.Helper()
	id := store.NewID()
	if _, err := db.Exec(context.Background(), `INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, 0)`, id, "ws "+id); err != nil {
		t.Fatal(err)
	}
	return id
}

// memberCtx acts as a member, for the audit log.
func memberCtx(email string) context.Context {
	return access.With(context.Background(), &access.Principal{UserID: store.NewID(), Email: email, Via: "session", IP: "192.0.2.1"})
}

func TestSealer(t *testing.T) {
	s, err := newSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := webhook.NewSecret()
	a, b := s.seal("ws1", sec), s.seal("ws1", sec)
	if a == b {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	if strings.Contains(a, strings.TrimPrefix(sec.String(), "whsec_")) {
		t.Fatal("ciphertext holds the secret")
	}
	got, err := s.open("ws1", a)
	if err != nil || !got.Equal(sec) {
		t.Fatalf("open: %v", err)
	}
	if _, err := s.open("ws2", a); err == nil {
		t.Fatal("a ciphertext opened under another workspace")
	}
	other, _ := newSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.open("ws1", a); err == nil {
		t.Fatal("a ciphertext opened under another master key")
	}
	tampered := []byte(a)
	tampered[len(tampered)-3] ^= 1
	if _, err := s.open("ws1", string(tampered)); err == nil {
		t.Fatal("a tampered ciphertext opened")
	}
	for _, bad := range []string{"", "v2:abc", "v1:!!!", "v1:AAAA"} {
		if _, err := s.open("ws1", bad); err == nil {
			t.Fatalf("opened %q", bad)
		}
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte master key was accepted")
	}
}

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := memberCtx("dev@acme.test")
		svc := newService(t, db)
		ws := newWorkspace(t, db)

		// Target with no endpoint, then with no secret.
		if _, err := svc.Target(ctx, ws, store.NewID()); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Target of nothing: %v", err)
		}
		e, err := svc.Create(ctx, ws, Input{URL: "http://127.0.0.1:9/h", Description: "  padded  ", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if e.Description != "padded" {
			t.Fatalf("description %q", e.Description)
		}
		tg, err := svc.Target(ctx, ws, e.ID)
		if err != nil || tg.URL != e.URL || !tg.Enabled || len(tg.Secrets) != 0 {
			t.Fatalf("Target without a secret: %+v, %v", tg, err)
		}
		if _, err := svc.TestSend(ctx, ws, e.ID); !errors.Is(err, ErrNoSecret) {
			t.Fatalf("TestSend without a secret: %v", err)
		}

		sec, _, err := svc.GenerateSecret(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.GenerateSecret(ctx, ws); !errors.Is(err, ErrSecretExists) {
			t.Fatalf("second generate: %v", err)
		}
		// Generate dropped the cached "no secret" at once.
		tg, _ = svc.Target(ctx, ws, e.ID)
		if len(tg.Secrets) != 1 || !tg.Secrets[0].Equal(sec) {
			t.Fatal("Target does not see the generated secret")
		}

		// Disable is recorded as the system, idempotent for the same reason.
		for range 2 {
			if err := svc.Disable(ctx, ws, e.ID, "the receiver answered 410 Gone"); err != nil {
				t.Fatal(err)
			}
		}
		if err := svc.Disable(ctx, ws, store.NewID(), "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Disable of nothing: %v", err)
		}
		entries, _, err := audit.List(context.Background(), db, ws, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var disables int
		for _, en := range entries {
			switch en.Action {
			case "endpoint.disable":
				disables++
				if en.Actor != "system" || en.ActorUserID != "" || en.IP != "" {
					t.Fatalf("disable recorded as %q (%q, %q)", en.Actor, en.ActorUserID, en.IP)
				}
			case "endpoint.create", "secret.generate":
				if en.Actor != "dev@acme.test" || en.IP != "192.0.2.1" {
					t.Fatalf("%s recorded as %q from %q", en.Action, en.Actor, en.IP)
				}
			}
		}
		if disables != 1 {
			t.Fatalf("%d disable entries, want 1", disables)
		}

		// A no-op update writes nothing.
		before := len(entries)
		same := e.URL
		if _, err := svc.Update(ctx, ws, e.ID, Patch{URL: &same}); err != nil {
			t.Fatal(err)
		}
		entries, _, _ = audit.List(context.Background(), db, ws, "", 100)
		if len(entries) != before {
			t.Fatal("a no-op update was audited")
		}
	})
}

// Another process's change is seen within the cache TTL; this process's own at once.
func TestTargetCacheAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := memberCtx("dev@acme.test")
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

		a, b := newService(t, db), newService(t, db) // two processes on one database
		a.SetClock(clock)
		b.SetClock(clock)
		ws := newWorkspace(t, db)
		e, err := a.Create(ctx, ws, Input{URL: "http://127.0.0.1:9/h", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		s1, _, err := a.GenerateSecret(ctx, ws)
		if err != nil {
			t.Fatal(err)
		}
		if tg, _ := b.Target(ctx, ws, e.ID); len(tg.Secrets) != 1 || !tg.Secrets[0].Equal(s1) || !tg.Enabled {
			t.Fatal("b does not see the secret")
		}
		s2, _, err := a.RotateSecret(ctx, ws, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Disable(ctx, ws, e.ID, "gone"); err != nil {
			t.Fatal(err)
		}
		if tg, _ := a.Target(ctx, ws, e.ID); len(tg.Secrets) != 1 || !tg.Secrets[0].Equal(s2) || tg.Enabled {
			t.Fatal("a does not see its own rotation and disable at once")
		}
		// b may serve the old state until its entries expire…
		if tg, _ := b.Target(ctx, ws, e.ID); !tg.Secrets[0].Equal(s1) || !tg.Enabled {
			t.Fatal("b's cache was expected to still hold the old state (the test is wrong)")
		}
		// …but no longer.
		advance(DefaultCacheTTL)
		if tg, _ := b.Target(ctx, ws, e.ID); !tg.Secrets[0].Equal(s2) || tg.Enabled || tg.DisabledReason != "gone" {
			t.Fatalf("b after the TTL: %+v", tg)
		}
		// A deleted endpoint is gone for a at once, for b within the TTL.
		if err := a.Delete(ctx, ws, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Target(ctx, ws, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a after delete: %v", err)
		}
		advance(DefaultCacheTTL)
		if _, err := b.Target(ctx, ws, e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("b after delete and the TTL: %v", err)
		}
	})
}

func TestGraceBoundsAndConcurrentRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := memberCtx("dev@acme.test")
		svc := newService(t, db)
		ws := newWorkspace(t, db)
		if _, _, err := svc.RotateSecret(ctx, ws, 0); !errors.Is(err, ErrNoSecret) {
			t.Fatalf("rotate with no secret: %v", err)
		}
		if _, _, err := svc.GenerateSecret(ctx, ws); err != nil {
			t.Fatal(err)
		}
		for _, g := range []time.Duration{-time.Second, MaxGrace + time.Second} {
			var inv *input.Error
			if _, _, err := svc.RotateSecret(ctx, ws, g); !errors.As(err, &inv) || inv.Field != "graceSeconds" {
				t.Fatalf("grace %s: %v", g, err)
			}
		}
		// Concurrent rotations: each either wins or says to retry; the stored secret is one
		// of the winners' and still decrypts.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []webhook.Secret
		for range 4 {
			wg.Go(func() {
				sec, _, err := svc.RotateSecret(ctx, ws, time.Minute)
				if err != nil && !errors.Is(err, ErrConflict) {
					t.Error(err)
					return
				}
				if err == nil {
					mu.Lock()
					won = append(won, sec)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		cur, _, err := svc.RevealSecret(ctx, ws)
		if err != nil || len(won) == 0 {
			t.Fatalf("after concurrent rotations: %v (%d won)", err, len(won))
		}
		found := false
		for _, w := range won {
			found = found || w.Equal(cur)
		}
		if !found {
			t.Fatal("the stored secret is none of the rotations that succeeded")
		}
	})
}
