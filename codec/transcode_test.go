package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/internal/codectest"
)

var formats = []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR}

// randValue builds a random payload value covering every kind the
// serializers share: nested lists and dicts, unicode and binary strings,
// integer extremes beyond 2^53, floats, bools and nil.
func randValue(r *rand.Rand, depth int) any {
	k := r.IntN(12)
	if depth > 4 && k >= 10 {
		k = r.IntN(10)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return int64(r.Uint64()) // any int64, negative included
	case 3:
		return []uint64{0, 1, 23, 24, 255, 256, 65535, 1 << 32, 1<<53 + 1, math.MaxInt64 + 1, math.MaxUint64}[r.IntN(11)]
	case 4:
		return []int64{-1, -24, -25, -128, -129, -32768, -1 << 40, math.MinInt64}[r.IntN(8)]
	case 5:
		return []float64{0.5, -1.25, 1.0, 3e-300, 1.7976931348623157e308, 5e-324, math.Copysign(0, -1), 1e21, 123456.789}[r.IntN(9)]
	case 6:
		return []string{"", "a", "ü€𝄞中文", "quote\"back\\slash\n\t\u0001", "\u0000not base64 !", strings.Repeat("x", 300)}[r.IntN(6)]
	case 7:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	case 8:
		return float64(r.IntN(1000)) + 0.25
	case 9:
		return "key-" + string(rune('a'+r.IntN(26)))
	case 10:
		n := r.IntN(5)
		l := make([]any, n)
		for i := range l {
			l[i] = randValue(r, depth+1)
		}
		return l
	default:
		n := r.IntN(5)
		m := make(map[string]any, n)
		for i := 0; i < n; i++ {
			m[[]string{"a", "b", "ü", "", "long key with spaces"}[r.IntN(5)]+string(rune('0'+i))] = randValue(r, depth+1)
		}
		return m
	}
}

// TestTranscodeAllDirections: for many random values, every one of the six
// directions keeps the value exactly, and a round trip back to the source
// serializer gives the source's bytes again.
func TestTranscodeAllDirections(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 3000
	if raceEnabled {
		n = 300
	}
	for i := 0; i < n; i++ {
		v := []any{randValue(r, 0), randValue(r, 0)}
		for _, from := range formats {
			src, err := codec.EncodeGo(from, v)
			if err != nil {
				t.Fatalf("encode %v: %v", from, err)
			}
			want, err := codec.ToGo(src)
			if err != nil {
				t.Fatalf("decode own %v: %v", from, err)
			}
			for _, to := range formats {
				if to == from {
					continue
				}
				out, err := codec.Transcode(nil, to, src)
				if err != nil {
					t.Fatalf("%v→%v of %#v: %v", from, to, v, err)
				}
				got, err := codec.ToGo(codec.Raw{Format: to, Bytes: out})
				if err != nil {
					t.Fatalf("%v→%v produced undecodable %x: %v", from, to, out, err)
				}
				if !codectest.StrictEqual(got, want) {
					t.Fatalf("%v→%v changed the value:\n got %#v\nwant %#v", from, to, got, want)
				}
				back, err := codec.Transcode(nil, from, codec.Raw{Format: to, Bytes: out})
				if err != nil || !bytes.Equal(back, src.Bytes) {
					t.Fatalf("%v→%v→%v not byte-identical (%v):\n%x\n%x", from, to, from, err, back, src.Bytes)
				}
			}
		}
	}
}

// TestTranscodeBinaryConvention: JSON's "\u0000"+base64 strings become
// MsgPack bin and CBOR byte strings, and back.
func TestTranscodeBinaryConvention(t *testing.T) {
	js := codec.Raw{Format: codec.JSON, Bytes: []byte(`["\u0000EOP/kFMHXFJvX8BtT+N82w==","plain"]`)}
	want := []byte{0x10, 0xe3, 0xff, 0x90, 0x53, 0x07, 0x5c, 0x52, 0x6f, 0x5f, 0xc0, 0x6d, 0x4f, 0xe3, 0x7c, 0xdb}
	mp, err := codec.Transcode(nil, codec.MsgPack, js)
	if err != nil {
		t.Fatal(err)
	}
	// fixarray(2), bin8(16), the bytes, fixstr(5) "plain"
	wantMP := append(append([]byte{0x92, 0xc4, 16}, want...), 0xa5, 'p', 'l', 'a', 'i', 'n')
	if !bytes.Equal(mp, wantMP) {
		t.Fatalf("JSON→MsgPack = %x, want %x", mp, wantMP)
	}
	cb, err := codec.Transcode(nil, codec.CBOR, js)
	if err != nil {
		t.Fatal(err)
	}
	wantCB := append(append([]byte{0x82, 0x50}, want...), 0x65, 'p', 'l', 'a', 'i', 'n')
	if !bytes.Equal(cb, wantCB) {
		t.Fatalf("JSON→CBOR = %x, want %x", cb, wantCB)
	}
	back, err := codec.Transcode(nil, codec.JSON, codec.Raw{Format: codec.CBOR, Bytes: cb})
	if err != nil || string(back) != `["\u0000EOP/kFMHXFJvX8BtT+N82w==","plain"]` {
		t.Fatalf("CBOR→JSON = %s, %v", back, err)
	}
}

// TestTranscodeUnrepresentable: what JSON cannot carry is an error, not a
// silent change.
func TestTranscodeUnrepresentable(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		src, err := codec.EncodeGo(codec.MsgPack, []any{f})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := codec.Transcode(nil, codec.JSON, src); !errors.Is(err, codec.ErrUnsupported) {
			t.Fatalf("MsgPack %v → JSON: %v, want ErrUnsupported", f, err)
		}
		src, _ = codec.EncodeGo(codec.CBOR, []any{f})
		if out, err := codec.Transcode(nil, codec.MsgPack, src); err != nil {
			t.Fatalf("CBOR %v → MsgPack: %v", f, err)
		} else if v, _ := codec.ToGo(codec.Raw{Format: codec.MsgPack, Bytes: out}); !codectest.StrictEqual(v, []any{f}) && !math.IsNaN(f) {
			t.Fatalf("CBOR %v → MsgPack gave %v", f, v)
		}
	}
	// A MsgPack extension value cannot be transcoded.
	ext := codec.Raw{Format: codec.MsgPack, Bytes: []byte{0x91, 0xd4, 0x01, 0x02}}
	if _, err := codec.Transcode(nil, codec.JSON, ext); !errors.Is(err, codec.ErrUnsupported) {
		t.Fatalf("MsgPack ext → JSON: %v", err)
	}
}

// TestTranscodeAllocs: transcoding a payload allocates nothing once the
// pooled writers are warm and dst has room.
func TestTranscodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	v := []any{"Hello, world!", int64(-7), uint64(1) << 60, 2.5, true, nil, []byte{1, 2, 3}, map[string]any{"color": "orange", "n": []any{1, 2}}}
	dst := make([]byte, 0, 1024)
	for _, from := range formats {
		src, _ := codec.EncodeGo(from, v)
		for _, to := range formats {
			run := func() {
				out, err := codec.AppendRaw(dst[:0], to, src, 0)
				if err != nil || len(out) == 0 {
					t.Fatal(err)
				}
			}
			run()
			alloctest.Zero(t, fmt.Sprintf("%v→%v", from, to), run)
		}
	}
}
