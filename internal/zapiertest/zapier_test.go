package zapiertest

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relaydesk/relaydesk/internal/access"
	"github.com/relaydesk/relaydesk/internal/app/apptest"
)

// appDir is the Zapier app, relative to this package.
var appDir = filepath.Join("..", "..", "integrations", "zapier")

// needNode returns the node binary, or skips — except in CI (CI non-empty), where a missing
// Node.js 20+ or a missing npm ci of the app is a failure.
func needNode(t *testing.T) string {
	t.Helper()
	missing := func(msg string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (required when CI is set)")
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not available; install Node.js 20 or later")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if major < 20 {
		missing("node " + v + " is too old for the Zapier app; install Node.js 20 or later")
	}
	for _, pkg := range []string{"zapier-platform-core", "zapier-platform-schema"} {
		if _, err := os.Stat(filepath.Join(appDir, "node_modules", pkg, "package.json")); err != nil {
			missing("integrations/zapier/node_modules/" + pkg + " is missing; run: npm ci --prefix integrations/zapier (make test-deps does)")
		}
	}
	return node
}

type createdKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

func newKey(t *testing.T, c *apptest.Client, name string) createdKey {
	t.Helper()
	res := c.Do("POST", "/v1/api-keys", map[string]any{"name": name})
	if res.Status != http.StatusCreated {
		t.Fatalf("create key: %d %s", res.Status, res.Body)
	}
	var k createdKey
	res.JSON(t, &k)
	if !strings.HasPrefix(k.Key, "rdk_") || k.ID == "" {
		t.Fatalf("created key %+v", k)
	}
	return k
}

var tapCount = regexp.MustCompile(`(?m)^# (pass|fail|skipped|cancelled|todo) (\d+)$`)

// The Zapier app's tests, under Zapier's runtime, against a real relaydesk on each store:
// authentication and its label, samples, subscribe → a published event is delivered to a
// local hook URL → perform turns it into the trigger's output → unsubscribe, every catalog
// event, 410 Gone unsubscribing, a Viewer's key refused, a revoked key failing the test.
func TestZapierApp(t *testing.T) {
	node := needNode(t)
	apptest.Each(t, func(t *testing.T, env *apptest.Env) {
		ws := env.NewWorkspace("Acme Zapier")
		if res := ws.Admin.Do("POST", "/v1/signing-secret", nil); res.Status != http.StatusCreated {
			t.Fatalf("generate signing secret: %d %s", res.Status, res.Body)
		}
		dev := ws.AddMember("zap@acme.test", "Zap builder", access.Levels{access.Developer: access.Editor})
		key := newKey(t, dev, "Zapier")
		revocable := newKey(t, dev, "Zapier, to be revoked")
		// A Viewer cannot make keys; this one was made while its member was an editor, and
		// acts with its member's current role.
		viewer := ws.AddMember("viewer@acme.test", "Dev viewer", access.Levels{access.Developer: access.Editor})
		viewerKey := newKey(t, viewer, "Zapier (viewer)")
		if _, err := env.DB().Exec(context.Background(), `UPDATE roles SET levels = ? WHERE workspace_id = ? AND name = ?`,
			access.Levels{access.Developer: access.Viewer}.Encode(), ws.ID, "Dev viewer"); err != nil {
			t.Fatal(err)
		}
		producer := env.PlatformToken()

		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=tap", "test/app.test.js")
		cmd.Dir = appDir
		cmd.Env = append(nodeEnv(),
			"NODE_ENV=test",
			"RELAYDESK_URL="+env.URL(),
			"RELAYDESK_API_KEY="+key.Key,
			"RELAYDESK_EMAIL=zap@acme.test",
			"RELAYDESK_VIEWER_KEY="+viewerKey.Key,
			"RELAYDESK_REVOCABLE_KEY="+revocable.Key,
			"RELAYDESK_REVOCABLE_KEY_ID="+revocable.ID,
			"RELAYDESK_PLATFORM_TOKEN="+producer.Bearer,
			"RELAYDESK_WORKSPACE_ID="+ws.ID,
			"RELAYDESK_WORKSPACE_NAME=Acme Zapier",
		)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		counts := map[string]int{}
		for _, m := range tapCount.FindAllStringSubmatch(out.String(), -1) {
			counts[m[1]], _ = strconv.Atoi(m[2])
		}
		if err != nil || counts["pass"] == 0 || counts["fail"] != 0 || counts["skipped"] != 0 || counts["cancelled"] != 0 {
			t.Fatalf("node --test in integrations/zapier: %v (pass %d, fail %d, skipped %d, cancelled %d)\n%s",
				err, counts["pass"], counts["fail"], counts["skipped"], counts["cancelled"], out.String())
		}
		t.Logf("node --test: %d passed\n%s", counts["pass"], out.String())

		// What the Node tests did is visible from here too: the revoked key no longer works,
		// and no hook is left.
		rk := env.Anonymous()
		rk.Bearer = revocable.Key
		if res := rk.Do("GET", "/v1/me", nil); res.Status != http.StatusUnauthorized {
			t.Errorf("revoked key: GET /v1/me = %d", res.Status)
		}
		var n int
		if err := env.DB().QueryRow(context.Background(), `SELECT COUNT(*) FROM zapier_hooks WHERE workspace_id = ?`, ws.ID).Scan(&n); err != nil || n != 0 {
			t.Errorf("zapier_hooks left: %d (%v)", n, err)
		}
	})
}

// nodeEnv is this process's environment without the variables that would make Zapier's
// runtime send its logs somewhere (there is nowhere to send them here).
func nodeEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LOGGING_") || strings.HasPrefix(kv, "NODE_ENV=") || strings.HasPrefix(kv, "RELAYDESK_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
