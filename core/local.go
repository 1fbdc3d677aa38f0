package core

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/zwamp/zwamp/codec"
)

// ErrLocalClosed is returned by Local.Read and Local.Write after the
// connection closed.
var ErrLocalClosed = errors.New("core: local connection closed")

// DefaultLocalMaxPending bounds the bytes a Local connection queues for a
// reader that does not keep up; past it the connection is closed (the
// slow-consumer policy) and counted.
const DefaultLocalMaxPending = 64 << 20

var _ Transport = (*Local)(nil)

// Local is an in-process transport: a connection to a Router without a
// socket, for tests and for embedding the router in a Go program. The
// router side is a Transport; the client side is Write (client → router)
// and Read (router → client).
//
// Messages for the client are copied into a queue that Read drains by
// swapping buffers, so a client that keeps up causes no allocation.
type Local struct {
	conn   *Conn
	format codec.Format
	max    int

	wmu sync.Mutex // serialises Write (one Receive at a time per Conn)

	mu     sync.Mutex
	in     []byte // queued messages: 4-byte little-endian length, then bytes
	closed bool
	notify chan struct{}
	done   chan struct{}

	cur  []byte // owned by the reader
	rpos int

	dropped atomic.Int64
}

// ConnectLocal opens an in-process connection speaking serializer f.
func (r *Router) ConnectLocal(f codec.Format) *Local {
	l := &Local{format: f, max: DefaultLocalMaxPending, notify: make(chan struct{}, 1), done: make(chan struct{})}
	l.conn = r.Attach(l)
	return l
}

// Format implements Transport.
func (l *Local) Format() codec.Format { return l.format }

// Send implements Transport: it copies msg into the client's queue.
func (l *Local) Send(msg []byte) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	if len(l.in)+len(msg)+4 > l.max {
		l.mu.Unlock()
		l.dropped.Add(1)
		l.Close()
		return false
	}
	l.in = binary.LittleEndian.AppendUint32(l.in, uint32(len(msg)))
	l.in = append(l.in, msg...)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
	return false
}

// Flush implements Transport; Send already delivered.
func (l *Local) Flush() {}

// Close implements Transport and closes the connection from either side.
// The router side is detached once; Read returns queued messages, then
// ErrLocalClosed.
func (l *Local) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	close(l.done)
	l.mu.Unlock()
	// Detach takes the conn's lock; when Close is called from inside the
	// router (ABORT while handling this conn's message) that lock is held,
	// so detach from a fresh goroutine instead of deadlocking.
	go l.conn.Detach()
}

// Info implements Transport.
func (l *Local) Info() TransportInfo {
	return TransportInfo{Kind: "local", Protocol: l.format.Subprotocol(), RemoteAddr: "local"}
}

// Write hands one encoded WAMP message to the router, as if it had arrived
// on a socket. Safe for concurrent use.
func (l *Local) Write(msg []byte) error {
	select {
	case <-l.done:
		return ErrLocalClosed
	default:
	}
	l.wmu.Lock()
	b := AcquireBatch()
	l.conn.Receive(b, msg)
	b.Release()
	l.wmu.Unlock()
	return nil
}

// Read returns the next message from the router, blocking until one
// arrives or the connection closes. The message is valid until the next
// Read. Not safe for concurrent use.
func (l *Local) Read() ([]byte, error) {
	for {
		if msg, ok := l.next(); ok {
			return msg, nil
		}
		if !l.refill() {
			select {
			case <-l.notify:
			case <-l.done:
				if !l.refill() {
					return nil, ErrLocalClosed
				}
			}
		}
	}
}

// TryRead returns the next message if one is queued.
func (l *Local) TryRead() ([]byte, bool) {
	if msg, ok := l.next(); ok {
		return msg, true
	}
	if l.refill() {
		return l.next()
	}
	return nil, false
}

func (l *Local) next() ([]byte, bool) {
	if l.rpos+4 > len(l.cur) {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(l.cur[l.rpos:]))
	msg := l.cur[l.rpos+4 : l.rpos+4+n]
	l.rpos += 4 + n
	return msg, true
}

// refill swaps the queue in; it reports whether there was anything.
func (l *Local) refill() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.in) == 0 {
		return false
	}
	l.cur, l.in = l.in, l.cur[:0]
	l.rpos = 0
	return true
}

// Closed reports whether the connection has closed.
func (l *Local) Closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Dropped reports how many messages were refused because the reader fell
// behind by more than the pending limit.
func (l *Local) Dropped() int64 { return l.dropped.Load() }

// Conn returns the router side of the connection.
func (l *Local) Conn() *Conn { return l.conn }
