// Package netpoll puts the router on the wire: WebSocket and RawSocket
// listeners (and a universal listener that serves both on one port) over
// nbio's epoll engine, with TLS and unix sockets.
//
// # Threads
//
// Listeners run one accept goroutine each and hand plain TCP connections to
// nbio, whose pollers call OnData; the framing (netpoll/ws,
// netpoll/rawsocket), the codec and the router run inline there, with a
// core.Batch per read. A TLS connection over TCP runs its handshake on a
// short-lived goroutine, bounded in time and in number (overall and per
// source address), then moves to nbio with Go's crypto/tls on top (see
// tls.go). Unix-socket connections (and TLS over them) run on a reader
// goroutine and a writer goroutine that exists only while output is
// pending (see blocking.go); they feed the same state machine. One sweeper goroutine per Server drives keepalive pings,
// handshake timeouts and the coarse clock.
//
// # Output
//
// core.Transport.Send copies a frame (header + message) into the
// connection's pending output; the batch that first made it non-empty
// flushes it with one write when its input batch ends, so everything
// produced for a connection while handling one read goes out in one
// syscall. Output the kernel does not take is queued by nbio; pending output
// (ours plus nbio's) is bounded per connection, and a connection over the
// bound is a slow consumer: closed (default) or its new messages dropped,
// counted and logged either way, never slowing anyone else.
//
// # Locks
//
// conn.mu guards a connection's output state; it is taken after any core
// lock (it is the "transport's own output lock" of core's lock order) and
// before nbio's own connection lock. Nothing is called back into core while
// conn.mu is held.
package netpoll
