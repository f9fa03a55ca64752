package api

import (
	"net/http"

	"github.com/relaydesk/relaydesk/internal/store"
)

// badText says why a request's path or query cannot be text for the database — a NUL byte
// or invalid UTF-8 (PostgreSQL refuses both in TEXT, which would surface as a 500) — or ""
// when it is fine. Bodies are JSON, where encoding/json already replaces invalid UTF-8.
func badText(r *http.Request) string {
	check := func(what, v string) string {
		if p := store.TextProblem(v); p != "" {
			return what + " " + p
		}
		return ""
	}
	if msg := check("the path", r.URL.Path); msg != "" {
		return msg
	}
	for name, vals := range r.URL.Query() {
		if msg := check("query parameter name", name); msg != "" {
			return msg
		}
		for _, v := range vals {
			if msg := check("query parameter "+name, v); msg != "" {
				return msg
			}
		}
	}
	return ""
}
