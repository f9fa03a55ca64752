package zapier

import (
	"context"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Publisher stores events and their deliveries (*delivery.Service; relay.Deliveries).
type Publisher interface {
	PublishMany(ctx context.Context, tx *store.Tx, pubs []delivery.Publication) ([][]delivery.Delivery, error)
}

// WithHooks adds the Zapier hooks subscribed to each published event to its targets, in
// the same transaction, then publishes through Next. The producer API publishes through
// it, so a hook gets exactly the deliveries an endpoint matched by a relay gets.
type WithHooks struct {
	Next  Publisher
	Hooks *Hooks
}

// PublishMany implements Publisher: one hook lookup per (workspace, event name) of the request.
func (w WithHooks) PublishMany(ctx context.Context, tx *store.Tx, pubs []delivery.Publication) ([][]delivery.Delivery, error) {
	type key struct{ workspace, name string }
	hooks := map[key][]string{}
	for i := range pubs {
		k := key{pubs[i].Event.WorkspaceID, pubs[i].Event.Name}
		ids, ok := hooks[k]
		if !ok {
			var err error
			if ids, err = w.Hooks.SubscribedIDs(ctx, tx, k.workspace, k.name); err != nil {
				return nil, err
			}
			hooks[k] = ids
		}
		if len(ids) > 0 {
			// A new slice: the caller's slice may share its array with others.
			eps := pubs[i].EndpointIDs
			pubs[i].EndpointIDs = append(append(make([]string, 0, len(eps)+len(ids)), eps...), ids...)
		}
	}
	return w.Next.PublishMany(ctx, tx, pubs)
}
