package main

import (
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=…" (make build does);
// otherwise it comes from what the Go toolchain stamped into the binary (see buildVersion).
var version = ""

func init() { version = resolveVersion(version, debug.ReadBuildInfo) }

// resolveVersion picks the version relaydesk reports in `relaydesk version`, the
// User-Agent of every delivery and the UI footer: the -ldflags value when set; else the
// module's tagged version (go install …@v1.2.3); else dev-<commit> from the VCS stamp that
// go build puts into binaries built in a git checkout (-dirty with local changes); else
// "dev" (go run, and builds with -buildvcs=false, carry no stamp).
func resolveVersion(ldflags string, read func() (*debug.BuildInfo, bool)) string {
	if ldflags != "" {
		return ldflags
	}
	info, ok := read()
	if !ok || info == nil {
		return "dev"
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	v := info.Main.Version
	pseudo := strings.HasPrefix(v, "v0.0.0-")
	if v != "" && v != "(devel)" && !pseudo {
		return strings.TrimPrefix(v, "v")
	}
	if rev == "" {
		if pseudo {
			return strings.TrimPrefix(v, "v")
		}
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	v = "dev-" + rev
	if dirty {
		v += "-dirty"
	}
	return v
}
