package main

import (
	"runtime/debug"
	"testing"
)

func TestResolveVersion(t *testing.T) {
	info := func(main string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/relaydesk/relaydesk", Version: main}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, c := range []struct {
		name, ldflags string
		read          func() (*debug.BuildInfo, bool)
		want          string
	}{
		{"ldflags win", "1.5.0", info("v1.4.0", "vcs.revision", "abc"), "1.5.0"},
		{"tagged module", "", info("v1.4.0"), "1.4.0"},
		{"checkout build", "", info("v0.0.0-20261202143542-e13eb4aa099b+dirty", "vcs.revision", "e13eb4aa099b9ac7be904059abe057bdab3015fc", "vcs.modified", "true"), "dev-e13eb4aa099b-dirty"},
		{"clean checkout", "", info("(devel)", "vcs.revision", "e13eb4aa099b9ac7be904059abe057bdab3015fc", "vcs.modified", "false"), "dev-e13eb4aa099b"},
		{"pseudo without vcs", "", info("v0.0.0-20261202143542-e13eb4aa099b"), "0.0.0-20261202143542-e13eb4aa099b"},
		{"go run", "", info("(devel)"), "dev"},
		{"no build info", "", none, "dev"},
	} {
		if got := resolveVersion(c.ldflags, c.read); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
