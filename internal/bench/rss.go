package bench

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// RSS is the server's memory: VmHWM (the kernel's peak resident set) read last, and the
// largest VmRSS seen by sampling every 100 ms.
type RSS struct {
	PeakMB       float64 `json:"peakMB"`       // VmHWM
	MaxSampledMB float64 `json:"maxSampledMB"` // max VmRSS sampled
	Samples      int     `json:"samples"`
}

func (r RSS) max(o RSS) RSS {
	return RSS{PeakMB: max(r.PeakMB, o.PeakMB), MaxSampledMB: max(r.MaxSampledMB, o.MaxSampledMB), Samples: r.Samples + o.Samples}
}

type rssSampler struct {
	pid   int
	stopc chan struct{}
	done  chan struct{}

	mu  sync.Mutex
	rss RSS
}

func startRSS(pid int) *rssSampler {
	s := &rssSampler{pid: pid, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	rss, hwm, err := readStatus(s.pid)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.rss.Samples++
	s.rss.MaxSampledMB = max(s.rss.MaxSampledMB, rss)
	s.rss.PeakMB = max(s.rss.PeakMB, hwm)
	s.mu.Unlock()
}

// stop takes a last sample (so VmHWM covers the whole run) and returns the figures.
func (s *rssSampler) stop() RSS {
	if s == nil {
		return RSS{}
	}
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rss
}

// readStatus returns VmRSS and VmHWM of pid in MB (MiB), from /proc/<pid>/status.
func readStatus(pid int) (rss, hwm float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *float64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		var kb float64
		if _, err := fmt.Sscan(strings.TrimSpace(line[6:]), &kb); err == nil {
			*dst = kb / 1024
		}
	}
	return rss, hwm, sc.Err()
}
