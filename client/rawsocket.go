package client

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

// rsTransport is WAMP over RawSocket: framing by netpoll/rawsocket, a plain
// net.Conn read by the Client's reader goroutine.
type rsTransport struct {
	streamReader
	peerMax int // the router's receive limit from its handshake reply

	wmu    sync.Mutex // Send and the pongs the reader sends
	wbuf   []byte
	closed bool

	dec rawsocket.Decoder

	closeOnce sync.Once
}

// dialRawSocket runs the 4-octet handshake on conn.
func dialRawSocket(conn net.Conn, cfg *Config) (*rsTransport, error) {
	maxLen := cfg.MaxMessageSize
	if maxLen <= 0 {
		maxLen = rawsocket.MaxLen
	}
	hs := rawsocket.ClientHandshake{Request: rawsocket.Handshake{
		Serializer: rawsocket.Serializer(cfg.Serializer),
		LengthExp:  rawsocket.LengthExpFor(maxLen),
	}}
	if _, err := conn.Write(hs.AppendRequest(nil)); err != nil {
		return nil, fmt.Errorf("rawsocket handshake: %w", err)
	}
	t := &rsTransport{
		streamReader: newStreamReader(conn),
		dec:          rawsocket.Decoder{MaxLen: hs.Request.MaxLen()},
	}
	for {
		n, err := conn.Read(t.rbuf)
		if n > 0 {
			reply, used, herr := hs.Feed(t.rbuf[:n])
			if herr != nil {
				return nil, fmt.Errorf("rawsocket handshake: %w", herr)
			}
			if reply != nil {
				t.peerMax = reply.MaxLen()
				if used < n {
					t.feed(t.rbuf[used:n])
				}
				return t, nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("rawsocket handshake: %w", err)
		}
	}
}

// Send writes msg as one frame. A message longer than the router accepts
// is refused without harm to the connection.
func (t *rsTransport) Send(msg []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return net.ErrClosed
	}
	b, err := rawsocket.AppendFrame(t.wbuf[:0], rawsocket.Message, msg, t.peerMax)
	if err != nil {
		return fmt.Errorf("%w (%d bytes, limit %d)", ErrMessageTooLong, len(msg), t.peerMax)
	}
	t.wbuf = b
	_, err = t.conn.Write(b)
	if cap(t.wbuf) > 1<<20 {
		t.wbuf = nil
	}
	return err
}

// Recv returns the next message, reading and decoding as needed.
func (t *rsTransport) Recv() ([]byte, error) { return t.recv(t.feed) }

func (t *rsTransport) feed(data []byte) {
	if t.rerr != nil {
		return
	}
	if err := t.dec.Feed(data, t); err != nil {
		var fe *rawsocket.FrameError
		if errors.As(err, &fe) {
			err = fmt.Errorf("rawsocket: %w", err)
		}
		t.rerr = err
		t.conn.Close()
	}
}

// OnMessage implements rawsocket.Handler.
func (t *rsTransport) OnMessage(payload []byte) error {
	t.q.push(payload)
	return nil
}

// OnPing implements rawsocket.Handler: the spec wants one PONG with the
// same payload, at once.
func (t *rsTransport) OnPing(payload []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return nil
	}
	b, err := rawsocket.AppendFrame(t.wbuf[:0], rawsocket.Pong, payload, t.peerMax)
	if err != nil {
		return fmt.Errorf("rawsocket: cannot answer a PING of %d bytes: %w", len(payload), err)
	}
	t.wbuf = b
	_, err = t.conn.Write(b)
	return err
}

// OnPong implements rawsocket.Handler.
func (t *rsTransport) OnPong([]byte) error { return nil }

// Close closes the connection; RawSocket has no closing handshake.
func (t *rsTransport) Close() error {
	t.closeOnce.Do(func() {
		t.conn.Close()
		t.wmu.Lock()
		t.closed = true
		t.wmu.Unlock()
	})
	return nil
}
