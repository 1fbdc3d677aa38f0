package bench

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

var formats = []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR}

var testIDs = []uint64{1, 9, 23, 24, 99, 127, 128, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, codec.MaxID}

func TestStampRoundTrip(t *testing.T) {
	var b [stampLen]byte
	for _, c := range []struct {
		src int
		seq uint64
		ts  int64
	}{{0, 0, 0}, {MaxSources - 1, 1<<40 - 1, 1<<48 - 1}, {7, 123456789, 987654321012}} {
		putStamp(b[:], c.src, c.seq, c.ts)
		src, seq, ts, err := parseStamp(b[:])
		if err != nil || src != c.src || seq != c.seq || ts != c.ts {
			t.Errorf("stamp %q: got %d %d %d %v, want %d %d %d", b[:], src, seq, ts, err, c.src, c.seq, c.ts)
		}
	}
	putStamp(b[:], 1, 2, 3)
	for i := range b {
		bad := b
		bad[i] = 'g'
		if _, _, _, err := parseStamp(bad[:]); err == nil {
			t.Errorf("stamp %q with a bad byte at %d parsed", bad[:], i)
		}
	}
	if _, _, _, err := parseStamp(b[:stampLen-1]); err == nil {
		t.Error("short stamp parsed")
	}
}

func TestAppendID(t *testing.T) {
	for _, f := range formats {
		for _, id := range testIDs {
			b := appendID(f, nil, id)
			if len(b) != idLen(f, id) {
				t.Errorf("%v %d: idLen %d, encoding %d bytes", f, id, idLen(f, id), len(b))
			}
			var v uint64
			if f == codec.JSON {
				v, _ = parseDec(b)
			} else {
				v, _ = readUint(f, b)
			}
			if v != id {
				t.Errorf("%v %d: reads back as %d", f, id, v)
			}
		}
	}
}

// TestTemplates builds every message the tool sends in every format with
// ids of every encoded width, and decodes it with the codec.
func TestTemplates(t *testing.T) {
	for _, f := range formats {
		for _, m := range []codec.Message{
			{Type: codec.PUBLISH, URI: []byte("a.topic")},
			{Type: codec.CALL, URI: []byte("a.procedure")},
			{Type: codec.YIELD},
		} {
			for _, payload := range []int{MinPayload, 32, 33, 300, 70000} {
				tp, err := newTemplate(f, m, payload)
				if err != nil {
					t.Fatalf("%v %v payload %d: %v", f, m.Type, payload, err)
				}
				for _, id := range testIDs {
					seq, ts := (id*3)&(1<<40-1), int64(id*7)&(1<<48-1) // what the stamp holds
					out := tp.append(nil, id, 5, seq, ts)
					if len(out) != tp.size(id) {
						t.Fatalf("%v %v id %d: size %d, built %d", f, m.Type, id, tp.size(id), len(out))
					}
					var back codec.Message
					if err := codec.ByFormat(f).Decode(&back, out); err != nil {
						t.Fatalf("%v %v id %d: %v", f, m.Type, id, err)
					}
					if back.Type != m.Type || back.Request != id || !bytes.Equal(back.URI, m.URI) {
						t.Fatalf("%v: decoded %v %d %q", f, back.Type, back.Request, back.URI)
					}
					args, err := codec.ToList(back.Args)
					if err != nil || len(args) != 1 {
						t.Fatalf("%v %v: args %v %v", f, m.Type, args, err)
					}
					s, _ := args[0].(string)
					if len(s) != payload {
						t.Fatalf("%v %v: payload of %d bytes, want %d", f, m.Type, len(s), payload)
					}
					src, gseq, gts, err := parseStamp([]byte(s[payload-stampLen:]))
					if err != nil || src != 5 || gseq != seq || gts != ts {
						t.Fatalf("%v %v: stamp %q", f, m.Type, s[payload-stampLen:])
					}
				}
			}
		}
	}
	if _, err := newTemplate(codec.JSON, codec.Message{Type: codec.YIELD}, MinPayload-1); err == nil {
		t.Error("payload below the minimum accepted")
	}
}

// routerMessage encodes what a router sends, with the codec.
func routerMessage(t testing.TB, f codec.Format, m codec.Message, stamp []byte, payload int) []byte {
	t.Helper()
	s := []byte(payloadString(payload))
	copy(s[payload-stampLen:], stamp)
	args, err := codec.EncodeGo(f, []any{string(s)})
	if err != nil {
		t.Fatal(err)
	}
	m.Args = args
	out, err := codec.ByFormat(f).Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPeekAndFindStamp checks the fast path against the codec on what
// routers send: EVENT, RESULT, INVOCATION, ERROR.
func TestPeekAndFindStamp(t *testing.T) {
	var st [stampLen]byte
	putStamp(st[:], 3, 77, 123456)
	for _, f := range formats {
		for _, id := range testIDs {
			for _, m := range []codec.Message{
				{Type: codec.EVENT, ID: id, Publication: id},
				{Type: codec.RESULT, Request: id},
				{Type: codec.INVOCATION, Request: id, ID: 99},
			} {
				b := routerMessage(t, f, m, st[:], 40)
				typ, got, ok := peek(f, b) // EVENT's first element is the subscription
				if !ok || typ != m.Type || got != id {
					t.Fatalf("%v %v %d: peek = %v %d %v", f, m.Type, id, typ, got, ok)
				}
				if s := findStamp(f, b); !bytes.Equal(s, st[:]) {
					t.Fatalf("%v %v: findStamp = %q in %q", f, m.Type, s, b)
				}
			}
		}
		b, err := codec.ByFormat(f).Append(nil, &codec.Message{Type: codec.ERROR, ErrorType: codec.CALL, Request: 5, URI: []byte("wamp.error.x")})
		if err != nil {
			t.Fatal(err)
		}
		if typ, v, ok := peek(f, b); !ok || typ != codec.ERROR || v != uint64(codec.CALL) {
			t.Fatalf("%v ERROR: peek = %v %d %v", f, typ, v, ok)
		}
		if findStamp(f, b) != nil {
			t.Fatalf("%v: stamp found in an ERROR", f)
		}
		// No integer where the request id would be: not for the fast path.
		b, err = codec.ByFormat(f).Append(nil, &codec.Message{Type: codec.ABORT, URI: []byte("wamp.close.killed")})
		if err != nil {
			t.Fatal(err)
		}
		if typ, v, ok := peek(f, b); ok {
			t.Fatalf("%v ABORT: peek = %v %d %v", f, typ, v, ok)
		}
	}
	if typ, v, ok := peek(codec.JSON, []byte(`[68, 300, 1, {}]`)); ok {
		t.Fatalf("JSON with a space: peek = %v %d %v", typ, v, ok)
	}
}

// TestSlowPath covers encodings the fast path does not recognise: the
// tool must still find the stamp by decoding.
func TestSlowPath(t *testing.T) {
	var st [stampLen]byte
	putStamp(st[:], 1, 2, 3)
	pay := string(payloadString(32)[:32-stampLen]) + string(st[:])
	for name, msg := range map[string]string{
		"whitespace": `[ 36 , 1 , 2 , { } , [ "` + pay + `" ] ]`,
		"kwargs":     `[36,1,2,{},["` + pay + `"],{"k":1}]`,
		"more args":  `[36,1,2,{"x":[1,2]},["` + pay + `",1,2]]`,
	} {
		b := []byte(msg)
		var c codec.Message
		if err := codec.ByFormat(codec.JSON).Decode(&c, b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := stampOfArgs(codec.ByFormat(codec.JSON), c.Args)
		if err != nil || got != st {
			t.Errorf("%s: stampOfArgs = %q, %v", name, got[:], err)
		}
	}
	// And on the sink: a subscriber counts such an event like any other.
	s := &subscriber{expect: make([]uint64, 2)}
	c := newConn(nil, &Target{Format: codec.JSON}, &clock{}, 0)
	c.peerMax = 1 << 24
	if err := s.onMessage(c, []byte(`[ 36 , 1 , 2 , { } , [ "`+pay+`" ] ]`)); err != nil {
		t.Fatal(err)
	}
	if s.n != 1 || s.gaps != 2 || s.foreign != 0 { // publisher 1 expected seq 0, got 2
		t.Fatalf("slow-path event: n %d gaps %d foreign %d", s.n, s.gaps, s.foreign)
	}
	if err := s.onMessage(c, []byte(`[36,1,2,{},["no stamp here"]]`)); err != nil || s.foreign != 1 {
		t.Fatalf("foreign event: %v, foreign %d", err, s.foreign)
	}
	if err := s.onMessage(c, []byte(`[3,{},"wamp.close.killed"]`)); err != errClosed {
		t.Fatalf("ABORT: %v", err)
	}
	// A callee answers an INVOCATION it had to decode with its request id.
	for _, msg := range []string{
		`[68, 300, 1, {}, ["` + pay + `"]]`,
		`[68,300,1,{},["` + pay + `"],{"k":1}]`,
	} {
		yt, err := newTemplate(codec.JSON, codec.Message{Type: codec.YIELD}, 32)
		if err != nil {
			t.Fatal(err)
		}
		c.wbuf = c.wbuf[:0]
		e := &callee{t: yt}
		if err := e.onMessage(c, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		var y codec.Message
		if len(c.wbuf) < 4 {
			t.Fatalf("%s: no YIELD", msg)
		}
		if err := codec.ByFormat(codec.JSON).Decode(&y, c.wbuf[4:]); err != nil || y.Type != codec.YIELD || y.Request != 300 || e.foreign != 0 {
			t.Fatalf("%s: answered %q (%v), foreign %d", msg, c.wbuf[4:], err, e.foreign)
		}
	}
}

// TestPeekNeverPanics feeds truncations and garbage to the fast path.
func TestPeekNeverPanics(t *testing.T) {
	var st [stampLen]byte
	for _, f := range formats {
		b := routerMessage(t, f, codec.Message{Type: codec.INVOCATION, Request: 1 << 40, ID: 9}, st[:], 40)
		for i := 0; i <= len(b); i++ {
			peek(f, b[:i])
			findStamp(f, b[:i])
			peek(f, b[i:])
			findStamp(f, b[i:])
		}
	}
	for _, s := range []string{"", "[", "[1", "[99999999999999999999999,1]", "\x9f", "\x91\xcf", "\x81"} {
		for _, f := range formats {
			peek(f, []byte(s))
		}
	}
}

// TestHotPathAllocs: building frames and consuming messages must not
// allocate.
func TestHotPathAllocs(t *testing.T) {
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack} {
		for _, wsock := range []bool{true, false} {
			name := fmt.Sprintf("%v/ws=%v", f, wsock)
			c := newConn(nil, &Target{WebSocket: wsock, Format: f}, &clock{}, 0)
			c.peerMax = 1 << 24
			c.wbuf = make([]byte, 0, 64<<10)
			pt, err := newTemplate(f, codec.Message{Type: codec.PUBLISH, URI: []byte("t")}, 32)
			if err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(100, func() {
				c.wbuf = c.wbuf[:0]
				for i := 0; i < 64; i++ {
					c.appendTemplate(pt, 1, uint64(i), 12345)
				}
			}); n != 0 {
				t.Errorf("%s: appendTemplate allocates %v times per 64 frames", name, n)
			}
			var st [stampLen]byte
			putStamp(st[:], 0, 0, 1)
			ev := routerMessage(t, f, codec.Message{Type: codec.EVENT, ID: 1, Publication: 2}, st[:], 32)
			s := &subscriber{expect: make([]uint64, 1)}
			if n := testing.AllocsPerRun(100, func() { _ = s.onMessage(c, ev) }); n != 0 {
				t.Errorf("%s: subscriber allocates %v times per event", name, n)
			}
			// The framing side: 64 EVENTs in one read, the last one split
			// over two reads.
			var frames []byte
			for i := 0; i < 64; i++ {
				if wsock {
					frames = ws.AppendFrame(frames, c.op, true, ev)
				} else if frames, err = rawsocket.AppendFrame(frames, rawsocket.Message, ev, 1<<24); err != nil {
					t.Fatal(err)
				}
			}
			c.sink = s
			// The same event over and over: the subscriber counts all but
			// the first as duplicates.
			seen := s.n + s.dups
			if n := testing.AllocsPerRun(100, func() {
				if err := c.feed(frames[:len(frames)-5]); err != nil {
					t.Fatal(err)
				}
				if err := c.feed(frames[len(frames)-5:]); err != nil {
					t.Fatal(err)
				}
			}); n != 0 || s.n+s.dups-seen != 64*101 {
				t.Errorf("%s: feeding 64 framed events allocates %v times (%d events seen, want %d)", name, n, s.n+s.dups-seen, 64*101)
			}
			is := &idleSession{fo: &fanout{got: make([]atomic.Int64, 1), lastMono: make([]atomic.Int64, 1), lastRx: make([]atomic.Int64, 1)}}
			if n := testing.AllocsPerRun(100, func() { _ = is.onMessage(c, ev) }); n != 0 || is.fo.got[0].Load() == 0 {
				t.Errorf("%s: idle session allocates %v times per event (seen %d)", name, n, is.fo.got[0].Load())
			}
			res := routerMessage(t, f, codec.Message{Type: codec.RESULT, Request: 1}, st[:], 32)
			k := &caller{}
			if n := testing.AllocsPerRun(100, func() { _ = k.onMessage(c, res) }); n != 0 {
				t.Errorf("%s: caller allocates %v times per result", name, n)
			}
			yt, err := newTemplate(f, codec.Message{Type: codec.YIELD}, 32)
			if err != nil {
				t.Fatal(err)
			}
			inv := routerMessage(t, f, codec.Message{Type: codec.INVOCATION, Request: 300, ID: 1}, st[:], 32)
			e := &callee{t: yt}
			if n := testing.AllocsPerRun(100, func() { c.wbuf = c.wbuf[:0]; _ = e.onMessage(c, inv) }); n != 0 {
				t.Errorf("%s: callee allocates %v times per invocation", name, n)
			}
		}
	}
}

func BenchmarkAppendPublish(b *testing.B) {
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack} {
		b.Run(f.String(), func(b *testing.B) {
			c := newConn(nil, &Target{WebSocket: true, Format: f}, &clock{}, 0)
			c.wbuf = make([]byte, 0, 64<<10)
			pt, err := newTemplate(f, codec.Message{Type: codec.PUBLISH, URI: []byte("zwamp.bench.topic")}, 32)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(pt.size(1000)))
			for i := 0; i < b.N; i++ {
				if len(c.wbuf) > 60<<10 {
					c.wbuf = c.wbuf[:0]
				}
				c.appendTemplate(pt, 1, uint64(i), int64(i))
			}
		})
	}
}

func BenchmarkSubscriberEvent(b *testing.B) {
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack} {
		b.Run(f.String(), func(b *testing.B) {
			var st [stampLen]byte
			putStamp(st[:], 0, 0, 1)
			ev := routerMessage(b, f, codec.Message{Type: codec.EVENT, ID: 1234, Publication: 5678901}, st[:], 32)
			c := newConn(nil, &Target{Format: f}, &clock{}, 0)
			s := &subscriber{expect: make([]uint64, 1)}
			b.ReportAllocs()
			b.SetBytes(int64(len(ev)))
			for i := 0; i < b.N; i++ {
				_ = s.onMessage(c, ev)
			}
		})
	}
}

// BenchmarkDecodeEvent is the codec's full decode of the same EVENT, for
// comparison with the fast path above.
func BenchmarkDecodeEvent(b *testing.B) {
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack} {
		b.Run(f.String(), func(b *testing.B) {
			var st [stampLen]byte
			ev := routerMessage(b, f, codec.Message{Type: codec.EVENT, ID: 1234, Publication: 5678901}, st[:], 32)
			cd := codec.ByFormat(f)
			var m codec.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(ev)))
			for i := 0; i < b.N; i++ {
				_ = cd.Decode(&m, ev)
			}
		})
	}
}
