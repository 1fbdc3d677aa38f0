package netpoll_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// The tests here count every allocation of the process — pollers, router
// and these clients — while real sockets carry WAMP through netpoll, for
// each transport and serializer. wireClient therefore allocates nothing
// itself once set up: it encodes with codec.Append into its own buffers,
// frames several messages into one write, and parses frames out of a
// read buffer it owns.
type wireClient struct {
	t   testing.TB
	c   net.Conn
	f   codec.Format
	cd  codec.Codec
	raw bool

	msg []byte // one encoded message
	out []byte // frames not yet written

	in   []byte // read buffer; in[r:w] is unparsed
	r, w int

	m codec.Message // the last message received
}

var rsSerializer = map[codec.Format]rawsocket.Serializer{
	codec.JSON: rawsocket.JSON, codec.MsgPack: rawsocket.MsgPack, codec.CBOR: rawsocket.CBOR,
}

func newWireClient(t testing.TB, addr string, raw bool, f codec.Format) *wireClient {
	t.Helper()
	w := &wireClient{t: t, f: f, cd: codec.ByFormat(f), raw: raw,
		msg: make([]byte, 0, 4096), out: make([]byte, 0, 64<<10), in: make([]byte, 256<<10)}
	if raw {
		w.c = dialRS(t, "tcp", addr, rsSerializer[f], f).c
	} else {
		w.c = dialRawWS(t, addr, f.Subprotocol(), 0).c
	}
	// One deadline for the whole test: setting one per read would allocate
	// a timer each time.
	_ = w.c.SetDeadline(time.Now().Add(time.Minute))
	return w
}

// encode returns v (a Go value, for setup only: it allocates) in w's format.
func (w *wireClient) encode(v any) codec.Raw {
	b, err := codec.AppendGo(nil, w.f, v)
	if err != nil {
		w.t.Fatal(err)
	}
	return codec.Raw{Format: w.f, Bytes: b}
}

// queue frames m into the pending output.
func (w *wireClient) queue(m *codec.Message) {
	var err error
	w.msg, err = w.cd.Append(w.msg[:0], m)
	if err != nil {
		w.t.Fatal(err)
	}
	if w.raw {
		w.out, err = rawsocket.AppendFrame(w.out, rawsocket.Message, w.msg, rawsocket.MaxLen)
		if err != nil {
			w.t.Fatal(err)
		}
	} else {
		op := ws.OpText
		if w.f.Binary() {
			op = ws.OpBinary
		}
		w.out = ws.AppendMaskedFrame(w.out, op, true, w.msg, [4]byte{9, 8, 7, 6})
	}
}

// flush writes every queued frame in one write.
func (w *wireClient) flush() {
	if _, err := w.c.Write(w.out); err != nil {
		w.t.Fatal(err)
	}
	w.out = w.out[:0]
}

func (w *wireClient) send(m *codec.Message) { w.queue(m); w.flush() }

// next returns the payload of the next frame from the router (unmasked,
// unfragmented), reading only when the buffer holds no whole frame.
func (w *wireClient) next() []byte {
	for {
		if p, n := w.parse(); n > 0 {
			w.r += n
			return p
		}
		if w.r > 0 { // keep the partial frame, make room
			w.w = copy(w.in, w.in[w.r:w.w])
			w.r = 0
		}
		if w.w == len(w.in) {
			w.t.Fatal("frame larger than the read buffer")
		}
		n, err := w.c.Read(w.in[w.w:])
		if err != nil {
			w.t.Fatalf("read: %v", err)
		}
		w.w += n
	}
}

// parse returns the first whole frame's payload in in[r:w] and its length
// with the header, or n == 0.
func (w *wireClient) parse() (p []byte, n int) {
	b := w.in[w.r:w.w]
	if w.raw {
		if len(b) < 4 {
			return nil, 0
		}
		if b[0]&7 != byte(rawsocket.Message) {
			w.t.Fatalf("rawsocket frame type %d", b[0]&7)
		}
		size := int(binary.BigEndian.Uint32(b) & 0xFFFFFF)
		if len(b) < 4+size {
			return nil, 0
		}
		return b[4 : 4+size], 4 + size
	}
	if len(b) < 2 {
		return nil, 0
	}
	if b[0]&0x0F == byte(ws.OpClose) || b[0]&0x80 == 0 {
		w.t.Fatalf("websocket frame %x", b[:2])
	}
	hdr, size := 2, int(b[1]&0x7F)
	switch size {
	case 126:
		if len(b) < 4 {
			return nil, 0
		}
		hdr, size = 4, int(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return nil, 0
		}
		hdr, size = 10, int(binary.BigEndian.Uint64(b[2:]))
	}
	if len(b) < hdr+size {
		return nil, 0
	}
	return b[hdr : hdr+size], hdr + size
}

// recv decodes the next message into w.m and checks its type.
func (w *wireClient) recv(want codec.Type) *codec.Message {
	if err := w.cd.Decode(&w.m, w.next()); err != nil {
		w.t.Fatalf("decode: %v", err)
	}
	if w.m.Type != want {
		w.t.Fatalf("got %v (ERROR for %v: %s), want %v", w.m.Type, w.m.ErrorType, w.m.URI, want)
	}
	return &w.m
}

// skip reads the next frame without decoding it.
func (w *wireClient) skip() { w.next() }

// join says HELLO with every role and the progressive-results feature.
func (w *wireClient) join() {
	feat := map[string]any{"features": map[string]any{"progressive_call_results": true}}
	w.send(&codec.Message{Type: codec.HELLO, URI: []byte("realm1"), Dict: w.encode(map[string]any{
		"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{},
			"caller": feat, "callee": feat}})})
	w.recv(codec.WELCOME)
}

func (w *wireClient) subscribe(topic string) {
	w.send(&codec.Message{Type: codec.SUBSCRIBE, Request: 1, URI: []byte(topic), Dict: w.encode(map[string]any{})})
	w.recv(codec.SUBSCRIBED)
}

func (w *wireClient) register(proc string) {
	w.send(&codec.Message{Type: codec.REGISTER, Request: 1, URI: []byte(proc), Dict: w.encode(map[string]any{})})
	w.recv(codec.REGISTERED)
}

// forEachWire runs test for both transports and the three serializers,
// each on its own server with keepalive off (its timer would be counted).
func forEachWire(t *testing.T, test func(t *testing.T, addr string, raw bool, f codec.Format)) {
	for _, raw := range []bool{false, true} {
		for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
			name := map[bool]string{false: "websocket", true: "rawsocket"}[raw] + "/" + f.String()
			t.Run(name, func(t *testing.T) {
				_, _, addr := startServer(t, netpoll.Config{PingInterval: -1})
				test(t, addr, raw, f)
			})
		}
	}
}

// payloads of a few sizes, so that the pending output of a batch varies
// from one read to the next and pooled buffers are grown and reused.
var wirePayloads = []any{"Hello, world!", strings.Repeat("x", 300), strings.Repeat("y", 3000)}

// publishOp returns an operation that queues one PUBLISH and, every
// perRead-th time, writes the batch in one write and reads every EVENT at
// every subscriber. Only subs[0] decodes its events fully; the others
// check that a frame arrived for each, which keeps 100 subscribers cheap.
func publishOp(t *testing.T, pub *wireClient, subs []*wireClient, perRead int) func() {
	args := make([]codec.Raw, len(wirePayloads))
	for i, p := range wirePayloads {
		args[i] = pub.encode([]any{p})
	}
	m := codec.Message{Type: codec.PUBLISH, URI: []byte("com.myapp.topic1"),
		Dict: pub.encode(map[string]any{}), Kwargs: pub.encode(map[string]any{"color": "orange"})}
	n := 0
	return func() {
		n++
		m.Request = uint64(n)
		m.Args = args[((n-1)/perRead)%len(args)]
		pub.queue(&m)
		if n%perRead != 0 {
			return
		}
		pub.flush()
		for i := 0; i < perRead; i++ {
			ev := subs[0].recv(codec.EVENT)
			if len(ev.Args.Bytes) != len(m.Args.Bytes) {
				t.Fatalf("EVENT args %d bytes, PUBLISH args %d", len(ev.Args.Bytes), len(m.Args.Bytes))
			}
			for _, s := range subs[1:] {
				s.skip()
			}
		}
	}
}

// TestAllocsWirePublish: PUBLISH → EVENT through real sockets, 8 PUBLISHes
// per write, allocates nothing in 10,000 PUBLISHes (every EVENT counted
// too: router, pollers and clients), for 1 and for 100 subscribers.
func TestAllocsWirePublish(t *testing.T) {
	for _, nsub := range []int{1, 100} {
		t.Run(fmt.Sprintf("subscribers=%d", nsub), func(t *testing.T) {
			forEachWire(t, func(t *testing.T, addr string, raw bool, f codec.Format) {
				subs := make([]*wireClient, nsub)
				for i := range subs {
					subs[i] = newWireClient(t, addr, raw, f)
					subs[i].join()
					subs[i].subscribe("com.myapp.topic1")
				}
				pub := newWireClient(t, addr, raw, f)
				pub.join()
				alloctest.Zero(t, "PUBLISH → EVENT", publishOp(t, pub, subs, 8))
			})
		})
	}
}

// TestAllocsWireCall: 16 callers on 16 connections each CALL, the callee
// reads the 16 INVOCATIONs and answers with 16 YIELDs in one write, each
// caller reads its RESULT; 10,000 calls allocate nothing.
func TestAllocsWireCall(t *testing.T) {
	forEachWire(t, func(t *testing.T, addr string, raw bool, f codec.Format) {
		callee := newWireClient(t, addr, raw, f)
		callee.join()
		callee.register("com.myapp.echo")
		callers := make([]*wireClient, 16)
		for i := range callers {
			callers[i] = newWireClient(t, addr, raw, f)
			callers[i].join()
		}
		alloctest.Zero(t, "CALL → RESULT, 16 callers", callOp(t, callee, callers, 0))
	})
}

// TestAllocsWireProgressive: as TestAllocsWireCall with 4 callers asking
// for progressive results; the callee sends 3 progressive YIELDs and a
// final one per call, all in one write; 10,000 calls (40,000 RESULTs)
// allocate nothing.
func TestAllocsWireProgressive(t *testing.T) {
	forEachWire(t, func(t *testing.T, addr string, raw bool, f codec.Format) {
		callee := newWireClient(t, addr, raw, f)
		callee.join()
		callee.register("com.myapp.countdown")
		callers := make([]*wireClient, 4)
		for i := range callers {
			callers[i] = newWireClient(t, addr, raw, f)
			callers[i].join()
		}
		alloctest.Zero(t, "CALL → 3 progressive RESULTs + RESULT, 4 callers", callOp(t, callee, callers, 3))
	})
}

// callOp returns an operation that makes one CALL from the next caller;
// once every caller has one outstanding, the callee answers them all (with
// progressive YIELDs first when progressive > 0) and every caller reads its
// RESULTs.
func callOp(t *testing.T, callee *wireClient, callers []*wireClient, progressive int) func() {
	proc := "com.myapp.echo"
	callOpts := callee.encode(map[string]any{})
	if progressive > 0 {
		proc = "com.myapp.countdown"
		callOpts = callee.encode(map[string]any{"receive_progress": true})
	}
	call := codec.Message{Type: codec.CALL, URI: []byte(proc), Dict: callOpts,
		Args: callee.encode([]any{"ping", 1}), Kwargs: callee.encode(map[string]any{"k": 1})}
	yield := codec.Message{Type: codec.YIELD, Dict: callee.encode(map[string]any{}), Args: callee.encode([]any{"pong"})}
	partial := codec.Message{Type: codec.YIELD, Dict: callee.encode(map[string]any{"progress": true}), Args: callee.encode([]any{"tick"})}
	invs := make([]uint64, len(callers))
	reqs := make([]uint64, len(callers)) // request ids are sequential per session
	n := 0
	return func() {
		i := n % len(callers)
		n++
		reqs[i]++
		call.Request = reqs[i]
		callers[i].send(&call)
		if n%len(callers) != 0 {
			return
		}
		for i := range invs {
			inv := callee.recv(codec.INVOCATION)
			if progressive > 0 && !inv.Details.ReceiveProgress {
				t.Fatal("INVOCATION without receive_progress")
			}
			invs[i] = inv.Request
		}
		for _, req := range invs {
			for range progressive {
				partial.Request = req
				callee.queue(&partial)
			}
			yield.Request = req
			callee.queue(&yield)
		}
		callee.flush()
		for i, c := range callers {
			want := reqs[i]
			for p := 0; p <= progressive; p++ {
				res := c.recv(codec.RESULT)
				if res.Request != want || res.Details.Progress != (p < progressive) {
					t.Fatalf("RESULT %d (progress %v), want %d (progress %v)", res.Request, res.Details.Progress, want, p < progressive)
				}
			}
		}
	}
}
