package main

import (
	"bytes"
	"context"
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

	"github.com/relaydesk/relaydesk/webhook"
)

func newListenCmd() *cobra.Command {
	var (
		addr         string
		creds        verifierFlags
		status       int
		standardOnly bool
		maxBody      int64
	)
	cmd := &cobra.Command{
		Use:   "listen --addr 127.0.0.1:9000 --secret whsec_… | --public-key whpk_… | --jwks URL",
		Short: "Run a local webhook receiver that verifies and prints each request",
		Long: `Run a local receiver for trying out webhooks. Each request is verified with the given
secret(s), public key(s) or JWKS URL (v1a, ed25519) and printed: event name, webhook-id, delivery, attempt, the verification result and
the pretty-printed body. A request whose signature does not verify gets 401; every other one
gets --status (default 200), so retries can be provoked with e.g. --status 503 and endpoint
disabling with --status 410.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := creds.verifier()
			if err != nil {
				return err
			}
			if status < 100 || status > 999 {
				return verifyUsageError("--status %d is not an HTTP status code", status)
			}
			v.StandardOnly = standardOnly
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "listening on http://%s (answering %d; 401 on a bad signature; Ctrl-C to stop)\n", ln.Addr(), status)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveListener(ctx, ln, newListenHandler(out, v, status, maxBody))
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &verifyExitError{code: 2, err: err} })
	creds.register(cmd)
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9000", "address to listen on")
	f.IntVar(&status, "status", http.StatusOK, "HTTP status to answer to requests that verify")
	f.BoolVar(&standardOnly, "standard-only", false, "accept only Standard Webhooks signatures (with replay protection)")
	f.Int64Var(&maxBody, "max-body", 10<<20, "largest request body accepted, in bytes")
	return cmd
}

// serveListener serves h on ln until ctx is done, then shuts down gracefully.
func serveListener(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
			return serr
		}
		return err
	}
}

// newListenHandler verifies each request, prints it to out, and answers 401 or status.
func newListenHandler(out io.Writer, v *webhook.Verifier, status int, maxBody int64) http.Handler {
	if maxBody <= 0 {
		maxBody = 10 << 20
	}
	var mu sync.Mutex // one request printed at a time
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, res, err := v.VerifyRequest(r, maxBody)
		code := status
		if err != nil {
			code = http.StatusUnauthorized
			if errors.Is(err, webhook.ErrBodyTooLarge) {
				code = http.StatusRequestEntityTooLarge
			}
		}

		var b bytes.Buffer
		fmt.Fprintf(&b, "── %s %s %s from %s\n", time.Now().Format(time.RFC3339), r.Method, r.URL.RequestURI(), r.RemoteAddr)
		field := func(name, val string) {
			if val == "" {
				val = "-"
			}
			fmt.Fprintf(&b, "%-9s %s\n", name+":", val)
		}
		field("event", r.Header.Get(webhook.HeaderEvent))
		field("id", r.Header.Get(webhook.HeaderID))
		field("delivery", r.Header.Get(webhook.HeaderDelivery))
		field("attempt", r.Header.Get(webhook.HeaderAttempt))
		if err != nil {
			field("verified", "NO: "+err.Error())
		} else {
			field("verified", "yes: "+describeVerifyResult(res, v.Secrets))
		}
		b.WriteString("body:\n")
		var pretty bytes.Buffer
		switch {
		case len(body) == 0:
			b.WriteString("(empty)")
		case json.Indent(&pretty, body, "", "  ") == nil:
			b.Write(pretty.Bytes())
		default:
			b.Write(body)
		}
		fmt.Fprintf(&b, "\n→ %d %s\n\n", code, http.StatusText(code))

		mu.Lock()
		_, _ = out.Write(b.Bytes())
		mu.Unlock()

		if err != nil {
			http.Error(w, err.Error(), code)
			return
		}
		w.WriteHeader(code)
	})
}
