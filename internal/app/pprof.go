package app

import (
	"context"
	"errors"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// EnvPprof, when set to an address (e.g. 127.0.0.1:6060), makes Serve also serve
// net/http/pprof there, for profiling (`relaydesk bench`). It is off by default and
// should only ever be bound to loopback: profiles reveal memory contents.
const EnvPprof = "RELAYDESK_PPROF"

// servePprof serves the profiling endpoints until ctx ends, when RELAYDESK_PPROF is set.
func (a *App) servePprof(ctx context.Context) {
	addr := os.Getenv(EnvPprof)
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	a.Log.Warn("serving net/http/pprof (profiling only)", "addr", addr, "env", EnvPprof)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.Log.Error("pprof", "err", err)
	}
}
