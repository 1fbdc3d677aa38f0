package ws

import (
	"bytes"
	"strconv"
	"testing"
)

// Benchmarks mask with the all-zero key: unmasking in place then leaves the
// input as it was, so the same bytes can be fed again without a copy per
// iteration, while the masking loop does the same work as for any key.
var zeroKey [4]byte

// jsonOf returns n bytes of WAMP-like JSON text: ASCII with an occasional
// two-byte code point, the common case of a text message.
func jsonOf(n int) []byte {
	const chunk = `[36,5512315355,4429313566,{},["Hello, wörld",42,{"k":true}]]`
	b := bytes.Repeat([]byte(chunk), n/len(chunk)+1)[:n]
	for len(b) > 0 && b[len(b)-1]&0xC0 == 0xC0 { // do not end on a lead byte
		b[len(b)-1] = ' '
	}
	return b
}

// benchFeed feeds in to d once per iteration. Masked input must use zeroKey,
// so that unmasking in place leaves it as it was.
func benchFeed(b *testing.B, d *Decoder, in []byte) {
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
	for _, kind := range []string{"json", "text", "binary"} {
		for _, n := range []int{64, 1024, 65536} {
			b.Run(kind+"/"+strconv.Itoa(n), func(b *testing.B) {
				op, p := OpText, jsonOf(n)
				switch kind {
				case "text": // heavy in multi-byte code points: the worst case
					p = textOf(n)
				case "binary":
					op, p = OpBinary, binaryOf(n)
				}
				benchFeed(b, &Decoder{}, AppendMaskedFrame(nil, op, true, p, zeroKey))
			})
		}
	}
}

// BenchmarkFeedBatch is a read that holds 64 small JSON-sized messages, the
// shape of a busy connection's read buffer.
func BenchmarkFeedBatch(b *testing.B) {
	msg := []byte(`[16,7021,{"acknowledge":true},"com.example.topic",["hello",42]]`)
	var in []byte
	for range 64 {
		in = AppendMaskedFrame(in, OpText, true, msg, zeroKey)
	}
	benchFeed(b, &Decoder{}, in)
}

// BenchmarkFeedSplit delivers each message in two Feed calls, so it goes
// through the pooled buffer.
func BenchmarkFeedSplit(b *testing.B) {
	for _, n := range []int{1024, 65536} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			in := AppendMaskedFrame(nil, OpBinary, true, binaryOf(n), zeroKey)
			half := len(in) / 2
			var d Decoder
			h := &nopHandler{}
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Feed(in[:half], h); err != nil {
					b.Fatal(err)
				}
				if err := d.Feed(in[half:], h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFeedFragmented: a 4 KiB text message in 4 fragments within one
// Feed, joined in place. Joining moves bytes over the later fragments'
// headers, so every iteration starts from a fresh copy (included in the
// figure, about what a socket read costs anyway).
func BenchmarkFeedFragmented(b *testing.B) {
	p := textOf(4096)
	var in []byte
	for i := 0; i < 4; i++ {
		op := OpContinuation
		if i == 0 {
			op = OpText
		}
		in = AppendMaskedFrame(in, op, i == 3, p[i*1024:(i+1)*1024], zeroKey)
	}
	buf := make([]byte, len(in))
	var d Decoder
	h := &nopHandler{}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, in)
		if err := d.Feed(buf, h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeedClient is the client role: unmasked server frames.
func BenchmarkFeedClient(b *testing.B) {
	benchFeed(b, &Decoder{Client: true}, AppendFrame(nil, OpBinary, true, binaryOf(1024)))
}

func BenchmarkAppendHeader(b *testing.B) {
	var dst [MaxHeaderSize]byte
	b.ReportAllocs()
	for b.Loop() {
		_ = AppendHeader(dst[:0], OpBinary, true, 70000)
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range []int{128, 65536} {
		p := binaryOf(n)
		dst := make([]byte, 0, n+MaxHeaderSize)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_ = AppendFrame(dst[:0], OpBinary, true, p)
			}
		})
	}
}

func BenchmarkAppendMaskedFrame(b *testing.B) {
	for _, n := range []int{128, 65536} {
		p := binaryOf(n)
		dst := make([]byte, 0, n+MaxHeaderSize)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_ = AppendMaskedFrame(dst[:0], OpBinary, true, p, testKey)
			}
		})
	}
}

func BenchmarkAppendClose(b *testing.B) {
	var dst [MaxHeaderSize + MaxControlPayload]byte
	b.ReportAllocs()
	for b.Loop() {
		_ = AppendClose(dst[:0], CloseGoingAway, "router shutting down")
	}
}

func BenchmarkMaskBytes(b *testing.B) {
	p := binaryOf(4096)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		MaskBytes(testKey, 1, p)
	}
}

// BenchmarkServerHandshake parses a browser-sized upgrade request and builds
// the 101 answer.
func BenchmarkServerHandshake(b *testing.B) {
	req := []byte(goodRequest)
	dst := make([]byte, 0, 512)
	var hs ServerHandshake
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := hs.Feed(req)
		if err != nil {
			b.Fatal(err)
		}
		dst = r.AppendAccept(dst[:0], r.ChooseProtocol(IsWAMPProtocol))
		hs.Release()
	}
}

func BenchmarkClientHandshake(b *testing.B) {
	c := ClientHandshake{Host: "example.com", Target: "/ws", Protocols: []string{"wamp.2.json"}}
	var hs ServerHandshake
	r, _, _ := hs.Feed(c.AppendRequest(nil))
	answer := r.AppendAccept(nil, []byte("wamp.2.json"))
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		cc := c
		dst = cc.AppendRequest(dst[:0])
		if _, _, err := cc.Feed(answer); err != nil {
			b.Fatal(err)
		}
	}
}
