package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Machine is where the run happened.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPU       string  `json:"cpu"`
	MemGiB    float64 `json:"memGiB"`
	LoadAvg   string  `json:"loadAvgAtStart"`
	GoVersion string  `json:"go"`
	OS        string  `json:"os"`
}

// Params are the run's settings after defaults.
type Params struct {
	Events      int     `json:"events"`
	Batch       int     `json:"batch"`
	Concurrency int     `json:"concurrency"`
	Fanout      int     `json:"fanout"`
	Workers     int     `json:"workers,omitempty"`
	Instances   int     `json:"instances,omitempty"`
	Rate        int     `json:"rate,omitempty"`
	DurationSec float64 `json:"durationSeconds,omitempty"`
	Backlog     int     `json:"backlog,omitempty"`
	TimeoutSec  float64 `json:"timeoutSeconds"`
	Short       bool    `json:"short"`
}

// Publish is what the producer API accepted.
type Publish struct {
	Events       int     `json:"events"`
	Refused      int     `json:"refused"`
	FirstRefusal string  `json:"firstRefusal,omitempty"`
	Seconds      float64 `json:"seconds"`
	PerSec       float64 `json:"acceptedPerSec"`
}

// Delivery is what reached the receiver.
type Delivery struct {
	Expected  int     `json:"expected"`
	Delivered int     `json:"delivered"`
	Seconds   float64 `json:"seconds" doc:"first publish → last delivery"`
	PerSec    float64 `json:"deliveredPerSec"`
	// Ratio is PerSec / the ceiling's PerSec.
	Ratio   float64     `json:"ratioToCeiling"`
	Latency Percentiles `json:"latency"`
	// CPU per delivery over the phase (first publish → last delivery), in milliseconds:
	// the whole machine (server, database, receiver and this benchmark's publisher) and
	// the server process alone. 0 when not measurable (no /proc, or --target).
	MachineCPUms float64 `json:"machineCpuMsPerDelivery"`
	ServerCPUms  float64 `json:"serverCpuMsPerDelivery"`
}

// EndpointsReport is what a group of endpoints got: endpoint 0, ordered or rate-limited,
// or the others beside it.
type EndpointsReport struct {
	Delivered int         `json:"delivered"`
	PerSec    float64     `json:"deliveredPerSec" doc:"delivered ÷ (first publish → this group's last delivery)"`
	Latency   Percentiles `json:"latency"`
	// PeakPerSecond: the most deliveries endpoint 0 received in any one-second window.
	PeakPerSecond int `json:"peakPerSecond,omitempty"`
}

// SplitReport sets endpoint 0's deliveries apart from the others'.
type SplitReport struct {
	Ordering  string          `json:"ordering,omitempty"`
	RateLimit int             `json:"rateLimit,omitempty"`
	Endpoint0 EndpointsReport `json:"endpoint0"`
	Others    EndpointsReport `json:"others"`
}

// BacklogReport is the backlog mode's drain.
type BacklogReport struct {
	Events              int     `json:"events"`
	Refused             int     `json:"refused"`
	FirstRefusal        string  `json:"firstRefusal,omitempty"`
	Deliveries          int     `json:"deliveries"`
	QueueSeconds        float64 `json:"queueSeconds"`
	QueuedPerSec        float64 `json:"queuedPerSec"`
	Delivered           int     `json:"delivered"`
	Failed              int     `json:"failed"`
	TimedOut            bool    `json:"timedOut"`
	StartToFirstSeconds float64 `json:"startToFirstDeliverySeconds"`
	DrainSeconds        float64 `json:"drainSeconds" doc:"first delivery → last delivery"`
	DrainPerSec         float64 `json:"drainPerSec"`
	EmptyPerSec         float64 `json:"emptyQueuePerSec"`
	Ratio               float64 `json:"ratioToEmptyQueue"`
}

// LedgerReport: Published == Delivered + Failed + Missing, over the whole run.
type LedgerReport struct {
	Published     int  `json:"published" doc:"deliveries expected: accepted events × fanout"`
	Delivered     int  `json:"delivered" doc:"distinct (event, endpoint) pairs received with a valid signature"`
	Failed        int  `json:"failed" doc:"finished by the server without delivery: failed, cancelled, skipped"`
	Missing       int  `json:"missing"`
	Duplicates    int  `json:"duplicates"`
	BadSignatures int  `json:"badSignatures"`
	Unexpected    int  `json:"unexpected" doc:"deliveries of events or endpoints the run never published to"`
	Balanced      bool `json:"balanced"`
}

// Report is a run's result (the --json output).
type Report struct {
	Mode        string         `json:"mode"`
	Store       string         `json:"store"`
	Target      string         `json:"target,omitempty"`
	Started     time.Time      `json:"started"`
	Machine     Machine        `json:"machine"`
	Params      Params         `json:"params"`
	Publish     Publish        `json:"publish"`
	Delivery    Delivery       `json:"delivery"`
	Ceiling     Ceiling        `json:"ceiling"`
	Backlog     *BacklogReport `json:"backlog,omitempty"`
	Split       *SplitReport   `json:"split,omitempty"`
	RSS         RSS            `json:"serverMemory"`
	Ledger      LedgerReport   `json:"ledger"`
	Void        bool           `json:"void"`
	VoidReasons []string       `json:"voidReasons,omitempty"`

	timedOut bool
	ledger   *Ledger
}

func newReport(c Config) *Report {
	r := &Report{Mode: c.Mode, Store: c.Store, Target: c.Target, Started: time.Now().UTC(), Machine: machine(),
		Params: Params{Events: c.Events, Batch: c.Batch, Concurrency: c.Concurrency, Fanout: c.Fanout, Workers: c.Workers, Instances: c.Instances,
			TimeoutSec: c.Timeout.Seconds(), Short: c.Short}}
	switch c.Mode {
	case ModeRate:
		r.Params.Rate, r.Params.DurationSec = c.Rate, c.Duration.Seconds()
		r.Params.Events = int(int64(c.Rate) * int64(c.Duration) / int64(time.Second))
	case ModeBacklog:
		r.Params.Backlog = c.Backlog
	}
	if c.Target != "" {
		r.Store = "target"
	}
	return r
}

// main records the measured phase (the empty-queue run in backlog mode).
func (r *Report) main(ph phaseResult) {
	r.Publish = Publish{Events: ph.Events, Refused: ph.Refused, FirstRefusal: ph.FirstRefusal, Seconds: ph.PublishSeconds}
	if ph.PublishSeconds > 0 {
		r.Publish.PerSec = float64(ph.Events) / ph.PublishSeconds
	}
	r.Delivery = Delivery{Expected: ph.Expected, Delivered: ph.Delivered, Seconds: ph.DeliverSeconds, Latency: ph.Latency}
	if ph.DeliverSeconds > 0 {
		r.Delivery.PerSec = float64(ph.Delivered) / ph.DeliverSeconds
	}
	if r.Ceiling.PerSec > 0 {
		r.Delivery.Ratio = r.Delivery.PerSec / r.Ceiling.PerSec
	}
	if ph.Delivered > 0 {
		r.Delivery.MachineCPUms = ph.CPU.machine * 1000 / float64(ph.Delivered)
		r.Delivery.ServerCPUms = ph.CPU.server * 1000 / float64(ph.Delivered)
	}
	r.Ledger.Published += ph.Expected
	r.Ledger.Delivered += ph.Delivered
	r.Ledger.Failed += ph.Failed
	r.timedOut = r.timedOut || ph.TimedOut
}

// judge completes the ledger and decides whether the run counts.
func (r *Report) judge() {
	if b := r.Backlog; b != nil {
		r.Ledger.Published += b.Deliveries
		r.Ledger.Delivered += b.Delivered
		r.Ledger.Failed += b.Failed
		r.timedOut = r.timedOut || b.TimedOut
		if b.Refused > 0 {
			r.VoidReasons = append(r.VoidReasons, fmt.Sprintf("the API refused %d backlog events (%s)", b.Refused, b.FirstRefusal))
		}
	}
	if l := r.ledger; l != nil {
		r.Ledger.Duplicates, r.Ledger.BadSignatures, r.Ledger.Unexpected = int(l.dups.Load()), int(l.badSig.Load()), int(l.unknown.Load())
	}
	L := &r.Ledger
	L.Missing = L.Published - L.Delivered - L.Failed
	L.Balanced = L.Missing == 0 && L.BadSignatures == 0 && L.Unexpected == 0 && L.Delivered+L.Failed+L.Missing == L.Published
	switch {
	case L.Missing > 0:
		r.VoidReasons = append(r.VoidReasons, fmt.Sprintf("%d deliveries missing at the end (timeout %s)", L.Missing, time.Duration(r.Params.TimeoutSec*float64(time.Second))))
	case L.Missing < 0:
		r.VoidReasons = append(r.VoidReasons, fmt.Sprintf("delivered + failed exceeds published by %d", -L.Missing))
	}
	if L.BadSignatures > 0 {
		r.VoidReasons = append(r.VoidReasons, fmt.Sprintf("%d deliveries had a bad signature", L.BadSignatures))
	}
	if L.Unexpected > 0 {
		r.VoidReasons = append(r.VoidReasons, fmt.Sprintf("%d deliveries the run never published", L.Unexpected))
	}
	if r.Publish.Refused > 0 {
		r.VoidReasons = append(r.VoidReasons, fmt.Sprintf("the API refused %d events (%s)", r.Publish.Refused, r.Publish.FirstRefusal))
	}
	if r.Publish.Events == 0 {
		r.VoidReasons = append(r.VoidReasons, "no event was accepted")
	}
	if r.Ceiling.Errors > 0 && r.Ceiling.Requests == 0 {
		r.VoidReasons = append(r.VoidReasons, "the ceiling loop failed")
	}
	r.Void = len(r.VoidReasons) > 0
}

// Print writes the human table.
func (r *Report) Print(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "relaydesk bench: mode %s, store %s — %d CPUs (%s), %.0f GiB RAM, load %s, %s\n",
		r.Mode, r.Store, m.CPUs, m.CPU, m.MemGiB, m.LoadAvg, m.GoVersion)
	p := r.Params
	desc := fmt.Sprintf("%d events, batch %d, concurrency %d, fanout %d", p.Events, p.Batch, p.Concurrency, p.Fanout)
	if r.Mode == ModeRate {
		desc = fmt.Sprintf("%d events/s for %gs (%d events, one per request, ≤%d in flight), fanout %d", p.Rate, p.DurationSec, p.Events, p.Concurrency, p.Fanout)
	}
	if p.Workers > 0 {
		desc += fmt.Sprintf(", server workers %d", p.Workers)
	}
	if p.Instances > 1 {
		desc += fmt.Sprintf(", %d serve processes on one database", p.Instances)
	}
	fmt.Fprintln(w, desc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "accepted\t%.0f events/s\t%d events in %.2f s\n", r.Publish.PerSec, r.Publish.Events, r.Publish.Seconds)
	fmt.Fprintf(tw, "delivered\t%.0f /s\t%d deliveries, first publish → last delivery %.2f s\n", r.Delivery.PerSec, r.Delivery.Delivered, r.Delivery.Seconds)
	fmt.Fprintf(tw, "ceiling\t%.0f /s\tbare signed 1 KiB POSTs, concurrency %d, %.1f s\n", r.Ceiling.PerSec, r.Ceiling.Concurrency, r.Ceiling.Seconds)
	fmt.Fprintf(tw, "ratio\t%.2f\tdelivered/s ÷ ceiling\n", r.Delivery.Ratio)
	if r.Delivery.MachineCPUms > 0 {
		fmt.Fprintf(tw, "CPU per delivery\t%.3f ms\twhole machine (server, database, receiver, publisher); server alone %.3f ms\n", r.Delivery.MachineCPUms, r.Delivery.ServerCPUms)
	}
	l := r.Delivery.Latency
	fmt.Fprintf(tw, "publish→delivery\tp50 %.1f ms\tp95 %.1f ms, p99 %.1f ms, max %.1f ms\n", l.P50, l.P95, l.P99, l.Max)
	if sp := r.Split; sp != nil {
		what := []string{}
		if sp.Ordering != "" {
			what = append(what, "ordering "+sp.Ordering)
		}
		if sp.RateLimit > 0 {
			what = append(what, fmt.Sprintf("≤ %d/s", sp.RateLimit))
		}
		e, o := sp.Endpoint0, sp.Others
		fmt.Fprintf(tw, "endpoint 0 (%s)	%.1f /s	%d delivered, p50 %.1f ms, p99 %.1f ms, at most %d in one second\n",
			strings.Join(what, ", "), e.PerSec, e.Delivered, e.Latency.P50, e.Latency.P99, e.PeakPerSecond)
		if o.Delivered > 0 {
			fmt.Fprintf(tw, "other endpoints	%.0f /s	%d delivered, p50 %.1f ms, p99 %.1f ms\n", o.PerSec, o.Delivered, o.Latency.P50, o.Latency.P99)
		}
	}
	if b := r.Backlog; b != nil {
		fmt.Fprintf(tw, "backlog queued\t%.0f events/s\t%d events (%d deliveries) in %.1f s, no workers\n", b.QueuedPerSec, b.Events, b.Deliveries, b.QueueSeconds)
		fmt.Fprintf(tw, "backlog drain\t%.0f /s\t%d delivered in %.1f s (first delivery %.1f s after start)\n", b.DrainPerSec, b.Delivered, b.DrainSeconds, b.StartToFirstSeconds)
		fmt.Fprintf(tw, "drain ratio\t%.2f\tdrain/s ÷ empty-queue delivered/s\n", b.Ratio)
	}
	if r.RSS.Samples > 0 {
		fmt.Fprintf(tw, "server memory\tpeak %.0f MB\tVmHWM; max sampled VmRSS %.0f MB (%d samples)\n", r.RSS.PeakMB, r.RSS.MaxSampledMB, r.RSS.Samples)
	}
	tw.Flush()
	L := r.Ledger
	mark := "balanced"
	if !L.Balanced {
		mark = "NOT balanced"
	}
	fmt.Fprintf(w, "ledger: published %d = delivered %d + failed %d + missing %d — %s (duplicates %d, bad signatures %d, unexpected %d)\n",
		L.Published, L.Delivered, L.Failed, L.Missing, mark, L.Duplicates, L.BadSignatures, L.Unexpected)
	if r.Void {
		fmt.Fprintf(w, "VOID: %s\n", strings.Join(r.VoidReasons, "; "))
	}
}
