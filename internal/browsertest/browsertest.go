// Package browsertest drives real headless Chromium (Debian's chromium package) from Go
// tests through chromedp. Under CI a missing browser fails the test; elsewhere it skips,
// saying why.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path finds the browser: $CHROMIUM, then /usr/bin/chromium and friends on PATH.
func Path() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless browser for the test and returns its chromedp context (bounded
// to two minutes); everything is torn down when the test ends.
func New(t testing.TB) context.Context {
	t.Helper()
	path := Path()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("browser tests need Chromium in CI: apt-get install chromium (see .ci/run)")
		}
		t.Skip("skipping browser test: no chromium on PATH (apt-get install chromium, or set CHROMIUM)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first run starts the browser; it must not carry a timeout (that would stop the
	// whole browser), so the test's time limit goes on a context derived afterwards.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// Screenshot saves a PNG of the page to path when RELAYDESK_SCREENSHOTS is a directory
// (for looking at what a test saw); otherwise it does nothing.
func Screenshot(ctx context.Context, t testing.TB, name string) {
	dir := os.Getenv("RELAYDESK_SCREENSHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(dir+"/"+name+".png", buf, 0o644)
}

// ScreenshotAction is Screenshot as a step of a chromedp.Do sequence.
func ScreenshotAction(t testing.TB, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tgt *chromedp.Target) (chromedp.Void, error) {
		dir := os.Getenv("RELAYDESK_SCREENSHOTS")
		if dir == "" {
			return chromedp.Void{}, nil
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, tgt)
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return chromedp.Void{}, nil
		}
		_ = os.WriteFile(dir+"/"+name+".png", buf, 0o644)
		return chromedp.Void{}, nil
	}
}

// Text is the text of the element sel names (waiting for it, within the context's bound);
// the test fails without one.
func Text(ctx context.Context, t testing.TB, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Count is how many elements sel matches now.
func Count(ctx context.Context, t testing.TB, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+"`"+sel+"`"+`).length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
