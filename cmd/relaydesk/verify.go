package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relaydesk/relaydesk/webhook"
)

// webhookSecretEnv is read when no --secret is given, so the secret need not appear in shell history.
const webhookSecretEnv = "RELAYDESK_WEBHOOK_SECRET"

// verifierFlags are the credentials verify and listen check signatures with.
type verifierFlags struct {
	secrets    []string
	publicKeys []string
	jwks       string
}

func (vf *verifierFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&vf.secrets, "secret", nil, "signing secret (whsec_…); repeat for several, e.g. during a rotation (default $"+webhookSecretEnv+")")
	f.StringArrayVar(&vf.publicKeys, "public-key", nil, "public key (whpk_…) to verify v1a (ed25519) signatures with; repeatable")
	f.StringVar(&vf.jwks, "jwks", "", "JWKS URL publishing the public keys (Developer Tools shows it); fetched, cached and refetched on an unknown key id")
}

// verifier builds the Verifier; with neither --public-key nor --jwks, a secret is required
// (from --secret or $RELAYDESK_WEBHOOK_SECRET).
func (vf *verifierFlags) verifier() (*webhook.Verifier, error) {
	v := &webhook.Verifier{}
	for i, s := range vf.publicKeys {
		k, err := webhook.ParsePublicKey(s)
		if err != nil {
			return nil, verifyUsageError("public key #%d: %w", i+1, err)
		}
		v.PublicKeys = append(v.PublicKeys, k)
	}
	if vf.jwks != "" {
		u, err := url.Parse(vf.jwks)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, verifyUsageError("--jwks %q is not an http(s) URL", vf.jwks)
		}
		v.KeySet = webhook.NewKeySet(vf.jwks)
	}
	if len(vf.secrets) > 0 || (len(v.PublicKeys) == 0 && v.KeySet == nil) {
		secs, err := parseWebhookSecrets(vf.secrets)
		if err != nil {
			return nil, err
		}
		v.Secrets = secs
	}
	return v, nil
}

// verifyExitError carries the process exit status of verify and listen: 1 for a signature
// that does not verify, 2 for a usage error. main's exitCode honours ExitCode.
type verifyExitError struct {
	code int
	err  error
}

func (e *verifyExitError) Error() string { return e.err.Error() }
func (e *verifyExitError) Unwrap() error { return e.err }
func (e *verifyExitError) ExitCode() int { return e.code }

func verifyUsageError(format string, a ...any) error {
	return &verifyExitError{code: 2, err: fmt.Errorf(format, a...)}
}

func newVerifyCmd() *cobra.Command {
	var (
		creds        verifierFlags
		bodyFile     string
		headers      []string
		headerFile   string
		standardOnly bool
		tolerance    time.Duration
		at           string
	)
	cmd := &cobra.Command{
		Use:   "verify --secret whsec_… | --public-key whpk_… | --jwks URL --body-file FILE --header 'name: value'…",
		Short: "Check the signature of a webhook request",
		Long: `Check a captured webhook request: its raw body and its headers against one or more
signing secrets, or public keys. With secrets either scheme is accepted: Standard Webhooks
(webhook-id, webhook-timestamp, webhook-signature v1) or X-MessageDesk-Signature; with
--standard-only only the first. With --public-key or --jwks, the v1a (ed25519) entries of
webhook-signature are checked: the public key cannot sign, so it need not be kept secret.

Exit status: 0 when the signature is valid, 1 when it is not (the reason is printed),
2 for a usage error.`,
		Example: `  relaydesk verify --secret "$SECRET" --body-file body.json \
    --header 'webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek' \
    --header 'webhook-timestamp: 1614265330' \
    --header 'webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' \
    --at 1614265330
  relaydesk verify --jwks https://relaydesk.example.com/v1/jwks/01K6N5WEYHS5N0796RZ1D4VQ7M \
    --body-file body.json --header-file headers.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := creds.verifier()
			if err != nil {
				return err
			}
			if bodyFile == "" {
				return verifyUsageError("--body-file is required (use - for standard input)")
			}
			body, err := verifyReadBody(cmd.InOrStdin(), bodyFile)
			if err != nil {
				return verifyUsageError("reading body: %w", err)
			}
			h, err := parseHeaderLines(headers)
			if err != nil {
				return err
			}
			if headerFile != "" {
				raw, err := os.ReadFile(headerFile)
				if err != nil {
					return verifyUsageError("reading headers: %w", err)
				}
				more, err := parseHeaderLines(strings.Split(string(raw), "\n"))
				if err != nil {
					return err
				}
				for k, vs := range more {
					h[k] = append(h[k], vs...)
				}
			}
			now := time.Now()
			if at != "" {
				if now, err = verifyParseAt(at); err != nil {
					return err
				}
			}
			v.Tolerance, v.Now, v.StandardOnly = tolerance, func() time.Time { return now }, standardOnly
			res, err := v.VerifyContext(cmd.Context(), h, body)
			if err != nil {
				msg := "invalid: " + err.Error()
				if errors.Is(err, webhook.ErrTimestampTooOld) && at == "" {
					msg += " (to check a request captured earlier, pass --at with its webhook-timestamp)"
				}
				return &verifyExitError{code: 1, err: errors.New(msg)}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "valid: "+describeVerifyResult(res, v.Secrets))
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &verifyExitError{code: 2, err: err} })
	creds.register(cmd)
	f := cmd.Flags()
	f.StringVar(&bodyFile, "body-file", "", "file holding the raw request body, byte for byte (- for standard input)")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header as 'name: value'; repeatable")
	f.StringVar(&headerFile, "header-file", "", "file of request headers, one 'name: value' per line")
	f.BoolVar(&standardOnly, "standard-only", false, "accept only Standard Webhooks signatures (with replay protection)")
	f.DurationVar(&tolerance, "tolerance", webhook.DefaultTolerance, "largest allowed distance between webhook-timestamp and now")
	f.StringVar(&at, "at", "", "check the timestamp as of this time (Unix seconds or RFC 3339) instead of now")
	return cmd
}

// parseWebhookSecrets reads --secret values, falling back to $RELAYDESK_WEBHOOK_SECRET
// (several secrets there are separated by spaces or commas).
func parseWebhookSecrets(vals []string) ([]webhook.Secret, error) {
	if len(vals) == 0 {
		vals = strings.FieldsFunc(os.Getenv(webhookSecretEnv), func(r rune) bool { return r == ',' || r == ' ' })
	}
	if len(vals) == 0 {
		return nil, verifyUsageError("--secret is required (or set $%s), or give --public-key or --jwks", webhookSecretEnv)
	}
	secs := make([]webhook.Secret, 0, len(vals))
	for i, s := range vals {
		sec, err := webhook.ParseSecret(s)
		if err != nil {
			return nil, verifyUsageError("secret #%d: %w", i+1, err)
		}
		secs = append(secs, sec)
	}
	return secs, nil
}

func verifyReadBody(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(name)
}

// parseHeaderLines reads "name: value" lines; blank lines and an HTTP request or status
// line (as in a copied raw request) are skipped.
func parseHeaderLines(lines []string) (map[string][]string, error) {
	h := make(map[string][]string)
	for _, line := range lines {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "HTTP/") || strings.HasSuffix(line, " HTTP/1.1") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, verifyUsageError("header %q is not of the form 'name: value'", line)
		}
		k := http.CanonicalHeaderKey(name)
		h[k] = append(h[k], strings.TrimSpace(value))
	}
	return h, nil
}

func verifyParseAt(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, verifyUsageError("--at %q is neither Unix seconds nor RFC 3339", s)
	}
	return t, nil
}

func describeVerifyResult(res webhook.Result, secs []webhook.Secret) string {
	var s string
	if res.Scheme == webhook.SchemeStandardV1a {
		s = fmt.Sprintf("%s, key %s", res.Scheme, res.KeyID)
	} else {
		s = fmt.Sprintf("%s, secret #%d (%s)", res.Scheme, res.SecretIndex+1, secs[res.SecretIndex].Fingerprint())
	}
	if res.Scheme == webhook.SchemeStandard || res.Scheme == webhook.SchemeStandardV1a {
		s += fmt.Sprintf(", webhook-id %s, webhook-timestamp %s", res.ID, res.Timestamp.UTC().Format(time.RFC3339))
	} else {
		s += " (no timestamp: no replay protection)"
	}
	return s
}
