package web

import (
	"html/template"
	"net/http"

	"github.com/relaydesk/relaydesk/internal/access"
)

// docsPage is the API reference: Swagger UI (vendored under static/docs, see VENDORED.md
// there) rendering /openapi.json. Everything it loads comes from this server.
var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API reference · relaydesk</title>
<link rel="stylesheet" href="/static/docs/swagger-ui.css">
<link rel="stylesheet" href="/static/docs/docs.css">
<script src="/static/docs/swagger-ui-bundle.js" defer></script>
<script src="/static/docs/docs.js" defer></script>
</head>
<body>
<header class="docs-top"><a href="/">relaydesk</a><span>API reference {{.}}</span><span><a href="/openapi.json">openapi.json</a></span></header>
<div id="swagger-ui"></div>
</body>
</html>
`))

// RegisterDocs adds the public API reference page at /docs.
func (s *Server) RegisterDocs() {
	s.Page(http.MethodGet, "/docs", access.Anyone, func(w http.ResponseWriter, r *http.Request, _ *access.Principal) {
		// Served under the pages' Content-Security-Policy as it is (script-src and style-src
		// 'self'): Swagger UI needs neither inline scripts, eval, nor inline styles.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		if err := docsPage.Execute(w, s.Version); err != nil {
			s.Log.Error("docs page", "err", err)
		}
	})
}
