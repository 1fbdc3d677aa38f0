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

// slowListed and slowMinPending bound the slow consumers /status lists:
// the 10 connections with the most output waiting, from 64 KiB up (less
// is a burst in flight, not a peer falling behind).
const (
	slowListed     = 10
	slowMinPending = 64 << 10
)

type slowConsumer struct {
	Remote    string `json:"remote"`
	Transport string `json:"transport"`
	Protocol  string `json:"protocol"`
	Pending   int64  `json:"pending_bytes"`
}

func slowConsumers(srv *netpoll.Server) []slowConsumer {
	out := []slowConsumer{}
	for _, p := range srv.SlowConsumers(slowListed, slowMinPending) {
		out = append(out, slowConsumer{p.Remote, p.Transport, p.Protocol, p.Pending})
	}
	return out
}
