package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Ordering and rate limits on the endpoint cards (issue 14): the edit form's two fields,
// an ordered endpoint's queue (which delivery blocks it) and Skip for owners.

func (d *developerPages) registerOrder() {
	owner := access.Require(access.Developer, access.Owner)
	d.s.Page(http.MethodPost, "/settings/developer/endpoints/{id}/skip", owner, d.skip)
}

// orderPatch reads the edit form's ordering and rate fields into p; a form without them
// (an older page) leaves both as they are. A rate that is not a number is refused the way
// the service refuses one out of range.
func orderPatch(r *http.Request, p *endpoint.Patch) {
	if r.PostForm.Has("ordering") {
		o := r.PostForm.Get("ordering")
		p.Ordering = &o
	}
	if r.PostForm.Has("maxPerSecond") {
		n := 0
		if v := strings.TrimSpace(r.PostForm.Get("maxPerSecond")); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil {
				n = -1
			}
		}
		p.MaxPerSecond = &n
	}
}

// loadQueues adds each ordered endpoint's queue to the page's data.
func (d *developerPages) loadQueues(ctx context.Context, p *access.Principal, data *developerData) error {
	if d.ops.Deliveries == nil {
		return nil
	}
	for i := range data.Endpoints {
		e := &data.Endpoints[i]
		if e.Ordering != endpoint.OrderingFIFO {
			continue
		}
		q, err := d.ops.Deliveries.Queue(ctx, p.WorkspaceID, e.ID)
		if err != nil {
			return err
		}
		e.Queue = &q
	}
	return nil
}

// skip cancels the delivery at the head of an ordered endpoint's queue, which lets the
// next one go.
func (d *developerPages) skip(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	if d.ops.Deliveries == nil {
		d.s.Error(w, r, p, http.StatusNotFound, "Not found", "Deliveries are not available on this server.")
		return
	}
	id := r.FormValue("delivery")
	dl, _, err := d.ops.Deliveries.Get(r.Context(), p.WorkspaceID, id)
	if err == nil && dl.EndpointID != r.PathValue("id") {
		err = store.ErrNotFound
	}
	if err == nil {
		_, err = d.ops.Deliveries.Skip(d.ctx(r, p), p.WorkspaceID, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.render(w, r, p, http.StatusNotFound, View{Error: "That delivery no longer exists."}, nil)
	case errors.Is(err, delivery.ErrNotHead):
		d.render(w, r, p, http.StatusConflict, View{Error: "That delivery is no longer the one holding the queue back; the page shows where it stands now."}, nil)
	case errors.Is(err, delivery.ErrInFlight):
		d.render(w, r, p, http.StatusConflict, View{Error: "That delivery is being attempted right now; try again in a few seconds."}, nil)
	case err != nil:
		d.fail(w, r, p, "skip delivery", err)
	default:
		http.Redirect(w, r, "/settings/developer?ok=skipped", http.StatusSeeOther)
	}
}
