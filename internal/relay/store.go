package relay

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/relaydesk/relaydesk/internal/audit"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Relay is a stored relay: its definition plus identity and whether it is on.
type Relay struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspaceId"`
	Enabled     bool       `json:"enabled"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Trigger     string     `json:"trigger"`
	Conditions  Conditions `json:"conditions"`
	Actions     []Action   `json:"actions"`
	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
}

// Definition returns what the user built.
func (r Relay) Definition() Definition {
	return Definition{Name: r.Name, Description: r.Description, Trigger: r.Trigger, Conditions: r.Conditions, Actions: r.Actions}
}

// Service stores relays and matches published events to the endpoints they send to.
//
// Matching reads compiled relays from a per-process cache keyed by workspace. Every change
// bumps the workspace's row in relay_versions inside the change's transaction; Sets reads
// those versions (one indexed query per publish request, which also proves the workspaces
// exist) and recompiles only a workspace whose version moved. So a change made by another
// process is seen by the next publish, and an unchanged workspace costs no decoding.
type Service struct {
	DB *store.DB

	mu    sync.RWMutex
	cache map[string]*Set // workspace id → compiled enabled relays
}

// maxCached bounds the cache; past it the cache starts over (sets are cheap to rebuild).
const maxCached = 10000

const relayColumns = `id, workspace_id, enabled, definition, created_at, updated_at`

func scanRelay(sc store.Scanner) (Relay, error) {
	var r Relay
	var def string
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.WorkspaceID, &r.Enabled, &def, &created, &updated); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, store.ErrNotFound
		}
		return r, err
	}
	var d Definition
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		return r, fmt.Errorf("relay %s: stored definition: %w", r.ID, err)
	}
	if d.Conditions.Mode == "" {
		d.Conditions.Mode = MatchAll
	}
	if d.Conditions.Rules == nil {
		d.Conditions.Rules = []Rule{}
	}
	if d.Actions == nil {
		d.Actions = []Action{}
	}
	r.Name, r.Description, r.Trigger, r.Conditions, r.Actions = d.Name, d.Description, d.Trigger, d.Conditions, d.Actions
	r.CreatedAt, r.UpdatedAt = store.Time(created), store.Time(updated)
	return r, nil
}

// List returns the workspace's relays, oldest first.
func (s *Service) List(ctx context.Context, workspaceID string) ([]Relay, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+relayColumns+` FROM relays WHERE workspace_id = ? ORDER BY id`, workspaceID)
	return store.Collect(rows, err, scanRelay)
}

// Get returns one relay of the workspace (store.ErrNotFound otherwise).
func (s *Service) Get(ctx context.Context, workspaceID, id string) (Relay, error) {
	return scanRelay(s.DB.QueryRow(ctx, `SELECT `+relayColumns+` FROM relays WHERE workspace_id = ? AND id = ?`, workspaceID, id))
}

func getTx(ctx context.Context, tx *store.Tx, workspaceID, id string) (Relay, error) {
	return scanRelay(tx.QueryRow(ctx, `SELECT `+relayColumns+` FROM relays WHERE workspace_id = ? AND id = ?`, workspaceID, id))
}

// checkEndpoints makes sure every sendWebhook action targets an endpoint of the workspace.
func checkEndpoints(ctx context.Context, q store.Querier, workspaceID string, d Definition) error {
	for i, a := range d.Actions {
		if a.Type != ActionSendWebhook {
			continue
		}
		var n int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM endpoints WHERE workspace_id = ? AND id = ?`, workspaceID, a.EndpointID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return &input.Error{Field: "actions[" + strconv.Itoa(i) + "].endpointId", Reason: "no endpoint with this id in this workspace"}
		}
	}
	return nil
}

// bump records a change to the workspace's relays so every process's cache reloads them.
func bump(ctx context.Context, tx *store.Tx, workspaceID string) error {
	_, err := tx.Exec(ctx, `INSERT INTO relay_versions (workspace_id, version) VALUES (?, 1)
		ON CONFLICT (workspace_id) DO UPDATE SET version = relay_versions.version + 1`, workspaceID)
	return err
}

// change runs write in a transaction and, when write reports a change, bumps the
// workspace's relay version in it; once committed, this process's compiled set is dropped.
// Every write to relays goes through it.
func (s *Service) change(ctx context.Context, workspaceID string, write func(*store.Tx) (changed bool, err error)) error {
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		changed, err := write(tx)
		if err != nil || !changed {
			return err
		}
		return bump(ctx, tx, workspaceID)
	})
	if err == nil {
		s.mu.Lock()
		delete(s.cache, workspaceID)
		s.mu.Unlock()
	}
	return err
}

type auditDetail struct {
	Name    string `json:"name"`
	Trigger string `json:"trigger"`
}

// Create validates d (including that its endpoints are the workspace's) and stores it as a
// new, paused relay, with an audit entry in the same transaction.
func (s *Service) Create(ctx context.Context, workspaceID string, d Definition) (Relay, error) {
	// A paused relay does not match, so the cache need not change; save bumps anyway so the
	// version reflects every write (cheap, and keeps the rule simple).
	return s.save(ctx, workspaceID, d, "relay.create", func(tx *store.Tx, def []byte) (string, error) {
		id, now := store.NewID(), store.Micros(time.Now())
		_, err := tx.Exec(ctx, `INSERT INTO relays (id, workspace_id, name, description, enabled, trigger, definition, created_at, updated_at)
			VALUES (?, ?, ?, ?, FALSE, ?, ?, ?, ?)`, id, workspaceID, d.Name, d.Description, d.Trigger, string(def), now, now)
		return id, err
	})
}

// Update replaces the definition of a relay (its enabled state is kept).
func (s *Service) Update(ctx context.Context, workspaceID, id string, d Definition) (Relay, error) {
	return s.save(ctx, workspaceID, d, "relay.update", func(tx *store.Tx, def []byte) (string, error) {
		res, err := tx.Exec(ctx, `UPDATE relays SET name = ?, description = ?, trigger = ?, definition = ?, updated_at = ?
			WHERE workspace_id = ? AND id = ?`, d.Name, d.Description, d.Trigger, string(def), store.Micros(time.Now()), workspaceID, id)
		return id, store.Affected(res, err, store.ErrNotFound)
	})
}

// save validates d and, in one transaction, checks its endpoints, writes it (write returns
// the relay's id), records action in the audit log and bumps the workspace's relay version.
func (s *Service) save(ctx context.Context, workspaceID string, d Definition, action string, write func(tx *store.Tx, def []byte) (string, error)) (Relay, error) {
	if err := d.Validate(); err != nil {
		return Relay{}, err
	}
	def, err := json.Marshal(d)
	if err != nil {
		return Relay{}, err
	}
	var out Relay
	err = s.change(ctx, workspaceID, func(tx *store.Tx) (bool, error) {
		if err := checkEndpoints(ctx, tx, workspaceID, d); err != nil {
			return false, err
		}
		id, err := write(tx, def)
		if err != nil {
			return false, err
		}
		out, err = recorded(ctx, tx, workspaceID, action, id, auditDetail{d.Name, d.Trigger})
		return true, err
	})
	if err != nil {
		return Relay{}, err
	}
	return out, nil
}

// recorded writes the audit entry of a change to relay id and reads the relay back.
func recorded(ctx context.Context, tx *store.Tx, workspaceID, action, id string, detail auditDetail) (Relay, error) {
	if err := audit.Record(ctx, tx, workspaceID, action, "relay", id, detail); err != nil {
		return Relay{}, err
	}
	return getTx(ctx, tx, workspaceID, id)
}

// SetEnabled switches a relay on or off. Switching it to the state it is in changes
// nothing and records nothing.
func (s *Service) SetEnabled(ctx context.Context, workspaceID, id string, on bool) (Relay, error) {
	var out Relay
	err := s.change(ctx, workspaceID, func(tx *store.Tx) (bool, error) {
		r, err := getTx(ctx, tx, workspaceID, id)
		if err != nil {
			return false, err
		}
		if r.Enabled == on {
			out = r
			return false, nil
		}
		if on {
			// The endpoint may have been deleted since the relay was saved.
			if err := checkEndpoints(ctx, tx, workspaceID, r.Definition()); err != nil {
				return false, err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE relays SET enabled = ?, updated_at = ? WHERE workspace_id = ? AND id = ?`,
			on, store.Micros(time.Now()), workspaceID, id); err != nil {
			return false, err
		}
		action := "relay.disable"
		if on {
			action = "relay.enable"
		}
		out, err = recorded(ctx, tx, workspaceID, action, id, auditDetail{r.Name, r.Trigger})
		return true, err
	})
	if err != nil {
		return Relay{}, err
	}
	return out, nil
}

// Delete removes a relay.
func (s *Service) Delete(ctx context.Context, workspaceID, id string) error {
	return s.change(ctx, workspaceID, func(tx *store.Tx) (bool, error) {
		r, err := getTx(ctx, tx, workspaceID, id)
		if err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM relays WHERE workspace_id = ? AND id = ?`, workspaceID, id); err != nil {
			return false, err
		}
		return true, audit.Record(ctx, tx, workspaceID, "relay.delete", "relay", id, auditDetail{r.Name, r.Trigger})
	})
}

// EndpointChoice is an endpoint a sendWebhook action may pick.
type EndpointChoice struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Enabled bool   `json:"enabled"`
}

// Endpoints lists the workspace's endpoints for the relay builder's endpoint picker.
func (s *Service) Endpoints(ctx context.Context, workspaceID string) ([]EndpointChoice, error) {
	rows, err := s.DB.Query(ctx, `SELECT id, url, enabled FROM endpoints WHERE workspace_id = ? ORDER BY id`, workspaceID)
	return store.Collect(rows, err, func(r store.Scanner) (EndpointChoice, error) {
		var e EndpointChoice
		return e, r.Scan(&e.ID, &e.URL, &e.Enabled)
	})
}

// Set is the compiled enabled relays of one workspace, ready to match. It is immutable and
// safe for concurrent use.
type Set struct {
	version   int64
	byTrigger map[string][]compiled
}

type compiled struct {
	id         string
	conditions Conditions
	endpoints  []string
}

// Len is how many enabled relays the set holds.
func (st *Set) Len() int {
	n := 0
	for _, rs := range st.byTrigger {
		n += len(rs)
	}
	return n
}

// Match appends to dst the endpoints that the enabled relays for trigger send an event with
// these facts to, each endpoint once (also when dst already holds it), in relay then action
// order. It does not allocate beyond growing dst.
func (st *Set) Match(trigger string, f Facts, dst []string) []string {
	if st == nil {
		return dst
	}
	for i := range st.byTrigger[trigger] {
		r := &st.byTrigger[trigger][i]
		if !r.conditions.Match(f) {
			continue
		}
	next:
		for _, e := range r.endpoints {
			for _, have := range dst {
				if have == e {
					continue next
				}
			}
			dst = append(dst, e)
		}
	}
	return dst
}

// Sets returns the compiled enabled relays of each workspace, read through q (the publish
// transaction). A workspace that does not exist has no entry: the producer API answers 404
// for it. A cached set is used while the workspace's relay version has not moved.
func (s *Service) Sets(ctx context.Context, q store.Querier, workspaceIDs []string) (map[string]*Set, error) {
	if len(workspaceIDs) == 0 {
		return map[string]*Set{}, nil
	}
	var b strings.Builder
	b.WriteString(`SELECT w.id, COALESCE(v.version, 0) FROM workspaces w LEFT JOIN relay_versions v ON v.workspace_id = w.id WHERE w.id IN (`)
	args := make([]any, len(workspaceIDs))
	for i, id := range workspaceIDs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
		args[i] = id
	}
	b.WriteByte(')')
	rows, err := q.Query(ctx, b.String(), args...)
	versions := make(map[string]int64, len(workspaceIDs))
	err = store.Each(rows, err, func(r store.Scanner) error {
		var id string
		var v int64
		if err := r.Scan(&id, &v); err != nil {
			return err
		}
		versions[id] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Set, len(versions))
	for id, v := range versions {
		s.mu.RLock()
		st := s.cache[id]
		s.mu.RUnlock()
		if st == nil || st.version != v {
			// The relays are read after the version, so they are at least as new as it.
			if st, err = load(ctx, q, id, v); err != nil {
				return nil, err
			}
			s.mu.Lock()
			if s.cache == nil || len(s.cache) >= maxCached {
				s.cache = make(map[string]*Set)
			}
			if old := s.cache[id]; old == nil || old.version <= v {
				s.cache[id] = st
			}
			s.mu.Unlock()
		}
		out[id] = st
	}
	return out, nil
}

// load compiles the enabled relays of a workspace. A stored definition that no longer
// validates (the rules tightened since it was saved) is left out rather than failing
// every publish of the workspace.
func load(ctx context.Context, q store.Querier, workspaceID string, version int64) (*Set, error) {
	rows, err := q.Query(ctx, `SELECT id, definition FROM relays WHERE workspace_id = ? AND enabled ORDER BY id`, workspaceID)
	st := &Set{version: version, byTrigger: map[string][]compiled{}}
	err = store.Each(rows, err, func(r store.Scanner) error {
		var id, def string
		if err := r.Scan(&id, &def); err != nil {
			return err
		}
		d, err := DecodeDefinition([]byte(def))
		if err != nil {
			return nil
		}
		if eps := d.EndpointIDs(); len(eps) > 0 {
			st.byTrigger[d.Trigger] = append(st.byTrigger[d.Trigger], compiled{id: id, conditions: d.Conditions, endpoints: eps})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
