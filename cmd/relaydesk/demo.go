package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/relaydesk/relaydesk/internal/apiclient"
	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/event"
	"github.com/relaydesk/relaydesk/webhook"
)

// demoDataDir is where the demo keeps its database unless told otherwise, apart from serve's
// ./data so that trying the demo never touches a real setup.
const demoDataDir = "./data-demo"

func newDemoCmd() *cobra.Command {
	var (
		receiverAddr string
		exit         bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start relaydesk with a demo workspace and show one verified delivery",
		Long: `Start relaydesk with private endpoints allowed (development only), then do what an
integrator does, through the same API: create a workspace and its Admin (platform API), a
local receiver that verifies signatures, an endpoint pointing at it, the signing secret and an
enabled relay for every inbound message; publish one MessageReceived and print the verified
delivery and where to see it in the UI. The server keeps running until Ctrl-C (--exit stops
after the delivery). The database is ` + demoDataDir + ` unless --data-dir or RELAYDESK_DATA_DIR says otherwise.`,
		Args: cobra.NoArgs,
	}
	get := configFlags(cmd.Flags())
	cmd.Flags().StringVar(&receiverAddr, "receiver-addr", "127.0.0.1:0", "address of the demo's verifying receiver (port 0: any free port)")
	cmd.Flags().BoolVar(&exit, "exit", false, "stop once the delivery is verified instead of serving until Ctrl-C")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := get()
		if err != nil {
			return err
		}
		if !cmd.Flags().Changed("data-dir") && os.Getenv(app.EnvDataDir) == "" {
			cfg.DataDir = demoDataDir
		}
		cfg.AllowPrivateEndpoints = true
		if !cmd.Flags().Changed("addr") && os.Getenv(app.EnvAddr) == "" {
			// `relaydesk serve` may already hold the default port: then any free one will do.
			if ln, err := net.Listen("tcp", cfg.Addr); err != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is in use (is `relaydesk serve` running?): the demo takes a free port instead.\n", cfg.Addr)
				cfg.Addr = "127.0.0.1:0"
			} else {
				ln.Close()
			}
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runDemo(ctx, cfg, receiverAddr, exit, cmd.OutOrStdout())
	}
	return cmd
}

func runDemo(ctx context.Context, cfg app.Config, receiverAddr string, exit bool, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	say("┌──────────────────────────────────────────────────────────────────────────────┐")
	say("│ DEMO: private endpoints are allowed (--allow-private-endpoints), so webhooks │")
	say("│ may reach loopback and private networks. For trying relaydesk out only.      │")
	say("└──────────────────────────────────────────────────────────────────────────────┘")

	log := app.NewLogger(os.Stderr, "warn")
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()

	// The server, as `relaydesk serve --allow-private-endpoints` runs it.
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	listening := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(serveCtx, func(addr string) { listening <- addr }) }()
	var base string
	select {
	case addr := <-listening:
		base = "http://" + addr
	case err := <-served:
		return fmt.Errorf("start the server: %w", err)
	}
	say("relaydesk %s (%s) listening on %s", version, a.Describe(), base)

	res, err := demoSetup(ctx, a, base, receiverAddr, out)
	if err == nil {
		say("")
		say("✓ Verified delivery: %s %s, attempt %s, answered 200 by the receiver", res.event, res.id, res.attempt)
		say("  signatures: %s", res.verified)
		say("")
		say("See it in the UI: %s/settings/developer/deliveries/%s", base, res.delivery)
		say("  sign in as %s with password %s", res.email, res.password)
		say("  (Developer Tools: %s/settings/developer; the event log: %s/settings/developer/events)", base, base)
		say("  workspace %s; the receiver's secret is the workspace's signing secret (%s)", res.workspace, res.fingerprint)
	}
	if err != nil || exit {
		stopServe()
		if serr := <-served; err == nil && serr != nil {
			err = serr
		}
		return err
	}
	say("")
	say("relaydesk keeps running with the demo workspace; Ctrl-C stops it.")
	return <-served
}

type demoResult struct {
	workspace, email, password, fingerprint string
	event, id, delivery, attempt, verified  string
}

// demoSetup does, through the HTTP API, what the README's curl walkthrough does, and waits for
// the delivery at a receiver that verifies both signatures.
func demoSetup(ctx context.Context, a *app.App, base, receiverAddr string, out io.Writer) (demoResult, error) {
	say := func(format string, args ...any) { fmt.Fprintf(out, "  · "+format+"\n", args...) }
	var res demoResult

	_, token, err := a.Platform.Create(ctx, "demo producer")
	if err != nil {
		return res, fmt.Errorf("create a platform token: %w", err)
	}
	say("platform token created (the producer's credential)")

	c := apiclient.New(base, token)
	suffix := randomHex(3)
	res.email, res.password = "demo-"+suffix+"@relaydesk.test", "demo-"+randomHex(8)
	var ws struct {
		Workspace struct{ ID, Name string }
	}
	if err := c.Do(ctx, "POST", "/v1/platform/workspaces", true, map[string]string{
		"name": "Demo " + suffix, "adminEmail": res.email, "adminPassword": res.password}, &ws); err != nil {
		return res, fmt.Errorf("create the workspace: %w", err)
	}
	res.workspace = ws.Workspace.ID
	say("workspace %q (%s) with its Admin %s", ws.Workspace.Name, ws.Workspace.ID, res.email)
	if err := c.Do(ctx, "POST", "/v1/sessions", false, map[string]string{"email": res.email, "password": res.password}, nil); err != nil {
		return res, fmt.Errorf("sign in: %w", err)
	}

	ln, err := net.Listen("tcp", receiverAddr)
	if err != nil {
		return res, fmt.Errorf("the demo receiver: %w", err)
	}
	rcv := &demoReceiver{got: make(chan demoResult, 1), out: out}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// The receiver lives as long as the demo: test events sent from the UI reach it too.
	go func() { <-ctx.Done(); _ = srv.Close() }()
	recvURL := "http://" + ln.Addr().String() + "/webhooks"
	say("verifying receiver listening on %s", recvURL)

	var ep struct{ ID string }
	if err := c.Do(ctx, "POST", "/v1/endpoints", false, map[string]string{"url": recvURL, "description": "demo receiver (relaydesk demo)"}, &ep); err != nil {
		return res, fmt.Errorf("add the endpoint: %w", err)
	}
	say("endpoint %s → %s", ep.ID, recvURL)
	var sec struct{ Secret, Fingerprint string }
	if err := c.Do(ctx, "POST", "/v1/signing-secret", false, nil, &sec); err != nil {
		return res, fmt.Errorf("generate the signing secret: %w", err)
	}
	s, err := webhook.ParseSecret(sec.Secret)
	if err != nil {
		return res, fmt.Errorf("the signing secret: %w", err)
	}
	rcv.set(s)
	res.fingerprint = s.Fingerprint()
	say("signing secret %s generated and given to the receiver", res.fingerprint)

	var rel struct{ ID string }
	if err := c.Do(ctx, "POST", "/v1/relays", false, map[string]any{"name": "Every inbound message", "trigger": event.MessageReceived,
		"actions": []any{map[string]string{"type": "sendWebhook", "endpointId": ep.ID}}}, &rel); err != nil {
		return res, fmt.Errorf("create the relay: %w", err)
	}
	if err := c.Do(ctx, "POST", "/v1/relays/"+rel.ID+"/enable", false, nil, nil); err != nil {
		return res, fmt.Errorf("enable the relay: %w", err)
	}
	say("relay %q (%s) created and enabled", "Every inbound message", rel.ID)

	t, _ := event.Lookup(event.MessageReceived)
	var data map[string]any
	if err := json.Unmarshal(t.Example, &data); err != nil {
		return res, err
	}
	data["workspaceId"] = ws.Workspace.ID
	var acc struct{ ID string }
	if err := c.Do(ctx, "POST", "/v1/platform/events", true, map[string]any{"workspaceId": ws.Workspace.ID, "name": event.MessageReceived, "data": data}, &acc); err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}
	say("MessageReceived %s published", acc.ID)

	select {
	case got := <-rcv.got:
		got.workspace, got.email, got.password, got.fingerprint = res.workspace, res.email, res.password, res.fingerprint
		return got, nil
	case <-time.After(60 * time.Second):
		return res, errors.New("no verified delivery within 60 s; see " + base + "/settings/developer/events")
	case <-ctx.Done():
		return res, ctx.Err()
	}
}

// demoReceiver verifies each request with both schemes and reports the first that passes both.
type demoReceiver struct {
	mu     sync.Mutex
	secret webhook.Secret
	got    chan demoResult
	out    io.Writer
	n      int
}

func (r *demoReceiver) set(s webhook.Secret) {
	r.mu.Lock()
	r.secret = s
	r.mu.Unlock()
}

func (r *demoReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	s := r.secret
	r.mu.Unlock()
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil || s.IsZero() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	v := webhook.NewVerifier(s)
	std, err := v.Verify(req.Header, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	mdOnly := http.Header{webhook.HeaderSignature: req.Header.Values(webhook.HeaderSignature)}
	md, err := v.Verify(mdOnly, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusOK)
	got := demoResult{event: req.Header.Get(webhook.HeaderEvent), id: req.Header.Get(webhook.HeaderID),
		delivery: req.Header.Get(webhook.HeaderDelivery), attempt: req.Header.Get(webhook.HeaderAttempt),
		verified: std.Scheme.String() + " ✓ and " + md.Scheme.String() + " ✓"}
	r.mu.Lock()
	r.n++
	if r.n > 1 { // the first one is reported by the demo itself
		fmt.Fprintf(r.out, "receiver: %s %s, attempt %s, verified (%s)\n", got.event, got.id, got.attempt, got.verified)
	}
	r.mu.Unlock()
	select {
	case r.got <- got:
	default:
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
