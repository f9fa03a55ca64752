package apikey

import (
	"context"

	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Publisher stores an event and its deliveries (*delivery.Service; relay.Deliveries).
type Publisher interface {
	Publish(ctx context.Context, tx *store.Tx, ev delivery.Event, endpointIDs []string) ([]delivery.Delivery, error)
}

// WithHooks adds the Zapier hooks subscribed to each published event to its targets, in
// the same transaction, then publishes through Next. The producer API publishes through
// it, so a hook gets exactly the deliveries an endpoint matched by a relay gets.
type WithHooks struct {
	Next  Publisher
	Hooks *Hooks
}

// Publish implements Publisher.
func (w WithHooks) Publish(ctx context.Context, tx *store.Tx, ev delivery.Event, endpointIDs []string) ([]delivery.Delivery, error) {
	ids, err := w.Hooks.SubscribedIDs(ctx, tx, ev.WorkspaceID, ev.Name)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		// A new slice: the caller may reuse endpointIDs' array for the next event.
		endpointIDs = append(append(make([]string, 0, len(endpointIDs)+len(ids)), endpointIDs...), ids...)
	}
	return w.Next.Publish(ctx, tx, ev, endpointIDs)
}
