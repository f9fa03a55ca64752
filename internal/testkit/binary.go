package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary builds cmd/relaydesk once per test process, without the race detector (the
// subprocess is the system under test; the harness is what runs under -race), and returns
// its path. A package that uses it removes the build with Main.
func Binary(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		if binary.dir, binary.err = os.MkdirTemp("", "relaydesk-bin-"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "relaydesk")
		out, err := exec.Command("go", "build", "-o", binary.path, "github.com/relaydesk/relaydesk/cmd/relaydesk").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// Main runs the tests and then removes what Binary built: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// FreeAddr is a loopback address with a port free a moment ago, for a process the test
// starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
