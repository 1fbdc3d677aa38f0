package rawsocket

import (
	"bytes"
	"strconv"
	"testing"
)

// benchFeed feeds in to a Decoder once per iteration.
func benchFeed(b *testing.B, in []byte) {
	var d Decoder
	h := &nopHandler{}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Feed(in, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFeed(b *testing.B) {
	for _, n := range []int{64, 1024, 65536} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in, _ := AppendFrame(nil, Message, bytes.Repeat([]byte("x"), n), MaxLen)
			benchFeed(b, in)
		})
	}
}

// BenchmarkFeedBatch: one read holding 64 small messages.
func BenchmarkFeedBatch(b *testing.B) {
	msg := []byte(`[16,7021,{"acknowledge":true},"com.example.topic",["hello",42]]`)
	var in []byte
	for range 64 {
		in, _ = AppendFrame(in, Message, msg, MaxLen)
	}
	benchFeed(b, in)
}

// BenchmarkFeedSplit delivers each frame in two calls (pooled buffer path).
func BenchmarkFeedSplit(b *testing.B) {
	for _, n := range []int{1024, 65536} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in, _ := AppendFrame(nil, Message, bytes.Repeat([]byte("x"), n), MaxLen)
			half := len(in) / 2
			var d Decoder
			h := &nopHandler{}
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				d.Feed(in[:half], h)
				if err := d.Feed(in[half:], h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	var dst [HeaderSize]byte
	b.ReportAllocs()
	for b.Loop() {
		_, _ = AppendHeader(dst[:0], Message, 70000, MaxLen)
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range []int{128, 65536} {
		p := bytes.Repeat([]byte("x"), n)
		dst := make([]byte, 0, n+HeaderSize)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = AppendFrame(dst[:0], Message, p, MaxLen)
			}
		})
	}
}

func BenchmarkServerHandshake(b *testing.B) {
	req := []byte{0x7F, 0xF2, 0, 0}
	var dst [4]byte
	b.ReportAllocs()
	for b.Loop() {
		var s ServerHandshake
		r, _, err := s.Feed(req)
		if err != nil {
			b.Fatal(err)
		}
		_ = AppendHandshake(dst[:0], Handshake{Serializer: r.Serializer, LengthExp: 15})
	}
}
