package ceiling

// The coalescing ceiling: the same canned WAMP as Server, but on the I/O
// path a router uses — nbio's bare event loop, zwamp's own WebSocket
// framing (netpoll/ws), and every byte produced while handling one read
// gathered per destination connection and written with one write(2) per
// destination when the read is done. It does no WAMP work beyond the few
// bytes parse.go reads: no decoding, no routing tables, no sessions, no
// validation. A router is then measured against "what the smallest server
// that frames, parses the message head, copies the payload and coalesces
// its writes costs on this machine", not against a server that pays a
// syscall per message.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/zwamp/zwamp/netpoll/ws"
)

// Coalescing is a running coalescing ceiling server; see NewCoalescing.
type Coalescing struct {
	engine *nbio.Engine
	addr   string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[*cconn]struct{}
	closed bool
	wg     sync.WaitGroup

	subMu sync.Mutex                  // serialises subscriber list updates
	subs  [2]atomic.Pointer[[]*cconn] // per serializer; copy on write

	sessions atomic.Uint64
	pubs     atomic.Uint64

	// Counters, for tests and the exit line: WebSocket messages handled
	// and EVENTs queued for a subscriber. They are added once per read.
	Received  atomic.Int64
	Delivered atomic.Int64
	// Writes counts write calls (one per destination per read), for
	// tests; it costs one atomic add per write(2).
	Writes atomic.Int64
}

// cconn is one connection of the coalescing ceiling.
type cconn struct {
	srv *Coalescing
	nc  *nbio.Conn

	// Read side: only the poller delivering this connection's input.
	hs     *ws.ServerHandshake // until the upgrade is done
	dec    ws.Decoder
	f      int       // fmtJSON or fmtMsgPack
	op     ws.Opcode // text for JSON, binary for MessagePack
	open   bool      // upgraded
	batch  cbatch    // what the current read produced
	sub    bool      // in a subscriber list (guarded by srv.subMu)
	ready  atomic.Bool
	closed atomic.Bool

	// Output: frames for this connection gathered during reads, written by
	// the batch that first made out non-empty. The buffer is kept and
	// reused; it grows to the largest burst the connection received.
	mu   sync.Mutex
	out  []byte
	shut bool
}

// cbatch is what one read produced: the destinations to flush, scratch
// for a message built once and copied to many, and counters added to the
// server's once. Each connection has its own (only its poller uses it):
// a sync.Pool would allocate now and then when the poller goroutine moves
// between Ps, and the slices grow once to what the connection needs.
type cbatch struct {
	dirty     []*cconn
	scratch   []byte
	received  int64
	delivered int64
	active    bool // during onData: queue destinations here
}

// NewCoalescing creates a coalescing ceiling server (WebSocket only,
// wamp.2.json and wamp.2.msgpack); Start listens. It answers like Server
// (see the package doc) with two differences: replies and EVENTs are
// coalesced per destination and written once per read, and there is no
// HTTP machinery beyond the upgrade.
func NewCoalescing(cfg Config) *Coalescing {
	s := &Coalescing{addr: cfg.Addr, conns: make(map[*cconn]struct{})}
	for i := range s.subs {
		s.subs[i].Store(&[]*cconn{})
	}
	logging.SetLevel(logging.LevelNone)
	s.engine = nbio.NewEngine(nbio.Config{
		Name:           "zwamp-ceiling-coalesce",
		NPoller:        cfg.Pollers,
		ReadBufferSize: 64 << 10,
	})
	s.engine.OnData(func(nc *nbio.Conn, data []byte) {
		if c, ok := nc.Session().(*cconn); ok && c.ready.Load() {
			c.onData(data)
		}
	})
	s.engine.OnClose(func(nc *nbio.Conn, _ error) {
		if c, ok := nc.Session().(*cconn); ok {
			// nbio may call this from inside Write, with c.mu held.
			go s.gone(c)
		}
	})
	return s
}

// Start listens and serves.
func (s *Coalescing) Start() error {
	if err := s.engine.Start(); err != nil {
		return fmt.Errorf("ceiling: start: %w", err)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.engine.Stop()
		return fmt.Errorf("ceiling: listen %s: %w", s.addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go s.accept(ln)
	return nil
}

// Addr returns the listening address.
func (s *Coalescing) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop closes the listener and every connection.
func (s *Coalescing) Stop() {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	all := make([]*cconn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.wg.Wait()
	for _, c := range all {
		_ = c.nc.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.engine.Shutdown(ctx)
}

func (s *Coalescing) accept(ln net.Listener) {
	defer s.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of fds and the like
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		nbc, err := nbio.NBConn(nc)
		if err != nil {
			_ = nc.Close()
			continue
		}
		c := &cconn{srv: s, nc: nbc, hs: &ws.ServerHandshake{}}
		nbc.SetSession(c)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nbc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		c.ready.Store(true) // the hand-over to the poller goes through epoll
		if _, err := s.engine.AddConn(nbc); err != nil {
			s.gone(c)
		}
	}
}

// gone forgets a closed connection.
func (s *Coalescing) gone(c *cconn) {
	if c.closed.Swap(true) {
		return
	}
	s.unsubscribe(c)
	c.mu.Lock()
	c.shut = true
	c.out = nil
	c.mu.Unlock()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (c *cconn) onData(data []byte) {
	b := &c.batch
	b.active = true
	c.feed(data)
	b.active = false
	for i, d := range b.dirty {
		d.flush()
		b.dirty[i] = nil
	}
	b.dirty = b.dirty[:0]
	if b.received != 0 {
		c.srv.Received.Add(b.received)
		b.received = 0
	}
	if b.delivered != 0 {
		c.srv.Delivered.Add(b.delivered)
		b.delivered = 0
	}
}

func (c *cconn) feed(data []byte) {
	if !c.open {
		req, n, err := c.hs.Feed(data)
		if err != nil {
			var he *ws.HTTPError
			if !errors.As(err, &he) {
				he = &ws.HTTPError{Status: 400, Text: err.Error()}
			}
			c.refuse(he)
			return
		}
		if req == nil {
			return
		}
		proto := req.ChooseProtocol(func(p []byte) bool {
			return string(p) == "wamp.2.json" || string(p) == "wamp.2.msgpack"
		})
		if proto == nil {
			c.refuse(ws.ErrNoWAMPProtocol)
			return
		}
		c.f, c.op = fmtJSON, ws.OpText
		if string(proto) == "wamp.2.msgpack" {
			c.f, c.op = fmtMsgPack, ws.OpBinary
		}
		c.raw(func(out []byte) []byte { return req.AppendAccept(out, proto) })
		c.hs.Release()
		c.hs = nil
		c.open = true
		data = data[n:]
	}
	if err := c.dec.Feed(data, (*chandler)(c)); err != nil {
		code, reason := ws.CloseProtocolError, ""
		var ce *ws.CloseError
		if errors.As(err, &ce) {
			code, reason = ce.Code, ce.Reason
		}
		c.raw(func(out []byte) []byte { return ws.AppendClose(out, code, reason) })
		c.closeAfterFlush()
	}
}

func (c *cconn) refuse(he *ws.HTTPError) {
	c.raw(he.AppendResponse)
	c.closeAfterFlush()
}

// closeAfterFlush flushes c now and closes it.
func (c *cconn) closeAfterFlush() {
	c.flush()
	_ = c.nc.Close()
}

// raw appends bytes built by add to c's own output (handshake answers,
// control frames).
func (c *cconn) raw(add func([]byte) []byte) {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return
	}
	was := len(c.out) == 0
	c.out = add(c.out)
	c.mu.Unlock()
	if was && c.batch.active {
		c.batch.dirty = append(c.batch.dirty, c)
	}
}

// send frames msg into d's output and, if that made it non-empty, queues
// d on b to be flushed when the read is done.
func (b *cbatch) send(d *cconn, msg []byte) bool {
	d.mu.Lock()
	if d.shut {
		d.mu.Unlock()
		return false
	}
	was := len(d.out) == 0
	d.out = ws.AppendHeader(d.out, d.op, true, len(msg))
	d.out = append(d.out, msg...)
	d.mu.Unlock()
	if was {
		b.dirty = append(b.dirty, d)
	}
	return true
}

// flush writes c's pending output with one write; nbio queues what the
// kernel does not take.
func (c *cconn) flush() {
	c.mu.Lock()
	if len(c.out) > 0 && !c.shut {
		c.srv.Writes.Add(1)
		_, _ = c.nc.Write(c.out)
		c.out = c.out[:0]
	}
	c.mu.Unlock()
}

// chandler receives c's WebSocket messages.
type chandler cconn

func (h *chandler) OnPing(p []byte) error {
	c := (*cconn)(h)
	c.raw(func(out []byte) []byte { return ws.AppendFrame(out, ws.OpPong, true, p) })
	return nil
}

func (h *chandler) OnPong([]byte) error { return nil }

func (h *chandler) OnClose(code int, _ []byte) error {
	c := (*cconn)(h)
	if code == ws.CloseNoStatus {
		code = ws.CloseNormal
	}
	c.raw(func(out []byte) []byte { return ws.AppendClose(out, code, "") })
	c.closeAfterFlush()
	return nil
}

func (h *chandler) OnMessage(_ ws.Opcode, data []byte) error {
	c := (*cconn)(h)
	b := &c.batch
	b.received++
	f := c.f
	typ, n, rest, ok := head(f, data)
	if !ok {
		return nil
	}
	out := b.scratch[:0]
	switch typ {
	case tHello:
		out = welcome(out, f, c.srv.sessions.Add(1))
		b.send(c, out)
	case tGoodbye:
		out = goodbye(out, f)
		b.send(c, out)
		c.closeAfterFlush()
	case tSubscribe, tRegister, tUnsubscribe:
		req, _, ok := requestID(f, rest)
		if !ok {
			return nil
		}
		out = ack(out, f, typ, req)
		switch typ {
		case tSubscribe:
			c.srv.subscribe(c)
		case tUnsubscribe:
			c.srv.unsubscribe(c)
		}
		b.send(c, out)
	case tPublish, tCall:
		req, after, ok := requestID(f, rest)
		if !ok {
			return nil
		}
		payload, ok := skipTwo(f, after)
		if !ok {
			return nil
		}
		if typ == tCall {
			out = result(out, f, n, req, payload)
			b.send(c, out)
			break
		}
		out = event(out, f, n, c.srv.pubs.Add(1), payload)
		for _, d := range *c.srv.subs[f].Load() {
			if b.send(d, out) {
				b.delivered++
			}
		}
	}
	b.scratch = out[:0] // keep what it grew to
	return nil
}

// subscribe adds c to the subscriber list of its serializer, once (O(1)
// amortised: the list grows into spare capacity no snapshot covers).
func (s *Coalescing) subscribe(c *cconn) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if c.sub {
		return
	}
	c.sub = true
	list := append(*s.subs[c.f].Load(), c)
	s.subs[c.f].Store(&list)
}

// unsubscribe removes c from its subscriber list, with a copy: publishers
// may be walking the old one.
func (s *Coalescing) unsubscribe(c *cconn) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if !c.sub {
		return
	}
	c.sub = false
	old := *s.subs[c.f].Load()
	for i, x := range old {
		if x == c {
			list := make([]*cconn, 0, len(old)-1)
			list = append(list, old[:i]...)
			list = append(list, old[i+1:]...)
			s.subs[c.f].Store(&list)
			return
		}
	}
}

// Counts returns the WebSocket messages handled and the EVENTs queued.
func (s *Coalescing) Counts() (received, delivered int64) {
	return s.Received.Load(), s.Delivered.Load()
}
