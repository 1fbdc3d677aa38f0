package netpoll

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
)

// TLS over TCP: Go's crypto/tls, handshake on a goroutine, records on nbio.
//
// A TLS connection's handshake runs on a short-lived goroutine of its own,
// on the blocking net.Conn, under Config.HandshakeTimeout and the bounds on
// handshakes in progress (overall and per source address). Once it is done
// the socket moves to nbio like a plain TCP connection, and crypto/tls keeps
// running on top of it through rawConn:
//   - input: nbio's OnData hands the ciphertext to rawConn and the poller
//     calls tls.Conn.Read until rawConn has nothing left, at which point
//     rawConn.Read returns errDrained, a net.Error whose Temporary() is
//     true. crypto/tls keeps a partial record in its own buffer and does
//     not make a temporary error sticky (conn.go, readRecordOrCCS and
//     readFromUntil: `if e, ok := err.(net.Error); !ok || !e.Temporary()
//     { c.in.setErrorLocked(err) }`), so the next OnData continues the
//     record. TestTLSRecordsSplitAnywhere guards this.
//   - output: conn's flush calls tls.Conn.Write, which seals the batch into
//     records and writes them to rawConn, which hands them to nbio's
//     non-blocking Write (nbio queues what the kernel does not take).
//
// An idle session then holds no goroutine and no read buffer: what remains
// is the tls.Conn (its struct and record-layer state) next to the conn;
// crypto/tls's own input buffers are lent per read and released between
// reads (tls_buffers.go). The stack stays Go's own maintained crypto/tls:
// no fork.

// errDrained is rawConn's answer when the poller's input is used up.
var errDrained net.Error = drainedError{}

type drainedError struct{}

func (drainedError) Error() string   { return "netpoll: tls input drained" }
func (drainedError) Timeout() bool   { return true }
func (drainedError) Temporary() bool { return true }

// rawConn is the net.Conn under a TLS connection's tls.Conn: the blocking
// socket during the handshake, nbio afterwards.
type rawConn struct {
	// nc is the accepted socket, used during the handshake only; it is
	// dropped at the hand-off (with its netFD and addresses, ~700 B a
	// session).
	nc  net.Conn
	nbc atomic.Pointer[nbio.Conn] // set at the hand-off
	c   *conn                     // set at the hand-off; counts ciphertext queued
	in  []byte                    // ciphertext of the current OnData (poller only)
}

func (r *rawConn) Read(p []byte) (int, error) {
	if r.nbc.Load() == nil {
		return r.nc.Read(p)
	}
	if len(r.in) == 0 {
		return 0, errDrained
	}
	n := copy(p, r.in)
	r.in = r.in[n:]
	return n, nil
}

func (r *rawConn) Write(p []byte) (int, error) {
	nbc := r.nbc.Load()
	if nbc == nil {
		return r.nc.Write(p)
	}
	// crypto/tls holds its output lock here, so writes stay in record order.
	n, err := nbc.Write(p)
	if n < 0 {
		n = 0
	}
	r.c.queued.Add(int64(n)) // ciphertext, to match nbio's OnWrittenSize
	return n, err
}

func (r *rawConn) Close() error {
	if nbc := r.nbc.Load(); nbc != nil {
		return nbc.Close()
	}
	return r.nc.Close()
}

func (r *rawConn) LocalAddr() net.Addr {
	if nbc := r.nbc.Load(); nbc != nil {
		return nbc.LocalAddr()
	}
	return r.nc.LocalAddr()
}

func (r *rawConn) RemoteAddr() net.Addr {
	if nbc := r.nbc.Load(); nbc != nil {
		return nbc.RemoteAddr()
	}
	return r.nc.RemoteAddr()
}

// Deadlines apply to the handshake only; afterwards nothing blocks.
func (r *rawConn) SetDeadline(t time.Time) error {
	if r.nbc.Load() == nil {
		return r.nc.SetDeadline(t)
	}
	return nil
}

func (r *rawConn) SetReadDeadline(t time.Time) error {
	if r.nbc.Load() == nil {
		return r.nc.SetReadDeadline(t)
	}
	return nil
}

func (r *rawConn) SetWriteDeadline(t time.Time) error {
	if r.nbc.Load() == nil {
		return r.nc.SetWriteDeadline(t)
	}
	return nil
}

// tlsStream is the TLS layer of a connection on nbio.
type tlsStream struct {
	c   *conn
	tc  *tls.Conn
	raw *rawConn
	// mu serialises input: nbio's OnData and the drain at the hand-off,
	// and with them every use of crypto/tls's input buffers
	// (tls_buffers.go).
	mu sync.Mutex
	// box is the pooled rawInput buffer lent to tc for this read, nil
	// between reads (tls_buffers.go).
	box *[]byte
}

// plainPool holds the buffers decrypted input is read into for the length
// of one OnData: idle sessions hold none.
var plainPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// onCipher handles one read of ciphertext from nbio.
func (t *tlsStream) onCipher(data []byte) {
	t.mu.Lock()
	t.raw.in = data
	t.lend()
	t.drain()
	t.reclaim()
	t.raw.in = nil
	t.mu.Unlock()
}

// drain reads every complete record crypto/tls can decrypt from what it
// holds and rawConn has, and hands the plaintext to the connection, in
// chunks of up to one buffer (one core batch each). The caller holds t.mu.
func (t *tlsStream) drain() {
	bp := plainPool.Get().(*[]byte)
	buf := *bp
	n := 0
	for {
		m, err := t.tc.Read(buf[n:])
		n += m
		if n == len(buf) || (err != nil && n > 0) {
			t.c.onData(buf[:n])
			n = 0
		}
		if err != nil {
			if !errors.Is(err, errDrained) {
				// close_notify, EOF or a bad record (crypto/tls sent
				// the alert): the connection is over.
				_ = t.raw.Close()
			}
			break
		}
	}
	plainPool.Put(bp)
}

// onWire handles one read from nbio: ciphertext for a TLS connection,
// the protocol's bytes otherwise.
func (c *conn) onWire(data []byte) {
	if !c.published.Load() { // the edge from the accepting goroutine
		return
	}
	if c.tls != nil {
		c.tls.onCipher(data)
		return
	}
	c.onData(data)
}

// transportAuth is c's transport-level authentication for core: c.auth
// (the cookie) and, for TLS on nbio, the handshake's facts (transportauth.go),
// derived from the tls.Conn on each call rather than kept in a map for the
// connection's life (~400 B per idle session). Info, its only caller, runs
// at HELLO and for the meta API and status pages, never per message.
func (c *conn) transportAuth() map[string]any {
	if c.tls == nil {
		return c.auth
	}
	m := tlsAuth(c.tls.tc.ConnectionState())
	for k, v := range c.auth {
		m[k] = v
	}
	return m
}

// tlsWriter is the output of a TLS connection on nbio.
type tlsWriter struct{ t *tlsStream }

// write seals b into records; rawConn counts the ciphertext into
// conn.queued, so the plaintext flushLocked counted is taken back.
func (w tlsWriter) write(b []byte) error {
	_, err := w.t.tc.Write(b)
	w.t.c.queued.Add(-int64(len(b)))
	return err
}

// close sends close_notify (queued by nbio, never blocking) and closes.
func (w tlsWriter) close() error { return w.t.tc.Close() }

// serveTLS runs the handshake of a TLS connection on this goroutine, then
// hands the socket to nbio.
func (s *Server) serveTLS(nc net.Conn, spec *listenerSpec) {
	addr := nc.RemoteAddr()
	// fail closes a connection that never became a conn, giving back its
	// place under MaxConnsPerIP (taken at accept).
	fail := func() {
		_ = nc.Close()
		if s.cfg.MaxConnsPerIP > 0 {
			s.releaseIP(addr)
		}
	}
	l := s.tlsListener(spec)
	if !s.admitHandshake(addr, l) {
		fail()
		return
	}
	raw := &rawConn{nc: nc}
	tc := tls.Server(raw, l.base)
	_ = nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	err := tc.Handshake()
	if !s.endHandshake(addr, l, tc, err) {
		fail()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	nbc, err := nbio.NBConn(nc) // dups the fd and closes nc
	if err != nil {
		s.stats.registerFailures.Add(1)
		s.rlog.Warn("register", "register connection", "error", err)
		fail()
		return
	}
	c := newConn(s, spec, addr)
	c.ipHeld.Store(s.cfg.MaxConnsPerIP > 0)
	t := &tlsStream{c: c, tc: tc, raw: raw}
	c.tls = t
	c.io = tlsWriter{t}
	raw.c = c
	nbc.SetSession(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	raw.nbc.Store(nbc)
	raw.nc = nil // closed by NBConn; only nbc is used from here on
	c.published.Store(true)
	if _, err := s.engine.AddConn(nbc); err != nil {
		s.stats.registerFailures.Add(1)
		s.rlog.Warn("register", "register connection", "error", err)
		c.releaseIP()
		return
	}
	// crypto/tls may have read past the handshake (a client's first
	// request right behind its Finished): deliver it now, before the
	// next OnData (which waits for t.mu).
	t.afterHandshake()
	t.lend()
	t.drain()
	t.reclaim()
}

// TLS configuration per listener: the handshake always starts from the
// listener's base config, whose GetConfigForClient returns the current one
// (replaced by ReloadTLS). Session-ticket keys are the base config's, so
// tickets issued before a reload still resume after it.
type tlsListener struct {
	base  *tls.Config
	cur   atomic.Pointer[tls.Config]
	kind  Kind
	stats tlsCounters // this listener's handshakes
}

// tlsListener returns spec's TLS state, creating it on first use.
func (s *Server) tlsListener(spec *listenerSpec) *tlsListener {
	if v, ok := s.tlsl.Load(spec); ok {
		return v.(*tlsListener)
	}
	l := &tlsListener{kind: spec.Kind}
	l.cur.Store(prepareTLS(spec.TLS, spec.Kind))
	l.base = &tls.Config{GetConfigForClient: l.forClient}
	v, _ := s.tlsl.LoadOrStore(spec, l)
	return v.(*tlsListener)
}

func (l *tlsListener) forClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	cfg := l.cur.Load()
	if cfg.GetConfigForClient != nil {
		if c, err := cfg.GetConfigForClient(hello); c != nil || err != nil {
			return c, err
		}
	}
	return cfg, nil
}

// prepareTLS copies cfg with the defaults a WAMP listener needs: TLS 1.2
// at least, and ALPN http/1.1 where WebSocket may be spoken (a client that
// offers ALPN and gets no answer may give up).
func prepareTLS(cfg *tls.Config, kind Kind) *tls.Config {
	cfg = cfg.Clone()
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if len(cfg.NextProtos) == 0 && kind != RawSocket {
		cfg.NextProtos = []string{"http/1.1"}
	}
	return cfg
}

// ReloadTLS replaces the TLS configuration of listener i (its index in
// Config.Listeners) for the handshakes that follow; established sessions
// keep theirs and are not dropped. Session tickets issued before stay
// valid. It is for a SIGHUP handler: cmd/zwamp loads the new certificates
// and calls it.
func (s *Server) ReloadTLS(i int, cfg *tls.Config) error {
	if cfg == nil {
		return errors.New("netpoll: reload tls: no configuration")
	}
	s.mu.Lock()
	var spec *listenerSpec
	if i >= 0 && i < len(s.specs) {
		spec = s.specs[i]
	}
	s.mu.Unlock()
	if spec == nil {
		return fmt.Errorf("netpoll: reload tls: no listener %d", i)
	}
	if spec.TLS == nil {
		return fmt.Errorf("netpoll: reload tls: listener %d does not serve TLS", i)
	}
	l := s.tlsListener(spec)
	l.cur.Store(prepareTLS(cfg, l.kind))
	s.log.Info("tls configuration reloaded", "listener", i, "certificates", len(cfg.Certificates))
	return nil
}

// Defaults of the bounds on TLS handshakes in progress.
const (
	DefaultMaxTLSHandshakes      = 1024
	DefaultMaxTLSHandshakesPerIP = 64
)

// TLSStats are the TLS handshake counters (of one listener, or summed
// over all of them). They count handshakes, not messages: a per-listener
// atomic add on each is nothing next to the handshake itself.
type TLSStats struct {
	Handshakes   int64 // completed handshakes
	Resumed      int64 // of which resumed a session (ticket)
	Failures     int64 // failed or timed-out handshakes
	Refused      int64 // connections closed at once: too many handshakes in progress
	InProgress   int64 // handshakes running now
	RefusedPerIP int64 // of Refused, by the per-address bound
}

// TLSListenerStats are one TLS listener's counters.
type TLSListenerStats struct {
	Listener int    // index in Config.Listeners
	Addr     string // the bound address (host:port, or the socket path)
	Kind     Kind
	TLSStats
}

type tlsCounters struct {
	handshakes, resumed, failures, refused, refusedPerIP, inProgress atomic.Int64
}

func (c *tlsCounters) load() TLSStats {
	return TLSStats{
		Handshakes: c.handshakes.Load(), Resumed: c.resumed.Load(), Failures: c.failures.Load(),
		Refused: c.refused.Load(), RefusedPerIP: c.refusedPerIP.Load(), InProgress: c.inProgress.Load(),
	}
}

// TLSStats returns the TLS counters summed over every listener.
func (s *Server) TLSStats() TLSStats {
	var sum TLSStats
	for _, l := range s.TLSListenerStats() {
		sum.Handshakes += l.Handshakes
		sum.Resumed += l.Resumed
		sum.Failures += l.Failures
		sum.Refused += l.Refused
		sum.RefusedPerIP += l.RefusedPerIP
		sum.InProgress += l.InProgress
	}
	return sum
}

// TLSListenerStats returns the counters of each TLS listener, in the order
// of Config.Listeners (none before Start).
func (s *Server) TLSListenerStats() []TLSListenerStats {
	s.mu.Lock()
	specs := s.specs
	lns := s.listeners
	s.mu.Unlock()
	var out []TLSListenerStats
	for i, spec := range specs {
		if spec.TLS == nil {
			continue
		}
		out = append(out, TLSListenerStats{Listener: i, Addr: lns[i].Addr().String(), Kind: spec.Kind,
			TLSStats: s.tlsListener(spec).stats.load()})
	}
	return out
}

// handshakes counts the TLS handshakes in progress, overall and per source
// address. Each costs a goroutine with a grown stack and crypto/tls's
// handshake state; the bounds keep a flood of stalled handshakes (which
// never touches the pollers) from exhausting memory.
type handshakes struct {
	mu    sync.Mutex // taken alone
	total int
	perIP map[netip.Addr]int
}

func (s *Server) handshakeLimits() (total, perIP int) {
	total, perIP = s.cfg.MaxTLSHandshakes, s.cfg.MaxTLSHandshakesPerIP
	if total == 0 {
		total = DefaultMaxTLSHandshakes
	}
	if perIP == 0 {
		perIP = DefaultMaxTLSHandshakesPerIP
	}
	return total, perIP
}

// admitHandshake counts a handshake from addr on listener l, or refuses
// it (counted and logged at debug level) when a bound is reached.
func (s *Server) admitHandshake(addr net.Addr, l *tlsListener) bool {
	total, perIP := s.handshakeLimits()
	ip, hasIP := handshakeIP(addr)
	h := &s.hs
	h.mu.Lock()
	switch {
	case total > 0 && h.total >= total:
		h.mu.Unlock()
		l.stats.refused.Add(1)
		s.log.Debug("tls handshake refused: too many in progress", "remote", addr.String(), "limit", total)
		return false
	case hasIP && perIP > 0 && h.perIP[ip] >= perIP:
		h.mu.Unlock()
		l.stats.refused.Add(1)
		l.stats.refusedPerIP.Add(1)
		s.log.Debug("tls handshake refused: too many in progress from this address", "remote", addr.String(), "limit", perIP)
		return false
	}
	h.total++
	if hasIP {
		if h.perIP == nil {
			h.perIP = make(map[netip.Addr]int)
		}
		h.perIP[ip]++
	}
	h.mu.Unlock()
	l.stats.inProgress.Add(1)
	return true
}

// endHandshake ends a handshake admitted by admitHandshake and counts its
// outcome (err from tc.Handshake); it reports whether it succeeded.
func (s *Server) endHandshake(addr net.Addr, l *tlsListener, tc *tls.Conn, err error) bool {
	ip, hasIP := handshakeIP(addr)
	h := &s.hs
	h.mu.Lock()
	h.total--
	if hasIP {
		if n := h.perIP[ip]; n <= 1 {
			delete(h.perIP, ip)
		} else {
			h.perIP[ip] = n - 1
		}
	}
	h.mu.Unlock()
	l.stats.inProgress.Add(-1)
	if err != nil {
		l.stats.failures.Add(1)
		s.stats.handshakeFailures.Add(1)
		s.log.Debug("tls handshake failed", "remote", addr.String(), "error", err)
		return false
	}
	l.stats.handshakes.Add(1)
	if tc.ConnectionState().DidResume {
		l.stats.resumed.Add(1)
	}
	return true
}

func handshakeIP(addr net.Addr) (netip.Addr, bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := ta.AddrPort().Addr().Unmap()
	return ip, ip.IsValid()
}
