// Package admin is the daemon's admin HTTP listener: /healthz (the process
// answers), /readyz (listeners accepting, not draining), /metrics (the
// Prometheus text format), /status (a live page, with /status.json behind
// it) and whatever else the daemon mounts on it (the HTTP bridges).
//
// Metrics are read at scrape time from counters the router and the
// transports keep anyway (core.Router.Stats, the netpoll server's Stats):
// nothing is counted on the message path for the sake of /metrics. admin
// imports core; it never imports netpoll (cmd/zwamp hands it the
// transports' counters as functions).
package admin
