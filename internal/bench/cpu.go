package bench

import (
	"os"
	"strconv"
	"strings"
)

// cpuSample is CPU time used so far, in seconds: by the whole machine (every process —
// server, database, receiver, this benchmark — from /proc/stat) and by the server process
// alone (/proc/<pid>/stat). Linux only; elsewhere both stay 0 and the report says nothing.
type cpuSample struct{ machine, server float64 }

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func sampleCPU(serverPID int) cpuSample {
	var s cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
		if len(f) > 8 && f[0] == "cpu" {
			for i, v := range f[1:9] {
				if i == 3 || i == 4 { // idle and iowait are not work
					continue
				}
				n, _ := strconv.ParseFloat(v, 64)
				s.machine += n / clockTicks
			}
		}
	}
	if serverPID > 0 {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(serverPID) + "/stat"); err == nil {
			// Fields after the command name (which may hold spaces) start after ") ".
			if i := strings.LastIndexByte(string(b), ')'); i > 0 {
				f := strings.Fields(string(b[i+1:]))
				if len(f) > 12 { // f[11] utime, f[12] stime
					u, _ := strconv.ParseFloat(f[11], 64)
					st, _ := strconv.ParseFloat(f[12], 64)
					s.server = (u + st) / clockTicks
				}
			}
		}
	}
	return s
}

func (a cpuSample) sub(b cpuSample) cpuSample {
	return cpuSample{a.machine - b.machine, a.server - b.server}
}
