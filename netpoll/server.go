package netpoll

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/ratelog"
)

// Kind is what a listener serves.
type Kind uint8

// Listener kinds.
const (
	Universal Kind = iota // WebSocket and RawSocket on one port (sniffed by the first byte)
	WebSocket
	RawSocket
)

func (k Kind) String() string {
	switch k {
	case WebSocket:
		return "websocket"
	case RawSocket:
		return "rawsocket"
	}
	return "universal"
}

// ParseKind parses "universal", "websocket" ("ws") or "rawsocket" ("rs").
func ParseKind(s string) (Kind, error) {
	switch s {
	case "", "universal":
		return Universal, nil
	case "websocket", "ws":
		return WebSocket, nil
	case "rawsocket", "rs":
		return RawSocket, nil
	}
	return 0, fmt.Errorf("netpoll: unknown listener kind %q", s)
}

// Listener configures one listening socket.
type Listener struct {
	Network string // "tcp" (default) or "unix"
	Addr    string // host:port, or the socket path for "unix"
	Kind    Kind
	// Path restricts WebSocket upgrades to this request path; empty
	// accepts any path.
	Path string
	// TLS, when set, serves TLS (crypto/tls) on this listener. With
	// ClientCAs and ClientAuth set, a verified client certificate reaches
	// the authenticators (transportauth.go).
	TLS *tls.Config
	// Cookies, when set, gives every WebSocket connection a cookie id
	// (set on the upgrade answer when the client has none) for the
	// "cookie" authmethod.
	Cookies CookieJar
	// AllowedOrigins restricts the browser origins that may open a
	// WebSocket here (see Origins); others get HTTP 403 before any WAMP
	// message. Empty allows every origin.
	AllowedOrigins []string
}

// SlowConsumerPolicy says what happens to a connection whose pending output
// exceeds Config.MaxPendingOutput.
type SlowConsumerPolicy uint8

// Policies.
const (
	CloseSlowConsumer SlowConsumerPolicy = iota // close the connection (default)
	DropSlowConsumer                            // drop messages for it until it catches up
)

// ParseSlowConsumerPolicy parses "close" or "drop".
func ParseSlowConsumerPolicy(s string) (SlowConsumerPolicy, error) {
	switch s {
	case "", "close":
		return CloseSlowConsumer, nil
	case "drop":
		return DropSlowConsumer, nil
	}
	return 0, fmt.Errorf("netpoll: unknown slow-consumer policy %q (want close or drop)", s)
}

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	Listeners []Listener

	// MaxMessageSize bounds one incoming WAMP message (WebSocket message or
	// RawSocket frame). Default 16 MiB, the RawSocket maximum.
	MaxMessageSize int
	// MaxPendingOutput bounds the bytes queued for one connection (ours and
	// nbio's). Default 4 MiB.
	MaxPendingOutput int
	// SlowConsumer is the policy when MaxPendingOutput is exceeded.
	SlowConsumer SlowConsumerPolicy
	// PingInterval is how long a connection may be silent before it is
	// pinged (WebSocket ping / RawSocket PING). Default 30s; negative
	// disables keepalive.
	PingInterval time.Duration
	// PingTimeout is how long a pinged connection has to show any sign of
	// life before it is closed as dead. Default 10s.
	PingTimeout time.Duration
	// HandshakeTimeout bounds the WebSocket/RawSocket opening handshake.
	// Default 10s.
	HandshakeTimeout time.Duration
	// MaxTLSHandshakes bounds the TLS handshakes in progress on the whole
	// server, MaxTLSHandshakesPerIP those from one source address; a
	// connection over a bound is closed at once (TLSStats.Refused). 0
	// means the default (DefaultMaxTLSHandshakes, ...PerIP), negative no
	// bound. See tls.go.
	MaxTLSHandshakes      int
	MaxTLSHandshakesPerIP int
	// Pollers is the number of nbio event loops. Default GOMAXPROCS.
	Pollers int
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// MaxConnsPerIP bounds the open connections from one source address;
	// a connection over it is closed at accept, counted and logged. 0 (the
	// default) is no limit. Unix-socket connections are not limited.
	MaxConnsPerIP int
	// LogInterval is how often a warning that keeps repeating (accept
	// errors at the open-files limit, slow consumers, refusals) is
	// summarised: the first is logged in full, then one line per interval
	// with the count (see internal/ratelog). Default 10s.
	LogInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.MaxMessageSize <= 0 || c.MaxMessageSize > 16<<20 {
		c.MaxMessageSize = 16 << 20
	}
	if c.MaxPendingOutput <= 0 {
		c.MaxPendingOutput = 4 << 20
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.Pollers <= 0 {
		c.Pollers = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxConnsPerIP < 0 {
		c.MaxConnsPerIP = 0
	}
	if c.LogInterval <= 0 {
		c.LogInterval = ratelog.DefaultInterval
	}
}

// Stats are the server's counters.
type Stats struct {
	Conns             int64 // open connections
	Accepted          int64 // connections accepted since start
	HandshakeFailures int64 // refused or timed-out opening handshakes
	FramingErrors     int64 // connections failed for a framing violation
	SlowDrops         int64 // messages dropped for slow consumers
	SlowCloses        int64 // connections closed as slow consumers
	TooLarge          int64 // outgoing messages over the peer's RawSocket limit, dropped
	PingTimeouts      int64 // connections closed by keepalive
	RefusedPerIP      int64 // connections refused at accept by MaxConnsPerIP
	RegisterFailures  int64 // accepted connections nbio could not take (open-files limit), closed
}

type counters struct {
	conns, accepted, handshakeFailures, framingErrors atomic.Int64
	slowDrops, slowCloses, tooLarge, pingTimeouts     atomic.Int64
	refusedPerIP, registerFailures                    atomic.Int64
}

// Server serves a core.Router on its listeners.
type Server struct {
	r      *core.Router
	cfg    Config
	log    *slog.Logger
	rlog   *ratelog.Logger // warnings that may repeat under attack
	engine *nbio.Engine
	// engineUp is set once engine.Start succeeded and cleared by the one
	// stopEngine that stops it (nbio's Stop must run once, after Start).
	engineUp atomic.Bool

	mu        sync.Mutex
	listeners []net.Listener
	specs     []*listenerSpec
	conns     map[*conn]struct{}
	closing   bool

	ipMu  sync.Mutex // guards perIP; taken alone
	perIP map[netip.Addr]int
	tlsl  sync.Map // *listenerSpec → *tlsListener (tls.go)
	hs    handshakes

	clock  atomic.Int64 // coarse unix nanoseconds, updated by the sweeper
	stats  counters
	wire   wireTotals // bytes of the connections that ended (wirestats.go)
	wg     sync.WaitGroup
	stopCh chan struct{}
}

type listenerSpec struct {
	Listener
	srv     *Server
	origins *Origins
}

// NewServer creates a server for r. Call Start to listen.
func NewServer(r *core.Router, cfg Config) (*Server, error) {
	cfg.setDefaults()
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("netpoll: no listeners configured")
	}
	for i, l := range cfg.Listeners {
		if _, err := CompileOrigins(l.AllowedOrigins); err != nil {
			return nil, fmt.Errorf("netpoll: listener %d: %w", i, err)
		}
	}
	s := &Server{r: r, cfg: cfg, log: cfg.Logger, conns: make(map[*conn]struct{}), stopCh: make(chan struct{}),
		rlog: ratelog.New(cfg.Logger, cfg.LogInterval), perIP: make(map[netip.Addr]int)}
	s.clock.Store(time.Now().UnixNano())
	logging.SetLevel(logging.LevelNone)
	s.engine = nbio.NewEngine(nbio.Config{
		Name:    "zwamp",
		NPoller: cfg.Pollers,
		// Reads land in the poller's buffer and are processed before the
		// next read, so one buffer per poller suffices.
		ReadBufferSize: 64 << 10,
	})
	s.engine.OnOpen(s.onOpen)
	s.engine.OnData(s.onData)
	s.engine.OnClose(s.onClose)
	s.engine.OnWrittenSize(func(nc *nbio.Conn, _ []byte, n int) {
		if c, ok := nc.Session().(*conn); ok {
			c.written.Add(int64(n))
		}
	})
	return s, nil
}

// Start opens every listener and starts serving. On error nothing is left
// listening and nothing running; the error names the listener and the
// cause. Listeners are bound before nbio's engine starts, and Start
// returns only once every poller runs its loop, so that a Shutdown right
// after it cannot hang (see listen.go for the nbio behaviour this avoids).
func (s *Server) Start() error {
	lns, specs, err := s.bind()
	if err != nil {
		return err
	}
	closeAll := func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}
	if err := s.engine.Start(); err != nil {
		closeAll()
		return fmt.Errorf("netpoll: start engine: %w", err)
	}
	s.engineUp.Store(true)
	if err := s.waitPollers(10 * time.Second); err != nil {
		closeAll()
		s.stopEngine()
		return err
	}
	s.mu.Lock()
	s.listeners = lns
	s.specs = specs
	s.mu.Unlock()
	for i, ln := range lns {
		l := specs[i]
		s.log.Info("listening", "network", l.Network, "addr", ln.Addr().String(), "kind", l.Kind.String(), "tls", l.TLS != nil, "path", l.Path)
		s.wg.Add(1)
		go s.accept(ln, l)
	}
	s.wg.Add(1)
	go s.sweep()
	return nil
}

// Addrs returns the listeners' addresses (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		out[i] = ln.Addr()
	}
	return out
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	return Stats{
		Conns: st.conns.Load(), Accepted: st.accepted.Load(),
		HandshakeFailures: st.handshakeFailures.Load(), FramingErrors: st.framingErrors.Load(),
		SlowDrops: st.slowDrops.Load(), SlowCloses: st.slowCloses.Load(),
		TooLarge: st.tooLarge.Load(), PingTimeouts: st.pingTimeouts.Load(),
		RefusedPerIP: st.refusedPerIP.Load(), RegisterFailures: st.registerFailures.Load(),
	}
}

func (s *Server) accept(ln net.Listener, spec *listenerSpec) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http does.
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay < time.Second {
				delay *= 2
			}
			s.rlog.Warn("accept", "accept failed", "addr", ln.Addr().String(), "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
				continue
			case <-s.stopCh:
				return
			}
		}
		delay = 0
		s.stats.accepted.Add(1)
		if s.cfg.MaxConnsPerIP > 0 && !s.admitIP(nc.RemoteAddr()) {
			_ = nc.Close()
			continue
		}
		if spec.TLS != nil && spec.Network != "unix" {
			go s.serveTLS(nc, spec) // handshake, then nbio (tls.go)
			continue
		}
		if spec.TLS != nil || spec.Network == "unix" {
			go s.serveBlocking(nc, spec)
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		// Convert first so the conn is attached before nbio calls OnOpen
		// (synchronously, inside AddConn).
		addr := nc.RemoteAddr()
		nbc, err := nbio.NBConn(nc)
		if err != nil {
			// At the open-files limit accept still succeeds (it takes the
			// last fd) and the dup fails: one line per refused connection
			// unless aggregated.
			s.stats.registerFailures.Add(1)
			s.rlog.Warn("register", "register connection", "error", err)
			_ = nc.Close()
			if s.cfg.MaxConnsPerIP > 0 {
				s.releaseIP(addr)
			}
			continue
		}
		c := newConn(s, spec, addr)
		c.ipHeld.Store(s.cfg.MaxConnsPerIP > 0)
		c.io = nbioWriter{nbc}
		nbc.SetSession(c)
		c.published.Store(true)
		if _, err := s.engine.AddConn(nbc); err != nil {
			s.stats.registerFailures.Add(1)
			s.rlog.Warn("register", "register connection", "error", err)
			c.releaseIP()
		}
	}
}

func (s *Server) onOpen(nc *nbio.Conn) {
	c, ok := nc.Session().(*conn)
	if !ok {
		if _, ok := nc.Session().(*probe); !ok {
			_ = nc.Close()
		}
		return
	}
	s.register(c)
}

func (s *Server) onData(nc *nbio.Conn, data []byte) {
	if c, ok := nc.Session().(*conn); ok {
		c.onWire(data)
	} else if p, ok := nc.Session().(*probe); ok {
		select {
		case <-p.seen:
		default:
			close(p.seen)
		}
	}
}

func (s *Server) onClose(nc *nbio.Conn, err error) {
	if c, ok := nc.Session().(*conn); ok {
		c.published.Load() // happens-before edge from the accepting goroutine
		// nbio may call this from inside Write with our output lock held
		// (a failed write closes the connection): finish on a goroutine.
		go c.closed(err)
	}
}

func (s *Server) register(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	closing := s.closing
	s.mu.Unlock()
	s.stats.conns.Add(1)
	if closing {
		c.Close()
	}
}

func (s *Server) unregister(c *conn) {
	c.foldWire(&s.wire)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.stats.conns.Add(-1)
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	lns := s.listeners
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// Shutdown stops accepting, sends every session GOODBYE
// wamp.close.system_shutdown, waits (until ctx is done) for the clients to
// answer, then closes every connection and stops the engine. It returns
// ctx.Err() when ctx ended before every session answered (the rest were
// closed all the same), and an error if nbio's engine did not stop in time.
func (s *Server) Shutdown(ctx context.Context) error { return s.Drain(ctx, 0) }

// Drain is Shutdown with the GOODBYEs spread over period (core.Router.Drain),
// for rolling restarts behind a load balancer: it stops accepting at once,
// then moves the sessions away gradually. ctx bounds the whole of it.
func (s *Server) Drain(ctx context.Context, period time.Duration) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.mu.Unlock()
	s.closeListeners()
	s.r.Drain(ctx, period)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for s.r.Stats().Sessions > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err() // sessions left that never answered GOODBYE
			break wait
		case <-tick.C:
		}
	}
	s.mu.Lock()
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
drain:
	for s.stats.conns.Load() > 0 {
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			break drain
		case <-tick.C:
		}
	}
	close(s.stopCh)
	if !s.stopEngine() && err == nil {
		err = errors.New("netpoll: nbio engine did not stop")
	}
	// The accept goroutines end with their listeners, the sweeper with
	// stopCh: neither waits on a peer.
	s.wg.Wait()
	s.rlog.Close()
	return err
}

// sweep runs the coarse clock, keepalive pings and handshake timeouts.
func (s *Server) sweep() {
	defer s.wg.Done()
	period := 250 * time.Millisecond
	t := time.NewTicker(period)
	defer t.Stop()
	var list []*conn
	lastScan := time.Now()
	for {
		select {
		case <-s.stopCh:
			return
		case now := <-t.C:
			s.clock.Store(now.UnixNano())
			if now.Sub(lastScan) < time.Second {
				continue
			}
			lastScan = now
			s.mu.Lock()
			list = list[:0]
			for c := range s.conns {
				list = append(list, c)
			}
			s.mu.Unlock()
			for i, c := range list {
				c.keepalive(now.UnixNano())
				list[i] = nil
			}
		}
	}
}
