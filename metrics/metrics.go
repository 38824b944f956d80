// Package metrics owns every metric GPMD exports: their names, help, labels
// and buckets, in one registry of its own (never the client library's
// global default registry), served in the Prometheus text format by
// Handler on the control port's GET /metrics. docs/metrics.md lists them.
//
// The packages that do the work do not import this one: gmp and the
// control API each declare the small observer interface they report
// through (gmp.Observer, control.Observer), and *Metrics satisfies both;
// the daemon wires them. What is cheaper to read than to track (live GMP
// connections, registered nodes, the store's size) is read at scrape time
// through Sources.
//
// Guarantees: every method is safe for concurrent use and does not block
// (counters and histograms are atomic); a nil *Metrics is not valid: the
// reporters default to their own no-op observers instead. A scrape never
// fails as a whole because one source fails: the failing metric is left
// out and the error logged.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ghost-network/gpmd/index"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every GPMD metric.
const namespace = "gpmd"

// storeTimeout bounds the index read a scrape makes.
const storeTimeout = 5 * time.Second

// Protocols of the download metrics' "protocol" label.
const (
	ProtocolHTTP = "http" // the control API (gpmd wasm get)
	ProtocolGMP  = "gmp"  // MODULE replies to GVM nodes
)

// Sources are read at each scrape; a nil field leaves its metric out.
type Sources struct {
	// GMPConns is the number of open GMP connections.
	GMPConns func() int
	// GMPNodes is the number of live node registrations.
	GMPNodes func() int
	// Store counts the module store (modules, versions, blobs, bytes).
	Store func(ctx context.Context) (index.Stats, error)
	// Events is the number of events published; EventsDropped how many
	// were dropped from subscribers' queues (slow subscribers told
	// overflow); EventSubscribers the subscriptions open now (GMP and SSE).
	Events           func() uint64
	EventsDropped    func() uint64
	EventSubscribers func() int
}

// Metrics is GPMD's registry and the metrics in it.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	uploads        prometheus.Counter
	uploadBytes    prometheus.Counter
	uploadDuration prometheus.Histogram
	uploadFailures *prometheus.CounterVec // class

	downloads     *prometheus.CounterVec // protocol
	downloadBytes *prometheus.CounterVec // protocol

	gmpAccepted prometheus.Counter
	gmpClosed   *prometheus.CounterVec   // reason
	gmpRequests *prometheus.HistogramVec // message
	// gmpRequestsBy holds gmpRequests' children by message, never
	// changed once stored (requestHistogram); gmpRequestsMu serialises
	// the stores.
	gmpRequestsBy atomic.Pointer[map[string]prometheus.Observer]
	gmpRequestsMu sync.Mutex

	verifyTime     prometheus.Gauge
	verifyProblems prometheus.Gauge
	gcTime         prometheus.Gauge
	gcRemoved      prometheus.Gauge
	gcBytes        prometheus.Gauge
}

// New makes the registry with every metric, the Go runtime and process
// collectors, and the scrape-time sources. version labels gpmd_build_info.
func New(version string, src Sources, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), log: log}
	f := factory{m.reg}

	m.uploads = f.counter("uploads_total", "Module uploads that succeeded (a duplicate of stored bytes included).")
	m.uploadBytes = f.counter("upload_bytes_total", "Bytes of the modules uploaded successfully.")
	m.uploadDuration = f.histogram("upload_duration_seconds", "Time an upload took, from its request to its answer, successful or not.",
		prometheus.ExponentialBuckets(0.001, 4, 10)) // 1 ms … 262 s
	m.uploadFailures = f.counterVec("upload_failures_total", "Uploads that failed, by error class (the control API's error code, or canceled when the client gave up).", "class")

	m.downloads = f.counterVec("downloads_total", "Module downloads served in full, by protocol (http: the control API; gmp: MODULE replies).", "protocol")
	m.downloadBytes = f.counterVec("download_bytes_total", "Module bytes served in full downloads, by protocol.", "protocol")
	for _, p := range []string{ProtocolHTTP, ProtocolGMP} {
		m.downloads.WithLabelValues(p)
		m.downloadBytes.WithLabelValues(p)
	}

	m.gmpAccepted = f.counter("gmp_connections_accepted_total", "GMP connections accepted (those then refused as busy included).")
	m.gmpClosed = f.counterVec("gmp_connections_closed_total", "GMP connections closed, by reason (peer_closed, busy, message_timeout, bad_json, …).", "reason")
	m.gmpRequests = f.histogramVec("gmp_request_duration_seconds", "Time from a GMP request's arrival to the end of its reply, by message (HELLO, REGISTER, MODULE_REQUEST, …); _count is the number of requests.",
		prometheus.ExponentialBuckets(0.0001, 4, 10), "message") // 100 µs … 26 s

	m.gmpRequestsBy.Store(&map[string]prometheus.Observer{})

	m.verifyTime = f.gauge("verify_last_timestamp_seconds", "When the last gpmd verify finished (Unix time; 0: none since the daemon started).")
	m.verifyProblems = f.gauge("verify_last_problems", "Problems the last gpmd verify found.")
	m.gcTime = f.gauge("gc_last_timestamp_seconds", "When the last gpmd gc (not a dry run) finished (Unix time; 0: none since the daemon started).")
	m.gcRemoved = f.gauge("gc_last_removed_blobs", "Blobs the last gpmd gc removed.")
	m.gcBytes = f.gauge("gc_last_removed_bytes", "Bytes the last gpmd gc freed.")

	info := f.gaugeVec("build_info", "Always 1; the version label is the daemon's.", "version")
	info.WithLabelValues(version).Set(1)

	if src.GMPConns != nil {
		f.gaugeFunc("gmp_connections", "GMP connections open now.", src.GMPConns)
	}
	if src.GMPNodes != nil {
		f.gaugeFunc("gmp_nodes", "GVM nodes registered now.", src.GMPNodes)
	}
	if src.Events != nil {
		f.counterFunc("events_published_total", "Events published (GMP EVENT and the SSE stream), whatever their topic.", src.Events)
	}
	if src.EventsDropped != nil {
		f.counterFunc("events_dropped_total", "Events dropped from the queues of subscribers that fell behind (each was told overflow); one event dropped for two subscribers counts twice.", src.EventsDropped)
	}
	if src.EventSubscribers != nil {
		f.gaugeFunc("event_subscribers", "Event subscriptions open now (GMP SUBSCRIBE and SSE streams).", src.EventSubscribers)
	}
	if src.Store != nil {
		m.reg.MustRegister(&storeCollector{stats: src.Store, log: log})
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg, // promhttp_metric_handler_errors_total
	})
}

// Registry is the registry, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// factory makes metrics in GPMD's namespace and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeFunc(name, help string, fn func() int) {
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help},
		func() float64 { return float64(fn()) }))
}

func (f factory) counterFunc(name, help string, fn func() uint64) {
	f.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help},
		func() float64 { return float64(fn()) }))
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// storeCollector reads the store's counts at each scrape: one short index
// read, cheaper than keeping counters in step with uploads, removals and gc.
type storeCollector struct {
	stats func(ctx context.Context) (index.Stats, error)
	log   *slog.Logger
}

var (
	descModules  = prometheus.NewDesc(namespace+"_store_modules", "Module names in the store.", nil, nil)
	descVersions = prometheus.NewDesc(namespace+"_store_versions", "Module versions in the store.", nil, nil)
	descBlobs    = prometheus.NewDesc(namespace+"_store_blobs", "Distinct blobs (module bytes, once per digest) in the store.", nil, nil)
	descBytes    = prometheus.NewDesc(namespace+"_store_bytes", "Bytes of the distinct blobs in the store.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descModules
	ch <- descVersions
	ch <- descBlobs
	ch <- descBytes
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	st, err := c.stats(ctx)
	if err != nil {
		// Left out of this scrape (ContinueOnError serves the rest).
		c.log.Warn("metrics: counting the store", "err", err)
		ch <- prometheus.NewInvalidMetric(descVersions, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(descModules, prometheus.GaugeValue, float64(st.Modules))
	ch <- prometheus.MustNewConstMetric(descVersions, prometheus.GaugeValue, float64(st.Versions))
	ch <- prometheus.MustNewConstMetric(descBlobs, prometheus.GaugeValue, float64(st.Blobs))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.Bytes))
}
