package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zwamp/zwamp/core"
)

// opsCollector exports write coalescing, sessions by transport and
// serializer, and logins by authentication method, read at scrape time.
type opsCollector struct{ r *core.Router }

var (
	descWrites      = prometheus.NewDesc("zwamp_messages_per_write", "WAMP messages carried by one socket write (write coalescing); buckets 1, 3, 7, … (core.WritesHistogram).", nil, nil)
	descSessionsBy  = prometheus.NewDesc("zwamp_sessions_by_transport", "WAMP sessions joined, by realm, transport kind and serializer.", []string{"realm", "transport", "serializer"}, nil)
	descAuthMethods = prometheus.NewDesc("zwamp_auth_logins_total", "Logins by authentication method and outcome: success (the session joined), failure (the authenticator refused the credentials).", []string{"method", "outcome"}, nil)

	uriLabels     = []string{"pattern", "match"}
	descURIPub    = prometheus.NewDesc("zwamp_uri_publishes_total", "Publications to topics matching an opt-in URI pattern (admin.uri_metrics), by pattern.", uriLabels, nil)
	descURIEvents = prometheus.NewDesc("zwamp_uri_events_total", "EVENTs delivered for publications to topics matching an opt-in URI pattern, by pattern.", uriLabels, nil)
	descURICalls  = prometheus.NewDesc("zwamp_uri_calls_total", "CALLs to procedures matching an opt-in URI pattern, by pattern.", uriLabels, nil)
)

func (opsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descWrites
	ch <- descSessionsBy
	ch <- descAuthMethods
	ch <- descURIPub
	ch <- descURIEvents
	ch <- descURICalls
}

func (c opsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- constHistogram(descWrites, core.WritesHistogram())
	for _, realm := range c.r.Realms() {
		for _, sc := range realm.SessionCounts() {
			ch <- prometheus.MustNewConstMetric(descSessionsBy, prometheus.GaugeValue, float64(sc.Sessions), realm.Name(), sc.Transport, sc.Serializer)
		}
	}
	for _, a := range core.AuthMethodCounts() {
		ch <- prometheus.MustNewConstMetric(descAuthMethods, prometheus.CounterValue, float64(a.Successes), a.Method, "success")
		ch <- prometheus.MustNewConstMetric(descAuthMethods, prometheus.CounterValue, float64(a.Failures), a.Method, "failure")
	}
	for _, u := range core.URICounts() {
		ch <- prometheus.MustNewConstMetric(descURIPub, prometheus.CounterValue, float64(u.Publishes), u.URI, u.Match)
		ch <- prometheus.MustNewConstMetric(descURIEvents, prometheus.CounterValue, float64(u.Events), u.URI, u.Match)
		ch <- prometheus.MustNewConstMetric(descURICalls, prometheus.CounterValue, float64(u.Calls), u.URI, u.Match)
	}
}
