package admin

import (
	"github.com/prometheus/client_golang/prometheus"
)

// TLSListenerStats are one TLS listener's handshake counters, as the
// transports keep them (cmd/zwamp copies them from netpoll's).
type TLSListenerStats struct {
	Listener     string // the listener's bound address: the metrics' "listener" label
	Handshakes   int64  // completed handshakes
	Resumed      int64  // of which resumed a session (ticket)
	Failures     int64  // failed or timed-out handshakes
	InProgress   int64  // handshakes running now
	Refused      int64  // connections closed at once by the bounds on handshakes in progress
	RefusedPerIP int64  // of Refused, by the per-address bound
}

var (
	descTLSCompleted = prometheus.NewDesc("zwamp_tls_handshakes_completed_total",
		"TLS handshakes completed, by listener.", []string{"listener"}, nil)
	descTLSResumed = prometheus.NewDesc("zwamp_tls_handshakes_resumed_total",
		"Completed TLS handshakes that resumed a session (ticket), by listener.", []string{"listener"}, nil)
	descTLSFailed = prometheus.NewDesc("zwamp_tls_handshakes_failed_total",
		"TLS handshakes that failed or timed out, by listener.", []string{"listener"}, nil)
	descTLSInProgress = prometheus.NewDesc("zwamp_tls_handshakes_in_progress",
		"TLS handshakes in progress, by listener.", []string{"listener"}, nil)
	descTLSRefused = prometheus.NewDesc("zwamp_tls_handshakes_refused_total",
		"Connections closed before their TLS handshake by the bounds on handshakes in progress, by listener and bound (total: the server-wide bound, per_ip: the per-address one).",
		[]string{"listener", "bound"}, nil)
)

// tlsCollector reads the TLS counters at scrape time.
type tlsCollector struct{ stats func() []TLSListenerStats }

func (c tlsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTLSCompleted, descTLSResumed, descTLSFailed, descTLSInProgress, descTLSRefused} {
		ch <- d
	}
}

func (c tlsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.stats() {
		ch <- prometheus.MustNewConstMetric(descTLSCompleted, prometheus.CounterValue, float64(l.Handshakes), l.Listener)
		ch <- prometheus.MustNewConstMetric(descTLSResumed, prometheus.CounterValue, float64(l.Resumed), l.Listener)
		ch <- prometheus.MustNewConstMetric(descTLSFailed, prometheus.CounterValue, float64(l.Failures), l.Listener)
		ch <- prometheus.MustNewConstMetric(descTLSInProgress, prometheus.GaugeValue, float64(l.InProgress), l.Listener)
		ch <- prometheus.MustNewConstMetric(descTLSRefused, prometheus.CounterValue, float64(l.Refused-l.RefusedPerIP), l.Listener, "total")
		ch <- prometheus.MustNewConstMetric(descTLSRefused, prometheus.CounterValue, float64(l.RefusedPerIP), l.Listener, "per_ip")
	}
}

// RegisterTLSMetrics exports the TLS listeners' handshake counters on
// /metrics; stats is called at each scrape and returns one entry per TLS
// listener (none: no TLS series).
func (s *Server) RegisterTLSMetrics(stats func() []TLSListenerStats) {
	s.reg.MustRegister(tlsCollector{stats})
}
