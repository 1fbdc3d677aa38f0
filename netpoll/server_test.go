package netpoll_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

func startServer(t testing.TB, cfg netpoll.Config) (*netpoll.Server, *core.Router, string) {
	t.Helper()
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) == 0 {
		cfg.Listeners = []netpoll.Listener{{Addr: "127.0.0.1:0"}}
	}
	s, err := netpoll.NewServer(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, r, s.Addrs()[0].String()
}

// wsPeer is a WAMP peer over gorilla/websocket.
type wsPeer struct {
	t  testing.TB
	c  *websocket.Conn
	f  codec.Format
	rq uint64
}

func dialWS(t testing.TB, addr string, protocols ...string) (*wsPeer, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		return nil, resp, err
	}
	f, _ := codec.ParseFormat(strings.TrimPrefix(c.Subprotocol(), "wamp.2."))
	p := &wsPeer{t: t, c: c, f: f}
	t.Cleanup(func() { _ = c.Close() })
	return p, resp, nil
}

func (p *wsPeer) send(v ...any) {
	p.t.Helper()
	b, err := codec.AppendGo(nil, p.f, v)
	if err != nil {
		p.t.Fatal(err)
	}
	typ := websocket.BinaryMessage
	if p.f == codec.JSON {
		typ = websocket.TextMessage
	}
	if err := p.c.WriteMessage(typ, b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *wsPeer) recv() []any {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	typ, b, err := p.c.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	if (typ == websocket.TextMessage) != (p.f == codec.JSON) {
		p.t.Fatalf("frame type %d for %v", typ, p.f)
	}
	v, err := codec.ToGo(codec.Raw{Format: p.f, Bytes: b})
	if err != nil {
		p.t.Fatalf("decode %x: %v", b, err)
	}
	return v.([]any)
}

func (p *wsPeer) expect(typ codec.Type) []any {
	p.t.Helper()
	m := p.recv()
	if codec.Type(toUint(m[0])) != typ {
		p.t.Fatalf("want %v, got %v", typ, m)
	}
	return m
}

func (p *wsPeer) join() uint64 {
	p.t.Helper()
	p.send(codec.HELLO, "realm1", map[string]any{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}, "caller": map[string]any{}, "callee": map[string]any{}}})
	return toUint(p.expect(codec.WELCOME)[1])
}

func (p *wsPeer) req() uint64 { p.rq++; return p.rq }

func toUint(v any) uint64 {
	switch x := v.(type) {
	case int64:
		return uint64(x)
	case uint64:
		return x
	}
	return 1 << 63
}

func TestWebSocketPubSubAllSerializers(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	var subs []*wsPeer
	for _, proto := range []string{"wamp.2.json", "wamp.2.msgpack", "wamp.2.cbor"} {
		p, _, err := dialWS(t, addr, proto)
		if err != nil {
			t.Fatal(err)
		}
		if p.c.Subprotocol() != proto {
			t.Fatalf("negotiated %q, want %q", p.c.Subprotocol(), proto)
		}
		p.join()
		p.send(codec.SUBSCRIBE, p.req(), map[string]any{}, "com.topic")
		p.expect(codec.SUBSCRIBED)
		subs = append(subs, p)
	}
	pub, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	pub.join()
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "com.topic", []any{"hi", []byte{1, 2, 3}})
	pub.expect(codec.PUBLISHED)
	for _, s := range subs {
		ev := s.expect(codec.EVENT)
		args := ev[4].([]any)
		if args[0] != "hi" || string(args[1].([]byte)) != "\x01\x02\x03" {
			t.Fatalf("%v: event %v", s.f, ev)
		}
	}
}

func TestSubprotocolNegotiation(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	// The client's order of preference wins; unknown ones are skipped.
	p, _, err := dialWS(t, addr, "wamp.2.flatbuffers", "wamp.2.cbor", "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	if p.c.Subprotocol() != "wamp.2.cbor" {
		t.Fatalf("negotiated %q", p.c.Subprotocol())
	}
	// None offered: refused with 400.
	_, resp, err := dialWS(t, addr, "chat")
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("handshake without WAMP subprotocol: err %v resp %v", err, resp)
	}
	_, resp, err = dialWS(t, addr)
	if err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("handshake without subprotocol: err %v resp %v", err, resp)
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "websocket") {
		t.Fatalf("plain GET: %d %q", resp.StatusCode, body)
	}
}

func TestWebSocketPathRestriction(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0", Kind: netpoll.WebSocket, Path: "/wamp"}}})
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	if _, resp, err := d.Dial("ws://"+addr+"/other", nil); err == nil || resp.StatusCode != 404 {
		t.Fatalf("wrong path: %v %v", err, resp)
	}
	c, _, err := d.Dial("ws://"+addr+"/wamp", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// rsPeer is a WAMP peer over RawSocket, written byte by byte here.
type rsPeer struct {
	t  testing.TB
	c  net.Conn
	r  *bufio.Reader
	f  codec.Format
	rq uint64
}

func dialRS(t testing.TB, network, addr string, ser rawsocket.Serializer, f codec.Format) *rsPeer {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, _ = c.Write(rawsocket.AppendHandshake(nil, rawsocket.Handshake{Serializer: ser, LengthExp: 15}))
	p := &rsPeer{t: t, c: c, r: bufio.NewReader(c), f: f}
	var reply [4]byte
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(p.r, reply[:]); err != nil {
		t.Fatal(err)
	}
	if reply[0] != 0x7F || rawsocket.Serializer(reply[1]&0x0F) != ser {
		t.Fatalf("handshake reply %x", reply)
	}
	return p
}

func (p *rsPeer) send(v ...any) {
	p.t.Helper()
	b, err := codec.AppendGo(nil, p.f, v)
	if err != nil {
		p.t.Fatal(err)
	}
	fr, _ := rawsocket.AppendFrame(nil, rawsocket.Message, b, rawsocket.MaxLen)
	if _, err := p.c.Write(fr); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rsPeer) frame() (rawsocket.MsgType, []byte) {
	p.t.Helper()
	var h [4]byte
	_ = p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(p.r, h[:]); err != nil {
		p.t.Fatalf("read: %v", err)
	}
	n := int(binary.BigEndian.Uint32(h[:]) & 0xFFFFFF)
	b := make([]byte, n)
	if _, err := io.ReadFull(p.r, b); err != nil {
		p.t.Fatal(err)
	}
	return rawsocket.MsgType(h[0] & 7), b
}

func (p *rsPeer) expect(typ codec.Type) []any {
	p.t.Helper()
	mt, b := p.frame()
	if mt != rawsocket.Message {
		p.t.Fatalf("frame type %v", mt)
	}
	v, err := codec.ToGo(codec.Raw{Format: p.f, Bytes: b})
	if err != nil {
		p.t.Fatal(err)
	}
	m := v.([]any)
	if codec.Type(toUint(m[0])) != typ {
		p.t.Fatalf("want %v, got %v", typ, m)
	}
	return m
}

func (p *rsPeer) join() {
	p.send(codec.HELLO, "realm1", map[string]any{"roles": map[string]any{"caller": map[string]any{}, "callee": map[string]any{}}})
	p.expect(codec.WELCOME)
}

func TestRawSocketRPCAndPing(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	callee := dialRS(t, "tcp", addr, rawsocket.MsgPack, codec.MsgPack)
	callee.join()
	callee.rq++
	callee.send(codec.REGISTER, callee.rq, map[string]any{}, "com.add")
	callee.expect(codec.REGISTERED)

	caller := dialRS(t, "tcp", addr, rawsocket.CBOR, codec.CBOR)
	caller.join()
	caller.send(codec.CALL, 1, map[string]any{}, "com.add", []any{2, 3})
	inv := callee.expect(codec.INVOCATION)
	a := inv[4].([]any)
	callee.send(codec.YIELD, inv[1], map[string]any{}, []any{toUint(a[0]) + toUint(a[1])})
	res := caller.expect(codec.RESULT)
	if toUint(res[3].([]any)[0]) != 5 {
		t.Fatalf("result %v", res)
	}

	// PING → PONG with the same payload.
	fr, _ := rawsocket.AppendFrame(nil, rawsocket.Ping, []byte("hello"), rawsocket.MaxLen)
	_, _ = caller.c.Write(fr)
	mt, b := caller.frame()
	if mt != rawsocket.Pong || string(b) != "hello" {
		t.Fatalf("got %v %q", mt, b)
	}
}

func TestRawSocketHandshakeErrors(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	for _, c := range []struct {
		name  string
		hello []byte
		want  rawsocket.ErrorCode
	}{
		{"unsupported serializer", []byte{0x7F, 0xF4, 0, 0}, rawsocket.ErrSerializerUnsupported},
		{"illegal serializer 0", []byte{0x7F, 0xF0, 0, 0}, rawsocket.ErrSerializerUnsupported},
		{"reserved bytes", []byte{0x7F, 0xF1, 0, 1}, rawsocket.ErrReservedBits},
	} {
		t.Run(c.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_, _ = nc.Write(c.hello)
			_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			var reply [4]byte
			if _, err := io.ReadFull(nc, reply[:]); err != nil {
				t.Fatal(err)
			}
			if reply[0] != 0x7F || rawsocket.ErrorCode(reply[1]>>4) != c.want || reply[1]&0x0F != 0 {
				t.Fatalf("reply %x, want error %d", reply, c.want)
			}
			if _, err := nc.Read(reply[:]); err != io.EOF {
				t.Fatalf("connection not closed after error reply: %v", err)
			}
		})
	}
}

func TestUnixSocketListener(t *testing.T) {
	path := t.TempDir() + "/zwamp.sock"
	_, _, _ = startServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Network: "unix", Addr: path, Kind: netpoll.RawSocket}}})
	p := dialRS(t, "unix", path, rawsocket.JSON, codec.JSON)
	p.join()
}

func TestProtocolViolationOverWire(t *testing.T) {
	_, r, addr := startServer(t, netpoll.Config{})
	p, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	p.join()
	_ = p.c.WriteMessage(websocket.TextMessage, []byte(`[16, 1, {}, "a.b"`)) // truncated JSON
	m := p.expect(codec.ABORT)
	if m[2] != core.ErrProtocolViolation {
		t.Fatalf("ABORT %v", m)
	}
	// Then a WebSocket close, then EOF.
	_ = p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = p.c.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("after ABORT: %v", err)
	}
	waitFor(t, func() bool { return r.Stats().Sessions == 0 })
}

func TestWrongFrameTypeCloses1003(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	p, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	_ = p.c.WriteMessage(websocket.BinaryMessage, []byte(`[1,"realm1",{}]`))
	_ = p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = p.c.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseUnsupportedData {
		t.Fatalf("binary frame on wamp.2.json: %v", err)
	}
}

func asCloseError(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestShutdownSendsGoodbye(t *testing.T) {
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	p, _, err := dialWS(t, s.Addrs()[0].String(), "wamp.2.msgpack")
	if err != nil {
		t.Fatal(err)
	}
	p.join()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	g := p.expect(codec.GOODBYE)
	if g[2] != core.CloseSystemShutdown {
		t.Fatalf("GOODBYE %v", g)
	}
	p.send(codec.GOODBYE, map[string]any{}, core.CloseGoodbyeAndOut)
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := s.Stats().Conns; n != 0 {
		t.Fatalf("%d connections left", n)
	}
}
