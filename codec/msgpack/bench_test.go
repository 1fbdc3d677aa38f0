package msgpack

import (
	"testing"

	vm "github.com/vmihailenco/msgpack/v5"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// The benchmarks run on the hot-path messages as clients encode them
// (smallest integer forms). Compare BenchmarkDecode/PUBLISH with
// BenchmarkRefDecodeAny/PUBLISH for the headline figure.

func BenchmarkDecode(b *testing.B) { benchDecode(b, codectest.HotMessages) }

// BenchmarkDecodeDetails decodes the same types carrying typed
// Options/Details keys.
func BenchmarkDecodeDetails(b *testing.B) { benchDecode(b, hotWithDetails) }

// BenchmarkAppend encodes a decoded message (dict and payloads verbatim),
// which is what the router does when it forwards.
func BenchmarkAppend(b *testing.B) { benchAppend(b, codectest.HotMessages, false) }

// BenchmarkAppendDetails encodes messages whose dict is written from
// typed Details, as the router does for EVENT and INVOCATION details.
func BenchmarkAppendDetails(b *testing.B) { benchAppend(b, hotWithDetails, true) }

func benchDecode(b *testing.B, msgs []codectest.HotMessage) {
	for _, c := range msgs {
		data := hotBytes(b, c.Value)
		b.Run(c.Name, func(b *testing.B) {
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

// benchAppend appends each message as decoded, or with its dict written
// from the typed Details when typed is set.
func benchAppend(b *testing.B, msgs []codectest.HotMessage, typed bool) {
	for _, c := range msgs {
		data := hotBytes(b, c.Value)
		b.Run(c.Name, func(b *testing.B) {
			var m codec.Message
			if err := Decode(&m, data); err != nil {
				b.Fatal(err)
			}
			if typed {
				m.Dict = codec.Raw{}
			}
			dst := make([]byte, 0, 512)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Append(dst[:0], &m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWalk re-encodes each message through Walk into a Writer, the
// path a transcoded payload takes.
func BenchmarkWalk(b *testing.B) {
	for _, c := range codectest.HotMessages {
		data := hotBytes(b, c.Value)
		b.Run(c.Name, func(b *testing.B) {
			w := NewWriter()
			dst := make([]byte, 0, 512)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset(dst[:0])
				if err := Walk(data, w, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefDecodeAny is the reference library decoding the same bytes
// into []any: the baseline Decode is measured against.
func BenchmarkRefDecodeAny(b *testing.B) {
	for _, c := range codectest.HotMessages {
		data := hotBytes(b, c.Value)
		b.Run(c.Name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v []any
				if err := vm.Unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
