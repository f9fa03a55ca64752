package store_test

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/relaydesk/relaydesk/internal/store"
)

func TestNewIDConcurrent(t *testing.T) {
	const goroutines, each = 8, 2000
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			local := make([]string, 0, each)
			prev := ""
			for range each {
				id := store.NewID()
				if id <= prev {
					t.Errorf("not increasing in one goroutine: %s after %s", id, prev)
				}
				prev = id
				local = append(local, id)
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	seen := make(map[string]bool, len(all))
	for _, id := range all {
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		u, err := ulid.ParseStrict(id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if d := time.Since(u.Timestamp()); d < -time.Second || d > time.Minute {
			t.Fatalf("%s: timestamp %v", id, u.Timestamp())
		}
	}
	if !sort.StringsAreSorted([]string{all[0], store.NewID()}) {
		t.Error("later id sorts before")
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = store.NewID()
	}
}
