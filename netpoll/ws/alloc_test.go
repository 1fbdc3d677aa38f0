package ws

import (
	"bytes"
	"testing"

	"github.com/zwamp/zwamp/internal/alloctest"
)

// nopHandler counts what it is given and keeps nothing.
type nopHandler struct{ msgs, bytes, pings int }

func (h *nopHandler) OnMessage(op Opcode, p []byte) error { h.msgs++; h.bytes += len(p); return nil }
func (h *nopHandler) OnPing(p []byte) error               { h.pings++; return nil }
func (h *nopHandler) OnPong(p []byte) error               { return nil }
func (h *nopHandler) OnClose(int, []byte) error           { return nil }

func checkAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	alloctest.Zero(t, name, f)
}

func TestFeedAllocs(t *testing.T) {
	text := bytes.Repeat([]byte("wamp é "), 100)
	bin := bytes.Repeat([]byte{0, 1, 2, 0xff}, 2000)
	whole := AppendMaskedFrame(nil, OpText, true, text, testKey)
	whole = AppendMaskedFrame(whole, OpPing, true, []byte("p"), testKey)
	whole = AppendMaskedFrame(whole, OpBinary, true, bin, testKey)
	frags := AppendMaskedFrame(nil, OpText, false, text[:301], testKey)
	frags = AppendMaskedFrame(frags, OpPing, true, []byte("p"), testKey)
	frags = AppendMaskedFrame(frags, OpContinuation, true, text[301:], testKey)
	buf := make([]byte, len(whole)+len(frags))
	h := &nopHandler{}
	var d Decoder

	run := func(in []byte, cuts ...int) func() {
		return func() {
			b := buf[:copy(buf, in)]
			prev := 0
			for _, c := range cuts {
				if err := d.Feed(b[prev:c], h); err != nil {
					t.Fatal(err)
				}
				prev = c
			}
			if err := d.Feed(b[prev:], h); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkAllocs(t, "whole messages", run(whole))
	checkAllocs(t, "fragments in one call", run(frags))
	checkAllocs(t, "split messages", run(whole, 3, 300, len(whole)-5))
	checkAllocs(t, "fragments split", run(frags, 7, 320, 330))
	if d.Buffered() {
		t.Error("decoder holds a buffer at rest")
	}

	cd := Decoder{Client: true}
	server := AppendFrame(nil, OpBinary, true, bin)
	checkAllocs(t, "client role", func() {
		if err := cd.Feed(server[:100], h); err != nil {
			t.Fatal(err)
		}
		if err := cd.Feed(server[100:], h); err != nil {
			t.Fatal(err)
		}
	})
}

func TestEncoderAllocs(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 70000)
	dst := make([]byte, 0, 2*len(payload)+1024)
	checkAllocs(t, "encoders", func() {
		b := AppendHeader(dst[:0], OpBinary, true, len(payload))
		b = AppendFrame(b, OpText, true, payload[:200])
		b = AppendFrame(b, OpPong, true, payload[:10])
		b = AppendClose(b, CloseGoingAway, "bye")
		b = AppendMaskedFrame(b, OpBinary, true, payload, testKey)
		b = AppendMaskedClose(b, CloseNormal, "", testKey)
		_ = b
	})
}

func TestHandshakeAllocs(t *testing.T) {
	req := []byte(goodRequest)
	dst := make([]byte, 0, 512)
	var hs ServerHandshake
	checkAllocs(t, "server handshake", func() {
		r, _, err := hs.Feed(req)
		if err != nil || r == nil {
			t.Fatal(err)
		}
		_ = r.AppendAccept(dst[:0], r.ChooseProtocol(IsWAMPProtocol))
		hs.Release()
	})
	checkAllocs(t, "server handshake in two calls", func() {
		if _, _, err := hs.Feed(req[:50]); err != nil {
			t.Fatal(err)
		}
		r, _, err := hs.Feed(req[50:])
		if err != nil || r == nil {
			t.Fatal(err)
		}
		hs.Release()
	})
	bad := []byte("POST / HTTP/1.1\r\n\r\n")
	checkAllocs(t, "refusal", func() {
		_, _, err := hs.Feed(bad)
		he := err.(*HTTPError)
		_ = he.AppendResponse(dst[:0])
		hs.Release()
	})
}
