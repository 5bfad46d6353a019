// Package metrics exports the runtime's Prometheus metrics (served by the HTTP API at
// http.metrics.endpoint when http.metrics.enabled).
//
// Counts are not kept twice: a custom collector reads the engine's connectors — their
// pipeline.Counters, status and plugin restarts — at scrape time. Only the stage latency histograms
// hold state of their own; the engine feeds them through the Observer hook. Labels are bounded:
// connector_key, connector_type ("source" | "sink") and, for errors and latencies, stage; with
// NewInstance every metric also carries the runtime's constant instance label.
//
// Names follow the original runtime where it has the metric (spec §9.1), and Vector's
// instrumentation spec for the ones it lacks:
//
//	iggy_connectors_sources_total, _sources_running, _sinks_total, _sinks_running   gauges
//	iggy_connectors_iggy_connected                                                   gauge 0/1
//	iggy_connectors_iggy_reconnects_total                                            counter
//	iggy_connector_messages_{produced,sent}_total                                    sources
//	iggy_connector_messages_{consumed,processed}_total                               sinks
//	iggy_connector_messages_{filtered,skipped,dead_lettered}_total                   both
//	iggy_connector_errors_total{stage}                                                both
//	iggy_connector_retries_total, iggy_connector_plugin_restarts_total               both
//	iggy_connector_batches_in_flight, iggy_connector_running                         gauges
//	iggy_connector_stage_duration_seconds{stage}                                     histogram
//
// plus the standard go_* and process_* collectors. A connector's counters live as long as the
// engine knows the connector: they survive restarts (API restart, SIGHUP reload of a changed
// config) and start again from zero only when a reload removes the connector and a later one adds
// it back, which Prometheus treats as a counter reset.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/pipeline"
)

// StageBuckets are the upper bounds of iggy_connector_stage_duration_seconds, the original's
// (50µs … 5s).
var StageBuckets = []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 5e-3, 10e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 5}

// Engine is what the collector reads at scrape time; *engine.Engine implements it.
type Engine interface {
	Connectors() []*engine.Connector
	IggyConnected() bool
	IggyReconnects() uint64
}

// Metrics is the runtime's registry. Create it before the engine (its Observer goes into
// engine.Options), then Attach the engine. Safe for concurrent use.
type Metrics struct {
	reg    *prometheus.Registry
	stages *prometheus.HistogramVec

	mu  sync.RWMutex
	eng Engine
}

// New creates the registry with the Go and process collectors and the connector collector (which
// reports nothing until Attach), without an instance label.
func New() *Metrics { return NewInstance("") }

// NewInstance is New with the constant label instance="<instance>" on every metric (none when
// instance is empty), so that the replicas of a scaled-out deployment can be told apart even where
// the scraper does not add its own target label. Prometheus renames it exported_instance unless the
// scrape job sets honor_labels: true (docs/scaleout.md).
func NewInstance(instance string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "iggy_connector_stage_duration_seconds",
			Help:    "Per-batch processing stage duration in seconds (sink: prepare, ffi, commit, total; source: prepare, iggy_send, state_save, total).",
			Buckets: StageBuckets,
		}, []string{"connector_key", "connector_type", "stage"}),
	}
	var reg prometheus.Registerer = m.reg
	if instance != "" {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"instance": instance}, m.reg)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.stages, &collector{m: m})
	return m
}

// Attach makes the collector report e's connectors. Call it once the engine exists (before or
// after Start).
func (m *Metrics) Attach(e Engine) {
	m.mu.Lock()
	m.eng = e
	m.mu.Unlock()
}

// Registry returns the registry (e.g. to register more collectors or to gather in tests).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format, or OpenMetrics when the scraper asks
// for it.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Observer returns the stage observer of one connector, for engine.Options.Observer. Each
// ObserveStage call records one sample of iggy_connector_stage_duration_seconds.
func (m *Metrics) Observer(kind config.Kind, key string) pipeline.Observer {
	return &observer{vec: m.stages, key: key, kind: string(kind)}
}

type observer struct {
	vec       *prometheus.HistogramVec
	key, kind string

	mu     sync.Mutex
	byName map[string]prometheus.Observer
}

func (o *observer) ObserveStage(stage string, d time.Duration) {
	o.mu.Lock()
	h, ok := o.byName[stage]
	if !ok {
		if o.byName == nil {
			o.byName = map[string]prometheus.Observer{}
		}
		h = o.vec.WithLabelValues(o.key, o.kind, stage)
		o.byName[stage] = h
	}
	o.mu.Unlock()
	h.Observe(d.Seconds())
}

var (
	connLabels  = []string{"connector_key", "connector_type"}
	stageLabels = []string{"connector_key", "connector_type", "stage"}

	descSourcesTotal   = prometheus.NewDesc("iggy_connectors_sources_total", "Source connectors the runtime knows (disabled and failed ones included).", nil, nil)
	descSourcesRunning = prometheus.NewDesc("iggy_connectors_sources_running", "Source connectors in status running.", nil, nil)
	descSinksTotal     = prometheus.NewDesc("iggy_connectors_sinks_total", "Sink connectors the runtime knows (disabled and failed ones included).", nil, nil)
	descSinksRunning   = prometheus.NewDesc("iggy_connectors_sinks_running", "Sink connectors in status running.", nil, nil)
	descIggyConnected  = prometheus.NewDesc("iggy_connectors_iggy_connected", "1 when the runtime's own Iggy connection is up, else 0.", nil, nil)
	descIggyReconnects = prometheus.NewDesc("iggy_connectors_iggy_reconnects_total", "Re-established Iggy connections, over every Iggy client of the runtime.", nil, nil)

	descProduced     = prometheus.NewDesc("iggy_connector_messages_produced_total", "Messages received from the source plugin's polls.", connLabels, nil)
	descSent         = prometheus.NewDesc("iggy_connector_messages_sent_total", "Messages a source sent to Iggy (acknowledged by the server).", connLabels, nil)
	descConsumed     = prometheus.NewDesc("iggy_connector_messages_consumed_total", "Messages a sink polled from Iggy.", connLabels, nil)
	descProcessed    = prometheus.NewDesc("iggy_connector_messages_processed_total", "Messages the sink plugin reported written.", connLabels, nil)
	descFiltered     = prometheus.NewDesc("iggy_connector_messages_filtered_total", "Messages intentionally dropped by a transform.", connLabels, nil)
	descSkipped      = prometheus.NewDesc("iggy_connector_messages_skipped_total", "Messages that failed permanently and were dropped by on_error = \"skip\".", connLabels, nil)
	descDeadLettered = prometheus.NewDesc("iggy_connector_messages_dead_lettered_total", "Messages that failed permanently and were produced to the dead-letter topic.", connLabels, nil)
	descErrors       = prometheus.NewDesc("iggy_connector_errors_total", "Errors by pipeline stage (open, poll, decode, transform, encode, plugin, iggy_send, commit, state_save, dead_letter); retried ones included.", stageLabels, nil)
	descRetries      = prometheus.NewDesc("iggy_connector_retries_total", "Retried calls (plugin, Iggy, state).", connLabels, nil)
	descRestarts     = prometheus.NewDesc("iggy_connector_plugin_restarts_total", "Restarts of the connector's plugin process after it died (transport = \"process\").", connLabels, nil)
	descInFlight     = prometheus.NewDesc("iggy_connector_batches_in_flight", "Batches taken from Iggy or the plugin and not yet committed.", connLabels, nil)
	descRunning      = prometheus.NewDesc("iggy_connector_running", "1 when the connector is in status running, else 0.", connLabels, nil)
)

// collector reports the engine's state at scrape time.
type collector struct{ m *Metrics }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSourcesTotal, descSourcesRunning, descSinksTotal, descSinksRunning,
		descIggyConnected, descIggyReconnects, descProduced, descSent, descConsumed, descProcessed, descFiltered,
		descSkipped, descDeadLettered, descErrors, descRetries, descRestarts, descInFlight, descRunning} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.RLock()
	e := c.m.eng
	c.m.mu.RUnlock()
	if e == nil {
		return
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	var sources, sourcesRunning, sinks, sinksRunning float64
	for _, conn := range e.Connectors() {
		key, kind := conn.Key, string(conn.Kind)
		running := 0.0
		if conn.State.Status() == pipeline.StatusRunning {
			running = 1
		}
		if conn.Kind == config.KindSource {
			sources++
			sourcesRunning += running
		} else {
			sinks++
			sinksRunning += running
		}
		k := conn.Counters
		if conn.Kind == config.KindSource {
			counter(descProduced, k.Produced.Load(), key, kind)
			counter(descSent, k.Sent.Load(), key, kind)
		} else {
			counter(descConsumed, k.Consumed.Load(), key, kind)
			counter(descProcessed, k.Processed.Load(), key, kind)
		}
		counter(descFiltered, k.Filtered.Load(), key, kind)
		counter(descSkipped, k.Skipped.Load(), key, kind)
		counter(descDeadLettered, k.DeadLettered.Load(), key, kind)
		counter(descRetries, k.Retries.Load(), key, kind)
		for stage, n := range k.ErrorsByStage() {
			counter(descErrors, n, key, kind, stage)
		}
		counter(descRestarts, conn.PluginRestarts(), key, kind)
		gauge(descInFlight, float64(k.InFlight.Load()), key, kind)
		gauge(descRunning, running, key, kind)
	}
	gauge(descSourcesTotal, sources)
	gauge(descSourcesRunning, sourcesRunning)
	gauge(descSinksTotal, sinks)
	gauge(descSinksRunning, sinksRunning)
	connected := 0.0
	if e.IggyConnected() {
		connected = 1
	}
	gauge(descIggyConnected, connected)
	counter(descIggyReconnects, e.IggyReconnects())
}
