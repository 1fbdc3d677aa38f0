package netpoll_test

import (
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// sizeClasses are payload sizes around every WebSocket length encoding
// boundary, up to 1 MiB.
var sizeClasses = []int{1, 100, 125, 126, 127, 1000, 65535, 65536, 70000, 1 << 20}

// TestGorillaEchoSizesAndFragments: gorilla publishes to a topic it is
// subscribed to (exclude_me=false) and must get back exactly what it sent,
// for every size class, written in one frame and in many fragments.
func TestGorillaEchoSizesAndFragments(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	for _, proto := range []string{"wamp.2.json", "wamp.2.msgpack"} {
		p, _, err := dialWS(t, addr, proto)
		if err != nil {
			t.Fatal(err)
		}
		p.join()
		p.send(codec.SUBSCRIBE, p.req(), map[string]any{}, "echo")
		sid := toUint(p.expect(codec.SUBSCRIBED)[2])
		for _, size := range sizeClasses {
			for _, fragmented := range []bool{false, true} {
				payload := strings.Repeat("ü", size/2) + strings.Repeat("x", size%2)
				msg, _ := codec.AppendGo(nil, p.f, []any{codec.PUBLISH, p.req(), map[string]any{"exclude_me": false}, "echo", []any{payload}})
				typ := websocket.BinaryMessage
				if p.f == codec.JSON {
					typ = websocket.TextMessage
				}
				if fragmented {
					w, err := p.c.NextWriter(typ)
					if err != nil {
						t.Fatal(err)
					}
					// gorilla emits a frame each time its 4 KiB buffer fills; odd
					// chunk sizes also split UTF-8 sequences across frames.
					for rest := msg; len(rest) > 0; {
						n := min(len(rest), 777)
						_, _ = w.Write(rest[:n])
						rest = rest[n:]
					}
					_ = w.Close()
				} else if err := p.c.WriteMessage(typ, msg); err != nil {
					t.Fatal(err)
				}
				ev := p.expect(codec.EVENT)
				if toUint(ev[1]) != sid || ev[4].([]any)[0] != payload {
					t.Fatalf("%s size %d fragmented=%v: echo differs", proto, size, fragmented)
				}
			}
		}
	}
}

// TestCoderEchoSizes does the same with coder/websocket, whose writer
// fragments differently, over CBOR.
func TestCoderEchoSizes(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := coder.Dial(ctx, "ws://"+addr+"/", &coder.DialOptions{Subprotocols: []string{"wamp.2.cbor"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(4 << 20)
	send := func(fragmented bool, v ...any) {
		b, _ := codec.AppendGo(nil, codec.CBOR, v)
		if !fragmented {
			if err := c.Write(ctx, coder.MessageBinary, b); err != nil {
				t.Fatal(err)
			}
			return
		}
		w, err := c.Writer(ctx, coder.MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		for rest := b; len(rest) > 0; {
			n := min(len(rest), 1500)
			_, _ = w.Write(rest[:n])
			rest = rest[n:]
		}
		_ = w.Close()
	}
	recv := func() []any {
		typ, b, err := c.Read(ctx)
		if err != nil || typ != coder.MessageBinary {
			t.Fatalf("read: %v %v", typ, err)
		}
		v, err := codec.ToGo(codec.Raw{Format: codec.CBOR, Bytes: b})
		if err != nil {
			t.Fatal(err)
		}
		return v.([]any)
	}
	send(false, codec.HELLO, "realm1", map[string]any{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}})
	recv()
	send(false, codec.SUBSCRIBE, 1, map[string]any{}, "echo")
	recv()
	req := uint64(1)
	for _, size := range sizeClasses {
		for _, frag := range []bool{false, true} {
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			req++
			send(frag, codec.PUBLISH, req, map[string]any{"exclude_me": false}, "echo", []any{payload})
			ev := recv()
			got, _ := ev[4].([]any)[0].([]byte)
			if string(got) != string(payload) {
				t.Fatalf("size %d fragmented=%v: binary echo differs", size, frag)
			}
		}
	}
	_ = c.Close(coder.StatusNormalClosure, "")
}

// rawWS is a hand-driven WebSocket client: the test controls every byte
// and, unlike gorilla, can stop reading entirely.
type rawWS struct {
	t   testing.TB
	c   net.Conn
	buf []byte
}

func dialRawWS(t testing.TB, addr, proto string, rcvbuf int) *rawWS {
	t.Helper()
	d := net.Dialer{Control: nil}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if rcvbuf > 0 {
		_ = nc.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	t.Cleanup(func() { nc.Close() })
	hs := ws.ClientHandshake{Host: addr, Protocols: []string{proto}, Nonce: [16]byte{1, 2, 3}}
	_, _ = nc.Write(hs.AppendRequest(nil))
	buf := make([]byte, 4096)
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		res, used, err := hs.Feed(buf[:n])
		if err != nil {
			t.Fatal(err)
		}
		if res != nil {
			if used != n {
				t.Fatal("frames before the handshake completed")
			}
			break
		}
	}
	hs.Release()
	return &rawWS{t: t, c: nc}
}

func (w *rawWS) sendText(msg string) {
	w.buf = ws.AppendMaskedFrame(w.buf[:0], ws.OpText, true, []byte(msg), [4]byte{1, 2, 3, 4})
	if _, err := w.c.Write(w.buf); err != nil {
		w.t.Fatal(err)
	}
}

// TestSlowConsumer: one subscriber stops reading. With the close policy it
// is disconnected and counted, the other subscriber gets every event, and
// the router's memory stays bounded by the pending-output limit.
func TestSlowConsumer(t *testing.T) {
	for _, policy := range []netpoll.SlowConsumerPolicy{netpoll.CloseSlowConsumer, netpoll.DropSlowConsumer} {
		t.Run([]string{"close", "drop"}[policy], func(t *testing.T) {
			const limit = 1 << 20
			srv, r, addr := startServer(t, netpoll.Config{MaxPendingOutput: limit, SlowConsumer: policy})
			slow := dialRawWS(t, addr, "wamp.2.json", 4096)
			slow.sendText(`[1,"realm1",{"roles":{"subscriber":{}}}]`)
			slow.sendText(`[32,1,{},"firehose"]`)
			fast, _, err := dialWS(t, addr, "wamp.2.json")
			if err != nil {
				t.Fatal(err)
			}
			fast.join()
			fast.send(codec.SUBSCRIBE, fast.req(), map[string]any{}, "firehose")
			fast.expect(codec.SUBSCRIBED)
			waitFor(t, func() bool { return r.Stats().Sessions == 2 })

			pub, _, err := dialWS(t, addr, "wamp.2.json")
			if err != nil {
				t.Fatal(err)
			}
			pub.join()
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			payload := strings.Repeat("z", 16<<10)
			const events = 600 // ~10 MiB: far beyond the 1 MiB limit
			done := make(chan struct{})
			got := make(chan int, events)
			go func() {
				defer close(done)
				for i := 0; i < events; i++ {
					fast.expect(codec.EVENT)
					got <- i
				}
			}()
			// The publisher stays at most 16 events ahead of the fast
			// subscriber, so only the one that stopped reading falls behind.
			seen := -1
			for i := 0; i < events; i++ {
				for seen < i-16 {
					select {
					case seen = <-got:
					case <-time.After(10 * time.Second):
						t.Fatalf("fast subscriber stalled at %d", seen)
					}
				}
				pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "firehose", []any{payload})
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("fast subscriber did not get every event")
			}
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 4*limit {
				t.Fatalf("heap grew by %d bytes with a %d-byte pending limit", grew, limit)
			}
			st := srv.Stats()
			if policy == netpoll.CloseSlowConsumer {
				if st.SlowCloses != 1 {
					t.Fatalf("slow-consumer closes = %d, want 1", st.SlowCloses)
				}
				waitFor(t, func() bool { return r.Stats().Sessions == 2 }) // fast + pub
				// The slow peer sees the end of the stream once it reads.
				// Its connection is gone from the server. (Reading it to EOF
				// would take long: the kernel still trickles the data queued
				// before the close through its deliberately tiny window.)
				waitFor(t, func() bool { return srv.Stats().Conns == 2 })
			} else {
				if st.SlowDrops == 0 || st.SlowCloses != 0 {
					t.Fatalf("drop policy: drops %d closes %d", st.SlowDrops, st.SlowCloses)
				}
				if r.Stats().Sessions != 3 {
					t.Fatalf("drop policy disconnected someone: %d sessions", r.Stats().Sessions)
				}
			}
		})
	}
}

// TestKeepalive: a peer that answers pings survives several intervals; a
// peer that goes silent is closed and counted. The pong timeout leaves the
// live peer's reader room to be late on a loaded -race run.
func TestKeepalive(t *testing.T) {
	srv, r, addr := startServer(t, netpoll.Config{PingInterval: 300 * time.Millisecond, PingTimeout: time.Second})
	alive, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	alive.join()
	go func() {
		// gorilla answers pings while reading.
		for {
			if _, _, err := alive.c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	dead := dialRawWS(t, addr, "wamp.2.json", 0)
	dead.sendText(`[1,"realm1",{"roles":{"caller":{}}}]`)
	waitFor(t, func() bool { return r.Stats().Sessions == 2 })
	// The silent peer never answers: it is closed by keepalive.
	deadline := time.Now().Add(8 * time.Second)
	for srv.Stats().PingTimeouts == 0 {
		if time.Now().After(deadline) {
			t.Fatal("silent peer never timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, func() bool { return r.Stats().Sessions == 1 })
	if n := srv.Stats().PingTimeouts; n != 1 {
		t.Fatalf("ping timeouts = %d, want 1 (the live peer was dropped too)", n)
	}
}

// TestHandshakeTimeout: a connection that never finishes its handshake is
// closed.
func TestHandshakeTimeout(t *testing.T) {
	srv, _, addr := startServer(t, netpoll.Config{HandshakeTimeout: 200 * time.Millisecond})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // and nothing more
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := nc.Read(make([]byte, 16)); err != io.EOF {
		t.Fatalf("half handshake: %v, want EOF", err)
	}
	if srv.Stats().HandshakeFailures == 0 {
		t.Fatal("handshake timeout not counted")
	}
}

// TestOversizedMessage: a message over the limit gets close 1009.
func TestOversizedMessage(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{MaxMessageSize: 64 << 10})
	p, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	p.join()
	_ = p.c.WriteMessage(websocket.TextMessage, []byte(`[16,1,{},"t",["`+strings.Repeat("x", 70<<10)+`"]]`))
	_ = p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = p.c.ReadMessage()
	var ce *websocket.CloseError
	if !asCloseError(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized message: %v", err)
	}
}

// TestUnixSocketLargeMessage: a message larger than the socket buffer
// reaches a unix-socket peer whole (nbio drops the tail of partial writes
// on unix sockets, so those connections do not run on nbio).
func TestUnixSocketLargeMessage(t *testing.T) {
	path := t.TempDir() + "/big.sock"
	startServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Network: "unix", Addr: path, Kind: netpoll.RawSocket}}})
	p := dialRS(t, "unix", path, rawsocket.MsgPack, codec.MsgPack)
	p.send(codec.HELLO, "realm1", map[string]any{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}})
	p.expect(codec.WELCOME)
	p.send(codec.SUBSCRIBE, 1, map[string]any{}, "big")
	p.expect(codec.SUBSCRIBED)
	payload := strings.Repeat("u", 3<<20)
	p.send(codec.PUBLISH, 2, map[string]any{"exclude_me": false}, "big", []any{payload})
	ev := p.expect(codec.EVENT)
	if ev[4].([]any)[0] != payload {
		t.Fatal("large event arrived damaged")
	}
}
