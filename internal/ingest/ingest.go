// Package ingest owns an event from the producer's request to the enqueue
// (docs/architecture.md §3): validation, idempotency, matching the workspace's relays,
// adding the Zapier hooks subscribed to the event, and the events table; the delivery
// engine turns the targets into deliveries in the same transaction.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/relay"
	"github.com/relaydesk/relaydesk/internal/store"
)

// IdempotencyWindow is how long an idempotency key returns the first event's id.
const IdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKeyLen bounds an idempotency key (bytes of printable ASCII).
const MaxIdempotencyKeyLen = 255

// Input is one event as the producer publishes it.
type Input struct {
	WorkspaceID    string
	Name           string
	Data           []byte // the data object, validated against the catalog
	Context        []byte // optional facts for conditions, never delivered
	OccurredAt     time.Time
	IdempotencyKey string
}

// Prepared is an event that passed validation, ready to publish.
type Prepared struct {
	envelope event.Envelope
	body     []byte
	facts    relay.Facts
	key      string
}

// Prepare validates an event (catalog name, data shape, the data's workspace, context,
// idempotency key) and encodes its envelope. Errors are *input.Error naming the
// field within the event ("data.to[1]", "workspaceId"); an envelope over 256 KiB wraps
// event.ErrTooLarge. It touches no database.
func Prepare(in Input, now time.Time) (Prepared, error) {
	switch {
	case in.WorkspaceID == "":
		return Prepared{}, &input.Error{Field: "workspaceId", Reason: "required"}
	case len(in.WorkspaceID) > 64:
		return Prepared{}, &input.Error{Field: "workspaceId", Reason: "not a workspace id"}
	}
	if err := checkKey(in.IdempotencyKey); err != nil {
		return Prepared{}, err
	}
	v, err := event.ValidateEvent(in.Name, in.Data)
	if err != nil {
		return Prepared{}, err
	}
	if v.WorkspaceID != "" && v.WorkspaceID != in.WorkspaceID {
		return Prepared{}, &input.Error{Field: "data.workspaceId", Reason: "must equal the event's workspaceId"}
	}
	c, err := event.DecodeContext(in.Context)
	if err != nil {
		return Prepared{}, err
	}
	received := now
	if !in.OccurredAt.IsZero() {
		received = in.OccurredAt
	}
	p := Prepared{
		envelope: event.Envelope{ID: store.NewID(), Name: v.Name, WorkspaceID: in.WorkspaceID, CreatedAt: now.UTC(), DataType: v.DataType, Data: v.Data},
		facts:    relay.NewFacts(v, c, received),
		key:      in.IdempotencyKey,
	}
	p.body = event.Encode(p.envelope)
	if err := event.CheckEnvelopeSize(p.body); err != nil {
		return Prepared{}, err
	}
	return p, nil
}

func checkKey(k string) error {
	if len(k) > MaxIdempotencyKeyLen {
		return &input.Error{Field: "idempotencyKey", Reason: fmt.Sprintf("at most %d characters", MaxIdempotencyKeyLen)}
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return &input.Error{Field: "idempotencyKey", Reason: "printable ASCII without spaces only"}
		}
	}
	return nil
}

// Accepted is what publishing one event did.
type Accepted struct {
	ID string
	// Duplicate: the idempotency key was seen in the last 24 h; ID is the first event's and
	// nothing new was stored.
	Duplicate bool
	// Deliveries is how many deliveries the event got (matched endpoints; skipped ones count).
	Deliveries int
}

// UnknownWorkspaceError is returned when an event names a workspace that does not exist.
type UnknownWorkspaceError struct {
	Index       int // of the event in the request
	WorkspaceID string
}

func (e *UnknownWorkspaceError) Error() string { return "no workspace " + e.WorkspaceID }

// Deliveries stores an event's deliveries and reads them back; *delivery.Service implements it.
type Deliveries interface {
	PublishMany(ctx context.Context, tx *store.Tx, pubs []delivery.Publication) ([][]delivery.Delivery, error)
	// ForEvent reads an event's deliveries for the event view: delivery owns that table.
	ForEvent(ctx context.Context, workspaceID, eventID string) ([]delivery.Delivery, error)
}

// Hooks lists the Zapier hooks subscribed to an event name; *zapier.Hooks implements it.
type Hooks interface {
	SubscribedIDs(ctx context.Context, q store.Querier, workspaceID, eventName string) ([]string, error)
}

// Service takes published events in: it matches them to the workspace's enabled relays,
// adds the Zapier hooks subscribed to them, and stores each event with one delivery per
// target in one transaction per call.
type Service struct {
	DB         *store.DB
	Relays     *relay.Service
	Hooks      Hooks // nil: no Zapier hooks
	Deliveries Deliveries
	Now        clock.Clock
}

// Prepare is the package Prepare with the service's clock.
func (p *Service) Prepare(in Input) (Prepared, error) { return Prepare(in, p.Now.Now()) }

// errKeyRace: another request inserted the same idempotency key between our lookup and our
// insert (PostgreSQL; SQLite transactions are serial). The transaction is run again.
var errKeyRace = errors.New("idempotency key raced")

// Publish stores the events, all or none. It returns store errors, *UnknownWorkspaceError.
func (p *Service) Publish(ctx context.Context, events []Prepared) ([]Accepted, error) {
	var out []Accepted
	var err error
	for try := 0; try < 3; try++ {
		err = p.DB.InTx(ctx, func(tx *store.Tx) error {
			out, err = p.publishTx(ctx, tx, events)
			return err
		})
		if !errors.Is(err, errKeyRace) {
			break
		}
	}
	return out, err
}

// keyRef is a (workspace, idempotency key) or, for hooks, a (workspace, event name).
type keyRef struct{ workspace, key string }

func (p *Service) publishTx(ctx context.Context, tx *store.Tx, events []Prepared) ([]Accepted, error) {
	wsIDs := make([]string, 0, 1)
	for i := range events {
		if ws := events[i].envelope.WorkspaceID; !contains(wsIDs, ws) {
			wsIDs = append(wsIDs, ws)
		}
	}
	sets, err := p.Relays.Sets(ctx, tx, wsIDs)
	if err != nil {
		return nil, err
	}
	for i := range events {
		if _, ok := sets[events[i].envelope.WorkspaceID]; !ok {
			return nil, &UnknownWorkspaceError{Index: i, WorkspaceID: events[i].envelope.WorkspaceID}
		}
	}
	seen, err := p.lookupKeys(ctx, tx, events)
	if err != nil {
		return nil, err
	}
	out := make([]Accepted, len(events))
	hookIDs := map[keyRef][]string{}
	pubs := make([]delivery.Publication, 0, len(events))
	at := make([]int, 0, len(events)) // pubs[j] is events[at[j]]
	for i := range events {
		ev := &events[i]
		if ev.key != "" {
			ref := keyRef{ev.envelope.WorkspaceID, ev.key}
			if id, ok := seen[ref]; ok {
				out[i] = Accepted{ID: id, Duplicate: true}
				continue
			}
			seen[ref] = ev.envelope.ID
		}
		targets := sets[ev.envelope.WorkspaceID].Match(ev.envelope.Name, ev.facts, nil)
		hooks, err := p.hookTargets(ctx, tx, hookIDs, ev.envelope.WorkspaceID, ev.envelope.Name)
		if err != nil {
			return nil, err
		}
		if len(hooks) > 0 {
			// A new slice: Match's result may share its array with other events'.
			targets = append(append(make([]string, 0, len(targets)+len(hooks)), targets...), hooks...)
		}
		pubs = append(pubs, delivery.Publication{Event: delivery.Event{
			ID: ev.envelope.ID, WorkspaceID: ev.envelope.WorkspaceID, Name: ev.envelope.Name, DataType: ev.envelope.DataType,
			Body: ev.body, CreatedAt: ev.envelope.CreatedAt, IdempotencyKey: ev.key,
		}, EndpointIDs: targets})
		at = append(at, i)
	}
	if len(pubs) == 0 {
		return out, nil
	}
	dss, err := p.Deliveries.PublishMany(ctx, tx, pubs)
	if err != nil {
		if len(seen) > 0 && store.IsUniqueViolation(err) { // only idempotency keys can collide
			return nil, errKeyRace
		}
		return nil, err
	}
	for j, ds := range dss {
		out[at[j]] = Accepted{ID: pubs[j].Event.ID, Deliveries: len(ds)}
	}
	return out, nil
}

// hookTargets returns the Zapier hooks subscribed to an event name, looked up once per
// (workspace, name) of a request (memo): a hook gets exactly the deliveries an endpoint
// matched by a relay gets.
func (p *Service) hookTargets(ctx context.Context, tx *store.Tx, memo map[keyRef][]string, workspaceID, name string) ([]string, error) {
	if p.Hooks == nil {
		return nil, nil
	}
	k := keyRef{workspaceID, name}
	if ids, ok := memo[k]; ok {
		return ids, nil
	}
	ids, err := p.Hooks.SubscribedIDs(ctx, tx, workspaceID, name)
	if err != nil {
		return nil, err
	}
	memo[k] = ids
	return ids, nil
}

// lookupKeys finds the events already stored under the request's idempotency keys. A key
// older than the window is released (its old event keeps everything but the key) so the
// new event can take it.
func (p *Service) lookupKeys(ctx context.Context, tx *store.Tx, events []Prepared) (map[keyRef]string, error) {
	byWS := map[string][]any{}
	for i := range events {
		if k := events[i].key; k != "" {
			byWS[events[i].envelope.WorkspaceID] = append(byWS[events[i].envelope.WorkspaceID], k)
		}
	}
	seen := map[keyRef]string{}
	if len(byWS) == 0 {
		return seen, nil
	}
	cutoff := store.Micros(p.Now.Now().Add(-IdempotencyWindow))
	var expired []string
	for ws, keys := range byWS {
		q := `SELECT id, idempotency_key, created_at FROM events WHERE workspace_id = ? AND idempotency_key IN (?` + strings.Repeat(", ?", len(keys)-1) + `)`
		rows, err := tx.Query(ctx, q, append([]any{ws}, keys...)...)
		err = store.Each(rows, err, func(r store.Scanner) error {
			var id, key string
			var at int64
			if err := r.Scan(&id, &key, &at); err != nil {
				return err
			}
			if at < cutoff {
				expired = append(expired, id)
			} else {
				seen[keyRef{ws, key}] = id
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, id := range expired {
		if _, err := tx.Exec(ctx, `UPDATE events SET idempotency_key = NULL WHERE id = ?`, id); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
