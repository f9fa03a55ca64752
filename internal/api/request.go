package api

import (
	"context"
	"net/http"

	"github.com/relaydesk/relaydesk/internal/auth"
)

// requestKey keeps the *http.Request reachable from handlers that need transport facts
// (client IP, TLS) that huma's typed inputs don't carry; enforce sets it.
type requestKey struct{}

func requestFrom(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

func ipFrom(ctx context.Context) string {
	if r := requestFrom(ctx); r != nil {
		return auth.ClientIP(r)
	}
	return ""
}

func isTLS(ctx context.Context) bool {
	r := requestFrom(ctx)
	return r != nil && r.TLS != nil
}
