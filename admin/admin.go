package admin

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zwamp/zwamp/core"
)

// Config configures the admin listener.
type Config struct {
	// Address is host:port (default 127.0.0.1:8081).
	Address string
	// Token, when set, is the bearer token /metrics, /status and the
	// mounted handlers require; /healthz and /readyz stay open for probes.
	Token string
	// TLS, when set, serves HTTPS.
	TLS *tls.Config
}

// Server is the admin HTTP listener.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	reg      *prometheus.Registry
	srv      *http.Server
	ln       net.Listener
	draining atomic.Bool
	ready    func() bool

	router      *core.Router
	started     time.Time
	statusExtra func() map[string]any
	onDrain     atomic.Pointer[func()]
}

// New builds an admin server for r; ready reports whether the transports
// accept connections (nil: always). Register further metrics with
// Registry and mount handlers with Mount before Start.
func New(cfg Config, r *core.Router, ready func() bool, log *slog.Logger) *Server {
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:8081"
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{cfg: cfg, log: log, mux: http.NewServeMux(), reg: prometheus.NewRegistry(), ready: ready, router: r, started: time.Now()}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reg.MustRegister(routerCollector{r}, opsCollector{r})
	s.mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.mux.HandleFunc("/readyz", s.readyz)
	s.mux.Handle("/metrics", s.guard(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	s.mux.Handle("GET /status", s.guard(http.HandlerFunc(s.statusHTML)))
	s.mux.Handle("GET /status.json", s.guard(http.HandlerFunc(s.statusJSON)))
	s.mux.Handle("POST /drain", s.guard(http.HandlerFunc(s.drain)))
	return s
}

// Registry is where the daemon registers the transports' collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Mount serves h under prefix (stripped), behind the bearer token.
func (s *Server) Mount(prefix string, h http.Handler) {
	prefix = "/" + strings.Trim(prefix, "/")
	s.mux.Handle(prefix+"/", s.guard(http.StripPrefix(prefix, h)))
}

// SetDrainHandler sets what POST /drain does (the daemon starts its drain);
// without one, POST /drain answers 501.
func (s *Server) SetDrainHandler(fn func()) { s.onDrain.Store(&fn) }

func (s *Server) drain(w http.ResponseWriter, _ *http.Request) {
	fn := s.onDrain.Load()
	if fn == nil {
		http.Error(w, "this server cannot drain", http.StatusNotImplemented)
		return
	}
	s.SetDraining()
	(*fn)()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "draining")
}

// SetDraining makes /readyz answer 503 from now on, so a load balancer
// stops sending new connections while sessions are moved away.
func (s *Server) SetDraining() { s.draining.Store(true) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	switch {
	case s.draining.Load():
		http.Error(w, "draining", http.StatusServiceUnavailable)
	case s.ready != nil && !s.ready():
		http.Error(w, "not accepting connections", http.StatusServiceUnavailable)
	default:
		fmt.Fprintln(w, "ready")
	}
}

func (s *Server) guard(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="zwamp admin"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Start binds the address (an error names it) and serves in the
// background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("admin listener %s: %w", s.cfg.Address, err)
	}
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.log.Info("admin listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil)
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener", "error", err)
		}
	}()
	return nil
}

// Addr is the bound address (after Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops the listener, letting requests in progress finish until
// ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// routerCollector reads core.Router.Stats at scrape time.
type routerCollector struct{ r *core.Router }

var (
	descConns      = prometheus.NewDesc("zwamp_connections", "Transport connections attached to the router.", nil, nil)
	descSessions   = prometheus.NewDesc("zwamp_sessions", "WAMP sessions joined, all realms.", nil, nil)
	descRealm      = prometheus.NewDesc("zwamp_realm_sessions", "WAMP sessions joined, by realm.", []string{"realm"}, nil)
	descViolations = prometheus.NewDesc("zwamp_protocol_violations_total", "Sessions aborted with wamp.error.protocol_violation.", nil, nil)
	descDecode     = prometheus.NewDesc("zwamp_decode_errors_total", "Incoming messages that could not be decoded.", nil, nil)
	descEncode     = prometheus.NewDesc("zwamp_encode_errors_total", "Outgoing messages that could not be encoded (e.g. transcoding).", nil, nil)
	descErrors     = prometheus.NewDesc("zwamp_errors_sent_total", "ERROR replies sent by the router.", nil, nil)
	descMsgIn      = prometheus.NewDesc("zwamp_messages_received_total", "WAMP messages received, by type.", []string{"type"}, nil)
	descMsgOut     = prometheus.NewDesc("zwamp_messages_sent_total", "WAMP messages sent, by type (each EVENT of a fan-out counts).", []string{"type"}, nil)
	descTables     = prometheus.NewDesc("zwamp_router_table_entries", "Entries in the router's tables, all realms (core.Router.Tables): sessions, subscriptions, subscribers, registrations, callees, pending_calls, pending_invocations.", []string{"table"}, nil)

	descAuth   = prometheus.NewDesc("zwamp_auth_handshakes_total", "Authentication handshakes by outcome (success, failure, rate_limited, timeout, busy).", []string{"outcome"}, nil)
	descLimits = prometheus.NewDesc("zwamp_limit_refusals_total", "Requests refused with zwamp.error.limit_exceeded, by limit.", []string{"limit"}, nil)

	descCalls   = prometheus.NewDesc("zwamp_calls_total", "Calls answered, by outcome as the caller sees it (result, error, canceled, timeout); counted when the final RESULT or ERROR is sent (core.CallCounts).", []string{"outcome"}, nil)
	descCallLat = prometheus.NewDesc("zwamp_call_duration_seconds", "Router-measured call latency, CALL handled to final RESULT/ERROR sent to the caller; power-of-two buckets from 1 µs, bounds exclusive (core.CallLatency).", nil, nil)
	descFanOut  = prometheus.NewDesc("zwamp_publish_fanout", "Subscribers reached per publication (PUBLISH or meta event); buckets 0, 1, 3, 7, … (core.FanOutHistogram).", nil, nil)
)

func (c routerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descSessions, descRealm, descViolations, descDecode, descEncode, descErrors, descMsgIn, descMsgOut, descLimits, descAuth, descTables, descCalls, descCallLat, descFanOut} {
		ch <- d
	}
}

func (c routerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(st.Conns))
	ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(st.Sessions))
	ch <- prometheus.MustNewConstMetric(descViolations, prometheus.CounterValue, float64(st.ProtocolViolations))
	ch <- prometheus.MustNewConstMetric(descDecode, prometheus.CounterValue, float64(st.DecodeError))
	ch <- prometheus.MustNewConstMetric(descEncode, prometheus.CounterValue, float64(st.EncodeErrors))
	ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(st.Errors))
	for _, l := range []struct {
		name string
		n    int64
	}{
		{"subscriptions_per_session", st.Limits.Subscriptions}, {"registrations_per_session", st.Limits.Registrations},
		{"calls_per_caller", st.Limits.Calls}, {"invocations_per_callee", st.Limits.Invocations},
		{"progressive_chunks", st.Limits.ProgressiveChunks}, {"sessions_per_realm", st.Limits.Sessions},
	} {
		ch <- prometheus.MustNewConstMetric(descLimits, prometheus.CounterValue, float64(l.n), l.name)
	}
	as := c.r.AuthStats()
	for _, a := range []struct {
		name string
		n    int64
	}{{"success", as.Successes}, {"failure", as.Failures}, {"rate_limited", as.RateLimited}, {"timeout", as.Timeouts}, {"busy", as.Busy}} {
		ch <- prometheus.MustNewConstMetric(descAuth, prometheus.CounterValue, float64(a.n), a.name)
	}
	for _, mc := range core.MessageCounts() {
		name := "other"
		if mc.Type != 0 {
			name = mc.Type.String()
		}
		ch <- prometheus.MustNewConstMetric(descMsgIn, prometheus.CounterValue, float64(mc.In), name)
		ch <- prometheus.MustNewConstMetric(descMsgOut, prometheus.CounterValue, float64(mc.Out), name)
	}
	cc := core.CallCounts()
	for _, o := range []struct {
		name string
		n    uint64
	}{{"result", cc.Result}, {"error", cc.Error}, {"canceled", cc.Canceled}, {"timeout", cc.Timeout}} {
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(o.n), o.name)
	}
	ch <- constHistogram(descCallLat, core.CallLatency())
	ch <- constHistogram(descFanOut, core.FanOutHistogram())
	tab := c.r.Tables()
	for _, e := range []struct {
		name string
		n    int
	}{{"sessions", tab.Sessions}, {"subscriptions", tab.Subscriptions}, {"subscribers", tab.Subscribers},
		{"registrations", tab.Registrations}, {"callees", tab.Callees},
		{"pending_calls", tab.PendingCalls}, {"pending_invocations", tab.PendingInvs}} {
		ch <- prometheus.MustNewConstMetric(descTables, prometheus.GaugeValue, float64(e.n), e.name)
	}
	for _, realm := range c.r.Realms() {
		ch <- prometheus.MustNewConstMetric(descRealm, prometheus.GaugeValue, float64(realm.SessionCount()), realm.Name())
	}
}

// constHistogram converts h (per-bucket counts, last bucket +Inf) to
// Prometheus's cumulative buckets; the +Inf bucket is implied by the count.
func constHistogram(d *prometheus.Desc, h core.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Upper)-1)
	var cum uint64
	for i := 0; i < len(h.Upper)-1; i++ {
		cum += h.Counts[i]
		buckets[h.Upper[i]] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum, buckets)
}
