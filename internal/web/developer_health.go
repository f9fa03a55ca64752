package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/health"
	"github.com/relaydesk/relaydesk/internal/notify"
	"github.com/relaydesk/relaydesk/internal/store"
)

// Operability is what Developer Tools shows about delivery health (issue 11).
type Operability struct {
	Health     *health.Service
	Notify     *notify.Service
	Deliveries *delivery.Service
}

// endpointHealth is one endpoint's health as the page shows it.
type endpointHealth struct {
	health.Endpoint
	Rate          string // "97.5 %" or "no attempts yet"
	Hourly, Daily template.HTML
	// DisabledBySystem: relaydesk disabled it (410 Gone, 5 days failing) — the banner.
	DisabledBySystem bool
}

const dateForm = "2006-01-02"

func (d *developerPages) registerHealth() {
	viewer, editor := access.Require(access.Developer, access.Viewer), access.Require(access.Developer, access.Editor)
	d.s.Page(http.MethodPost, "/settings/developer/endpoints/{id}/enable", editor, d.enable)
	d.s.Page(http.MethodPost, "/settings/developer/endpoints/{id}/recover", editor, d.recover)
	d.s.Page(http.MethodPost, "/settings/developer/notifications/read", viewer, d.markRead)
	if d.ops.Notify != nil {
		n := d.ops.Notify
		d.s.Unread = func(ctx context.Context, p *access.Principal) int {
			if p == nil || p.WorkspaceID == "" || !p.Can(access.Developer, access.Viewer) {
				return 0
			}
			c, err := n.Unread(ctx, p.WorkspaceID)
			if err != nil {
				d.s.Log.Warn("unread notifications", "err", err)
			}
			return c
		}
	}
}

// loadHealth adds health, charts and notifications to the page's data.
func (d *developerPages) loadHealth(ctx context.Context, p *access.Principal, data *developerData) error {
	if d.ops.Health == nil {
		return nil
	}
	for i := range data.Endpoints {
		e := &data.Endpoints[i]
		h, err := d.ops.Health.Endpoint(ctx, p.WorkspaceID, e.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		eh := &endpointHealth{Endpoint: h, Rate: "no attempts in 7 days",
			Hourly: health.Chart("chart-24h-"+e.ID, h.Hourly, true), Daily: health.Chart("chart-7d-"+e.ID, h.Daily, false)}
		if h.SuccessRate >= 0 {
			eh.Rate = fmt.Sprintf("%.1f %%", h.SuccessRate)
		}
		eh.DisabledBySystem = h.State == health.Disabled && (e.DisabledReason == delivery.ReasonGone || e.DisabledReason == delivery.ReasonFailing)
		e.Health = eh
	}
	now := time.Now().UTC()
	data.RecoverSince, data.RecoverUntil = now.AddDate(0, 0, -7).Format(dateForm), now.Format(dateForm)
	if d.ops.Notify != nil {
		var err error
		if data.Notifications, err = d.ops.Notify.List(ctx, p.WorkspaceID, 10); err != nil {
			return err
		}
		if data.Unread, err = d.ops.Notify.Unread(ctx, p.WorkspaceID); err != nil {
			return err
		}
	}
	return nil
}

// enable is Re-enable: PATCH enabled=true (which clears the disabled reason).
func (d *developerPages) enable(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	on := true
	if _, err := d.svc.Update(d.ctx(r, p), p.WorkspaceID, r.PathValue("id"), endpoint.Patch{Enabled: &on}); err != nil {
		d.refuse(w, r, p, "re-enable endpoint", err)
		return
	}
	http.Redirect(w, r, "/settings/developer?ok=enabled", http.StatusSeeOther)
}

// recover re-queues the endpoint's failed deliveries created in the chosen days (UTC,
// both inclusive; default the last 7 days).
func (d *developerPages) recover(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	id := r.PathValue("id")
	now := time.Now().UTC()
	since, until := now.AddDate(0, 0, -7), now
	bad := ""
	if v := r.PostForm.Get("since"); v != "" {
		t, err := time.Parse(dateForm, v)
		if err != nil {
			bad = "From: pick a date."
		}
		since = t
	}
	if v := r.PostForm.Get("until"); v != "" {
		t, err := time.Parse(dateForm, v)
		if err != nil {
			bad = "To: pick a date."
		}
		until = t.Add(24*time.Hour - time.Microsecond)
	}
	if bad == "" && until.Before(since) {
		bad = "The range ends before it starts."
	}
	if bad == "" && now.Sub(since) > 90*24*time.Hour {
		bad = "Recover goes back at most 90 days."
	}
	if bad != "" {
		d.render(w, r, p, http.StatusUnprocessableEntity, View{Error: "Recover: " + bad}, nil)
		return
	}
	e, err := d.svc.Get(r.Context(), p.WorkspaceID, id)
	if err != nil {
		d.refuse(w, r, p, "get endpoint", err)
		return
	}
	if !e.Enabled {
		d.render(w, r, p, http.StatusConflict, View{Error: "Re-enable the endpoint first: deliveries to a disabled endpoint are not sent."}, nil)
		return
	}
	n, err := d.ops.Deliveries.Recover(d.ctx(r, p), p.WorkspaceID, id, since, until)
	if err != nil {
		d.fail(w, r, p, "recover", err)
		return
	}
	flash := "Nothing to recover: no failed deliveries in that range."
	if n > 0 {
		flash = fmt.Sprintf("Recovering %d failed deliveries: they are queued again.", n)
	}
	d.render(w, r, p, http.StatusOK, View{Flash: flash}, nil)
}

func (d *developerPages) markRead(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	if d.ops.Notify != nil {
		if err := d.ops.Notify.MarkRead(r.Context(), p.WorkspaceID, r.PostForm.Get("id")); err != nil {
			d.fail(w, r, p, "mark notifications read", err)
			return
		}
	}
	http.Redirect(w, r, "/settings/developer?ok=read#notifications", http.StatusSeeOther)
}
