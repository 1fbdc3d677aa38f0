package cbor

import (
	"bytes"
	"testing"

	fxcbor "github.com/fxamacker/cbor/v2"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// Run: go test ./codec/cbor -run '^$' -bench . -benchmem -count=5
// BenchmarkRefDecodeAny is fxamacker/cbor decoding the same bytes into
// []any with its default options, the baseline Decode is measured against.

func BenchmarkDecode(b *testing.B) {
	for _, bm := range codectest.HotMessages {
		data := mustRef(b, bm.Value)
		b.Run(bm.Name, func(b *testing.B) {
			var m codec.Message
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Decode(&m, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, bm := range codectest.HotMessages {
		data := mustRef(b, bm.Value)
		b.Run(bm.Name, func(b *testing.B) {
			var m codec.Message
			if err := Decode(&m, data); err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, 512)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = Append(dst[:0], &m)
			}
		})
	}
}

func BenchmarkRefDecodeAny(b *testing.B) {
	for _, bm := range codectest.HotMessages {
		data := mustRef(b, bm.Value)
		b.Run(bm.Name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v []any
				if err := fxcbor.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWalk walks each whole message into the CBOR Writer: the cost of
// transcoding a payload of that size.
func BenchmarkWalk(b *testing.B) {
	for _, bm := range codectest.HotMessages {
		data := mustRef(b, bm.Value)
		b.Run(bm.Name, func(b *testing.B) {
			w := NewWriter()
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset(buf[:0])
				if err := Walk(data, w, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDetails measures the typed-Details paths: decoding a HELLO with
// roles and features, and writing it from Details.
func BenchmarkDetails(b *testing.B) {
	var hello []any
	for _, g := range goldenMessages(b) {
		if g.m.Type == codec.HELLO {
			out, err := Append(nil, &g.m)
			if err != nil {
				b.Fatal(err)
			}
			var m codec.Message
			if err := Decode(&m, out); err != nil {
				b.Fatal(err)
			}
			b.Run("DecodeHELLO", func(b *testing.B) {
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					_ = Decode(&m, out)
				}
			})
			b.Run("AppendHELLO", func(b *testing.B) {
				dst := make([]byte, 0, 1024)
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					dst, _ = Append(dst[:0], &g.m)
				}
			})
			b.Run("RefDecodeAnyHELLO", func(b *testing.B) {
				b.SetBytes(int64(len(out)))
				b.ReportAllocs()
				for b.Loop() {
					hello = hello[:0]
					_ = fxcbor.Unmarshal(out, &hello)
				}
			})
		}
	}
}

// BenchmarkWalkIndefinite walks 64 KiB of small integers in an array
// directly (flat) and at the bottom of 63 nested indefinite-length arrays
// (nested). Walk prescans indefinite containers once, so the two cost about
// the same per byte; counting each level separately would make nested ~60×
// slower.
func BenchmarkWalkIndefinite(b *testing.B) {
	const n = 64 << 10
	flat := append([]byte{0x9f}, bytes.Repeat([]byte{0x01}, n)...)
	flat = append(flat, 0xff)
	nested := bytes.Repeat([]byte{0x9f}, 63)
	nested = append(nested, bytes.Repeat([]byte{0x01}, n)...)
	nested = append(nested, bytes.Repeat([]byte{0xff}, 63)...)
	for _, bc := range []struct {
		name string
		data []byte
	}{{"flat", flat}, {"nested", nested}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Walk(bc.data, codectest.Discard{}, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
