package netpoll

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Some connections run on Go's blocking net.Conn instead of nbio: a reader
// goroutine feeds the same state machine as nbio's pollers, and a writer
// goroutine, which exists only while output is pending, drains what a
// flush hands it.
//   - unix sockets: nbio v1.6.8 keeps the unwritten rest of a partial write
//     only for TCP (Conn.write checks ConnTypeTCP), so a large message to a
//     unix-socket peer would lose its tail.
//   - TLS over a unix socket, for the same reason. TLS over TCP runs its
//     handshake on a goroutine and then moves to nbio (see tls.go).
// Both are edge cases next to the TCP connection counts nbio serves.
//
// Memory: an idle blocking connection holds one goroutine (the reader,
// parked in Read) with its small read buffer, and no writer, no output
// buffer. A read that fills the small buffer borrows a large pooled one
// for the reads that follow, until one comes back short.

const blockingWriteTimeout = 30 * time.Second

// Read buffers of the blocking driver.
const (
	blockingSmallRead = 2 << 10
	blockingLargeRead = 32 << 10
)

var blockingReadPool = sync.Pool{New: func() any { b := make([]byte, blockingLargeRead); return &b }}

func (s *Server) serveBlocking(nc net.Conn, spec *listenerSpec) {
	var bc net.Conn = nc
	if spec.TLS != nil {
		addr := nc.RemoteAddr()
		l := s.tlsListener(spec)
		if !s.admitHandshake(addr, l) {
			_ = nc.Close()
			if s.cfg.MaxConnsPerIP > 0 {
				s.releaseIP(addr)
			}
			return
		}
		tc := tls.Server(nc, l.base)
		_ = tc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
		if err := tc.Handshake(); !s.endHandshake(addr, l, tc, err) {
			_ = tc.Close()
			if s.cfg.MaxConnsPerIP > 0 {
				s.releaseIP(nc.RemoteAddr())
			}
			return
		}
		_ = tc.SetDeadline(time.Time{})
		bc = tc
	}
	c := newConn(s, spec, nc.RemoteAddr())
	c.ipHeld.Store(s.cfg.MaxConnsPerIP > 0)
	if tc, ok := bc.(*tls.Conn); ok {
		c.auth = tlsAuth(tc.ConnectionState())
	}
	w := &blockingWriter{nc: bc, c: c}
	c.io = w
	c.published.Store(true)
	s.register(c)
	small := make([]byte, blockingSmallRead)
	buf := small
	var large *[]byte
	var err error
	for {
		var n int
		n, err = bc.Read(buf)
		if n > 0 {
			c.onData(buf[:n])
		}
		if err != nil {
			break
		}
		switch {
		case n == len(buf) && large == nil:
			large = blockingReadPool.Get().(*[]byte)
			buf = *large
		case n < len(buf) && large != nil:
			blockingReadPool.Put(large)
			large, buf = nil, small
		}
	}
	if large != nil {
		blockingReadPool.Put(large)
	}
	_ = w.close()
	c.closed(err)
}

// blockingWriter is a blocking connection's output: write queues and
// starts the writer goroutine if none runs; the goroutine sends until
// nothing is pending, then exits.
type blockingWriter struct {
	nc      net.Conn
	c       *conn
	mu      sync.Mutex
	pend    *[]byte // from outPool while output is pending
	running bool    // a writer goroutine exists
	done    bool    // close requested: send what is queued, then close
	dead    bool    // a write failed: drop everything
}

func (w *blockingWriter) write(b []byte) error {
	w.mu.Lock()
	if w.done || w.dead {
		w.mu.Unlock()
		return net.ErrClosed
	}
	if w.pend == nil {
		w.pend = outPool.Get().(*[]byte)
		*w.pend = (*w.pend)[:0]
	}
	*w.pend = append(*w.pend, b...)
	w.startLocked()
	w.mu.Unlock()
	return nil
}

// close lets the writer send what is queued, then close the connection.
func (w *blockingWriter) close() error {
	w.mu.Lock()
	w.done = true
	// Closing a TLS connection writes close_notify, which may block: the
	// writer goroutine does it, never the caller.
	w.startLocked()
	w.mu.Unlock()
	return nil
}

func (w *blockingWriter) startLocked() {
	if !w.running {
		w.running = true
		go w.run()
	}
}

// run sends pending output until there is none; it closes the connection
// when close was requested and everything is sent, or a write failed.
func (w *blockingWriter) run() {
	for {
		w.mu.Lock()
		buf := w.pend
		w.pend = nil
		if buf == nil || w.dead {
			w.running = false
			closeNow := w.done || w.dead
			w.mu.Unlock()
			if buf != nil {
				releaseBlockingOut(buf)
			}
			if closeNow {
				_ = w.nc.Close()
			}
			return
		}
		w.mu.Unlock()
		_ = w.nc.SetWriteDeadline(time.Now().Add(blockingWriteTimeout))
		n, err := w.nc.Write(*buf)
		w.c.written.Add(int64(n))
		releaseBlockingOut(buf)
		if err != nil {
			w.mu.Lock()
			w.dead = true
			if w.pend != nil {
				releaseBlockingOut(w.pend)
				w.pend = nil
			}
			w.mu.Unlock()
		}
	}
}

func releaseBlockingOut(b *[]byte) {
	if cap(*b) <= maxPooledOut {
		*b = (*b)[:0]
		outPool.Put(b)
	}
}
