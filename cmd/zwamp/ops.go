package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/zwamp/zwamp/admin"
	"github.com/zwamp/zwamp/bridge"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// AdminConfig is the admin HTTP listener (/healthz, /readyz, /metrics and
// the HTTP bridges). Absent from the file, it runs on DefaultAdmin if that
// address is free (a warning otherwise); present, it must start.
type AdminConfig struct {
	Address  string     `json:"address"`  // host:port, default 127.0.0.1:8081
	Token    string     `json:"token"`    // bearer token for /metrics, /status and the bridges
	TLS      *TLSConfig `json:"tls"`      // serve HTTPS with this certificate
	Disabled bool       `json:"disabled"` // no admin listener at all
	// URIMetrics lists URI patterns that get their own publish, event and
	// call counters in /metrics and on /status (off when empty).
	URIMetrics []core.URIPattern `json:"uri_metrics"`
}

// DefaultAdmin is the admin listener's address when the file names none.
const DefaultAdmin = "127.0.0.1:8081"

// BridgeConfig is one HTTP bridge (Crossbar's /publish and /call) to a
// realm, served on the admin listener under Prefix.
type BridgeConfig struct {
	Realm  string `json:"realm"`
	Prefix string `json:"prefix"` // default /bridge/REALM
	Token  string `json:"token"`  // bearer token, in addition to the admin token
	// Key and Secret require Crossbar-signed requests (bridge.Signing);
	// TimestampDeltaLimit bounds the timestamp's skew in seconds (default
	// 300, Crossbar's option name).
	Key                 string          `json:"key"`
	Secret              string          `json:"secret"`
	TimestampDeltaLimit int             `json:"timestamp_delta_limit"`
	AuthID              string          `json:"authid"`   // the bridge session's authid, default http-bridge
	AuthRole            string          `json:"authrole"` // its role (permissions on a realm with roles), default http-bridge
	MaxBody             int64           `json:"max_body"` // bytes, default 1 MiB
	CallTimeout         Duration        `json:"call_timeout"`
	Webhooks            []WebhookConfig `json:"webhooks"`
}

// WebhookConfig POSTs the events of a subscription to a URL.
type WebhookConfig struct {
	Topic   string   `json:"topic"`
	Match   string   `json:"match"` // exact (default), prefix, wildcard
	URL     string   `json:"url"`
	Queue   int      `json:"queue"`   // events waiting, default 1024; beyond it dropped and counted
	Retries int      `json:"retries"` // default 3
	Timeout Duration `json:"timeout"` // one POST, default 10s
}

// ops is the running admin listener and bridges.
type ops struct {
	admin   *admin.Server
	bridges []*bridge.Bridge
	drain   chan struct{} // POST /drain
}

// drainRequested is signalled by POST /drain (never without an admin
// listener).
func (o *ops) drainRequested() <-chan struct{} { return o.drain }

// startOps starts the admin listener and the bridges once the router and
// its transports are up.
func startOps(c *Config, r *core.Router, srv *netpoll.Server, log *slog.Logger) (*ops, error) {
	ac := AdminConfig{Address: DefaultAdmin}
	explicit := c.Admin != nil
	if explicit {
		ac = *c.Admin
	}
	if ac.Disabled {
		if len(c.Bridges) > 0 {
			return nil, errors.New("bridges: they are served on the admin listener, which admin.disabled turns off")
		}
		return &ops{}, nil
	}
	if err := core.SetURICounters(ac.URIMetrics); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	acfg := admin.Config{Address: ac.Address, Token: ac.Token}
	if ac.TLS != nil {
		cert, err := tls.LoadX509KeyPair(ac.TLS.Cert, ac.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("admin: tls: %w", err)
		}
		acfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	o := &ops{admin: admin.New(acfg, r, nil, log), drain: make(chan struct{}, 1)}
	o.admin.SetDrainHandler(func() {
		select {
		case o.drain <- struct{}{}:
		default: // already asked
		}
	})
	registerNetpollMetrics(o.admin.Registry(), srv)
	o.admin.RegisterTLSMetrics(tlsMetrics(srv))
	o.admin.SetStatusExtra(func() map[string]any {
		st := srv.Stats()
		return map[string]any{
			"accepted": st.Accepted, "handshake_failures": st.HandshakeFailures, "framing_errors": st.FramingErrors,
			"slow_consumer_closes": st.SlowCloses, "slow_consumer_drops": st.SlowDrops, "ping_timeouts": st.PingTimeouts,
			// The connections furthest behind right now (ops_wire.go).
			"slow_consumers": slowConsumers(srv),
		}
	})
	for i, bc := range c.Bridges {
		b, err := newBridge(bc, r, log)
		if err != nil {
			o.stop(context.Background())
			return nil, fmt.Errorf("bridges[%d]: %w", i, err)
		}
		o.bridges = append(o.bridges, b)
		prefix := bc.Prefix
		if prefix == "" {
			prefix = "/bridge/" + bc.Realm
		}
		o.admin.Mount(prefix, b.Handler())
		log.Info("http bridge", "realm", bc.Realm, "publish", strings.TrimSuffix(prefix, "/")+"/publish", "call", strings.TrimSuffix(prefix, "/")+"/call")
	}
	if err := o.admin.Start(); err != nil {
		if explicit {
			o.stop(context.Background())
			return nil, err
		}
		// The default admin port is a convenience: a second router on the
		// same host (or a test) must not fail for want of it.
		log.Warn("admin listener not started; set admin.address or admin.disabled in the config", "error", err)
		o.admin = nil
	}
	return o, nil
}

func newBridge(bc BridgeConfig, r *core.Router, log *slog.Logger) (*bridge.Bridge, error) {
	if bc.Realm == "" {
		return nil, errors.New("realm missing")
	}
	cfg := bridge.Config{Realm: bc.Realm, AuthID: bc.AuthID, AuthRole: bc.AuthRole, Token: bc.Token, MaxBody: bc.MaxBody, CallTimeout: time.Duration(bc.CallTimeout)}
	if bc.Key != "" || bc.Secret != "" {
		cfg.Signing = &bridge.Signing{Key: bc.Key, Secret: bc.Secret, MaxSkew: time.Duration(bc.TimestampDeltaLimit) * time.Second}
	}
	for _, w := range bc.Webhooks {
		cfg.Webhooks = append(cfg.Webhooks, bridge.Webhook{Topic: w.Topic, Match: w.Match, URL: w.URL, Queue: w.Queue, Retries: w.Retries, Timeout: time.Duration(w.Timeout)})
	}
	return bridge.New(r, cfg, log)
}

// draining makes /readyz answer 503 while the router shuts down.
func (o *ops) draining() {
	if o.admin != nil {
		o.admin.SetDraining()
	}
}

// stop ends the bridges' sessions and the admin listener.
func (o *ops) stop(ctx context.Context) {
	for _, b := range o.bridges {
		b.Close()
	}
	if o.admin != nil {
		_ = o.admin.Shutdown(ctx)
	}
}

// registerNetpollMetrics exports the transports' counters, read at scrape
// time.
func registerNetpollMetrics(reg *prometheus.Registry, srv *netpoll.Server) {
	counter := func(name, help string, f func(netpoll.Stats) int64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(srv.Stats())) }))
	}
	reg.MustRegister(wireCollector{srv})
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zwamp_transport_connections", Help: "Open transport connections."},
		func() float64 { return float64(srv.Stats().Conns) }))
	counter("zwamp_transport_accepted_total", "Connections accepted.", func(s netpoll.Stats) int64 { return s.Accepted })
	counter("zwamp_transport_handshake_failures_total", "Refused or timed-out opening handshakes.", func(s netpoll.Stats) int64 { return s.HandshakeFailures })
	counter("zwamp_transport_framing_errors_total", "Connections failed for a framing violation.", func(s netpoll.Stats) int64 { return s.FramingErrors })
	counter("zwamp_slow_consumer_drops_total", "Messages dropped for slow consumers.", func(s netpoll.Stats) int64 { return s.SlowDrops })
	counter("zwamp_slow_consumer_closes_total", "Connections closed as slow consumers.", func(s netpoll.Stats) int64 { return s.SlowCloses })
	counter("zwamp_transport_too_large_total", "Outgoing messages over the peer's RawSocket limit, dropped.", func(s netpoll.Stats) int64 { return s.TooLarge })
	counter("zwamp_ping_timeouts_total", "Connections closed by keepalive.", func(s netpoll.Stats) int64 { return s.PingTimeouts })
	counter("zwamp_transport_refused_per_ip_total", "Connections refused at accept by limits.max_conns_per_ip.", func(s netpoll.Stats) int64 { return s.RefusedPerIP })
	counter("zwamp_transport_register_failures_total", "Accepted connections closed because the poller could not take them (open-files limit).", func(s netpoll.Stats) int64 { return s.RegisterFailures })
}
