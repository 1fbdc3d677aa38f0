package netpoll

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/zwamp/zwamp/core"
)

// Bytes in and out by transport kind, and the messages per write that
// core's histogram (core.WritesHistogram) gets from FlushCounted.
//
// Nothing here is shared between connections on the hot path: each
// connection counts in its own fields (bytes in: an atomic add on the
// connection's own line per read, not per message; bytes out and the
// messages since the last write: plain fields under the output lock the
// write holds anyway). When a connection ends, unregister folds its counts
// into the server's totals. WireStats sums the totals and the live
// connections when someone asks (a scrape).
//
// Consistency for a Prometheus counter (it must never go down): WireStats
// takes wireMu for writing while it reads the live connections, folds take
// it for reading, and a connection folded is marked so a later read skips
// it. A connection is thus counted either live or in the totals, never
// both and never neither, whatever the interleaving.
//
// Bytes are those of the transport protocol as the router sees them: the
// HTTP upgrade or RawSocket handshake, frames and their headers; TLS
// records are not included (the TLS counters count those).

// wireKinds: the transport kinds bytes are counted by.
const (
	wireHandshake = iota // the opening handshake never finished
	wireWebSocket
	wireRawSocket
	numWireKinds
)

var wireKindNames = [numWireKinds]string{"handshake", "websocket", "rawsocket"}

// connWire is a connection's own counters.
type connWire struct {
	bytesIn  atomic.Uint64 // added by the connection's reader
	bytesOut uint64        // under conn.mu
	msgs     uint32        // WAMP messages queued since the last write; under conn.mu
	folded   bool          // counted into the server's totals; under conn.mu
}

// wireTotals are the counts of the connections that ended.
type wireTotals struct {
	mu      sync.RWMutex // see the consistency note above
	in, out [numWireKinds][2]atomic.Uint64
}

// wireKind is the connection's kind index; the caller holds c.mu or is
// the reader (isWS is set once, before established).
func (c *conn) wireKind() int {
	switch {
	case !c.established.Load():
		return wireHandshake
	case c.isWS:
		return wireWebSocket
	default:
		return wireRawSocket
	}
}

func (c *conn) tlsIndex() int {
	if c.spec.TLS != nil {
		return 1
	}
	return 0
}

// foldWire adds the connection's counts to the server's totals, once.
func (c *conn) foldWire(t *wireTotals) {
	t.mu.RLock()
	c.mu.Lock()
	if !c.wire.folded {
		c.wire.folded = true
		k, tl := c.wireKind(), c.tlsIndex()
		t.in[k][tl].Add(c.wire.bytesIn.Load())
		t.out[k][tl].Add(c.wire.bytesOut)
	}
	c.mu.Unlock()
	t.mu.RUnlock()
}

// FlushCounted implements core.CountingFlusher: Flush, returning the WAMP
// messages the write carried.
func (c *conn) FlushCounted() int {
	c.mu.Lock()
	n := c.flushLocked()
	c.mu.Unlock()
	return n
}

// TransportKind implements core.TransportKinder.
func (c *conn) TransportKind() string {
	if c.isWS {
		return "websocket"
	}
	return "rawsocket"
}

var (
	_ core.CountingFlusher = (*conn)(nil)
	_ core.TransportKinder = (*conn)(nil)
)

// WireCount is the bytes received and sent on one kind of transport.
type WireCount struct {
	Transport string // websocket, rawsocket, or handshake (never finished it)
	TLS       bool
	BytesIn   uint64
	BytesOut  uint64
}

// WireStats returns the bytes received and sent since the server started,
// by transport kind and TLS, live connections included. It visits every
// connection (a lock each): for a scrape, not for the hot path.
func (s *Server) WireStats() []WireCount {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	var in, out [numWireKinds][2]uint64
	t := &s.wire
	t.mu.Lock()
	for _, c := range list {
		c.mu.Lock()
		// A connection still in its opening handshake is left out until
		// it finishes it or ends, so that its bytes never move from one
		// label to another (a counter must not go down).
		if k := c.wireKind(); !c.wire.folded && k != wireHandshake {
			tl := c.tlsIndex()
			in[k][tl] += c.wire.bytesIn.Load()
			out[k][tl] += c.wire.bytesOut
		}
		c.mu.Unlock()
	}
	for k := range in {
		for tl := range in[k] {
			in[k][tl] += t.in[k][tl].Load()
			out[k][tl] += t.out[k][tl].Load()
		}
	}
	t.mu.Unlock()
	var res []WireCount
	for k := range in {
		for tl := range in[k] {
			if in[k][tl] != 0 || out[k][tl] != 0 {
				res = append(res, WireCount{Transport: wireKindNames[k], TLS: tl == 1, BytesIn: in[k][tl], BytesOut: out[k][tl]})
			}
		}
	}
	return res
}

// PendingConn is a connection with output the peer has not taken yet.
type PendingConn struct {
	Remote    string
	Transport string
	Protocol  string
	Pending   int64 // bytes queued for the socket and not yet written
}

// SlowConsumers returns up to n established connections with the most
// output pending, largest first, leaving out those with less than minPending
// bytes pending: the peers that read slower than the router writes, the
// candidates for the slow-consumer policy (Config.MaxPendingOutput).
func (s *Server) SlowConsumers(n int, minPending int64) []PendingConn {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	var res []PendingConn
	for _, c := range list {
		if !c.established.Load() {
			continue
		}
		c.mu.Lock()
		p := c.queued.Load() - c.written.Load() + int64(len(c.out))
		shut := c.shut
		c.mu.Unlock()
		if shut || p < minPending || p <= 0 {
			continue
		}
		res = append(res, PendingConn{Remote: c.addr.String(), Transport: c.TransportKind(), Protocol: c.protocol, Pending: p})
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Pending > res[j].Pending })
	if len(res) > n {
		res = res[:n]
	}
	return res
}
