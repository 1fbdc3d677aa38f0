package core

import "github.com/zwamp/zwamp/codec"

// Transport is the router's view of one connection: something it can hand
// encoded WAMP messages to. netpoll's WebSocket and RawSocket connections
// and the in-process transport implement it.
type Transport interface {
	// Format is the serializer the peer speaks.
	Format() codec.Format

	// Send queues one encoded WAMP message for the peer. It is called from
	// any driver goroutine, must not block on the peer, and must be done
	// with msg when it returns (copy it into pending output). It reports
	// whether the transport wants Flush called at the end of the sender's
	// batch. A transport whose peer cannot keep up applies its slow-consumer
	// policy here (drop or close), counting it; it never slows the sender.
	Send(msg []byte) (needFlush bool)

	// Flush writes pending output. Called once per batch for every
	// transport whose Send asked for it.
	Flush()

	// Close flushes pending output and closes the connection. The driver
	// reports the close back with Conn.Detach. Safe to call more than
	// once and from any goroutine.
	Close()

	// Info describes the peer (meta API, authentication).
	Info() TransportInfo
}

// TransportInfo describes a connection.
type TransportInfo struct {
	Kind       string // "websocket", "rawsocket", "local", ...
	Protocol   string // negotiated subprotocol, e.g. "wamp.2.json"
	RemoteAddr string
	// Auth carries transport-level authentication (TLS client cert, HTTP
	// cookie), forwarded to authenticators.
	Auth map[string]any
}
