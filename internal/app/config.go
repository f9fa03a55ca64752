package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/relaydesk/relaydesk/internal/egress"
)

// Config is every setting; each is a flag of `relaydesk serve` and an environment variable.
type Config struct {
	Addr        string // RELAYDESK_ADDR
	DataDir     string // RELAYDESK_DATA_DIR: SQLite database and generated master key
	DatabaseURL string // RELAYDESK_DATABASE_URL: postgres://… switches to PostgreSQL
	// MasterKey encrypts signing secrets at rest: 32 bytes, base64 (RELAYDESK_MASTER_KEY).
	// Generated into the data dir on first run with SQLite; required with PostgreSQL so that
	// every instance shares it.
	MasterKey string
	// AllowPrivateEndpoints lets webhooks reach http:// and private addresses (dev and tests).
	AllowPrivateEndpoints bool
	// EndpointPorts are the TCP ports endpoints may use, checked when an endpoint is saved
	// and before every connection (RELAYDESK_ENDPOINT_PORTS; egress.ParsePorts' syntax,
	// e.g. "443,1024-65535,!6379"). Empty: 443 and 1024–65535 minus well-known service
	// ports (egress.DeniedServicePorts).
	EndpointPorts string
	// Role: "all" (default), "api" (HTTP only) or "worker" (deliveries only).
	Role            string
	LogLevel        string        // RELAYDESK_LOG_LEVEL: debug, info, warn, error
	SecureCookies   bool          // RELAYDESK_SECURE_COOKIES: behind an HTTPS proxy
	DeliveryTimeout time.Duration // RELAYDESK_DELIVERY_TIMEOUT
	Workers         int           // RELAYDESK_WORKERS: concurrent deliveries per process
	// Rate limits on /v1 (see api.RateLimits): per API key or session user, and per client
	// IP; a rate of 0 turns that limit off. Platform tokens are exempt.
	RateLimit   float64 // RELAYDESK_RATE_LIMIT: requests per second per key or user
	RateBurst   int     // RELAYDESK_RATE_BURST
	IPRateLimit float64 // RELAYDESK_IP_RATE_LIMIT: requests per second per client IP
	IPRateBurst int     // RELAYDESK_IP_RATE_BURST
	// SMTPURL sends invitation emails: smtp://user:pass@host:587 or smtps://…:465
	// (RELAYDESK_SMTP_URL, environment only: it holds a password). Empty: the inviter is
	// shown the link to pass on.
	SMTPURL  string
	SMTPFrom string // RELAYDESK_SMTP_FROM: the From address of invitation emails
	// PublicURL is the site's origin for links in emails, e.g. https://relaydesk.example.com
	// (RELAYDESK_PUBLIC_URL); empty: the origin the inviter used.
	PublicURL string
	// Retention is how old events, deliveries, attempts and notifications get before the
	// leader removes them (RELAYDESK_RETENTION, e.g. 720h or 30d; 0 keeps everything).
	Retention time.Duration
	// PlatformWebhookURL receives operational events (an endpoint failing, disabled,
	// recovered), signed with PlatformWebhookSecret like deliveries
	// (RELAYDESK_PLATFORM_WEBHOOK_URL, RELAYDESK_PLATFORM_WEBHOOK_SECRET — environment only).
	PlatformWebhookURL    string
	PlatformWebhookSecret string
	Version               string
}

// Env var names, kept with their flags in cmd/relaydesk.
const (
	EnvAddr          = "RELAYDESK_ADDR"
	EnvDataDir       = "RELAYDESK_DATA_DIR"
	EnvDatabaseURL   = "RELAYDESK_DATABASE_URL"
	EnvMasterKey     = "RELAYDESK_MASTER_KEY"
	EnvAllowPrivate  = "RELAYDESK_ALLOW_PRIVATE_ENDPOINTS"
	EnvEndpointPorts = "RELAYDESK_ENDPOINT_PORTS"
	EnvRole          = "RELAYDESK_ROLE"
	EnvLogLevel      = "RELAYDESK_LOG_LEVEL"
	EnvSecureCookies = "RELAYDESK_SECURE_COOKIES"
	EnvTimeout       = "RELAYDESK_DELIVERY_TIMEOUT"
	EnvWorkers       = "RELAYDESK_WORKERS"
	EnvRateLimit     = "RELAYDESK_RATE_LIMIT"
	EnvRateBurst     = "RELAYDESK_RATE_BURST"
	EnvIPRateLimit   = "RELAYDESK_IP_RATE_LIMIT"
	EnvIPRateBurst   = "RELAYDESK_IP_RATE_BURST"
	EnvSMTPURL       = "RELAYDESK_SMTP_URL"
	EnvSMTPFrom      = "RELAYDESK_SMTP_FROM"
	EnvPublicURL     = "RELAYDESK_PUBLIC_URL"
	EnvRetention     = "RELAYDESK_RETENTION"
	EnvPlatformHook  = "RELAYDESK_PLATFORM_WEBHOOK_URL"
	EnvPlatformKey   = "RELAYDESK_PLATFORM_WEBHOOK_SECRET"
)

// ParseRetention reads a retention age: a Go duration (720h) or whole days (30d).
func ParseRetention(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("retention %q: want days such as 30d or a duration such as 720h", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	r, err := time.ParseDuration(v)
	if err != nil || r < 0 {
		return 0, fmt.Errorf("retention %q: want days such as 30d or a duration such as 720h", v)
	}
	return r, nil
}

// DefaultConfig is the zero-configuration setup: SQLite under ./data on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:8080", DataDir: "data", Role: "all", LogLevel: "info", DeliveryTimeout: 15 * time.Second, Workers: 50,
		RateLimit: 20, RateBurst: 200, IPRateLimit: 100, IPRateBurst: 1000, Retention: 30 * 24 * time.Hour}
}

// FromEnv overlays the environment on c.
func (c Config) FromEnv() (Config, error) {
	str := func(name string, dst *string) {
		if v, ok := os.LookupEnv(name); ok {
			*dst = v
		}
	}
	var err error
	boolean := func(name string, dst *bool) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			b, e := strconv.ParseBool(v)
			if e != nil && err == nil {
				err = fmt.Errorf("%s=%q: want true or false", name, v)
			}
			*dst = b
		}
	}
	str(EnvAddr, &c.Addr)
	str(EnvDataDir, &c.DataDir)
	str(EnvDatabaseURL, &c.DatabaseURL)
	str(EnvMasterKey, &c.MasterKey)
	str(EnvEndpointPorts, &c.EndpointPorts)
	str(EnvRole, &c.Role)
	str(EnvLogLevel, &c.LogLevel)
	str(EnvSMTPURL, &c.SMTPURL)
	str(EnvSMTPFrom, &c.SMTPFrom)
	str(EnvPublicURL, &c.PublicURL)
	str(EnvPlatformHook, &c.PlatformWebhookURL)
	str(EnvPlatformKey, &c.PlatformWebhookSecret)
	if v := os.Getenv(EnvRetention); v != "" {
		d, e := ParseRetention(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", EnvRetention, e)
		}
		c.Retention = d
	}
	boolean(EnvAllowPrivate, &c.AllowPrivateEndpoints)
	boolean(EnvSecureCookies, &c.SecureCookies)
	if v := os.Getenv(EnvTimeout); v != "" {
		d, e := time.ParseDuration(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s=%q: want a duration such as 15s", EnvTimeout, v)
		}
		c.DeliveryTimeout = d
	}
	if v := os.Getenv(EnvWorkers); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s=%q: want a number", EnvWorkers, v)
		}
		c.Workers = n
	}
	for _, v := range []struct {
		name string
		f    *float64
		i    *int
	}{{EnvRateLimit, &c.RateLimit, nil}, {EnvRateBurst, nil, &c.RateBurst}, {EnvIPRateLimit, &c.IPRateLimit, nil}, {EnvIPRateBurst, nil, &c.IPRateBurst}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		var e error
		if v.f != nil {
			*v.f, e = strconv.ParseFloat(s, 64)
		} else {
			*v.i, e = strconv.Atoi(s)
		}
		if e != nil && err == nil {
			err = fmt.Errorf("%s=%q: want a number", v.name, s)
		}
	}
	return c, err
}

// Validate checks the settings make sense together.
func (c Config) Validate() error {
	switch c.Role {
	case "all", "api", "worker":
	default:
		return fmt.Errorf("role %q: want all, api or worker", c.Role)
	}
	if c.DeliveryTimeout <= 0 || c.DeliveryTimeout > 5*time.Minute {
		return fmt.Errorf("delivery timeout %s: want between 1ms and 5m", c.DeliveryTimeout)
	}
	if c.Workers < 1 || c.Workers > 10000 {
		return fmt.Errorf("workers %d: want 1 to 10000", c.Workers)
	}
	if c.RateLimit < 0 || c.IPRateLimit < 0 || c.RateBurst < 0 || c.IPRateBurst < 0 {
		return fmt.Errorf("rate limits must not be negative (0 turns a limit off)")
	}
	if (c.RateLimit > 0 && c.RateBurst < 1) || (c.IPRateLimit > 0 && c.IPRateBurst < 1) {
		return fmt.Errorf("a rate limit needs a burst of at least 1")
	}
	if c.SMTPURL != "" && c.SMTPFrom == "" {
		return fmt.Errorf("%s is set: %s (the From address) is required too", EnvSMTPURL, EnvSMTPFrom)
	}
	if (c.PlatformWebhookURL == "") != (c.PlatformWebhookSecret == "") {
		return fmt.Errorf("%s and %s go together (the secret signs the operational webhook)", EnvPlatformHook, EnvPlatformKey)
	}
	if c.Retention < 0 {
		return fmt.Errorf("retention must not be negative (0 keeps everything)")
	}
	if _, err := egress.ParsePorts(c.EndpointPorts); err != nil {
		return fmt.Errorf("endpoint ports (%s): %w", EnvEndpointPorts, err)
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://") && !strings.HasPrefix(c.PublicURL, "http://") {
		return fmt.Errorf("public URL %q: want https://host", c.PublicURL)
	}
	return nil
}

// EgressPolicy is the outbound address and port policy the settings ask for. Validate
// has checked EndpointPorts.
func (c Config) EgressPolicy() egress.Policy {
	p := egress.Policy{AllowPrivate: c.AllowPrivateEndpoints}
	// The default set (unset or "default") stays nil, so development mode adds 80 to it.
	if ports, err := egress.ParsePorts(c.EndpointPorts); err == nil && ports != egress.DefaultPorts() {
		p.Ports = ports
	}
	return p
}
