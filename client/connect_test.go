package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// bridge is a small WAMP server for the wire tests: it accepts on a
// loopback listener, runs the server side of the WebSocket or RawSocket
// handshake with netpoll/ws or netpoll/rawsocket, and shuttles frames to
// and from core.Router.ConnectLocal.
type bridge struct {
	t         testing.TB
	r         *core.Router
	ln        net.Listener
	raw       bool
	lengthExp uint8 // RawSocket: the limit the bridge announces
	pongs     chan []byte
	closes    chan int // WebSocket close codes received from clients
	wg        sync.WaitGroup
}

// startBridge serves on a new listener; lengthExp is the RawSocket limit
// the bridge announces.
func startBridge(t testing.TB, r *core.Router, network, addr string, raw bool, lengthExp uint8) *bridge {
	t.Helper()
	ln, err := net.Listen(network, addr)
	noErr(t, err)
	b := &bridge{t: t, r: r, ln: ln, raw: raw, lengthExp: lengthExp, pongs: make(chan []byte, 16), closes: make(chan int, 16)}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer conn.Close()
				if b.raw {
					b.serveRS(conn)
				} else {
					b.serveWS(conn)
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); b.wg.Wait() })
	return b
}

func (b *bridge) url(scheme string) string {
	if scheme == "unix" {
		return "unix://" + b.ln.Addr().String()
	}
	return scheme + "://" + b.ln.Addr().String() + "/ws"
}

// lockedConn serialises the bridge's writes from its two goroutines.
type lockedConn struct {
	mu sync.Mutex
	c  net.Conn
}

func (l *lockedConn) write(b []byte) {
	l.mu.Lock()
	_, _ = l.c.Write(b)
	l.mu.Unlock()
}

func (b *bridge) serveWS(conn net.Conn) {
	buf := make([]byte, 32<<10)
	var hs ws.ServerHandshake
	var rest []byte
	var f codec.Format
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		req, used, herr := hs.Feed(buf[:n])
		if herr != nil {
			var he *ws.HTTPError
			if errors.As(herr, &he) {
				_, _ = conn.Write(he.AppendResponse(nil))
			}
			return
		}
		if req == nil {
			continue
		}
		proto := req.ChooseProtocol(ws.IsWAMPProtocol)
		if proto == nil {
			_, _ = conn.Write(ws.ErrNoWAMPProtocol.AppendResponse(nil))
			return
		}
		f, _ = codec.ParseFormat(strings.TrimPrefix(string(proto), "wamp.2."))
		_, _ = conn.Write(req.AppendAccept(nil, proto))
		rest = append(rest, buf[used:n]...)
		hs.Release()
		break
	}
	w := &lockedConn{c: conn}
	op := ws.OpBinary
	if !f.Binary() {
		op = ws.OpText
	}
	// A ping first: the client must answer it with a pong.
	w.write(ws.AppendFrame(nil, ws.OpPing, true, []byte("ping?")))
	l := b.r.ConnectLocal(f)
	h := &wsBridgeHandler{b: b, l: l, w: w}
	var dec ws.Decoder
	shuttle(conn, w, l, buf, rest,
		func(msg []byte) []byte { return ws.AppendFrame(nil, op, true, msg) },
		ws.AppendClose(nil, ws.CloseNormal, ""),
		func(p []byte) error { return dec.Feed(p, h) })
}

// shuttle runs one bridged connection until either side ends. Messages
// from the router session l are framed by frame (nil drops one) and
// written in pieces of 1000 bytes, so that the client reassembles frames
// across reads; bye, if any, is written when l ends. What the client
// sends, starting with rest, goes to feed.
func shuttle(conn net.Conn, w *lockedConn, l *core.Local, buf, rest []byte, frame func(msg []byte) []byte, bye []byte, feed func([]byte) error) {
	var out sync.WaitGroup
	out.Add(1)
	go func() {
		defer out.Done()
		for {
			msg, err := l.Read()
			if err != nil {
				if bye != nil {
					w.write(bye)
				}
				conn.Close()
				return
			}
			for f := frame(msg); len(f) > 0; {
				k := min(len(f), 1000)
				w.write(f[:k])
				f = f[k:]
			}
		}
	}()
	err := feed(rest)
	for err == nil {
		var n int
		n, err = conn.Read(buf)
		if n > 0 {
			if ferr := feed(buf[:n]); ferr != nil {
				err = ferr
			}
		}
	}
	l.Close()
	conn.Close()
	out.Wait()
}

type wsBridgeHandler struct {
	b *bridge
	l *core.Local
	w *lockedConn
}

func (h *wsBridgeHandler) OnMessage(_ ws.Opcode, p []byte) error { return h.l.Write(p) }
func (h *wsBridgeHandler) OnPing(p []byte) error {
	h.w.write(ws.AppendFrame(nil, ws.OpPong, true, p))
	return nil
}
func (h *wsBridgeHandler) OnPong(p []byte) error {
	h.b.pongs <- append([]byte(nil), p...)
	return nil
}
func (h *wsBridgeHandler) OnClose(code int, _ []byte) error {
	h.b.closes <- code
	h.w.write(ws.AppendClose(nil, code, ""))
	return errors.New("closed")
}

func (b *bridge) serveRS(conn net.Conn) {
	buf := make([]byte, 32<<10)
	var hs rawsocket.ServerHandshake
	var req *rawsocket.Handshake
	var rest []byte
	for req == nil {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		r, used, herr := hs.Feed(buf[:n])
		if herr != nil {
			var code rawsocket.ErrorCode
			if errors.As(herr, &code) {
				_, _ = conn.Write(rawsocket.AppendError(nil, code))
			}
			return
		}
		if r != nil {
			req = r
			rest = append(rest, buf[used:n]...)
		}
	}
	f := codec.Format(req.Serializer)
	if codec.ByFormat(f) == nil {
		_, _ = conn.Write(rawsocket.AppendError(nil, rawsocket.ErrSerializerUnsupported))
		return
	}
	mine := rawsocket.Handshake{Serializer: req.Serializer, LengthExp: b.lengthExp}
	w := &lockedConn{c: conn}
	w.write(rawsocket.AppendHandshake(nil, mine))
	w.write(mustFrame(rawsocket.AppendFrame(nil, rawsocket.Ping, []byte("ping?"), req.MaxLen())))
	peerMax := req.MaxLen()
	l := b.r.ConnectLocal(f)
	h := &rsBridgeHandler{b: b, l: l, w: w, peerMax: peerMax}
	dec := rawsocket.Decoder{MaxLen: mine.MaxLen()}
	shuttle(conn, w, l, buf, rest,
		func(msg []byte) []byte {
			frame, err := rawsocket.AppendFrame(nil, rawsocket.Message, msg, peerMax)
			if err != nil {
				b.t.Errorf("router message of %d bytes over the client's limit %d", len(msg), peerMax)
				return nil
			}
			return frame
		},
		nil,
		func(p []byte) error { return dec.Feed(p, h) })
}

func mustFrame(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

type rsBridgeHandler struct {
	b       *bridge
	l       *core.Local
	w       *lockedConn
	peerMax int
}

func (h *rsBridgeHandler) OnMessage(p []byte) error { return h.l.Write(p) }
func (h *rsBridgeHandler) OnPing(p []byte) error {
	h.w.write(mustFrame(rawsocket.AppendFrame(nil, rawsocket.Pong, p, h.peerMax)))
	return nil
}
func (h *rsBridgeHandler) OnPong(p []byte) error {
	h.b.pongs <- append([]byte(nil), p...)
	return nil
}

// exercise runs RPC (with a payload far larger than one read) and pub/sub
// between a client on the wire and one on the router directly, then closes.
func exercise(t *testing.T, r *core.Router, url string, f codec.Format) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg, waitLong)
	defer cancel()
	c, err := client.Connect(ctx, url, client.Config{Realm: realm, Serializer: f})
	noErr(t, err)
	local := join(t, r, codec.JSON)

	_, err = c.Register("com.example.echo", echo, nil)
	noErr(t, err)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<14) // 256 KiB, eight reads
	res, err := local.Call(bg, "com.example.echo", []any{big, "small"}, map[string]any{"k": 1}, nil)
	noErr(t, err)
	must(t, bytes.Equal(res.Args[0].([]byte), big) && res.Args[1] == "small" && res.Kwargs["k"] == int64(1), "echo over %s lost the payload", url)

	_, err = local.Register("com.example.local", echo, nil)
	noErr(t, err)
	res, err = c.Call(bg, "com.example.local", []any{big}, nil, nil)
	noErr(t, err)
	must(t, bytes.Equal(res.Args[0].([]byte), big), "call from %s lost the payload", url)

	events := make(chan *client.Event, 1)
	_, err = c.Subscribe("com.example.topic", func(ev *client.Event) { events <- ev }, nil)
	noErr(t, err)
	noErr(t, local.Publish("com.example.topic", []any{"over the wire"}, nil, nil))
	ev := recvT(t, events, "event over "+url)
	must(t, ev.Args[0] == "over the wire", "event %v", ev.Args)
	return c
}

func TestConnectBridge(t *testing.T) {
	for _, tc := range []struct {
		scheme  string
		network string
		raw     bool
	}{
		{"ws", "tcp", false},
		{"rs", "tcp", true},
		{"tcp", "tcp", true},
		{"unix", "unix", true},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			eachFormat(t, func(t *testing.T, f codec.Format) {
				r := newRouter(t)
				addr := "127.0.0.1:0"
				if tc.network == "unix" {
					addr = filepath.Join(t.TempDir(), "zwamp.sock")
				}
				b := startBridge(t, r, tc.network, addr, tc.raw, rawsocket.MaxLengthExp)
				c := exercise(t, r, b.url(tc.scheme), f)
				must(t, string(recvT(t, b.pongs, "pong")) == "ping?", "pong payload")
				noErr(t, c.Close())
				must(t, c.Err() == nil, "Err after Close: %v", c.Err())
				if !tc.raw {
					must(t, recvT(t, b.closes, "close frame") == ws.CloseNormal, "close code")
				}
				eventually(t, "session gone", func() bool { return r.Realm(realm).SessionCount() == 1 })
			})
		})
	}
}

// TestConnectServerGone: the server dropping the connection ends the
// session with the transport's error.
func TestConnectServerGone(t *testing.T) {
	r := newRouter(t)
	b := startBridge(t, r, "tcp", "127.0.0.1:0", false, rawsocket.MaxLengthExp)
	c, err := client.Connect(bg, b.url("ws"), client.Config{Realm: realm})
	noErr(t, err)
	defer c.Close()
	r.Shutdown() // GOODBYE, then the bridge closes when the Local does
	recvT(t, c.Done(), "Done")
	wampError(t, c.Err(), core.CloseSystemShutdown)
}

func TestMessageTooLong(t *testing.T) {
	r := newRouter(t)
	b := startBridge(t, r, "tcp", "127.0.0.1:0", true, 1) // 1 KiB
	c, err := client.Connect(bg, b.url("rs"), client.Config{Realm: realm})
	noErr(t, err)
	defer c.Close()
	_, err = c.Register("com.example.echo", echo, nil)
	noErr(t, err)
	_, err = c.Call(bg, "com.example.echo", []any{strings.Repeat("x", 2000)}, nil, nil)
	must(t, errors.Is(err, client.ErrMessageTooLong), "oversized call: %v", err)
	err = c.Publish("com.example.t", []any{strings.Repeat("x", 2000)}, nil, nil)
	must(t, errors.Is(err, client.ErrMessageTooLong), "oversized publish: %v", err)
	// The refused messages used no request id and the session is intact.
	res, err := c.Call(bg, "com.example.echo", []any{"fits"}, nil, nil)
	noErr(t, err)
	must(t, res.Args[0] == "fits", "echo %v", res.Args)
}

func TestConnectErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(bg, waitLong)
	defer cancel()
	for _, url := range []string{"http://127.0.0.1:1/", "rs://127.0.0.1", "ws://", "::bad::"} {
		_, err := client.Connect(ctx, url, client.Config{Realm: realm})
		must(t, err != nil, "Connect(%q) succeeded", url)
	}
	// Nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = client.Connect(ctx, "ws://"+addr, client.Config{Realm: realm})
	must(t, err != nil, "Connect to a closed port succeeded")

	// A server that accepts and never answers: ctx bounds the handshake.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	for _, scheme := range []string{"ws", "rs"} {
		short, cancel := context.WithTimeout(bg, 20*time.Millisecond)
		_, err = client.Connect(short, scheme+"://"+ln.Addr().String(), client.Config{Realm: realm})
		cancel()
		must(t, errors.Is(err, context.DeadlineExceeded), "silent %s server: %v", scheme, err)
	}
	// RequestTimeout bounds it too when ctx has no deadline.
	_, err = client.Connect(bg, "rs://"+ln.Addr().String(), client.Config{Realm: realm, RequestTimeout: 20 * time.Millisecond})
	must(t, err != nil, "silent server with RequestTimeout")

	// A RawSocket router refusing the serializer.
	rs, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	defer rs.Close()
	go func() {
		c, err := rs.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4)
		_, _ = c.Read(buf)
		_, _ = c.Write(rawsocket.AppendError(nil, rawsocket.ErrSerializerUnsupported))
	}()
	_, err = client.Connect(ctx, "rs://"+rs.Addr().String(), client.Config{Realm: realm})
	must(t, errors.Is(err, rawsocket.ErrSerializerUnsupported), "refused RawSocket handshake: %v", err)

	// A WebSocket server that does not upgrade.
	h, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, err)
	defer h.Close()
	go func() {
		c, err := h.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		_, _ = c.Read(buf)
		_, _ = c.Write(ws.AppendHTTPError(nil, 404, "not here"))
	}()
	_, err = client.Connect(ctx, "ws://"+h.Addr().String()+"/nope", client.Config{Realm: realm})
	var he *ws.HTTPError
	must(t, errors.As(err, &he) && he.Status == 404, "refused upgrade: %v", err)
}

// TestConnectNetpoll runs the client against zwamp's real listeners.
func TestConnectNetpoll(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := testcert.Pool(leaf)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	clientTLS := &tls.Config{RootCAs: pool}
	sock := filepath.Join(t.TempDir(), "zwamp.sock")
	r := newRouter(t)
	s, err := netpoll.NewServer(r, netpoll.Config{
		Listeners: []netpoll.Listener{
			{Addr: "127.0.0.1:0", Kind: netpoll.WebSocket},
			{Addr: "127.0.0.1:0", Kind: netpoll.RawSocket},
			{Addr: "127.0.0.1:0", Kind: netpoll.Universal},
			{Network: "unix", Addr: sock, Kind: netpoll.RawSocket},
			{Addr: "127.0.0.1:0", Kind: netpoll.Universal, TLS: serverTLS},
		},
		Pollers: 1,
	})
	noErr(t, err)
	noErr(t, s.Start())
	stopped := false
	defer func() {
		if !stopped {
			ctx, cancel := context.WithTimeout(bg, waitLong)
			defer cancel()
			_ = s.Shutdown(ctx)
		}
	}()
	a := s.Addrs()
	urls := []string{
		"ws://" + a[0].String() + "/",
		"rs://" + a[1].String(),
		"ws://" + a[2].String(),
		"tcp://" + a[2].String(),
		"unix://" + sock,
		"wss://" + a[4].String(),
		"rss://" + a[4].String(),
	}
	var open []*client.Client
	for _, url := range urls {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			eachFormat(t, func(t *testing.T, f codec.Format) {
				ctx, cancel := context.WithTimeout(bg, waitLong)
				defer cancel()
				c, err := client.Connect(ctx, url, client.Config{Realm: realm, Serializer: f, TLSConfig: clientTLS})
				noErr(t, err)
				defer c.Close()
				_, err = c.Register("com.example.echo", echo, nil)
				noErr(t, err)
				local := join(t, r, codec.CBOR)
				// Several reads long, but under ~250 KiB: above that,
				// netpoll's unix-socket output stalls (reported).
				big := bytes.Repeat([]byte{0xA5}, 100<<10)
				res, err := local.Call(bg, "com.example.echo", []any{big}, nil, nil)
				noErr(t, err)
				must(t, bytes.Equal(res.Args[0].([]byte), big), "payload over %s", url)
				res, err = c.Call(bg, "com.example.echo", []any{"self"}, nil, nil)
				noErr(t, err)
				must(t, res.Args[0] == "self", "self call over %s", url)
			})
		})
	}
	// The server shutting down says GOODBYE over the wire.
	ctx, cancel := context.WithTimeout(bg, waitLong)
	defer cancel()
	for _, url := range urls[:2] {
		c, err := client.Connect(ctx, url, client.Config{Realm: realm, TLSConfig: clientTLS})
		noErr(t, err)
		open = append(open, c)
	}
	noErr(t, s.Shutdown(ctx))
	stopped = true
	for _, c := range open {
		recvT(t, c.Done(), "Done after server shutdown")
		wampError(t, c.Err(), core.CloseSystemShutdown)
		noErr(t, c.Close())
	}
}
