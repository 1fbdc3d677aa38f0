package client

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Connect dials a router and joins cfg.Realm. The URL chooses the
// transport:
//
//	ws://host[:port][/path]    WebSocket over TCP (port 80 by default)
//	wss://host[:port][/path]   WebSocket over TLS (port 443 by default)
//	rs://host:port, tcp://host:port    RawSocket over TCP
//	rss://host:port, tcps://host:port  RawSocket over TLS
//	unix:///path/to/socket     RawSocket over a unix socket
//
// The WebSocket subprotocol and the RawSocket serializer follow
// cfg.Serializer. ctx bounds dialing, the transport handshake and the join;
// once Connect returns, ctx no longer matters.
func Connect(ctx context.Context, rawURL string, cfg Config) (*Client, error) {
	t, err := Dial(ctx, rawURL, cfg)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, t, cfg)
}

// Dial opens the transport Connect would use, without joining a realm;
// New(t, cfg) then joins. It is exported for programs that wrap the
// transport (to count bytes, say).
func Dial(ctx context.Context, rawURL string, cfg Config) (Transport, error) {
	if _, err := serializer(&cfg); err != nil {
		return nil, fmt.Errorf("client: connect %q: %w", rawURL, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: connect: %w", err)
	}
	var network, addr string
	var secure, ws bool
	switch strings.ToLower(u.Scheme) {
	case "ws":
		network, addr, ws = "tcp", hostPort(u, "80"), true
	case "wss":
		network, addr, ws, secure = "tcp", hostPort(u, "443"), true, true
	case "rs", "tcp":
		network, addr = "tcp", u.Host
	case "rss", "tcps":
		network, addr, secure = "tcp", u.Host, true
	case "unix":
		network, addr = "unix", u.Path
		if addr == "" {
			addr = u.Opaque
		}
	default:
		return nil, fmt.Errorf("client: connect %q: unsupported scheme %q (want ws, wss, rs, tcp, rss, tcps or unix)", rawURL, u.Scheme)
	}
	if addr == "" {
		return nil, fmt.Errorf("client: connect %q: no address", rawURL)
	}
	if network == "tcp" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("client: connect %q: %w", rawURL, err)
		}
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("client: connect %q: %w", rawURL, err)
	}
	// The handshakes below block on the connection; ctx (and the request
	// timeout, for a ctx without deadline) bound them by closing it.
	timeout := cfg.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	t, err := handshake(ctx, conn, u, secure, ws, &cfg)
	if !stop() && err == nil {
		t.Close()
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return nil, fmt.Errorf("client: connect %q: %w", rawURL, err)
	}
	return t, nil
}

func handshake(ctx context.Context, conn net.Conn, u *url.URL, secure, ws bool, cfg *Config) (Transport, error) {
	if secure {
		tc := cfg.TLSConfig
		if tc == nil {
			tc = &tls.Config{}
		} else {
			tc = tc.Clone()
		}
		if tc.ServerName == "" && !tc.InsecureSkipVerify {
			tc.ServerName = u.Hostname()
		}
		c := tls.Client(conn, tc)
		if err := c.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		if cfg.TLSHandshake != nil {
			cfg.TLSHandshake(c.ConnectionState())
		}
		conn = c
	}
	var t Transport
	var err error
	if ws {
		t, err = dialWebSocket(conn, u, cfg)
	} else {
		t, err = dialRawSocket(conn, cfg)
	}
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return t, nil
}

func hostPort(u *url.URL, port string) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Host == "" {
		return ""
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// streamReader is the reading half of the socket transports: it reads the
// connection in readBufSize chunks and hands them to the transport's
// decoder, which queues whole messages in q and sets rerr on a framing
// error.
type streamReader struct {
	conn net.Conn
	rbuf []byte
	q    msgQueue
	rerr error // the read or framing error that ends the stream
}

func newStreamReader(conn net.Conn) streamReader {
	return streamReader{conn: conn, rbuf: make([]byte, readBufSize)}
}

// recv returns the next queued message, reading and passing what it reads
// to feed as needed; once the queue is drained it returns rerr.
func (s *streamReader) recv(feed func([]byte)) ([]byte, error) {
	for {
		if msg, ok := s.q.next(); ok {
			return msg, nil
		}
		if s.rerr != nil {
			return nil, s.rerr
		}
		s.q.reset()
		n, err := s.conn.Read(s.rbuf)
		if n > 0 {
			feed(s.rbuf[:n])
		}
		if err != nil && s.rerr == nil {
			s.rerr = err
		}
	}
}

// msgQueue holds the messages decoded from one read until Recv hands them
// out, each prefixed with its length. Recv's result stays valid until the
// next Recv because the queue is only reset once it has been drained.
type msgQueue struct {
	buf []byte
	pos int
}

func (q *msgQueue) push(msg []byte) {
	q.buf = binary.LittleEndian.AppendUint32(q.buf, uint32(len(msg)))
	q.buf = append(q.buf, msg...)
}

func (q *msgQueue) next() ([]byte, bool) {
	if q.pos+4 > len(q.buf) {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(q.buf[q.pos:]))
	msg := q.buf[q.pos+4 : q.pos+4+n : q.pos+4+n]
	q.pos += 4 + n
	return msg, true
}

// reset empties a drained queue, dropping a buffer grown by a huge message.
func (q *msgQueue) reset() {
	if cap(q.buf) > 1<<20 {
		q.buf = nil
	}
	q.buf, q.pos = q.buf[:0], 0
}

const readBufSize = 32 << 10
