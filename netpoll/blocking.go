package netpoll

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Some connections run on Go's blocking net.Conn instead of nbio, each on
// two goroutines: a reader feeding the same state machine as nbio's
// pollers, and a writer draining the output a flush hands it.
//   - TLS: crypto/tls needs a blocking net.Conn (nbio's TLS is a fork of an
//     old crypto/tls; Go's maintained stack is worth the goroutines).
//   - unix sockets: nbio v1.6.8 keeps the unwritten rest of a partial write
//     only for TCP (Conn.write checks ConnTypeTCP), so a large message to a
//     unix-socket peer would lose its tail.
// Both are edge cases next to the TCP connection counts nbio serves.

const blockingWriteTimeout = 30 * time.Second

func (s *Server) serveBlocking(nc net.Conn, spec *listenerSpec) {
	var bc net.Conn = nc
	if spec.TLS != nil {
		tc := tls.Server(nc, spec.TLS)
		_ = tc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			s.stats.handshakeFailures.Add(1)
			s.log.Debug("tls handshake failed", "remote", nc.RemoteAddr().String(), "error", err)
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
	w.cond = sync.NewCond(&w.mu)
	c.io = w
	c.published.Store(true)
	s.register(c)
	go w.run()
	buf := make([]byte, 32<<10)
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
	}
	_ = w.close()
	c.closed(err)
}

// blockingWriter is a blocking connection's output: write queues, run
// sends.
type blockingWriter struct {
	nc    net.Conn
	c     *conn
	mu    sync.Mutex
	cond  *sync.Cond
	pend  []byte
	spare []byte
	done  bool
}

func (w *blockingWriter) write(b []byte) error {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return net.ErrClosed
	}
	w.pend = append(w.pend, b...)
	w.mu.Unlock()
	w.cond.Signal()
	return nil
}

// close lets the writer send what is queued, then close the connection.
func (w *blockingWriter) close() error {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	w.cond.Signal()
	return nil
}

func (w *blockingWriter) run() {
	for {
		w.mu.Lock()
		for len(w.pend) == 0 && !w.done {
			w.cond.Wait()
		}
		if len(w.pend) == 0 {
			w.mu.Unlock()
			_ = w.nc.Close()
			return
		}
		buf := w.pend
		w.pend = w.spare[:0]
		w.mu.Unlock()
		_ = w.nc.SetWriteDeadline(time.Now().Add(blockingWriteTimeout))
		n, err := w.nc.Write(buf)
		w.c.written.Add(int64(n))
		w.spare = buf[:0]
		if err != nil {
			w.mu.Lock()
			w.done = true
			w.pend = nil
			w.mu.Unlock()
			_ = w.nc.Close()
			return
		}
	}
}
