package endpoint

import (
	"context"
	"sync"
	"time"

	"github.com/relaydesk/relaydesk/webhook"
)

// targetCache keeps, per process, what the delivery engine asks for on every attempt:
// endpoints by (workspace, id) and decrypted signing secrets by workspace. Entries live for
// the service's CacheTTL (5 s by default). Changes made through this process's Service
// (update, delete, disable, generate, rotate) drop the affected entries at once; a change
// made by another process (several `relaydesk serve` on one PostgreSQL) is seen within the
// TTL (the signing key pair is cached with the secrets). So after a rotation with no grace period, another worker process may still sign with
// the old secret for up to 5 s — the price of not decrypting a secret per attempt.
// Expiry of a grace window is checked on every lookup, never cached.
type targetCache struct {
	endpoints ttlMap[endpointKey, cachedEndpoint]
	secrets   ttlMap[string, cachedSecrets]
}

type endpointKey struct{ workspaceID, id string }

type cachedEndpoint struct {
	e       Endpoint
	missing bool
}

type cachedSecrets struct {
	current, previous webhook.Secret
	previousUntil     time.Time
	// The signing key pair (keys.go), when the workspace has one.
	key, previousKey webhook.SigningKey
	previousKeyUntil time.Time
}

// active returns the secrets that sign at now: current first, previous during its window.
func (c cachedSecrets) active(now time.Time) []webhook.Secret {
	return signing(c.current, c.previous, c.previousUntil, now)
}

// activeKeys is active for the signing keys.
func (c cachedSecrets) activeKeys(now time.Time) []webhook.SigningKey {
	return signing(c.key, c.previousKey, c.previousKeyUntil, now)
}

// signing returns current, then previous while its window lasts; none without a current one.
func signing[T interface{ IsZero() bool }](current, previous T, previousUntil, now time.Time) []T {
	switch {
	case current.IsZero():
		return nil
	case !previous.IsZero() && now.Before(previousUntil):
		return []T{current, previous}
	default:
		return []T{current}
	}
}

// ttlMap is one map of the cache: values fresh for a while, bounded to maxCacheEntries.
type ttlMap[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v     V
	until time.Time
}

// maxCacheEntries bounds each map; past it, expired entries are swept on insert and, if
// that is not enough, the map is emptied.
const maxCacheEntries = 10000

// get returns k's value while it is fresh at now; otherwise it loads it and keeps it for ttl.
// A failed load is not kept.
func (t *ttlMap[K, V]) get(k K, now time.Time, ttl time.Duration, load func() (V, error)) (V, error) {
	t.mu.Lock()
	e, ok := t.m[k]
	t.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.v, nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	t.mu.Lock()
	t.sweep(now)
	t.m[k] = ttlEntry[V]{v, now.Add(ttl)}
	t.mu.Unlock()
	return v, nil
}

// sweep makes room for an insert (t.mu held).
func (t *ttlMap[K, V]) sweep(now time.Time) {
	if len(t.m) >= maxCacheEntries {
		for k, e := range t.m {
			if !now.Before(e.until) {
				delete(t.m, k)
			}
		}
	}
	if t.m == nil || len(t.m) >= maxCacheEntries {
		t.m = map[K]ttlEntry[V]{}
	}
}

func (t *ttlMap[K, V]) forget(k K) {
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
}

func (t *ttlMap[K, V]) clear() {
	t.mu.Lock()
	t.m = nil
	t.mu.Unlock()
}

func (s *Service) ttl() time.Duration {
	if s.CacheTTL > 0 {
		return s.CacheTTL
	}
	return DefaultCacheTTL
}

func (s *Service) cachedSecrets(ctx context.Context, workspaceID string) (cachedSecrets, error) {
	return s.cache.secrets.get(workspaceID, s.now(), s.ttl(), func() (cachedSecrets, error) {
		return s.loadSecrets(ctx, workspaceID)
	})
}

func (s *Service) cachedEndpoint(ctx context.Context, workspaceID, id string) (cachedEndpoint, error) {
	return s.cache.endpoints.get(endpointKey{workspaceID, id}, s.now(), s.ttl(), func() (cachedEndpoint, error) {
		e, err := s.Get(ctx, workspaceID, id)
		switch {
		case err == nil:
			return cachedEndpoint{e: e}, nil
		case isNotFound(err):
			return cachedEndpoint{missing: true}, nil
		default:
			return cachedEndpoint{}, err
		}
	})
}
