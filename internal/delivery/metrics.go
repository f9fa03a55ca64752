package delivery

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relaydesk/relaydesk/internal/store"
)

// Metric names (Prometheus).
const (
	MetricDeliveries     = "relaydesk_deliveries_total"
	MetricAttemptSeconds = "relaydesk_delivery_attempt_duration_seconds"
	MetricQueueDepth     = "relaydesk_delivery_queue_depth"
	MetricOldestDueAge   = "relaydesk_delivery_oldest_due_age_seconds"
	MetricDeliverSeconds = "relaydesk_delivery_latency_seconds"
)

type metrics struct {
	s          *Service
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	endToEnd   prometheus.Histogram
	depth      *prometheus.Desc
	oldest     *prometheus.Desc
}

func newMetrics(s *Service) *metrics {
	return &metrics{
		s: s,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricDeliveries,
			Help: "Delivery state changes by result: succeeded, retrying, failed, cancelled, throttled (held by the endpoint's rate limit), skipped (at publish)."}, []string{"result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricAttemptSeconds,
			Help:    "Duration of delivery attempts (request sent to response body read), by class of answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}}, []string{"status"}),
		// Publish to success, so time spent waiting — throttled by a rate limit, behind an
		// ordered endpoint's head, in retries — shows, not only the last attempt's.
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{Name: MetricDeliverSeconds,
			Help:    "Time from publish to a successful delivery, waiting (queue, rate limit, publish order, retries) included.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 86400}}),
		depth:  prometheus.NewDesc(MetricQueueDepth, "Deliveries waiting for an attempt or in one (pending, retrying, throttled, delivering).", nil, nil),
		oldest: prometheus.NewDesc(MetricOldestDueAge, "How long the oldest delivery that is due has been waiting, in seconds (0 when none).", nil, nil),
	}
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.deliveries, m.latency, m.endToEnd, m} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *metrics) published(ds []Delivery) {
	for _, d := range ds {
		if d.State == Skipped {
			m.deliveries.WithLabelValues(string(Skipped)).Inc()
		}
	}
}

func (m *metrics) result(st State) { m.deliveries.WithLabelValues(string(st)).Inc() }

func (m *metrics) delivered(since time.Duration) { m.endToEnd.Observe(since.Seconds()) }

func (m *metrics) attempt(r Result) {
	class := "error"
	if r.Err == nil {
		class = strconv.Itoa(r.Status/100) + "xx"
	}
	m.latency.WithLabelValues(class).Observe(r.Duration.Seconds())
}

// Describe and Collect make the queue gauges read the database at scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.depth; ch <- m.oldest }

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := m.s.now()
	var depth int64
	var oldest sql.NullInt64
	err := m.s.DB.QueryRow(ctx, `SELECT COUNT(*), MIN(CASE WHEN state <> ? AND next_attempt_at <= ? THEN next_attempt_at END)
		FROM deliveries WHERE state IN (?, ?, ?, ?)`, Delivering, store.Micros(now), Pending, Retrying, Throttled, Delivering).Scan(&depth, &oldest)
	if err != nil {
		m.s.Log.Warn("delivery metrics", "err", err)
		return
	}
	age := 0.0
	if oldest.Valid {
		age = now.Sub(store.Time(oldest.Int64)).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(m.depth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, age)
}
