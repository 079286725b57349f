// Package metrics counts what an operator watches: messages, permission
// prompts and their answers, spokes started and killed, spawn and model
// latency, model retries, egress denials and store errors, in Prometheus
// form (prometheus/client_golang). Each Metrics has its own registry, so
// tests and several deployments in one process never share counters.
//
// The hub, gate and sandbox are not changed to call it: cli/ wiring wraps
// the model, the store, the spawner and the assistant with the decorators
// in wrap.go, and feeds it the hub's trace and the sandbox's egress audit.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/secgpt-go/secgpt/core/vocab"
)

// Metrics holds the collectors. A nil *Metrics records nothing, so callers
// need no checks when metrics are off.
type Metrics struct {
	reg *prometheus.Registry

	messages      *prometheus.CounterVec
	prompts       *prometheus.CounterVec
	grantsUsed    *prometheus.CounterVec
	spokesStarted *prometheus.CounterVec
	spokesKilled  *prometheus.CounterVec
	spawnSeconds  prometheus.Histogram
	modelSeconds  *prometheus.HistogramVec
	modelRetries  *prometheus.CounterVec
	egressDenied  *prometheus.CounterVec
	storeErrors   *prometheus.CounterVec
	unaudited     *prometheus.CounterVec
}

// Latency buckets: spawns take ~2 ms from the pool and ~50 ms cold; model
// calls from a few hundred ms to the two-minute timeout.
var (
	spawnBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	modelBuckets = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 120}
)

// New returns Metrics registered in a fresh registry, together with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_messages_total", Help: "User messages handed to the assistant, by platform.",
		}, []string{"platform"}),
		prompts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_prompts_total", Help: "Permission prompts decided, by kind (exec, data, collab) and decision (once, session, always, deny).",
		}, []string{"kind", "decision"}),
		grantsUsed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_grants_used_total", Help: "Permission requests answered by a stored grant without a prompt, by kind.",
		}, []string{"kind"}),
		spokesStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_spokes_started_total", Help: "Spoke processes started, by outcome of the start (ok, error).",
		}, []string{"result"}),
		spokesKilled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_spokes_killed_total", Help: "Spokes that ended without an answer, by reason.",
		}, []string{"reason"}),
		spawnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "secgpt_spawn_seconds", Help: "Time to start and confine one spoke.", Buckets: spawnBuckets,
		}),
		modelSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "secgpt_model_seconds", Help: "Duration of one model call, retries included, by result (ok, error).", Buckets: modelBuckets,
		}, []string{"result"}),
		modelRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_model_retries_total", Help: "Model requests sent again, by the status that caused it (0: connection error).",
		}, []string{"status"}),
		egressDenied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_egress_denied_total", Help: "Spoke connections refused by the egress proxy, by app.",
		}, []string{"app"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_store_errors_total", Help: "State store calls that failed (not-found excluded), by operation.",
		}, []string{"op"}),
		unaudited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "secgpt_unaudited_total", Help: "Audit entries that could not be written after retries, so what they recorded was refused, by entry type.",
		}, []string{"type"}),
	}
	m.reg.MustRegister(m.messages, m.prompts, m.grantsUsed, m.spokesStarted, m.spokesKilled,
		m.spawnSeconds, m.modelSeconds, m.modelRetries, m.egressDenied, m.storeErrors, m.unaudited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the registry, for tests and for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Message counts one user message; platform is the user id's prefix
// ("slack", "matrix", "terminal").
func (m *Metrics) Message(platform string) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(boundLabel(platform, knownPlatforms)).Inc()
}

// Decision counts one permission decision as the gate audits it: a stored
// grant ("grant:always") or a prompt's answer ("once", "deny", …).
func (m *Metrics) Decision(kind, decision string) {
	if m == nil {
		return
	}
	kind = boundLabel(kind, knownKinds)
	if strings.HasPrefix(decision, "grant:") {
		m.grantsUsed.WithLabelValues(kind).Inc()
		return
	}
	m.prompts.WithLabelValues(kind, boundLabel(decision, knownDecisions)).Inc()
}

// SpawnDone records one spoke start and how long it took.
func (m *Metrics) SpawnDone(d time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.spokesStarted.WithLabelValues("error").Inc()
		return
	}
	m.spokesStarted.WithLabelValues("ok").Inc()
	m.spawnSeconds.Observe(d.Seconds())
}

// SpokeKilled counts a spoke that ended without an answer; reason is the
// sandbox's or hub's kill reason, reduced to a small fixed set of labels.
func (m *Metrics) SpokeKilled(reason string) {
	if m == nil {
		return
	}
	m.spokesKilled.WithLabelValues(KillReason(reason)).Inc()
}

// ModelDone records one model call.
func (m *Metrics) ModelDone(d time.Duration, err error) {
	if m == nil {
		return
	}
	res := "ok"
	if err != nil {
		res = "error"
	}
	m.modelSeconds.WithLabelValues(res).Observe(d.Seconds())
}

// ModelRetry counts one resend; it fits provider.Config.OnRetry.
func (m *Metrics) ModelRetry(status int, _ time.Duration) {
	if m == nil {
		return
	}
	s := strconv.Itoa(status)
	if status < 0 || status > 599 {
		s = "other"
	}
	m.modelRetries.WithLabelValues(s).Inc()
}

// EgressDenied counts one refused spoke connection.
func (m *Metrics) EgressDenied(app string) {
	if m == nil {
		return
	}
	m.egressDenied.WithLabelValues(app).Inc()
}

// StoreError counts one failed store call.
func (m *Metrics) StoreError(op string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(op).Inc()
}

// Unaudited counts one audit entry that could not be written; the hub
// refused the decision or flow it recorded.
func (m *Metrics) Unaudited(entryType string) {
	if m == nil {
		return
	}
	m.unaudited.WithLabelValues(boundLabel(entryType, knownAuditTypes)).Inc()
}

var (
	knownAuditTypes = []string{string(vocab.AuditDecision), string(vocab.AuditAnswer), string(vocab.AuditFlow), string(vocab.AuditBlockedFlow)}
	knownPlatforms  = []string{"slack", "matrix", "terminal"}
	knownKinds      = []string{"exec", "data", "collab"}
	knownDecisions  = []string{"once", "session", "always", "deny"}
)

// boundLabel keeps label values to a known set: values that come from
// outside (a user id's prefix, a stored field) must not grow the series
// without bound.
func boundLabel(v string, known []string) string {
	for _, k := range known {
		if v == k {
			return v
		}
	}
	return "other"
}

// KillReason maps a free-text kill reason to a label: timeout, cancelled,
// memory, cpu, procs, seccomp, protocol, closed, or error.
func KillReason(reason string) string {
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "timeout") || strings.Contains(r, "timed out") || strings.Contains(r, "deadline"):
		return "timeout"
	case strings.Contains(r, "cancel"):
		return "cancelled"
	case strings.Contains(r, "memory"):
		return "memory"
	case strings.Contains(r, "cpu"):
		return "cpu"
	case strings.Contains(r, "process/thread"):
		return "procs"
	case strings.Contains(r, "seccomp") || strings.Contains(r, "system call"):
		return "seccomp"
	case strings.Contains(r, "protocol") || strings.Contains(r, "frame") || strings.Contains(r, "schema"):
		return "protocol"
	case strings.Contains(r, "closed"):
		return "closed"
	}
	return "error"
}
