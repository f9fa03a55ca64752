package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/relaydesk/relaydesk/internal/app"
)

// configFlags binds every setting as a flag whose default comes from the environment.
func configFlags(fs *pflag.FlagSet) func() (app.Config, error) {
	def, envErr := app.DefaultConfig().FromEnv()
	c := def
	fs.StringVar(&c.Addr, "addr", def.Addr, "listen address ("+app.EnvAddr+")")
	fs.StringVar(&c.DataDir, "data-dir", def.DataDir, "data directory for SQLite and the generated master key ("+app.EnvDataDir+")")
	fs.StringVar(&c.DatabaseURL, "database-url", def.DatabaseURL, "postgres:// URL; empty means SQLite ("+app.EnvDatabaseURL+")")
	fs.StringVar(&c.Role, "role", def.Role, "all, api or worker ("+app.EnvRole+")")
	fs.StringVar(&c.LogLevel, "log-level", def.LogLevel, "debug, info, warn or error ("+app.EnvLogLevel+")")
	fs.BoolVar(&c.AllowPrivateEndpoints, "allow-private-endpoints", def.AllowPrivateEndpoints, "let webhooks reach http:// and private addresses: dev and tests only ("+app.EnvAllowPrivate+")")
	fs.StringVar(&c.EndpointPorts, "endpoint-ports", def.EndpointPorts, "TCP ports endpoints may use, e.g. 443,1024-65535,!6379 or default,80; empty: 443 and 1024-65535 minus well-known service ports ("+app.EnvEndpointPorts+")")
	fs.BoolVar(&c.SecureCookies, "secure-cookies", def.SecureCookies, "mark cookies Secure behind an HTTPS proxy ("+app.EnvSecureCookies+")")
	fs.DurationVar(&c.DeliveryTimeout, "delivery-timeout", def.DeliveryTimeout, "timeout of one delivery attempt ("+app.EnvTimeout+")")
	fs.IntVar(&c.Workers, "workers", def.Workers, "concurrent deliveries in this process ("+app.EnvWorkers+")")
	fs.Float64Var(&c.RateLimit, "rate-limit", def.RateLimit, "API requests per second per API key or signed-in user; 0 = off ("+app.EnvRateLimit+")")
	fs.IntVar(&c.RateBurst, "rate-burst", def.RateBurst, "burst allowed above --rate-limit ("+app.EnvRateBurst+")")
	fs.Float64Var(&c.IPRateLimit, "ip-rate-limit", def.IPRateLimit, "API requests per second per client IP; 0 = off ("+app.EnvIPRateLimit+")")
	fs.IntVar(&c.IPRateBurst, "ip-rate-burst", def.IPRateBurst, "burst allowed above --ip-rate-limit ("+app.EnvIPRateBurst+")")
	fs.StringVar(&c.SMTPFrom, "smtp-from", def.SMTPFrom, "From address of invitation emails ("+app.EnvSMTPFrom+")")
	fs.StringVar(&c.PublicURL, "public-url", def.PublicURL, "origin used in emailed links, e.g. https://relaydesk.example.com ("+app.EnvPublicURL+")")
	fs.DurationVar(&c.Retention, "retention", def.Retention, "age at which events, deliveries and attempts are removed; 0 keeps everything ("+app.EnvRetention+", which also takes days: 30d)")
	fs.StringVar(&c.PlatformWebhookURL, "platform-webhook-url", def.PlatformWebhookURL, "where operational events (endpoint failing, disabled, recovered) are POSTed, signed ("+app.EnvPlatformHook+")")
	// The master key, the SMTP URL (it holds a password) and the platform webhook's secret
	// are read from the environment only, never from a flag (flags show in ps).
	return func() (app.Config, error) {
		c.Version = version
		return c, envErr
	}
}

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run relaydesk: the API, the pages and the delivery workers",
		Args:  cobra.NoArgs,
	}
	get := configFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := get()
		if err != nil {
			return err
		}
		log := app.NewLogger(os.Stderr, cfg.LogLevel)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		a, err := app.New(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer a.Close()
		return a.Serve(ctx, func(addr string) {
			fmt.Fprintf(cmd.OutOrStdout(), "relaydesk %s (%s, role %s) listening on http://%s\n", version, a.Describe(), cfg.Role, addr)
			if cfg.AllowPrivateEndpoints {
				fmt.Fprintln(cmd.OutOrStdout(), "Private endpoints are allowed (--allow-private-endpoints): webhooks may reach loopback and private networks. Development and tests only.")
			}
			if has, err := a.Accounts.HasUsers(ctx); err == nil && !has {
				fmt.Fprintf(cmd.OutOrStdout(), "No account yet: open http://%s/setup to create the first workspace, or run `relaydesk init`.\n", addr)
			}
			log.Info("listening", "addr", addr, "store", a.Describe(), "role", cfg.Role)
		})
	}
	return cmd
}

func newMigrateCmd() *cobra.Command {
	return withApp(&cobra.Command{Use: "migrate", Short: "Apply database migrations and exit", Args: cobra.NoArgs},
		func(cmd *cobra.Command, _ []string, a *app.App) error {
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied (%s)\n", a.Describe())
			return nil
		})
}

// withApp makes cmd a one-shot command over the app: it takes the config flags, and run
// gets the app opened (which migrates) and closes it after.
func withApp(cmd *cobra.Command, run func(cmd *cobra.Command, args []string, a *app.App) error) *cobra.Command {
	get := configFlags(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		a, err := openApp(cmd.Context(), get)
		if err != nil {
			return err
		}
		defer a.Close()
		return run(cmd, args, a)
	}
	return cmd
}

// openApp builds the app (which migrates) for one-shot commands; logs go to stderr.
func openApp(ctx context.Context, get func() (app.Config, error)) (*app.App, error) {
	cfg, err := get()
	if err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	return app.New(ctx, cfg, app.NewLogger(os.Stderr, "warn"))
}
