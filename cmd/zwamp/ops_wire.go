package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zwamp/zwamp/netpoll"
)

// wireCollector exports the transports' bytes in and out
// (netpoll.Server.WireStats), read at scrape time.
type wireCollector struct{ srv *netpoll.Server }

var (
	descBytesIn  = prometheus.NewDesc("zwamp_transport_received_bytes_total", "Bytes received by transport kind (websocket, rawsocket; handshake: connections that never finished their opening handshake) and TLS; the transport protocol's bytes, TLS records excluded.", []string{"transport", "tls"}, nil)
	descBytesOut = prometheus.NewDesc("zwamp_transport_sent_bytes_total", "Bytes sent by transport kind and TLS; the transport protocol's bytes, TLS records excluded.", []string{"transport", "tls"}, nil)
)

func (wireCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBytesIn
	ch <- descBytesOut
}

func (c wireCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.srv.WireStats() {
		tls := strconv.FormatBool(w.TLS)
		ch <- prometheus.MustNewConstMetric(descBytesIn, prometheus.CounterValue, float64(w.BytesIn), w.Transport, tls)
		ch <- prometheus.MustNewConstMetric(descBytesOut, prometheus.CounterValue, float64(w.BytesOut), w.Transport, tls)
	}
}
