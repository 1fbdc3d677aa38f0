package client

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/zwamp/zwamp/netpoll/ws"
)

// wsTransport is WAMP over a WebSocket client connection: framing by
// netpoll/ws, a plain net.Conn read by the Client's reader goroutine.
type wsTransport struct {
	streamReader
	op ws.Opcode // text for JSON, binary otherwise

	wmu    sync.Mutex // Send, and the pongs and close frames the reader sends
	wbuf   []byte
	rng    *rand.ChaCha8 // masking keys (RFC 6455 wants them unpredictable)
	closed bool

	dec ws.Decoder

	closeOnce sync.Once
}

// dialWebSocket runs the opening handshake on conn.
func dialWebSocket(conn net.Conn, u *url.URL, cfg *Config) (*wsTransport, error) {
	f := cfg.Serializer
	hs := ws.ClientHandshake{
		Host:      u.Host,
		Target:    u.RequestURI(),
		Protocols: []string{f.Subprotocol()},
	}
	if _, err := crand.Read(hs.Nonce[:]); err != nil {
		return nil, err
	}
	if _, err := conn.Write(hs.AppendRequest(nil)); err != nil {
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	t := &wsTransport{
		streamReader: newStreamReader(conn),
		op:           ws.OpBinary,
		dec:          ws.Decoder{Client: true, MaxMessageSize: cfg.MaxMessageSize},
	}
	if !f.Binary() {
		t.op = ws.OpText
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, err
	}
	t.rng = rand.NewChaCha8(seed)
	for {
		n, err := conn.Read(t.rbuf)
		if n > 0 {
			res, used, herr := hs.Feed(t.rbuf[:n])
			if herr != nil {
				hs.Release()
				return nil, fmt.Errorf("websocket handshake: %w", herr)
			}
			if res != nil {
				proto := string(res.Protocol)
				hs.Release()
				if proto != f.Subprotocol() {
					return nil, fmt.Errorf("websocket handshake: server chose subprotocol %q, want %q", proto, f.Subprotocol())
				}
				// Frames that came with the answer.
				if used < n {
					t.feed(t.rbuf[used:n])
				}
				return t, nil
			}
		}
		if err != nil {
			hs.Release()
			return nil, fmt.Errorf("websocket handshake: %w", err)
		}
	}
}

// Send writes msg as one masked data frame.
func (t *wsTransport) Send(msg []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return net.ErrClosed
	}
	t.wbuf = ws.AppendMaskedFrame(t.wbuf[:0], t.op, true, msg, t.key())
	_, err := t.conn.Write(t.wbuf)
	if cap(t.wbuf) > 1<<20 {
		t.wbuf = nil
	}
	return err
}

func (t *wsTransport) key() (k [4]byte) {
	v := t.rng.Uint64()
	k[0], k[1], k[2], k[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	return k
}

// Recv returns the next message, reading and decoding as needed.
func (t *wsTransport) Recv() ([]byte, error) { return t.recv(t.feed) }

// feed decodes data into the queue; a framing error fails the connection
// with the close code the decoder names.
func (t *wsTransport) feed(data []byte) {
	if t.rerr != nil {
		return
	}
	if err := t.dec.Feed(data, t); err != nil {
		var ce *ws.CloseError
		if errors.As(err, &ce) {
			t.sendClose(ce.Code, "")
		}
		if t.rerr == nil {
			t.rerr = fmt.Errorf("websocket: %w", err)
		}
		t.conn.Close()
	}
}

// OnMessage implements ws.Handler.
func (t *wsTransport) OnMessage(_ ws.Opcode, payload []byte) error {
	t.q.push(payload)
	return nil
}

// OnPing implements ws.Handler: RFC 6455 wants a pong with the same payload.
func (t *wsTransport) OnPing(payload []byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return nil
	}
	t.wbuf = ws.AppendMaskedFrame(t.wbuf[:0], ws.OpPong, true, payload, t.key())
	_, err := t.conn.Write(t.wbuf)
	return err
}

// OnPong implements ws.Handler.
func (t *wsTransport) OnPong([]byte) error { return nil }

// OnClose implements ws.Handler: echo the close and end the stream once the
// messages before it are consumed.
func (t *wsTransport) OnClose(code int, reason []byte) error {
	echo := code
	if echo == ws.CloseNoStatus {
		echo = 0
	}
	t.sendClose(echo, "")
	t.rerr = fmt.Errorf("websocket closed by the server: %d %s", code, reason)
	return nil
}

// sendClose writes a close frame once; later Sends fail.
func (t *wsTransport) sendClose(code int, reason string) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	_ = t.conn.SetWriteDeadline(time.Now().Add(time.Second))
	t.wbuf = ws.AppendMaskedClose(t.wbuf[:0], code, reason, t.key())
	_, _ = t.conn.Write(t.wbuf)
}

// Close sends a normal close frame (best effort, bounded) and closes the
// connection.
func (t *wsTransport) Close() error {
	t.closeOnce.Do(func() {
		// A Send stuck on a full socket holds wmu; the deadline frees it.
		_ = t.conn.SetWriteDeadline(time.Now().Add(time.Second))
		t.sendClose(ws.CloseNormal, "")
		t.conn.Close()
	})
	return nil
}
