package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/notify"
	"github.com/relaydesk/relaydesk/internal/store"
)

// developerPages is Developer Tools: the workspace's signing secret and its endpoints.
type developerPages struct {
	s   *Server
	svc *endpoint.Service
	ops Operability
}

// RegisterDeveloper adds the Developer Tools pages over the endpoint service. Needs follow
// docs/architecture.md §10: developer viewers see the page read-only (fingerprint only), editors add and
// edit endpoints, test-send and manage the secret, owners delete endpoints.
//
// ops, when given, adds endpoint health (state, success rate, charts, latest attempts),
// the disabled banner with Re-enable and Recover, and the workspace's notifications
// (developer_health.go).
func (s *Server) RegisterDeveloper(svc *endpoint.Service, ops ...Operability) {
	d := &developerPages{s: s, svc: svc}
	if len(ops) > 0 {
		d.ops = ops[0]
		d.registerHealth()
		d.registerOrder()
	}
	viewer, editor, owner := access.Require(access.Developer, access.Viewer), access.Require(access.Developer, access.Editor), access.Require(access.Developer, access.Owner)
	s.Page(http.MethodGet, "/settings/developer", viewer, d.page)
	s.Page(http.MethodPost, "/settings/developer/endpoints", editor, d.create)
	s.Page(http.MethodPost, "/settings/developer/endpoints/{id}", editor, d.update)
	s.Page(http.MethodPost, "/settings/developer/endpoints/{id}/test", editor, d.test)
	s.Page(http.MethodGet, "/settings/developer/endpoints/{id}/delete", owner, d.deletePage)
	s.Page(http.MethodPost, "/settings/developer/endpoints/{id}/delete", owner, d.delete)
	s.Page(http.MethodPost, "/settings/developer/secret", editor, d.generate)
	s.Page(http.MethodPost, "/settings/developer/secret/reveal", editor, d.reveal)
	s.Page(http.MethodGet, "/settings/developer/secret/rotate", editor, d.rotatePage)
	s.Page(http.MethodPost, "/settings/developer/secret/rotate", editor, d.rotate)
	s.Page(http.MethodPost, "/settings/developer/signing-key", editor, d.generateKey)
	s.Page(http.MethodGet, "/settings/developer/signing-key/rotate", editor, d.rotateKeyPage)
	s.Page(http.MethodPost, "/settings/developer/signing-key/rotate", editor, d.rotateKey)
}

// developerData is what developer.html shows.
type developerData struct {
	CanEdit, CanDelete bool
	// AllowPrivate: the server lets endpoints be private (--allow-private-endpoints).
	AllowPrivate bool
	Endpoints    []endpointRow
	Max          int
	AtLimit      bool
	Secret       endpoint.SecretInfo
	// Revealed is the secret itself, right after it was generated, revealed or rotated.
	Revealed string
	// Key is the signing key pair (public parts only) and JWKSURL where it is published.
	Key     endpoint.KeyInfo
	JWKSURL string
	// Add holds the add form's values when it is shown again with an error.
	Add endpointForm
	// Notifications are the workspace's latest (with Operability).
	Notifications []notify.Notification
	Unread        int
	// RecoverSince and RecoverUntil are the Recover form's defaults (the last 7 days).
	RecoverSince, RecoverUntil string
}

type endpointRow struct {
	endpoint.Endpoint
	// Form holds this endpoint's edit form values when a save failed.
	Form endpointForm
	Test *endpoint.TestResult
	// Health is nil without Operability.
	Health *endpointHealth
	// Queue is an ordered (fifo) endpoint's queue; nil otherwise (developer_order.go).
	Queue *delivery.FIFOQueue
}

type endpointForm struct {
	URL, Description, Error string
	Failed                  bool
}

// flashes are the only messages a redirect may ask for (?ok=…); nothing is echoed.
var flashes = map[string]string{
	"added":   "Endpoint saved.",
	"saved":   "Endpoint saved.",
	"deleted": "Endpoint deleted.",
	"enabled": "Endpoint re-enabled. Use Recover to resend what failed while it was down.",
	"read":    "Notifications marked as read.",
	"skipped": "Delivery skipped. The next one in order is on its way.",
}

func (d *developerPages) ctx(r *http.Request, p *access.Principal) context.Context {
	return access.With(r.Context(), p)
}

// load gathers the page's data; edit is called to adjust it before rendering.
func (d *developerPages) render(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, v View, edit func(*developerData)) {
	ctx := r.Context()
	list, err := d.svc.List(ctx, p.WorkspaceID)
	if err != nil {
		d.fail(w, r, p, "list endpoints", err)
		return
	}
	info, err := d.svc.SecretInfo(ctx, p.WorkspaceID)
	if err != nil {
		d.fail(w, r, p, "secret info", err)
		return
	}
	key, err := d.svc.KeyInfo(ctx, p.WorkspaceID)
	if err != nil {
		d.fail(w, r, p, "key info", err)
		return
	}
	data := &developerData{CanEdit: p.Can(access.Developer, access.Editor), CanDelete: p.Can(access.Developer, access.Owner), AllowPrivate: d.s.AllowPrivate,
		Max: endpoint.MaxPerWorkspace, AtLimit: len(list) >= endpoint.MaxPerWorkspace, Secret: info,
		Key: key, JWKSURL: d.s.origin(r) + jwksPath(p.WorkspaceID)}
	for _, e := range list {
		data.Endpoints = append(data.Endpoints, endpointRow{Endpoint: e, Form: endpointForm{URL: e.URL, Description: e.Description}})
	}
	if err := d.loadHealth(ctx, p, data); err != nil {
		d.fail(w, r, p, "endpoint health", err)
		return
	}
	if err := d.loadQueues(ctx, p, data); err != nil {
		d.fail(w, r, p, "endpoint queues", err)
		return
	}
	if edit != nil {
		edit(data)
	}
	v.Title, v.Principal, v.Active, v.Data = "Developer Tools", p, "developer", data
	d.s.Render(w, r, status, "developer", v)
}

func (d *developerPages) fail(w http.ResponseWriter, r *http.Request, p *access.Principal, what string, err error) {
	d.s.internalError(w, r, p, "developer tools: "+what, err)
}

func (d *developerPages) page(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	d.render(w, r, p, http.StatusOK, View{Flash: flashes[r.URL.Query().Get("ok")]}, nil)
}

func (d *developerPages) form(w http.ResponseWriter, r *http.Request, p *access.Principal) bool {
	return d.s.form(w, r, p, 16<<10)
}

// problem turns a service error into what the member reads; ok is false for unexpected ones.
func problem(err error) (msg string, status int, ok bool) {
	var inv *input.Error
	switch {
	case errors.As(err, &inv):
		label := map[string]string{"url": "URL", "description": "Description", "graceSeconds": "Grace period",
			"ordering": "Delivery order", "maxPerSecond": "Rate limit"}[inv.Field]
		return label + ": " + inv.Reason, http.StatusUnprocessableEntity, true
	case endpoint.IsConflict(err):
		return err.Error(), http.StatusConflict, true
	case errors.Is(err, endpoint.ErrNoSecret):
		return "Generate a signing secret first: test events are signed like every delivery.", http.StatusConflict, true
	case errors.Is(err, store.ErrNotFound):
		return "That endpoint no longer exists.", http.StatusNotFound, true
	}
	return "", 0, false
}

func (d *developerPages) create(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	in := endpoint.Input{URL: r.PostForm.Get("url"), Description: r.PostForm.Get("description"), Enabled: true}
	if _, err := d.svc.Create(d.ctx(r, p), p.WorkspaceID, in); err != nil {
		msg, status, ok := problem(err)
		if !ok {
			d.fail(w, r, p, "create endpoint", err)
			return
		}
		d.render(w, r, p, status, View{}, func(data *developerData) {
			data.Add = endpointForm{URL: in.URL, Description: in.Description, Error: msg, Failed: true}
		})
		return
	}
	http.Redirect(w, r, "/settings/developer?ok=added", http.StatusSeeOther)
}

func (d *developerPages) update(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	id := r.PathValue("id")
	u, desc, enabled := r.PostForm.Get("url"), r.PostForm.Get("description"), r.PostForm.Get("enabled") == "on"
	patch := endpoint.Patch{URL: &u, Description: &desc, Enabled: &enabled}
	orderPatch(r, &patch)
	if _, err := d.svc.Update(d.ctx(r, p), p.WorkspaceID, id, patch); err != nil {
		msg, status, ok := problem(err)
		if !ok {
			d.fail(w, r, p, "update endpoint", err)
			return
		}
		d.render(w, r, p, status, View{Error: msg}, func(data *developerData) {
			for i := range data.Endpoints {
				if data.Endpoints[i].ID == id {
					data.Endpoints[i].Form = endpointForm{URL: u, Description: desc, Error: msg, Failed: true}
				}
			}
		})
		return
	}
	http.Redirect(w, r, "/settings/developer?ok=saved", http.StatusSeeOther)
}

func (d *developerPages) test(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	id := r.PathValue("id")
	res, err := d.svc.TestSend(d.ctx(r, p), p.WorkspaceID, id)
	if err != nil {
		d.refuse(w, r, p, "test send", err)
		return
	}
	d.render(w, r, p, http.StatusOK, View{}, func(data *developerData) {
		for i := range data.Endpoints {
			if data.Endpoints[i].ID == id {
				data.Endpoints[i].Test = &res
			}
		}
	})
}

func (d *developerPages) deletePage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	e, err := d.svc.Get(r.Context(), p.WorkspaceID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		d.s.Error(w, r, p, http.StatusNotFound, "Not found", "That endpoint no longer exists.")
		return
	} else if err != nil {
		d.fail(w, r, p, "get endpoint", err)
		return
	}
	d.s.Render(w, r, http.StatusOK, "developer_delete", View{Title: "Delete endpoint", Principal: p, Active: "developer", Data: confirmForm{
		Item: e, Action: "/settings/developer/endpoints/" + url.PathEscape(e.ID) + "/delete", Button: "Delete endpoint", ButtonID: "confirm-delete", Cancel: "/settings/developer",
	}})
}

func (d *developerPages) delete(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	err := d.svc.Delete(d.ctx(r, p), p.WorkspaceID, r.PathValue("id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		d.fail(w, r, p, "delete endpoint", err)
		return
	}
	http.Redirect(w, r, "/settings/developer?ok=deleted", http.StatusSeeOther)
}

func (d *developerPages) generate(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	sec, _, err := d.svc.GenerateSecret(d.ctx(r, p), p.WorkspaceID)
	if err != nil {
		d.refuse(w, r, p, "generate secret", err)
		return
	}
	d.render(w, r, p, http.StatusOK, View{Flash: "Signing secret generated. Copy it into your receiver."}, func(data *developerData) {
		data.Revealed = sec.String()
	})
}

func (d *developerPages) reveal(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	sec, _, err := d.svc.RevealSecret(d.ctx(r, p), p.WorkspaceID)
	if err != nil {
		d.refuse(w, r, p, "reveal secret", err)
		return
	}
	d.render(w, r, p, http.StatusOK, View{}, func(data *developerData) { data.Revealed = sec.String() })
}

// graceChoices are the rotation page's options, longest first; the API takes any 0–86400
// seconds. The page pre-selects defaultGrace: rotating with no grace breaks every receiver
// that has not switched yet, so that choice has to be made on purpose.
var graceChoices = []graceChoice{
	{24 * 60 * 60, "24 hours (recommended)", "The old secret keeps signing for a day: time to update every receiver."},
	{6 * 60 * 60, "6 hours", ""},
	{60 * 60, "1 hour", ""},
	{15 * 60, "15 minutes", ""},
	{0, "Immediately, no grace period", "Every receiver still using the old secret rejects your webhooks from the moment you rotate. Use it when the old secret leaked."},
}

const defaultGrace = 24 * 60 * 60

type graceChoice struct {
	Seconds     int
	Label, Note string
}

type rotateData struct {
	Fingerprint string
	// Grace is the id of the grace-choices fieldset and the prefix of its radios' ids.
	Grace           string
	Choices         []graceChoice
	Default, Danger int
}

// graceParam is a rotation form's grace period; anything unreadable is negative, which the
// service refuses with its own message.
func graceParam(r *http.Request) time.Duration {
	secs, err := strconv.ParseInt(r.PostForm.Get("graceSeconds"), 10, 64)
	if err != nil {
		return -time.Second
	}
	return time.Duration(secs) * time.Second
}

// refuse answers a failed action: the page again with the reason when it is the user's to
// fix (a problem from the service), otherwise the internal-error page, logged as what.
func (d *developerPages) refuse(w http.ResponseWriter, r *http.Request, p *access.Principal, what string, err error) {
	msg, status, ok := problem(err)
	if !ok {
		d.fail(w, r, p, what, err)
		return
	}
	d.render(w, r, p, status, View{Error: msg}, nil)
}

func (d *developerPages) rotatePage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	info, err := d.svc.SecretInfo(r.Context(), p.WorkspaceID)
	d.renderRotate(w, r, p, "secret info", err, info.Exists, "developer_rotate", "Rotate signing secret",
		rotateData{Fingerprint: info.Fingerprint, Grace: "grace", Choices: graceChoices})
}

// renderRotate shows a rotation page (the secret's or the key pair's) once info about what
// it rotates was read (err, exists); with nothing to rotate yet it is back to Developer Tools.
func (d *developerPages) renderRotate(w http.ResponseWriter, r *http.Request, p *access.Principal, what string, err error, exists bool, page, title string, data rotateData) {
	if err != nil {
		d.fail(w, r, p, what, err)
		return
	}
	if !exists {
		http.Redirect(w, r, "/settings/developer", http.StatusSeeOther)
		return
	}
	data.Default, data.Danger = defaultGrace, 0
	d.s.Render(w, r, http.StatusOK, page, View{Title: title, Principal: p, Active: "developer", Data: data})
}

func (d *developerPages) rotate(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if !d.form(w, r, p) {
		return
	}
	sec, info, err := d.svc.RotateSecret(d.ctx(r, p), p.WorkspaceID, graceParam(r))
	if err != nil {
		d.refuse(w, r, p, "rotate secret", err)
		return
	}
	flash := "Signing secret rotated with no grace period: the old secret no longer signs, so receivers must use the new one now."
	if info.PreviousExpiresAt != nil {
		flash = "Signing secret rotated. The old secret also signs until " + info.PreviousExpiresAt.Format("2 Jan 2006 15:04 MST") +
			": update your receivers to the new secret before then."
	}
	d.render(w, r, p, http.StatusOK, View{Flash: flash}, func(data *developerData) { data.Revealed = sec.String() })
}
