// Package app wires relaydesk together: config → store → services → HTTP server and
// workers. It holds no business rules.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/account"
	"github.com/relaydesk/relaydesk/internal/api"
	"github.com/relaydesk/relaydesk/internal/apikey"
	"github.com/relaydesk/relaydesk/internal/auth"
	"github.com/relaydesk/relaydesk/internal/credential"
	"github.com/relaydesk/relaydesk/internal/delivery"
	"github.com/relaydesk/relaydesk/internal/endpoint"
	"github.com/relaydesk/relaydesk/internal/health"
	"github.com/relaydesk/relaydesk/internal/ingest"
	"github.com/relaydesk/relaydesk/internal/notify"
	"github.com/relaydesk/relaydesk/internal/relay"
	"github.com/relaydesk/relaydesk/internal/store"
	"github.com/relaydesk/relaydesk/internal/team"
	"github.com/relaydesk/relaydesk/internal/web"
	"github.com/relaydesk/relaydesk/internal/zapier"
)

// App is a running relaydesk.
type App struct {
	Config    Config
	Log       *slog.Logger
	DB        *store.DB
	MasterKey []byte
	Metrics   *prometheus.Registry
	Routes    *access.Table
	Accounts  *account.Service
	Platform  credential.Platform
	Auth      *auth.Authenticator
	API       *api.Server
	Web       *web.Server
	// Team is Team Management: roles, members, invitations (issue 7).
	Team *team.Service
	// APIKeys resolves rdk_ keys for Auth; Hooks are Zapier's REST hooks (issue 8).
	APIKeys     *apikey.Service
	Hooks       *zapier.Hooks
	RateLimiter *api.RateLimiter
	// Endpoints is Developer Tools: endpoints and the signing secret (delivery.Targets).
	Endpoints *endpoint.Service
	// Deliveries is the delivery engine (its River client inserts jobs in every role and
	// works them in roles all and worker).
	Deliveries *delivery.Service
	// Relays, and Ingest: events in, matched to relays and Zapier hooks (issue 6).
	Relays *relay.Service
	Ingest *ingest.Service
	// Health and Notify: endpoint health on Developer Tools, notifications of failing,
	// disabled and recovered endpoints (issue 11).
	Health *health.Service
	Notify *notify.Service

	mux      *http.ServeMux
	handler  http.Handler
	migrated atomic.Bool
}

// NewLogger returns the JSON logger relaydesk writes to w.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// New opens the database, migrates it and builds every service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Log: log, DB: db, Metrics: prometheus.NewRegistry(), Routes: &access.Table{}, mux: http.NewServeMux()}
	if err := a.build(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context) error {
	var err error
	if a.MasterKey, err = masterKey(a.Config, a.DB.Dialect == store.Postgres); err != nil {
		return err
	}
	if err := a.DB.Migrate(ctx, a.Log); err != nil {
		return err
	}
	a.migrated.Store(true)
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	a.Accounts = &account.Service{DB: a.DB}
	a.Platform = credential.Platform{DB: a.DB}
	a.Auth = &auth.Authenticator{Accounts: a.Accounts, Platform: a.Platform}
	a.API = api.New(a.mux, a.Config.Version, a.Routes, a.Auth, a.Accounts, a.Log)
	a.API.SecureCookies = a.Config.SecureCookies
	// Before any operation is registered: huma fixes an operation's middlewares when it is added.
	a.RateLimiter = api.NewRateLimiter(api.RateLimits{Rate: a.Config.RateLimit, Burst: a.Config.RateBurst,
		IPRate: a.Config.IPRateLimit, IPBurst: a.Config.IPRateBurst})
	a.API.UseRateLimits(a.RateLimiter)
	a.API.RegisterFoundation()
	policy := a.Config.EgressPolicy()
	if a.Endpoints, err = endpoint.New(a.DB, a.MasterKey, policy, &delivery.Sender{Client: policy.Client(a.Config.DeliveryTimeout),
		UserAgent: "relaydesk/" + a.Config.Version}); err != nil {
		return err
	}
	a.API.RegisterEndpoints(a.Endpoints)
	a.API.RegisterSigningKeys(a.Endpoints, a.Config.PublicURL)
	a.API.RegisterAudit(a.DB)
	if a.Deliveries, err = delivery.New(delivery.Options{DB: a.DB, Log: a.Log, Metrics: a.Metrics, Work: a.Config.Role != "api",
		Workers: a.Config.Workers, Timeout: a.Config.DeliveryTimeout, AllowPrivate: a.Config.AllowPrivateEndpoints, Version: a.Config.Version,
		Retention: retention(a.Config.Retention)}); err != nil {
		return err
	}
	// The engine builds its client from AllowPrivate alone; deliveries go through the
	// configured policy (ports included), like test-sends.
	a.Deliveries.Sender = &delivery.Sender{Client: policy.Client(a.Config.DeliveryTimeout), UserAgent: "relaydesk/" + a.Config.Version}
	a.Deliveries.Targets = a.Endpoints
	a.Endpoints.Queue = a.Deliveries
	a.API.RegisterDeliveries(a.Deliveries)
	a.Web = web.New(a.mux, a.Routes, a.Auth, a.Accounts, a.API.Throttle, a.Log)
	a.Web.AllowPrivate, a.Web.SecureCookies, a.Web.Version = a.Config.AllowPrivateEndpoints, a.Config.SecureCookies, a.Config.Version

	// Team Management: roles, members, invitations (issue 7).
	a.Team = &team.Service{DB: a.DB, Accounts: a.Accounts, Log: a.Log}
	if a.Config.SMTPURL != "" {
		m, err := team.ParseSMTP(a.Config.SMTPURL, a.Config.SMTPFrom)
		if err != nil {
			return err
		}
		a.Team.Mailer = m
	}
	a.API.RegisterTeam(a.Team, a.Config.PublicURL)
	a.Web.RegisterTeam(a.Team)

	// API keys (acting as their member), Zapier REST hooks, the API docs page (issue 8).
	a.APIKeys = &apikey.Service{DB: a.DB}
	a.Auth.Keys = append(a.Auth.Keys, a.APIKeys)
	a.Hooks = &zapier.Hooks{DB: a.DB, Policy: policy}
	a.API.RegisterAPIKeys(a.APIKeys)
	a.API.RegisterZapier(a.Hooks)
	a.Web.RegisterAPIKeys(a.APIKeys, a.Hooks)
	a.Web.RegisterDocs()
	// Operability: endpoint health, notifications, the operators' queue page (issue 11).
	if err := a.buildOperability(ctx); err != nil {
		return err
	}
	a.Web.PublicURL = a.Config.PublicURL
	a.Web.RegisterDeveloper(a.Endpoints, web.Operability{Health: a.Health, Notify: a.Notify, Deliveries: a.Deliveries})

	// Relays, the producer API and the event log (issue 6).
	a.Relays = &relay.Service{DB: a.DB}
	// Zapier hooks: ingest adds the hooks subscribed to each event to its targets, and the
	// engine resolves hook ids (hook_…) to their URL and the workspace's secret (issue 8).
	a.Ingest = &ingest.Service{DB: a.DB, Relays: a.Relays, Hooks: a.Hooks, Deliveries: a.Deliveries}
	a.Deliveries.Targets = zapier.Targets{Endpoints: a.Endpoints, Hooks: a.Hooks, Secrets: a.Endpoints}
	a.API.RegisterRelays(a.Relays)
	a.API.RegisterEvents(a.Ingest)
	a.Web.RegisterRelays(a.Relays, web.RelayHealth{Health: a.Health, Endpoints: a.Endpoints})
	a.Web.RegisterEvents(a.Relays, a.Ingest, a.Deliveries)

	a.ops("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	a.ops("/readyz", a.ready)
	a.Routes.Add(access.Route{Kind: "ops", Method: http.MethodGet, Path: "/metrics", Need: access.Anyone})
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{}))

	// Browsers send Sec-Fetch-Site/Origin; a cross-site form or fetch that changes state is
	// refused here, before any handler. Scripts send neither and are not affected.
	a.handler = http.NewCrossOriginProtection().Handler(a.RateLimiter.LimitIPs(a.mux))
	return nil
}

func (a *App) ops(path string, h http.HandlerFunc) {
	a.Routes.Add(access.Route{Kind: "ops", Method: http.MethodGet, Path: path, Need: access.Anyone})
	a.mux.HandleFunc("GET "+path, h)
}

func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.DB.Ping(ctx); err != nil {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	if !a.migrated.Load() {
		http.Error(w, "migrations pending", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// Handler is the whole HTTP surface (for tests and for Serve).
func (a *App) Handler() http.Handler { return a.handler }

// Close releases the database.
func (a *App) Close() error { return a.DB.Close() }

// Serve listens on cfg.Addr until ctx ends, then shuts down gracefully. ready, when not
// nil, receives the bound address once listening.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	handler := a.handler
	if a.Config.Role == "worker" {
		handler = a.opsHandler() // a worker serves only health, readiness and metrics
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(runCtx) }()
	go a.servePprof(runCtx)
	errc := make(chan error, 1)
	if ln != nil {
		go func() { errc <- srv.Serve(ln) }()
		if ready != nil {
			ready(ln.Addr().String())
		}
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	a.Log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if ln != nil {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			a.Log.Warn("http shutdown", "err", err)
		}
	}
	// Workers stop after the API, so nothing accepted during shutdown waits unworked.
	stopRun()
	return <-runDone
}

// opsHandler serves /healthz, /readyz and /metrics only (role worker).
func (a *App) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{}))
	return mux
}

// Describe is the one-line summary printed at start.
func (a *App) Describe() string {
	if a.DB.Dialect == store.Postgres {
		return "PostgreSQL"
	}
	return fmt.Sprintf("SQLite at %s", strings.TrimSuffix(a.Config.DataDir, string(os.PathSeparator))+string(os.PathSeparator)+"relaydesk.db")
}

// Run runs the background side of relaydesk (the delivery workers and periodic jobs) until
// ctx ends. Serve calls it; tests that use Handler directly call it themselves.
func (a *App) Run(ctx context.Context) error {
	return a.Deliveries.Run(ctx)
}
