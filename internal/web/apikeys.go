package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/apikey"
	"github.com/relaydesk/relaydesk/internal/input"
	"github.com/relaydesk/relaydesk/internal/zapier"
)

// apiKeyPages is Developer Tools → API Keys: a member's API keys (create with a one-time
// reveal, list, revoke) and the Zapier hooks made with them (list, remove). Editors see
// and manage their own; developer owners everyone's (docs/architecture.md §10).
type apiKeyPages struct {
	s     *Server
	keys  *apikey.Service
	hooks *zapier.Hooks
}

// RegisterAPIKeys adds the API Keys pages.
func (s *Server) RegisterAPIKeys(keys *apikey.Service, hooks *zapier.Hooks) {
	p := &apiKeyPages{s: s, keys: keys, hooks: hooks}
	editor := access.Require(access.Developer, access.Editor)
	s.Page(http.MethodGet, "/settings/api-keys", editor, p.page)
	s.Page(http.MethodPost, "/settings/api-keys", editor, p.create)
	s.Page(http.MethodGet, "/settings/api-keys/{id}/revoke", editor, p.revokePage)
	s.Page(http.MethodPost, "/settings/api-keys/{id}/revoke", editor, p.revoke)
	s.Page(http.MethodGet, "/settings/api-keys/hooks/{id}/remove", editor, p.removeHookPage)
	s.Page(http.MethodPost, "/settings/api-keys/hooks/{id}/remove", editor, p.removeHook)
}

// apiKeysData is what apikeys.html shows.
type apiKeysData struct {
	// Everyone is set for developer owners, who see every member's keys and hooks.
	Everyone bool
	Keys     []keyRow
	Hooks    []hookRow
	// Created is the key just made: the only time it is shown.
	Created *createdKeyView
	// Form holds the create form's values when it is shown again with an error.
	Name, Expiry string
	Expiries     []expiryOption
}

type keyRow struct {
	apikey.Key
	Created, LastUsed, Expires string
	Expired                    bool
}

type hookRow struct {
	zapier.Hook
	Created string
}

type createdKeyView struct {
	Name, Token, Expires string
}

type expiryOption struct{ Value, Label string }

var expiries = []expiryOption{{"", "Never"}, {"30", "In 30 days"}, {"90", "In 90 days"}, {"365", "In a year"}}

// apiKeyFlashes are the only messages a redirect may ask for (?ok=…); nothing is echoed.
var apiKeyFlashes = map[string]string{
	"revoked":     "API key revoked. It stopped working at once.",
	"hookremoved": "Zapier hook removed. Its Zap will stop receiving events.",
}

func keyScope(p *access.Principal) string {
	if p.Can(access.Developer, access.Owner) {
		return ""
	}
	return p.UserID
}

func keyTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func (a *apiKeyPages) render(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, v View, d apiKeysData) {
	ctx := r.Context()
	keys, err := a.keys.List(ctx, p.WorkspaceID, keyScope(p))
	if err == nil {
		var hooks []zapier.Hook
		if hooks, err = a.hooks.List(ctx, p.WorkspaceID, keyScope(p)); err == nil {
			for _, h := range hooks {
				d.Hooks = append(d.Hooks, hookRow{Hook: h, Created: keyTime(&h.CreatedAt)})
			}
		}
	}
	if err != nil {
		a.s.internalError(w, r, p, "api keys page", err)
		return
	}
	now := time.Now()
	for _, k := range keys {
		d.Keys = append(d.Keys, keyRow{Key: k, Created: keyTime(&k.CreatedAt), LastUsed: keyTime(k.LastUsedAt),
			Expires: keyTime(k.ExpiresAt), Expired: k.Expired(now)})
	}
	d.Everyone = keyScope(p) == ""
	d.Expiries = expiries
	v.Title, v.Principal, v.Active, v.Data = "API Keys", p, "api-keys", d
	a.s.Render(w, r, status, "apikeys", v)
}

func (a *apiKeyPages) page(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	a.render(w, r, p, http.StatusOK, View{Flash: apiKeyFlashes[r.URL.Query().Get("ok")]}, apiKeysData{})
}

func (a *apiKeyPages) create(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		a.render(w, r, p, http.StatusBadRequest, View{Error: "The form could not be read."}, apiKeysData{})
		return
	}
	d := apiKeysData{Name: r.PostForm.Get("name"), Expiry: r.PostForm.Get("expiry")}
	if p.Via != "session" {
		a.render(w, r, p, http.StatusForbidden, View{Error: "API keys can only be created from a signed-in session."}, d)
		return
	}
	var expires *time.Time
	if d.Expiry != "" {
		days, err := strconv.Atoi(d.Expiry)
		if err != nil || days < 1 || days > 3650 {
			a.render(w, r, p, http.StatusUnprocessableEntity, View{Error: "Choose when the key expires from the list."}, d)
			return
		}
		t := time.Now().Add(time.Duration(days) * 24 * time.Hour)
		expires = &t
	}
	k, token, err := a.keys.Create(access.With(r.Context(), p), p.WorkspaceID, p.UserID, d.Name, expires)
	var inv *input.Error
	switch {
	case errors.As(err, &inv):
		a.render(w, r, p, http.StatusUnprocessableEntity, View{Error: inv.Reason}, d)
		return
	case err != nil:
		a.s.Log.Error("create api key", "err", err)
		a.render(w, r, p, http.StatusInternalServerError, View{Error: "Something went wrong; please try again."}, d)
		return
	}
	a.render(w, r, p, http.StatusCreated, View{}, apiKeysData{Created: &createdKeyView{Name: k.Name, Token: token, Expires: keyTime(k.ExpiresAt)}})
}

func (a *apiKeyPages) revokePage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	k, err := a.keys.Get(r.Context(), p.WorkspaceID, r.PathValue("id"), keyScope(p))
	if err != nil {
		a.s.fail(w, r, p, err, "api keys page", "That API key does not exist or was already revoked.")
		return
	}
	a.s.Render(w, r, http.StatusOK, "apikeys_revoke", View{Title: "Revoke API key", Principal: p, Active: "api-keys", Data: confirmForm{
		Item: k, Action: "/settings/api-keys/" + url.PathEscape(k.ID) + "/revoke", Button: "Revoke key", ButtonID: "confirm-revoke", Cancel: "/settings/api-keys",
	}})
}

func (a *apiKeyPages) revoke(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if _, err := a.keys.Revoke(access.With(r.Context(), p), p.WorkspaceID, r.PathValue("id"), keyScope(p)); err != nil {
		a.s.fail(w, r, p, err, "api keys page", "That API key does not exist or was already revoked.")
		return
	}
	http.Redirect(w, r, "/settings/api-keys?ok=revoked", http.StatusSeeOther)
}

func (a *apiKeyPages) removeHookPage(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	h, err := a.hooks.Get(r.Context(), p.WorkspaceID, r.PathValue("id"), keyScope(p))
	if err != nil {
		a.s.fail(w, r, p, err, "api keys page", "That Zapier hook does not exist or was already removed.")
		return
	}
	a.s.Render(w, r, http.StatusOK, "apikeys_hook_remove", View{Title: "Remove Zapier hook", Principal: p, Active: "api-keys", Data: confirmForm{
		Item: h, Action: "/settings/api-keys/hooks/" + url.PathEscape(h.ID) + "/remove", Button: "Remove hook", ButtonID: "confirm-remove", Cancel: "/settings/api-keys",
	}})
}

func (a *apiKeyPages) removeHook(w http.ResponseWriter, r *http.Request, p *access.Principal) {
	if err := a.hooks.Unsubscribe(access.With(r.Context(), p), p.WorkspaceID, r.PathValue("id"), keyScope(p)); err != nil {
		a.s.fail(w, r, p, err, "api keys page", "That Zapier hook does not exist or was already removed.")
		return
	}
	http.Redirect(w, r, "/settings/api-keys?ok=hookremoved", http.StatusSeeOther)
}
