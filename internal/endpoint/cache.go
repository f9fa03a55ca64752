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
	mu        sync.Mutex
	endpoints map[endpointKey]cachedEndpoint
	secrets   map[string]cachedSecrets
}

type endpointKey struct{ workspaceID, id string }

type cachedEndpoint struct {
	e       Endpoint
	missing bool
	until   time.Time
}

type cachedSecrets struct {
	current, previous webhook.Secret
	previousUntil     time.Time
	// The signing key pair (keys.go), when the workspace has one.
	key, previousKey webhook.SigningKey
	previousKeyUntil time.Time
	until            time.Time
}

// activeKeys returns the keys that sign at now: current first, previous during its window.
func (c cachedSecrets) activeKeys(now time.Time) []webhook.SigningKey {
	switch {
	case c.key.IsZero():
		return nil
	case !c.previousKey.IsZero() && now.Before(c.previousKeyUntil):
		return []webhook.SigningKey{c.key, c.previousKey}
	default:
		return []webhook.SigningKey{c.key}
	}
}

// active returns the secrets that sign at now: current first, previous during its window.
func (c cachedSecrets) active(now time.Time) []webhook.Secret {
	switch {
	case c.current.IsZero():
		return nil
	case !c.previous.IsZero() && now.Before(c.previousUntil):
		return []webhook.Secret{c.current, c.previous}
	default:
		return []webhook.Secret{c.current}
	}
}

// maxCacheEntries bounds each map; past it, expired entries are swept on insert and, if
// that is not enough, the map is emptied.
const maxCacheEntries = 10000

func (c *targetCache) forgetEndpoint(workspaceID, id string) {
	c.mu.Lock()
	delete(c.endpoints, endpointKey{workspaceID, id})
	c.mu.Unlock()
}

func (c *targetCache) forgetSecrets(workspaceID string) {
	c.mu.Lock()
	delete(c.secrets, workspaceID)
	c.mu.Unlock()
}

func sweep[K comparable, V any](m map[K]V, now time.Time, until func(V) time.Time) map[K]V {
	if len(m) < maxCacheEntries {
		return m
	}
	for k, v := range m {
		if !now.Before(until(v)) {
			delete(m, k)
		}
	}
	if len(m) >= maxCacheEntries {
		return map[K]V{}
	}
	return m
}

func (s *Service) ttl() time.Duration {
	if s.CacheTTL > 0 {
		return s.CacheTTL
	}
	return DefaultCacheTTL
}

func (s *Service) cachedSecrets(ctx context.Context, workspaceID string) (cachedSecrets, error) {
	now := s.now()
	s.cache.mu.Lock()
	c, ok := s.cache.secrets[workspaceID]
	s.cache.mu.Unlock()
	if ok && now.Before(c.until) {
		return c, nil
	}
	c, err := s.loadSecrets(ctx, workspaceID)
	if err != nil {
		return c, err
	}
	c.until = now.Add(s.ttl())
	s.cache.mu.Lock()
	if s.cache.secrets == nil {
		s.cache.secrets = map[string]cachedSecrets{}
	}
	s.cache.secrets = sweep(s.cache.secrets, now, func(v cachedSecrets) time.Time { return v.until })
	s.cache.secrets[workspaceID] = c
	s.cache.mu.Unlock()
	return c, nil
}

func (s *Service) cachedEndpoint(ctx context.Context, workspaceID, id string) (cachedEndpoint, error) {
	now := s.now()
	k := endpointKey{workspaceID, id}
	s.cache.mu.Lock()
	c, ok := s.cache.endpoints[k]
	s.cache.mu.Unlock()
	if ok && now.Before(c.until) {
		return c, nil
	}
	e, err := s.Get(ctx, workspaceID, id)
	switch {
	case err == nil:
		c = cachedEndpoint{e: e}
	case isNotFound(err):
		c = cachedEndpoint{missing: true}
	default:
		return c, err
	}
	c.until = now.Add(s.ttl())
	s.cache.mu.Lock()
	if s.cache.endpoints == nil {
		s.cache.endpoints = map[endpointKey]cachedEndpoint{}
	}
	s.cache.endpoints = sweep(s.cache.endpoints, now, func(v cachedEndpoint) time.Time { return v.until })
	s.cache.endpoints[k] = c
	s.cache.mu.Unlock()
	return c, nil
}
