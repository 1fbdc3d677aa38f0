package netpoll_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// batchedPeer speaks wamp.2.*.batched over gorilla/websocket, framing and
// unframing batches itself per advanced/transport_batched_websocket.md.
type batchedPeer struct {
	*wsPeer
	queue    [][]any // received, not yet consumed
	maxBatch int     // most WAMP messages seen in one WebSocket message
}

func dialBatched(t *testing.T, addr string, f codec.Format) *batchedPeer {
	t.Helper()
	proto := f.Subprotocol() + ".batched"
	p, resp, err := dialWS(t, addr, proto)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != proto {
		t.Fatalf("server chose %q, want %q", got, proto)
	}
	p.f = f
	return &batchedPeer{wsPeer: p}
}

func frameBatch(f codec.Format, msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		if f == codec.JSON {
			b = append(b, m...)
			b = append(b, 0x1e)
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
			b = append(b, m...)
		}
	}
	return b
}

func (p *batchedPeer) typ() int {
	if p.f == codec.JSON {
		return websocket.TextMessage
	}
	return websocket.BinaryMessage
}

// sendBatch writes the given WAMP messages (as Go lists) in one WebSocket
// message.
func (p *batchedPeer) sendBatch(msgs ...[]any) {
	p.t.Helper()
	var enc [][]byte
	for _, m := range msgs {
		b, err := codec.AppendGo(nil, p.f, m)
		if err != nil {
			p.t.Fatal(err)
		}
		enc = append(enc, b)
	}
	if err := p.c.WriteMessage(p.typ(), frameBatch(p.f, enc...)); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next WAMP message, reading and splitting a batch when
// the queue is empty; it fails the test on a malformed batch.
func (p *batchedPeer) next() []any {
	p.t.Helper()
	for len(p.queue) == 0 {
		_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		typ, b, err := p.c.ReadMessage()
		if err != nil {
			p.t.Fatalf("read: %v", err)
		}
		if typ != p.typ() {
			p.t.Fatalf("frame type %d for %v", typ, p.f)
		}
		n := 0
		for len(b) > 0 {
			var msg []byte
			if p.f == codec.JSON {
				i := bytes.IndexByte(b, 0x1e)
				if i < 0 {
					p.t.Fatalf("batch does not end with a record separator: %q", b)
				}
				msg, b = b[:i], b[i+1:]
			} else {
				if len(b) < 4 || int(binary.BigEndian.Uint32(b)) > len(b)-4 {
					p.t.Fatalf("bad length prefix in %x", b)
				}
				l := binary.BigEndian.Uint32(b)
				msg, b = b[4:4+l], b[4+l:]
			}
			v, err := codec.ToGo(codec.Raw{Format: p.f, Bytes: msg})
			if err != nil {
				p.t.Fatalf("decode %x: %v", msg, err)
			}
			p.queue = append(p.queue, v.([]any))
			n++
		}
		if n == 0 {
			p.t.Fatal("router sent an empty batch")
		}
		p.maxBatch = max(p.maxBatch, n)
	}
	m := p.queue[0]
	p.queue = p.queue[1:]
	return m
}

func (p *batchedPeer) expectB(t codec.Type) []any {
	p.t.Helper()
	m := p.next()
	if codec.Type(toUint(m[0])) != t {
		p.t.Fatalf("want %v, got %v", t, m)
	}
	return m
}

var roles = map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}

// TestBatchedWebSocket: all three batched subprotocols, both directions.
// Several WAMP messages in one WebSocket message are all handled; the
// answers to one input batch come back coalesced into one batch; payloads
// around every WebSocket length boundary survive the header being written
// in front of an open batch; a plain client on the same router gets the
// same events unbatched.
func TestBatchedWebSocket(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
		t.Run(f.String(), func(t *testing.T) {
			p := dialBatched(t, addr, f)
			plain, _, err := dialWS(t, addr, f.Subprotocol())
			if err != nil {
				t.Fatal(err)
			}
			plain.join()
			plain.send(codec.SUBSCRIBE, plain.req(), map[string]any{}, "com.batch")
			plain.expect(codec.SUBSCRIBED)

			p.sendBatch([]any{codec.HELLO, "realm1", map[string]any{"roles": roles}})
			p.expectB(codec.WELCOME)
			// SUBSCRIBE and three acknowledged PUBLISHes in one message:
			// SUBSCRIBED, then PUBLISHED+EVENT per publish, 7 answers.
			p.sendBatch(
				[]any{codec.SUBSCRIBE, 1, map[string]any{}, "com.batch"},
				[]any{codec.PUBLISH, 2, map[string]any{"acknowledge": true, "exclude_me": false}, "com.batch", []any{"a"}},
				[]any{codec.PUBLISH, 3, map[string]any{"acknowledge": true, "exclude_me": false}, "com.batch", []any{"b"}},
				[]any{codec.PUBLISH, 4, map[string]any{"acknowledge": true, "exclude_me": false}, "com.batch", []any{"c"}},
			)
			p.expectB(codec.SUBSCRIBED)
			var got []string
			for i := 0; i < 6; i++ {
				m := p.next()
				if codec.Type(toUint(m[0])) == codec.EVENT {
					got = append(got, m[4].([]any)[0].(string))
				}
			}
			if strings.Join(got, "") != "abc" {
				t.Fatalf("events %v", got)
			}
			if p.maxBatch < 7 {
				t.Fatalf("answers to one input batch came in batches of at most %d, want all 7 in one", p.maxBatch)
			}
			for _, want := range []string{"a", "b", "c"} {
				if ev := plain.expect(codec.EVENT); ev[4].([]any)[0] != want {
					t.Fatalf("plain subscriber got %v", ev)
				}
			}
			// Sizes around the 7/16/64-bit length encodings, and a batch
			// past maxBatchPayload (split into several WebSocket messages).
			rq := uint64(5)
			for _, size := range []int{1, 100, 125, 126, 127, 65000, 65535, 65536, 70000, 300000} {
				payload := strings.Repeat("x", size)
				p.sendBatch(
					[]any{codec.PUBLISH, rq, map[string]any{"exclude_me": false}, "com.batch", []any{payload}},
					[]any{codec.PUBLISH, rq + 1, map[string]any{"exclude_me": false}, "com.batch", []any{"tail"}},
				)
				rq += 2
				if ev := p.expectB(codec.EVENT); ev[4].([]any)[0] != payload {
					t.Fatalf("size %d: payload differs", size)
				}
				if ev := p.expectB(codec.EVENT); ev[4].([]any)[0] != "tail" {
					t.Fatalf("size %d: second event %v", size, ev)
				}
				plain.expect(codec.EVENT)
				plain.expect(codec.EVENT)
			}
			// A ping between batches is answered after the sealed batch.
			pong := make(chan struct{}, 1)
			p.c.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
			p.sendBatch([]any{codec.PUBLISH, rq, map[string]any{"exclude_me": false}, "com.batch", []any{"p"}})
			if err := p.c.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(5*time.Second)); err != nil {
				t.Fatal(err)
			}
			p.expectB(codec.EVENT)
			_ = p.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			_, _, _ = p.c.ReadMessage() // runs the pong handler; times out
			select {
			case <-pong:
			case <-time.After(5 * time.Second):
				t.Fatal("no pong")
			}
		})
	}
}

// TestBatchedWebSocketErrors: an empty batch, an empty message and a length
// prefix past the end fail the transport with close code 1002.
func TestBatchedWebSocketErrors(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	cases := []struct {
		name string
		f    codec.Format
		data []byte
	}{
		{"empty-json", codec.JSON, nil},
		{"empty-msgpack", codec.MsgPack, nil},
		{"empty-message-json", codec.JSON, []byte{0x1e}},
		{"empty-message-cbor", codec.CBOR, []byte{0, 0, 0, 0}},
		{"truncated-prefix", codec.MsgPack, []byte{0, 0}},
		{"prefix-past-end", codec.CBOR, []byte{0, 0, 0, 9, 1, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := dialBatched(t, addr, c.f)
			if err := p.c.WriteMessage(p.typ(), c.data); err != nil {
				t.Fatal(err)
			}
			_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err := p.c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseProtocolError {
				t.Fatalf("want close 1002, got %v", err)
			}
		})
	}
}

// batchedWire drives a wamp.2.json.batched connection with pre-sized
// buffers so that the client side allocates nothing.
type batchedWire struct {
	t   testing.TB
	c   net.Conn
	out []byte
	in  []byte
}

func (w *batchedWire) write(msg []byte) {
	w.out = ws.AppendMaskedFrame(w.out[:0], ws.OpText, true, msg, [4]byte{9, 8, 7, 6})
	if _, err := w.c.Write(w.out); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the payload of the next (unmasked, unfragmented, < 64 KiB)
// frame.
func (w *batchedWire) read() []byte {
	if _, err := io.ReadFull(w.c, w.in[:2]); err != nil {
		w.t.Fatal(err)
	}
	n := int(w.in[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(w.c, w.in[:2]); err != nil {
			w.t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(w.in))
	case 127:
		w.t.Fatal("unexpected 64-bit frame")
	}
	if _, err := io.ReadFull(w.c, w.in[:n]); err != nil {
		w.t.Fatal(err)
	}
	return w.in[:n]
}

// TestAllocsOnTheWireBatched: the PUBLISH → EVENT path over
// wamp.2.json.batched allocates nothing in steady state.
func TestAllocsOnTheWireBatched(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	_, _, addr := startServer(t, netpoll.Config{PingInterval: -1})
	dial := func() *batchedWire {
		w := &batchedWire{t: t, out: make([]byte, 0, 4096), in: make([]byte, 64<<10)}
		w.c = dialRawWS(t, addr, "wamp.2.json.batched", 0).c
		_ = w.c.SetDeadline(time.Now().Add(time.Minute))
		return w
	}
	sub, pub := dial(), dial()
	sub.write([]byte("[1,\"realm1\",{\"roles\":{\"subscriber\":{}}}]\x1e"))
	sub.read()
	sub.write([]byte("[32,1,{},\"com.myapp.topic1\"]\x1e"))
	sub.read()
	pub.write([]byte("[1,\"realm1\",{\"roles\":{\"publisher\":{}}}]\x1e"))
	pub.read()
	msg := make([]byte, 0, 128)
	req := uint64(0)
	run := func() {
		req++
		msg = append(msg[:0], "[16,"...)
		msg = strconv.AppendUint(msg, req, 10)
		msg = append(msg, ",{},\"com.myapp.topic1\",[\"Hello, world!\"]]\x1e"...)
		pub.write(msg)
		if ev := sub.read(); ev[1] != '3' || ev[len(ev)-1] != 0x1e {
			t.Fatalf("got %q", ev)
		}
	}
	alloctest.Zero(t, "PUBLISH → EVENT over wamp.2.json.batched", run)
}

// TestBatchedJSONAutobahnSeparator: a client that separates JSON messages
// with 0x18, as Autobahn|Python does (b'\30' is octal in Python), is
// understood and answered with 0x18; the spec's 0x1e is the default.
func TestBatchedJSONAutobahnSeparator(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{})
	for _, sep := range []byte{0x18, 0x1e} {
		p := dialBatched(t, addr, codec.JSON)
		hello := `[1,"realm1",{"roles":{"subscriber":{}}}]` + string(sep) + `[32,1,{},"com.x"]` + string(sep)
		if err := p.c.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
			t.Fatal(err)
		}
		_ = p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := p.c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		parts := bytes.Split(b, []byte{sep})
		if len(parts) != 3 || len(parts[2]) != 0 || !bytes.HasPrefix(parts[0], []byte("[2,")) || !bytes.HasPrefix(parts[1], []byte("[33,1,")) {
			t.Fatalf("separator %#x: got %q", sep, b)
		}
	}
}
