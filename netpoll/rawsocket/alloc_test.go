package rawsocket

import (
	"bytes"
	"testing"

	"github.com/zwamp/zwamp/internal/alloctest"
)

type nopHandler struct{ msgs, bytes int }

func (h *nopHandler) OnMessage(p []byte) error { h.msgs++; h.bytes += len(p); return nil }
func (h *nopHandler) OnPing(p []byte) error    { return nil }
func (h *nopHandler) OnPong(p []byte) error    { return nil }

func checkAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	alloctest.Zero(t, name, f)
}

func TestAllocs(t *testing.T) {
	msg := bytes.Repeat([]byte("[36,1,2,{},[\"x\"]]"), 50)
	var in []byte
	for range 3 {
		in, _ = AppendFrame(in, Message, msg, MaxLen)
	}
	in, _ = AppendFrame(in, Ping, []byte("p"), MaxLen)
	h := &nopHandler{}
	var d Decoder
	checkAllocs(t, "whole frames", func() {
		if err := d.Feed(in, h); err != nil {
			t.Fatal(err)
		}
	})
	checkAllocs(t, "split frames", func() {
		for _, part := range [][]byte{in[:2], in[2:500], in[500:1000], in[1000:]} {
			if err := d.Feed(part, h); err != nil {
				t.Fatal(err)
			}
		}
	})
	if d.Buffered() {
		t.Error("buffer held at rest")
	}
	dst := make([]byte, 0, 4096)
	checkAllocs(t, "encoders", func() {
		b, _ := AppendHeader(dst[:0], Message, len(msg), MaxLen)
		b = append(b, msg...)
		b, _ = AppendFrame(b, Pong, msg[:10], 512)
		b = AppendHandshake(b, Handshake{Serializer: MsgPack, LengthExp: 15})
		b = AppendError(b, ErrMaxConnections)
		_ = b
	})
	req := []byte{0x7F, 0xF2, 0, 0}
	checkAllocs(t, "handshakes", func() {
		var s ServerHandshake
		if _, _, err := s.Feed(req[:1]); err != nil {
			t.Fatal(err)
		}
		if r, _, err := s.Feed(req[1:]); err != nil || r == nil {
			t.Fatal(err)
		}
		c := ClientHandshake{Request: Handshake{Serializer: MsgPack}}
		if r, _, err := c.Feed(req); err != nil || r == nil {
			t.Fatal(err)
		}
		var bad ServerHandshake
		if _, _, err := bad.Feed([]byte{0x7F, 0x10, 0, 0}[:]); err == nil {
			t.Fatal("accepted serializer 0")
		}
	})
}
