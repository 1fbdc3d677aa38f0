package ceiling

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
)

func encode(t *testing.T, f codec.Format, m codec.Message, opts map[string]any, args []any, kwargs map[string]any) []byte {
	t.Helper()
	var err error
	if opts != nil {
		if m.Dict, err = codec.EncodeGo(f, opts); err != nil {
			t.Fatal(err)
		}
	}
	if args != nil {
		if m.Args, err = codec.EncodeGo(f, args); err != nil {
			t.Fatal(err)
		}
	}
	if kwargs != nil {
		if m.Kwargs, err = codec.EncodeGo(f, kwargs); err != nil {
			t.Fatal(err)
		}
	}
	b, err := codec.ByFormat(f).Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEventAndResult: the EVENT and RESULT the ceiling builds from a
// PUBLISH or CALL decode (with the codec) to the same payload.
func TestEventAndResult(t *testing.T) {
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack} {
		ff := fmtJSON
		if f == codec.MsgPack {
			ff = fmtMsgPack
		}
		for _, c := range []struct {
			opts   map[string]any
			args   []any
			kwargs map[string]any
		}{
			{nil, nil, nil},
			{nil, []any{"x"}, nil},
			{map[string]any{"acknowledge": true, "exclude": []any{1, 2}, "s": "a]\"}{,["}, []any{1.5, "y", []any{}}, nil},
			{map[string]any{"n": map[string]any{"m": []any{map[string]any{}}}}, []any{}, map[string]any{"k": "v]"}},
			{nil, nil, map[string]any{"only": "kwargs"}},
		} {
			for _, typ := range []codec.Type{codec.PUBLISH, codec.CALL} {
				for _, req := range []uint64{1, 200, 70000, 1 << 40} {
					msg := encode(t, f, codec.Message{Type: typ, Request: req, URI: []byte("com.example.x")}, c.opts, c.args, c.kwargs)
					var in codec.Message
					if err := codec.ByFormat(f).Decode(&in, msg); err != nil {
						t.Fatal(err)
					}
					ty, n, rest, ok := head(ff, msg)
					if !ok || ty != int(typ) {
						t.Fatalf("%v %s: head %d %v", f, msg, ty, ok)
					}
					rq, after, ok := requestID(ff, rest)
					if !ok {
						t.Fatalf("%v %q: no request id", f, msg)
					}
					payload, ok := skipTwo(ff, after)
					if !ok {
						t.Fatalf("%v %q: skipTwo failed", f, msg)
					}
					var out []byte
					want := codec.EVENT
					if typ == codec.PUBLISH {
						out = event(nil, ff, n, 77, payload)
					} else {
						want = codec.RESULT
						out = result(nil, ff, n, rq, payload)
					}
					var back codec.Message
					if err := codec.ByFormat(f).Decode(&back, out); err != nil {
						t.Fatalf("%v: built %q from %q: %v", f, out, msg, err)
					}
					if back.Type != want || !bytes.Equal(back.Args.Bytes, in.Args.Bytes) || !bytes.Equal(back.Kwargs.Bytes, in.Kwargs.Bytes) {
						t.Fatalf("%v: %q from %q: type %v args %q kwargs %q", f, out, msg, back.Type, back.Args.Bytes, back.Kwargs.Bytes)
					}
					if want == codec.RESULT && back.Request != req {
						t.Fatalf("%v: RESULT for request %d, want %d", f, back.Request, req)
					}
					if want == codec.EVENT && (back.ID != 1 || back.Publication != 77) {
						t.Fatalf("%v: EVENT %d %d", f, back.ID, back.Publication)
					}
				}
			}
		}
	}
}

func TestWelcome(t *testing.T) {
	for f, ff := range map[codec.Format]int{codec.JSON: fmtJSON, codec.MsgPack: fmtMsgPack} {
		for _, id := range []uint64{1, 128, 1 << 33} {
			var m codec.Message
			if err := codec.ByFormat(f).Decode(&m, welcome(nil, ff, id)); err != nil || m.Type != codec.WELCOME || m.ID != id {
				t.Fatalf("%v: WELCOME %v %d %v", f, m.Type, m.ID, err)
			}
		}
	}
}

// TestParseNeverPanics feeds truncations, single-byte changes and random
// bytes to every parser.
func TestParseNeverPanics(t *testing.T) {
	inputs := [][]byte{}
	for _, f := range []codec.Format{codec.JSON, codec.MsgPack} {
		inputs = append(inputs,
			encode(t, f, codec.Message{Type: codec.PUBLISH, Request: 1 << 40, URI: []byte("a.b")}, map[string]any{"x": []any{"]", map[string]any{"y": 1}}}, []any{"p"}, map[string]any{"k": 1}),
			encode(t, f, codec.Message{Type: codec.CALL, Request: 3, URI: []byte("a.b")}, nil, []any{1}, nil))
	}
	all := func(b []byte) {
		for ff := 0; ff < 2; ff++ {
			jsonHead(b)
			msgpackHead(b)
			if req, after, ok := requestID(ff, b); ok {
				_ = req
				skipTwo(ff, after)
			}
			skipTwo(ff, b)
			jsonSkip(b, 0)
			msgpackSkip(b, 0, 0)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, in := range inputs {
		for i := 0; i <= len(in); i++ {
			all(in[:i])
			all(in[i:])
		}
		for i := 0; i < 2000; i++ {
			b := bytes.Clone(in)
			b[r.IntN(len(b))] = byte(r.IntN(256))
			all(b)
		}
	}
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(40))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		all(b)
	}
	// Deep nesting is refused, not recursed into without bound.
	deep := bytes.Repeat([]byte{0x91}, 100000)
	if _, ok := msgpackSkip(deep, 0, 0); ok {
		t.Fatal("100000 nested arrays skipped")
	}
}
