package health

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/clock"
	"github.com/relaydesk/relaydesk/internal/delivery"
)

// QueuePage is the operators' read-only view of the job queue, mounted at /ops/queue for
// the platform (a platform token, `relaydesk platform-token create`), never for workspace
// members or the public: jobs by state and kind, the oldest job waiting, recent errors.
// HTML by default; JSON with ?format=json or Accept: application/json.
//
// River's own UI (riverqueue.com/riverui) was tried and builds against our River with both
// drivers, but it is a single-page app whose API calls need a browser credential (platform
// tokens are bearer-only), it can cancel and delete jobs behind the deliveries table's
// back, and it adds a dozen modules; this page is enough to see whether the queue keeps up.
type QueuePage struct {
	Need  access.Need // access.ByPlatform
	Auth  func(r *http.Request) (*access.Principal, error)
	Stats func(ctx context.Context) (delivery.QueueStats, error)
	Log   *slog.Logger
	Now   clock.Clock
}

var queueTmpl = template.Must(template.New("queue").Funcs(template.FuncMap{
	"ago": func(now time.Time, t *time.Time) string {
		if t == nil {
			return "none waiting"
		}
		return now.Sub(*t).Round(time.Second).String() + " ago"
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Queue · relaydesk ops</title></head>
<body>
<h1>Job queue</h1>
<p>Read-only. delivery_attempt counts the deliveries queue (the deliveries table: available = due, scheduled = waiting for a retry or a rate-limit slot, running = being attempted, pending = waiting behind an ordered endpoint's head); the other kinds are River's background jobs.</p>
<h2>By state</h2>
<table id="by-state"><tr><th>State</th><th>Jobs</th></tr>
{{range .States}}<tr><td>{{.}}</td><td>{{index $.S.ByState .}}</td></tr>{{end}}
</table>
<p id="oldest-due">Oldest job due and waiting: {{ago .Now .S.OldestDue}}</p>
<h2>By kind</h2>
<table id="by-kind"><tr><th>Kind</th><th>State</th><th>Jobs</th></tr>
{{range .S.ByKind}}<tr><td>{{.Kind}}</td><td>{{.State}}</td><td>{{.Count}}</td></tr>{{end}}
</table>
<h2>Recent errors</h2>
{{if .S.RecentErrors}}<table id="recent-errors"><tr><th>Job</th><th>Kind</th><th>State</th><th>Attempt</th><th>At</th><th>Error</th></tr>
{{range .S.RecentErrors}}<tr><td>{{.ID}}</td><td>{{.Kind}}</td><td>{{.State}}</td><td>{{.Attempt}}</td><td>{{.At.UTC.Format "2006-01-02 15:04:05"}}</td><td>{{.Error}}</td></tr>{{end}}
</table>{{else}}<p id="recent-errors">None.</p>{{end}}
</body></html>`))

var jobStates = []string{"available", "scheduled", "running", "retryable", "pending", "completed", "cancelled", "discarded"}

func (q *QueuePage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	p, err := q.Auth(r)
	if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
		q.Log.Error("ops queue: authenticate", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err != nil || p == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="relaydesk ops"`)
		http.Error(w, "a platform token is required", http.StatusUnauthorized)
		return
	}
	if !q.Need.Allows(p) {
		http.Error(w, "operators only: this page needs a platform token", http.StatusForbidden)
		return
	}
	st, err := q.Stats(r.Context())
	if err != nil {
		q.Log.Error("ops queue: stats", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	now := q.Now.Now()
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		var age float64
		if st.OldestDue != nil {
			age = now.Sub(*st.OldestDue).Seconds()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"byState": st.ByState, "byKind": st.ByKind, "oldestDue": st.OldestDue,
			"oldestDueAgeSeconds": age, "recentErrors": st.RecentErrors})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := queueTmpl.Execute(w, map[string]any{"S": st, "States": jobStates, "Now": now}); err != nil {
		q.Log.Error("ops queue: render", "err", err)
	}
}
