// Package web serves relaydesk's pages: server-rendered html/template, embedded with the
// binary, no build step. Every page is registered through Page with its access.Need, in
// the same route table the API uses.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server renders the pages.
type Server struct {
	Mux      *http.ServeMux
	Routes   *access.Table
	Auth     *auth.Authenticator
	Accounts *account.Service
	Throttle *account.Throttle
	Log      *slog.Logger
	// AllowPrivate shows the banner that private endpoints are allowed (dev and tests only).
	AllowPrivate  bool
	SecureCookies bool
	Version       string
	// PublicURL, when set, is the origin of links shown (the JWKS URL); otherwise the
	// request's own origin is.
	PublicURL string
	// Unread, when set, counts the caller's unread notifications for the navigation
	// (issue 11; set by RegisterDeveloper).
	Unread func(ctx context.Context, p *access.Principal) int

	layout *template.Template
}

// Handler serves a page for a caller who passed its Need (p is nil on public pages when
// nobody is signed in).
type Handler func(w http.ResponseWriter, r *http.Request, p *access.Principal)

// New prepares the page server and registers the foundation's pages.
func New(mux *http.ServeMux, routes *access.Table, a *auth.Authenticator, accounts *account.Service, throttle *account.Throttle, log *slog.Logger) *Server {
	s := &Server{Mux: mux, Routes: routes, Auth: a, Accounts: accounts, Throttle: throttle, Log: log}
	s.layout = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/blocks.html"))
	static, _ := fs.Sub(staticFS, "static")
	s.Routes.Add(access.Route{Kind: "page", Method: http.MethodGet, Path: "/static/", Need: access.Anyone})
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	s.registerFoundation()
	return s
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// Page registers a page. GET pages send signed-out visitors to the sign-in page; callers
// without the level get a 403 page.
func (s *Server) Page(method, path string, need access.Need, h Handler) {
	s.Routes.Add(access.Route{Kind: "page", Method: method, Path: path, Need: need})
	s.Mux.HandleFunc(method+" "+path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		w.Header().Set("Referrer-Policy", "same-origin")
		p, err := s.Auth.Principal(r)
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
			s.internalError(w, r, p, "authenticate", err)
			return
		}
		if need.Auth != access.Public {
			if p == nil || p.Platform {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				s.Error(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session has ended. Sign in again.")
				return
			}
			if !need.Allows(p) {
				s.Error(w, r, p, http.StatusForbidden, "No access",
					"Your role ("+orNone(p.RoleName)+") does not give you access to this page. Ask a workspace Admin for access.")
				return
			}
		}
		h(w, r, p)
	})
}

func orNone(s string) string {
	if s == "" {
		return "no workspace"
	}
	return s
}

// View is what every template gets.
type View struct {
	Title     string
	Principal *access.Principal
	Workspace string
	Nav       []NavItem
	Active    string
	Flash     string
	Error     string
	// PrivateBanner is on while RELAYDESK_ALLOW_PRIVATE_ENDPOINTS is.
	PrivateBanner bool
	Version       string
	Data          any
}

// NavItem is a link in the navigation, shown only to those who may open it.
type NavItem struct {
	Label, Href, Key string
	Children         []NavItem
	// Badge is a count shown next to the label (unread notifications); 0 shows none.
	Badge int
}

func (s *Server) nav(p *access.Principal) []NavItem {
	if p == nil || p.UserID == "" {
		return nil
	}
	items := []NavItem{{Label: "Home", Href: "/", Key: "home"}}
	if p.Can(access.Relays, access.Viewer) {
		items = append(items, NavItem{Label: "Relays", Href: "/relays", Key: "relays"})
	}
	var settings []NavItem
	if p.Can(access.Developer, access.Viewer) {
		settings = append(settings, NavItem{Label: "Developer Tools", Href: "/settings/developer", Key: "developer"})
		settings = append(settings, NavItem{Label: "Events & deliveries", Href: "/settings/developer/events", Key: "events"})
	}
	if p.Can(access.Team, access.Viewer) {
		settings = append(settings, NavItem{Label: "Team Management", Href: "/settings/team", Key: "team"})
	}
	if p.Can(access.Developer, access.Editor) {
		settings = append(settings, NavItem{Label: "API Keys", Href: "/settings/api-keys", Key: "api-keys"})
	}
	if len(settings) > 0 {
		items = append(items, NavItem{Label: "Workspace Settings", Key: "settings", Children: settings})
	}
	return items
}

// Render writes a page: the layout around templates/<name>.html.
func (s *Server) Render(w http.ResponseWriter, r *http.Request, status int, name string, v View) {
	t, err := s.layout.Clone()
	if err == nil {
		_, err = t.ParseFS(templateFS, "templates/"+name+".html")
	}
	if err != nil {
		s.Log.Error("template", "name", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	v.Nav = s.nav(v.Principal)
	if s.Unread != nil && v.Principal != nil {
		if n := s.Unread(r.Context(), v.Principal); n > 0 {
			for i := range v.Nav {
				for j := range v.Nav[i].Children {
					if v.Nav[i].Children[j].Key == "developer" {
						v.Nav[i].Children[j].Badge = n
					}
				}
			}
		}
	}
	v.PrivateBanner = s.AllowPrivate
	v.Version = s.Version
	if v.Principal != nil && v.Principal.WorkspaceID != "" && v.Workspace == "" {
		if ws, err := s.Accounts.Workspace(r.Context(), v.Principal.WorkspaceID); err == nil {
			v.Workspace = ws.Name
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.Log.Error("render", "name", name, "err", err)
		http.Error(w, "render error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Error renders an error page.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, p *access.Principal, status int, title, msg string) {
	s.Render(w, r, status, "error", View{Title: title, Principal: p, Error: msg})
}

// readForm reads a posted form of at most limit bytes and reports whether it could.
func readForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	return r.ParseForm() == nil
}

// form is readForm whose failure answers with the bad-request page.
func (s *Server) form(w http.ResponseWriter, r *http.Request, p *access.Principal, limit int64) bool {
	if !readForm(w, r, limit) {
		s.Error(w, r, p, http.StatusBadRequest, "Bad request", "The form could not be read.")
		return false
	}
	return true
}

// internalError logs err as what and answers with the something-went-wrong page.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, p *access.Principal, what string, err error) {
	s.Log.Error(what, "err", err)
	s.Error(w, r, p, http.StatusInternalServerError, "Something went wrong", "Please try again.")
}

// fail answers a service's error: store.ErrNotFound is the not-found page saying notFound,
// anything else an internalError.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, p *access.Principal, err error, what, notFound string) {
	if errors.Is(err, store.ErrNotFound) {
		s.Error(w, r, p, http.StatusNotFound, "Not found", notFound)
		return
	}
	s.internalError(w, r, p, what, err)
}

// confirmForm is the form of a page that asks before it deletes, revokes or removes: where
// it posts, its button and where Cancel goes. Item is what the page asks about (the
// "confirm" block of blocks.html hands it to the page's own "question").
type confirmForm struct {
	Item                             any
	Action, Button, ButtonID, Cancel string
}

var funcs = template.FuncMap{
	"lower": strings.ToLower,
}
