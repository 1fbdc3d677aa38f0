package netpoll

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/lesismal/nbio"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// connection states (read side).
const (
	stSniff     uint8 = iota // universal listener: first byte not seen yet
	stHTTP                   // reading the WebSocket upgrade request
	stRSHello                // reading the RawSocket handshake
	stWebSocket              // WebSocket frames
	stRawSocket              // RawSocket frames
	stDone                   // failed or closing: input is ignored
)

// writer is how a conn's output reaches the socket: nbio's non-blocking
// Write, or a TLS connection's writer goroutine.
type writer interface {
	write(b []byte) error
	close() error
}

type nbioWriter struct{ nc *nbio.Conn }

// write hands b to nbio, which writes what the kernel takes now and copies
// the rest into its own queue.
func (w nbioWriter) write(b []byte) error {
	_, err := w.nc.Write(b)
	return err
}

func (w nbioWriter) close() error { return w.nc.Close() }

// outPool recycles output buffers: a connection holds one only between
// its first Send of a batch and the flush, so idle connections cost none.
// Buffers keep the capacity they grew to (up to maxPooledOut), so a steady
// load stops allocating; bytebufferpool's calibration, which drops buffers
// above the 95th percentile of recent sizes, made bursty output regrow.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxPooledOut is the largest output buffer kept for reuse.
const maxPooledOut = 1 << 20

var _ core.Transport = (*conn)(nil)

// conn is one client connection: the framing state machines on the read
// side, core's Transport on the write side.
type conn struct {
	srv  *Server
	spec *listenerSpec
	io   writer
	addr net.Addr
	tls  *tlsStream // TLS on nbio (tls.go); nil otherwise

	// Read side: touched only by the goroutine delivering this
	// connection's input (an nbio poller, or the TLS reader).
	state  uint8
	httpHS *ws.ServerHandshake
	// Only the pieces the connection's protocol and phase need are
	// allocated: per-connection memory is what bounds a 500k-connection
	// edge router.
	rsHS   *rawsocket.ServerHandshake
	wsd    *ws.Decoder
	rsd    *rawsocket.Decoder
	core   *core.Conn
	batch  *core.Batch // during onData
	opened int64       // clock at accept, for the handshake timeout

	// Set once when the handshake completes, read by Send afterwards.
	format   codec.Format
	wsOp     ws.Opcode // text for JSON, binary otherwise
	isWS     bool
	batched  bool // wamp.2.*.batched: several WAMP messages per WebSocket message
	sepSeen  bool // batched JSON: the client's first separator was seen (read side)
	peerMax  int  // RawSocket: the largest message the peer accepts
	protocol string
	auth     map[string]any // transport-level authentication (transportauth.go)

	lastRead atomic.Int64 // clock of the last input
	pingedAt atomic.Int64 // clock when a keepalive ping went out, 0 if none pending

	// Output side.
	mu        sync.Mutex
	out       []byte
	outBuf    *[]byte      // owner of out's memory when pooled
	shut      bool         // no more output; closing
	sentClose bool         // WebSocket close frame queued
	batchAt   int          // offset in out of the open batched message's payload, -1 if none
	jsonSep   byte         // batched JSON separator written (batched.go)
	queued    atomic.Int64 // bytes handed to io.write
	written   atomic.Int64 // bytes the kernel took (nbio OnWrittenSize)
	ended     atomic.Bool  // closed() ran
	ipHeld    atomic.Bool  // counted against Config.MaxConnsPerIP until closed
	wire      connWire     // bytes and messages per write (wirestats.go)

	// published is stored by the accepting goroutine once the conn is set
	// up and loaded by the first reader. The hand-over itself happens
	// through epoll, which the race detector cannot see; this atomic makes
	// the happens-before edge explicit.
	published atomic.Bool
	// established is set (after the framing fields above) once the
	// handshake is done, for the sweeper goroutine to read them safely.
	established atomic.Bool
}

func newConn(s *Server, spec *listenerSpec, addr net.Addr) *conn {
	c := &conn{srv: s, spec: spec, addr: addr, batchAt: -1, jsonSep: ws.BatchSeparator}
	now := s.clock.Load()
	c.opened = now
	c.lastRead.Store(now)
	switch spec.Kind {
	case WebSocket:
		c.state = stHTTP
	case RawSocket:
		c.state = stRSHello
	default:
		c.state = stSniff
	}
	return c
}

// onData handles one read. Everything it causes for any connection is
// flushed when the batch is released.
func (c *conn) onData(data []byte) {
	if !c.published.Load() {
		return
	}
	c.lastRead.Store(c.srv.clock.Load())
	c.pingedAt.Store(0)
	c.wire.bytesIn.Add(uint64(len(data)))
	b := core.AcquireBatch()
	c.batch = b
	c.feed(data)
	c.batch = nil
	b.Release()
}

// lockOut takes the output lock for output the connection produces itself
// (handshake answers, control frames) and reports whether the output was
// empty; unlockOut then hands the connection to the current batch to flush
// with everything else.
func (c *conn) lockOut() (wasEmpty bool) {
	c.mu.Lock()
	if c.out == nil {
		c.grabOut()
	}
	return len(c.out) == 0
}

func (c *conn) unlockOut(wasEmpty bool) {
	queued := wasEmpty && len(c.out) > 0
	c.mu.Unlock()
	if queued && c.batch != nil {
		c.batch.Queue(c)
	}
}

func (c *conn) feed(data []byte) {
	for len(data) > 0 {
		switch c.state {
		case stSniff:
			if rawsocket.Sniff(data[0]) == rawsocket.RawSocket {
				c.state = stRSHello
			} else {
				c.state = stHTTP
			}
		case stHTTP:
			n, ok := c.feedHTTP(data)
			if !ok {
				return
			}
			data = data[n:]
		case stRSHello:
			n, ok := c.feedRSHello(data)
			if !ok {
				return
			}
			data = data[n:]
		case stWebSocket:
			// One lock of the core connection per read, not per message.
			c.core.Hold()
			err := c.wsd.Feed(data, (*wsHandler)(c))
			c.core.Unhold()
			if err != nil {
				c.wsFailed(err)
			}
			return
		case stRawSocket:
			c.core.Hold()
			err := c.rsd.Feed(data, (*rsHandler)(c))
			c.core.Unhold()
			if err != nil {
				c.rsFailed(err)
			}
			return
		default:
			return
		}
	}
}

// feedHTTP reads the upgrade request; it reports the bytes consumed and
// whether to go on with the rest of data.
func (c *conn) feedHTTP(data []byte) (int, bool) {
	if c.httpHS == nil {
		c.httpHS = &ws.ServerHandshake{}
	}
	req, n, err := c.httpHS.Feed(data)
	if err != nil {
		var he *ws.HTTPError
		if !errors.As(err, &he) {
			he = &ws.HTTPError{Status: 400, Text: err.Error()}
		}
		c.refuseHTTP(he)
		return 0, false
	}
	if req == nil {
		return n, false // need more
	}
	if c.spec.Path != "" && string(req.Path()) != c.spec.Path {
		c.refuseHTTP(&ws.HTTPError{Status: 404, Text: "no WebSocket endpoint at this path"})
		return 0, false
	}
	if !c.spec.origins.Allowed(req.Origin) {
		c.refuseHTTP(errOrigin)
		return 0, false
	}
	proto := req.ChooseProtocol(acceptWAMPProtocol)
	if proto == nil {
		c.refuseHTTP(ws.ErrNoWAMPProtocol)
		return 0, false
	}
	f, batched := parseProtocol(proto)
	protocol := string(proto)
	was := c.lockOut()
	var setCookie string
	if c.spec.Cookies != nil {
		var id string
		id, setCookie = c.spec.Cookies.Cookie(req.Cookie, c.spec.TLS != nil)
		if c.auth == nil {
			c.auth = map[string]any{}
		}
		c.auth[AuthCookie] = id
	}
	c.out = req.AppendAcceptCookie(c.out, proto, setCookie)
	c.unlockOut(was)
	c.httpHS.Release()
	c.httpHS = nil
	c.isWS = true
	c.batched = batched
	c.wsd = &ws.Decoder{MaxMessageSize: c.srv.cfg.MaxMessageSize}
	c.wsOp = ws.OpBinary
	if f == codec.JSON {
		c.wsOp = ws.OpText
	}
	c.start(f, protocol)
	c.state = stWebSocket
	return n, true
}

func (c *conn) refuseHTTP(he *ws.HTTPError) {
	c.srv.stats.handshakeFailures.Add(1)
	c.srv.log.Debug("websocket handshake refused", "remote", c.addr.String(), "status", he.Status, "reason", he.Text)
	c.state = stDone
	if c.httpHS != nil {
		c.httpHS.Release()
		c.httpHS = nil
	}
	was := c.lockOut()
	c.out = he.AppendResponse(c.out)
	c.unlockOut(was)
	c.Close()
}

func (c *conn) feedRSHello(data []byte) (int, bool) {
	if c.rsHS == nil {
		c.rsHS = &rawsocket.ServerHandshake{}
	}
	req, n, err := c.rsHS.Feed(data)
	if err != nil {
		var code rawsocket.ErrorCode
		if errors.As(err, &code) {
			c.refuseRS(code)
		} else {
			c.srv.stats.handshakeFailures.Add(1)
			c.state = stDone
			c.Close()
		}
		return 0, false
	}
	if req == nil {
		return n, false
	}
	var f codec.Format
	switch req.Serializer {
	case rawsocket.JSON:
		f = codec.JSON
	case rawsocket.MsgPack:
		f = codec.MsgPack
	case rawsocket.CBOR:
		f = codec.CBOR
	default:
		c.refuseRS(rawsocket.ErrSerializerUnsupported)
		return 0, false
	}
	c.peerMax = req.MaxLen()
	reply := rawsocket.Handshake{Serializer: req.Serializer, LengthExp: rawsocket.LengthExpFor(c.srv.cfg.MaxMessageSize)}
	c.rsHS = nil
	c.rsd = &rawsocket.Decoder{MaxLen: reply.MaxLen()}
	was := c.lockOut()
	c.out = rawsocket.AppendHandshake(c.out, reply)
	c.unlockOut(was)
	c.start(f, f.Subprotocol())
	c.state = stRawSocket
	return n, true
}

func (c *conn) refuseRS(code rawsocket.ErrorCode) {
	c.srv.stats.handshakeFailures.Add(1)
	c.state = stDone
	was := c.lockOut()
	c.out = rawsocket.AppendError(c.out, code)
	c.unlockOut(was)
	c.Close()
}

// start attaches the connection to the router once the handshake is done.
func (c *conn) start(f codec.Format, protocol string) {
	c.format = f
	c.protocol = protocol
	c.core = c.srv.r.Attach(c)
	c.established.Store(true)
}

// wsHandler receives WebSocket messages and control frames.
type wsHandler conn

var _ ws.Handler = (*wsHandler)(nil)

func (h *wsHandler) OnMessage(op ws.Opcode, payload []byte) error {
	c := (*conn)(h)
	if op != c.wsOp {
		// wamp.2.json is text only, the binary serializers binary only.
		return &ws.CloseError{Code: ws.CloseUnsupportedData, Reason: "wrong message type for " + c.protocol}
	}
	if c.batched {
		return c.receiveBatched(payload)
	}
	c.core.Receive(c.batch, payload)
	return nil
}

func (h *wsHandler) OnPing(payload []byte) error {
	c := (*conn)(h)
	was := c.lockOut()
	if !c.shut {
		c.sealBatch()
		c.out = ws.AppendFrame(c.out, ws.OpPong, true, payload)
	}
	c.unlockOut(was)
	return nil
}

func (h *wsHandler) OnPong([]byte) error { return nil }

func (h *wsHandler) OnClose(code int, reason []byte) error {
	c := (*conn)(h)
	if code == ws.CloseNoStatus {
		code = ws.CloseNormal
	}
	c.closeWS(code, "")
	return nil
}

func (c *conn) wsFailed(err error) {
	var ce *ws.CloseError
	if errors.As(err, &ce) {
		c.srv.stats.framingErrors.Add(1)
		c.srv.log.Debug("websocket framing error", "remote", c.addr.String(), "error", err)
		c.closeWS(ce.Code, ce.Reason)
		return
	}
	c.closeWS(ws.CloseInternalError, "")
}

// closeWS queues a close frame (unless one went out already) and closes.
func (c *conn) closeWS(code int, reason string) {
	c.state = stDone
	c.mu.Lock()
	if !c.sentClose && !c.shut {
		if len(reason) > ws.MaxControlPayload-2 {
			reason = reason[:ws.MaxControlPayload-2]
		}
		c.sealBatch()
		c.out = ws.AppendClose(c.out, code, reason)
		c.sentClose = true
	}
	c.mu.Unlock()
	c.Close()
}

// rsHandler receives RawSocket frames.
type rsHandler conn

var _ rawsocket.Handler = (*rsHandler)(nil)

func (h *rsHandler) OnMessage(payload []byte) error {
	c := (*conn)(h)
	c.core.Receive(c.batch, payload)
	return nil
}

func (h *rsHandler) OnPing(payload []byte) error {
	c := (*conn)(h)
	was := c.lockOut()
	if !c.shut {
		c.out, _ = rawsocket.AppendFrame(c.out, rawsocket.Pong, payload, rawsocket.MaxLen)
	}
	c.unlockOut(was)
	return nil
}

func (h *rsHandler) OnPong([]byte) error { return nil }

func (c *conn) rsFailed(err error) {
	c.srv.stats.framingErrors.Add(1)
	c.srv.log.Debug("rawsocket framing error", "remote", c.addr.String(), "error", err)
	c.state = stDone
	c.Close()
}

// Format implements core.Transport.
func (c *conn) Format() codec.Format { return c.format }

// Send implements core.Transport: frame msg into the pending output.
func (c *conn) Send(msg []byte) bool {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return false
	}
	wasEmpty := len(c.out) == 0
	if c.out == nil {
		c.grabOut()
	}
	frame := len(msg) + ws.MaxHeaderSize
	pending := int(c.queued.Load()-c.written.Load()) + len(c.out)
	if pending+frame > c.srv.cfg.MaxPendingOutput && pending > 0 {
		c.mu.Unlock()
		c.slowConsumer()
		return false
	}
	if c.batched {
		c.appendBatched(msg)
		c.wire.msgs++
		c.mu.Unlock()
		return wasEmpty
	}
	if c.isWS {
		c.out = ws.AppendHeader(c.out, c.wsOp, true, len(msg))
	} else {
		var err error
		c.out, err = rawsocket.AppendHeader(c.out, rawsocket.Message, len(msg), c.peerMax)
		if err != nil {
			c.mu.Unlock()
			c.srv.stats.tooLarge.Add(1)
			c.srv.rlog.Warn("too_large", "message exceeds the peer's rawsocket limit, dropped", "remote", c.addr.String(), "size", len(msg), "limit", c.peerMax)
			return false
		}
	}
	c.out = append(c.out, msg...)
	c.wire.msgs++
	c.mu.Unlock()
	return wasEmpty
}

func (c *conn) slowConsumer() {
	if c.srv.cfg.SlowConsumer == DropSlowConsumer {
		n := c.srv.stats.slowDrops.Add(1)
		if !c.srv.rlog.Suppressed("slow_drop") {
			c.srv.rlog.Warn("slow_drop", "slow consumer: dropping messages", "remote", c.addr.String(), "dropped_total", n)
		}
		return
	}
	// Do not flush: the peer is not reading.
	if c.drop() {
		c.srv.stats.slowCloses.Add(1)
		c.srv.rlog.Warn("slow_close", "slow consumer: closing connection", "remote", c.addr.String(), "pending_limit", c.srv.cfg.MaxPendingOutput)
	}
}

// drop closes the connection without flushing its output (its peer is not
// reading, or is gone); it reports false when the connection was already
// closing, so each close is counted once.
func (c *conn) drop() bool {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return false
	}
	c.shut = true
	c.out = c.out[:0]
	c.batchAt = -1
	c.wire.msgs = 0
	c.mu.Unlock()
	_ = c.io.close()
	return true
}

// Flush implements core.Transport: one write for everything pending.
func (c *conn) Flush() {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

// flushLocked writes the pending output and returns the number of WAMP
// messages it carried.
func (c *conn) flushLocked() int {
	c.sealBatch()
	if len(c.out) == 0 || c.io == nil {
		return 0
	}
	n := int(c.wire.msgs)
	c.wire.msgs = 0
	c.wire.bytesOut += uint64(len(c.out))
	c.queued.Add(int64(len(c.out)))
	_ = c.io.write(c.out)
	// An idle connection holds no output buffer.
	c.releaseOut()
	return n
}

// grabOut takes an output buffer from the pool; the caller holds c.mu.
func (c *conn) grabOut() {
	c.outBuf = outPool.Get().(*[]byte)
	c.out = (*c.outBuf)[:0]
}

// releaseOut returns the output buffer to the pool; the caller holds c.mu.
func (c *conn) releaseOut() {
	if c.outBuf != nil {
		if cap(c.out) <= maxPooledOut {
			*c.outBuf = c.out[:0]
			outPool.Put(c.outBuf)
		}
		c.outBuf = nil
	}
	c.out = nil
	c.batchAt = -1
}

// Close implements core.Transport: flush what is pending (a WebSocket close
// frame first if none was sent), then close the socket.
func (c *conn) Close() {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return
	}
	if c.isWS && !c.sentClose {
		c.sealBatch()
		c.out = ws.AppendClose(c.out, ws.CloseNormal, "")
		c.sentClose = true
	}
	c.flushLocked()
	c.shut = true
	c.mu.Unlock()
	if c.io != nil {
		_ = c.io.close()
	}
}

// Info implements core.Transport.
func (c *conn) Info() core.TransportInfo {
	kind := "rawsocket"
	if c.isWS {
		kind = "websocket"
	}
	return core.TransportInfo{Kind: kind, Protocol: c.protocol, RemoteAddr: c.addr.String(), Auth: c.transportAuth()}
}

// closed runs once when the socket is gone: detach the session and free
// buffers.
func (c *conn) closed(error) {
	if c.ended.Swap(true) {
		return
	}
	c.mu.Lock()
	c.shut = true
	c.releaseOut()
	c.mu.Unlock()
	if c.core != nil {
		c.core.Detach()
	}
	c.srv.unregister(c)
	c.releaseIP()
}

// releaseIP gives back the connection's place under MaxConnsPerIP, once.
func (c *conn) releaseIP() {
	if c.ipHeld.Swap(false) {
		c.srv.releaseIP(c.addr)
	}
}

// keepalive pings a silent connection and closes one that stayed silent
// after a ping, or that never finished its handshake.
func (c *conn) keepalive(now int64) {
	cfg := &c.srv.cfg
	if !c.established.Load() {
		if now-c.opened > int64(cfg.HandshakeTimeout) && !c.ended.Load() {
			c.srv.stats.handshakeFailures.Add(1)
			c.Close()
		}
		return
	}
	if cfg.PingInterval < 0 {
		return
	}
	if p := c.pingedAt.Load(); p != 0 {
		if now-p > int64(cfg.PingTimeout) {
			if c.drop() {
				c.srv.stats.pingTimeouts.Add(1)
				c.srv.rlog.Info("keepalive", "keepalive timeout, closing", "remote", c.addr.String())
			}
		}
		return
	}
	if now-c.lastRead.Load() < int64(cfg.PingInterval) {
		return
	}
	c.pingedAt.Store(now)
	c.mu.Lock()
	if !c.shut {
		if c.isWS {
			c.sealBatch()
			c.out = ws.AppendFrame(c.out, ws.OpPing, true, []byte("zwamp"))
		} else {
			c.out, _ = rawsocket.AppendFrame(c.out, rawsocket.Ping, []byte("zwamp"), c.peerMax)
		}
		c.flushLocked()
	}
	c.mu.Unlock()
}
