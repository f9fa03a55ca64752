package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/relaydesk/relaydesk/internal/apiclient"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" for the throwaway database

	"github.com/relaydesk/relaydesk/webhook"
)

// DefaultAdminURL is where the throwaway PostgreSQL database is created.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// server is a relaydesk serve started by the benchmark.
type server struct {
	URL string
	cmd *exec.Cmd
	rss *rssSampler
	log string
}

// instance is everything about the server under test the run needs.
type instance struct {
	bin, dataDir string
	env          []string
	cleanup      []func()
	srv          *server // nil with --target
	url          string
	token        string
	email, pass  string
	workspaceID  string
	secret       webhook.Secret
	endpoints    []string
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// prepare makes the data directory (and the PostgreSQL database) and the server's
// environment, then runs `relaydesk init` and `relaydesk platform-token create`.
func prepare(ctx context.Context, cfg *Config, in *instance) error {
	dir, err := os.MkdirTemp("", "relaydesk-bench-")
	if err != nil {
		return err
	}
	in.dataDir = dir
	in.cleanup = append(in.cleanup, func() {
		if cfg.KeepData {
			fmt.Fprintf(cfg.Progress, "kept %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	in.env = append(os.Environ(), "RELAYDESK_DATA_DIR="+dir, "RELAYDESK_ALLOW_PRIVATE_ENDPOINTS=true",
		"RELAYDESK_LOG_LEVEL=warn", "RELAYDESK_MASTER_KEY="+base64.StdEncoding.EncodeToString(key), "RELAYDESK_DATABASE_URL=")
	if cfg.Workers > 0 {
		in.env = append(in.env, fmt.Sprintf("RELAYDESK_WORKERS=%d", cfg.Workers))
	}
	if cfg.Store == "postgres" {
		dbURL := cfg.DatabaseURL
		if dbURL == "" {
			if dbURL, err = throwawayDB(ctx, cfg, in); err != nil {
				return err
			}
		}
		in.env = append(in.env, "RELAYDESK_DATABASE_URL="+dbURL)
	}
	in.env = append(in.env, cfg.ServerEnv...)

	in.email, in.pass = "bench@relaydesk.test", "bench-"+randHex(12)
	cmd := exec.CommandContext(ctx, in.bin, "init", "--workspace", "Bench", "--email", in.email, "--password-stdin")
	cmd.Env, cmd.Stdin = in.env, strings.NewReader(in.pass+"\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("relaydesk init: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "workspace_id="); ok {
			in.workspaceID = strings.TrimSpace(v)
		}
	}
	if in.workspaceID == "" {
		return fmt.Errorf("relaydesk init printed no workspace_id: %s", out)
	}
	cmd = exec.CommandContext(ctx, in.bin, "platform-token", "create", "bench")
	cmd.Env = in.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	tok, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("relaydesk platform-token create: %v: %s", err, stderr.String())
	}
	in.token = strings.TrimSpace(string(tok))
	return nil
}

// throwawayDB creates a database for this run on the local PostgreSQL and drops it after.
func throwawayDB(ctx context.Context, cfg *Config, in *instance) (string, error) {
	admin := cfg.AdminURL
	if admin == "" {
		admin = DefaultAdminURL
	}
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		return "", err
	}
	defer adb.Close()
	name := "relaydesk_bench_" + randHex(6)
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create the throwaway database on %s: %w", redact(admin), err)
	}
	in.cleanup = append(in.cleanup, func() {
		adb, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer adb.Close()
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(database URL)"
	}
	return u.Redacted()
}

// start runs `relaydesk serve` on a free port with the given role and waits until it
// listens.
func (in *instance) start(ctx context.Context, role string) (*server, error) {
	logPath := filepath.Join(in.dataDir, "server-"+role+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(in.bin, "serve", "--addr", "127.0.0.1:0", "--role", role)
	cmd.Env, cmd.Stderr = in.env, logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &server{cmd: cmd, log: logPath}
	addr := make(chan string, 1)
	go func() {
		defer logf.Close()
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if _, a, ok := strings.Cut(line, "listening on http://"); ok && !sent {
				sent = true
				addr <- strings.Fields(a)[0]
			}
		}
		if !sent {
			close(addr)
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			_ = cmd.Wait()
			return nil, fmt.Errorf("relaydesk serve exited before listening: %s", tail(logPath))
		}
		s.URL = "http://" + a
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("relaydesk serve did not listen within 60 s: %s", tail(logPath))
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, ctx.Err()
	}
	s.rss = startRSS(cmd.Process.Pid)
	in.srv, in.url = s, s.URL
	return s, nil
}

// stop ends the server with SIGTERM (a kill after 30 s) and returns its memory figures.
func (s *server) stop() RSS {
	r := s.rss.stop()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	return r
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// setupWorkspace signs in and creates fanout endpoints pointing at the receiver (endpoint 0
// with the fields of first besides: ordering, rate limit), the
// signing secret, and an enabled "every inbound message" relay per endpoint. With
// --target it first creates a fresh workspace through the platform API.
func setupWorkspace(ctx context.Context, in *instance, receiverURL string, fanout int, first map[string]any) error {
	c := apiclient.New(in.url, in.token)
	if in.workspaceID == "" {
		in.email, in.pass = "bench-"+randHex(4)+"@relaydesk.test", "bench-"+randHex(12)
		var out struct {
			Workspace struct {
				ID string `json:"id"`
			} `json:"workspace"`
		}
		if err := c.Do(ctx, http.MethodPost, "/v1/platform/workspaces", true,
			map[string]string{"name": "Bench " + time.Now().UTC().Format(time.DateTime), "adminEmail": in.email, "adminPassword": in.pass}, &out); err != nil {
			return fmt.Errorf("create the benchmark workspace: %w", err)
		}
		in.workspaceID = out.Workspace.ID
	}
	if err := c.Do(ctx, http.MethodPost, "/v1/sessions", false, map[string]string{"email": in.email, "password": in.pass}, nil); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	in.endpoints = in.endpoints[:0]
	for k := range fanout {
		var ep struct {
			ID string `json:"id"`
		}
		body := map[string]any{"url": fmt.Sprintf("%s/d/%d", receiverURL, k), "description": fmt.Sprintf("bench receiver %d", k)}
		if k == 0 {
			for f, v := range first { // endpoint 0's ordering and rate limit
				body[f] = v
			}
		}
		if err := c.Do(ctx, http.MethodPost, "/v1/endpoints", false, body, &ep); err != nil {
			return fmt.Errorf("create endpoint %d: %w", k, err)
		}
		in.endpoints = append(in.endpoints, ep.ID)
	}
	var sec struct {
		Secret string `json:"secret"`
	}
	if err := c.Do(ctx, http.MethodPost, "/v1/signing-secret", false, nil, &sec); err != nil {
		return fmt.Errorf("generate the signing secret: %w", err)
	}
	s, err := webhook.ParseSecret(sec.Secret)
	if err != nil {
		return fmt.Errorf("the signing secret: %w", err)
	}
	in.secret = s
	for _, id := range in.endpoints {
		var r struct {
			ID string `json:"id"`
		}
		if err := c.Do(ctx, http.MethodPost, "/v1/relays/from-template", false, map[string]string{"templateId": "all-inbound", "endpointId": id}, &r); err != nil {
			return fmt.Errorf("create relay: %w", err)
		}
		if err := c.Do(ctx, http.MethodPost, "/v1/relays/"+r.ID+"/enable", false, nil, nil); err != nil {
			return fmt.Errorf("enable relay: %w", err)
		}
	}
	return nil
}

// counters reads relaydesk_deliveries_total by result from /metrics.
func counters(ctx context.Context, base string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "relaydesk_deliveries_total{")
		if !ok {
			continue
		}
		labels, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		_, result, _ := strings.Cut(labels, `result="`)
		result, _, _ = strings.Cut(result, `"`)
		var f float64
		if _, err := fmt.Sscan(val, &f); err == nil {
			out[result] = f
		}
	}
	return out, sc.Err()
}

var errVoid = errors.New("the run is VOID")
