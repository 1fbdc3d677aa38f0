package netpoll

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// TLS connections use crypto/tls, which needs a blocking net.Conn, so each
// runs on two goroutines: a reader feeding the same state machine as nbio's
// pollers, and a writer draining the output a flush hands it. TLS is for
// edge cases (browsers on wss://) more than for the connection counts nbio
// serves; correctness and Go's maintained TLS stack outweigh the goroutines.

const tlsWriteTimeout = 30 * time.Second

func (s *Server) serveTLS(nc net.Conn, spec *listenerSpec) {
	tc := tls.Server(nc, spec.TLS)
	_ = tc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		s.stats.handshakeFailures.Add(1)
		s.log.Debug("tls handshake failed", "remote", nc.RemoteAddr().String(), "error", err)
		_ = tc.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	c := newConn(s, spec, nc.RemoteAddr())
	w := &tlsWriter{tc: tc, c: c}
	w.cond = sync.NewCond(&w.mu)
	c.io = w
	c.published.Store(true)
	s.register(c)
	go w.run()
	buf := make([]byte, 32<<10)
	var err error
	for {
		var n int
		n, err = tc.Read(buf)
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

// tlsWriter is a TLS connection's output: write queues, run sends.
type tlsWriter struct {
	tc    *tls.Conn
	c     *conn
	mu    sync.Mutex
	cond  *sync.Cond
	pend  []byte
	spare []byte
	done  bool
}

func (w *tlsWriter) write(b []byte) error {
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
func (w *tlsWriter) close() error {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	w.cond.Signal()
	return nil
}

func (w *tlsWriter) run() {
	for {
		w.mu.Lock()
		for len(w.pend) == 0 && !w.done {
			w.cond.Wait()
		}
		if len(w.pend) == 0 {
			w.mu.Unlock()
			_ = w.tc.Close()
			return
		}
		buf := w.pend
		w.pend = w.spare[:0]
		w.mu.Unlock()
		_ = w.tc.SetWriteDeadline(time.Now().Add(tlsWriteTimeout))
		n, err := w.tc.Write(buf)
		w.c.written.Add(int64(n))
		w.spare = buf[:0]
		if err != nil {
			w.mu.Lock()
			w.done = true
			w.pend = nil
			w.mu.Unlock()
			_ = w.tc.Close()
			return
		}
	}
}
