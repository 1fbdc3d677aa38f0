package rawsocket

import (
	"bytes"
	"errors"
	"testing"
)

func TestSniff(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := HTTP
		if b == 0x7F {
			want = RawSocket
		}
		if got := Sniff(byte(b)); got != want {
			t.Errorf("Sniff(%#x) = %v, want %v", b, got, want)
		}
	}
}

func TestLengthExp(t *testing.T) {
	for e := uint8(0); e <= MaxLengthExp; e++ {
		h := Handshake{LengthExp: e}
		if h.MaxLen() != 512<<e {
			t.Errorf("exp %d: MaxLen %d, want %d", e, h.MaxLen(), 512<<e)
		}
		if got := LengthExpFor(h.MaxLen()); got != e {
			t.Errorf("LengthExpFor(%d) = %d, want %d", h.MaxLen(), got, e)
		}
		if e > 0 {
			if got := LengthExpFor(h.MaxLen() - 1); got != e-1 {
				t.Errorf("LengthExpFor(%d) = %d, want %d", h.MaxLen()-1, got, e-1)
			}
		}
	}
	for _, tc := range []struct{ n, want int }{{0, 0}, {-5, 0}, {511, 0}, {1 << 30, 15}, {MaxLen, 15}} {
		if got := LengthExpFor(tc.n); int(got) != tc.want {
			t.Errorf("LengthExpFor(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	if (Handshake{LengthExp: 15}).MaxLen() != MaxLen {
		t.Error("largest exponent is not 16 MiB")
	}
}

// TestAppendHandshake checks the second octet against the spec's table:
// (LENGTH << 4) | SERIALIZER, and (ERROR << 4) for error replies.
func TestAppendHandshake(t *testing.T) {
	for ser := Serializer(1); ser <= 5; ser++ {
		for e := uint8(0); e < 16; e++ {
			got := AppendHandshake([]byte{0xAA}, Handshake{Serializer: ser, LengthExp: e})
			want := []byte{0xAA, 0x7F, e<<4 | byte(ser), 0, 0}
			if !bytes.Equal(got, want) {
				t.Fatalf("ser %d exp %d: %x, want %x", ser, e, got, want)
			}
		}
	}
	if got := AppendHandshake(nil, Handshake{Serializer: JSON, LengthExp: 15}); !bytes.Equal(got, []byte{0x7F, 0xF1, 0, 0}) {
		t.Errorf("json 16M: %x", got)
	}
	for code, want := range map[ErrorCode]byte{ErrSerializerUnsupported: 0x10, ErrMaxLenUnacceptable: 0x20, ErrReservedBits: 0x30, ErrMaxConnections: 0x40} {
		if got := AppendError(nil, code); !bytes.Equal(got, []byte{0x7F, want, 0, 0}) {
			t.Errorf("error %d: %x", code, got)
		}
	}
}

func feedServer(chunks ...[]byte) (*Handshake, int, error) {
	var s ServerHandshake
	for _, c := range chunks {
		req, n, err := s.Feed(c)
		if req != nil || err != nil {
			return req, n, err
		}
		if n != len(c) {
			panic("incomplete handshake did not consume its input")
		}
	}
	return nil, 0, nil
}

func TestServerHandshake(t *testing.T) {
	for b1 := 0; b1 < 256; b1++ {
		in := []byte{0x7F, byte(b1), 0, 0, 0xde, 0xad}
		for _, chunks := range [][][]byte{{in}, {in[:1], in[1:2], in[2:3], in[3:]}, {in[:3], in[3:]}} {
			req, n, err := feedServer(chunks...)
			if b1&0x0F == 0 {
				if err != ErrSerializerUnsupported || req != nil {
					t.Fatalf("serializer 0 (%#x): got %v, %v; want ErrSerializerUnsupported", b1, req, err)
				}
				continue
			}
			if err != nil || req == nil {
				t.Fatalf("%#x: %v", b1, err)
			}
			if req.Serializer != Serializer(b1&0x0F) || req.LengthExp != uint8(b1>>4) {
				t.Fatalf("%#x: got %+v", b1, *req)
			}
			last := chunks[len(chunks)-1]
			if !bytes.Equal(last[n:], []byte{0xde, 0xad}) {
				t.Fatalf("%#x: bytes after the handshake: %x", b1, last[n:])
			}
		}
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"HTTP", []byte("GET / HTTP/1.1\r\n"), ErrNotRawSocket},
		{"zero", []byte{0, 0x11, 0, 0}, ErrNotRawSocket},
		{"reserved octet 3", []byte{0x7F, 0x11, 1, 0}, ErrReservedBits},
		{"reserved octet 4", []byte{0x7F, 0x11, 0, 0x80}, ErrReservedBits},
		{"illegal serializer", []byte{0x7F, 0xF0, 0, 0}, ErrSerializerUnsupported},
	}
	for _, tc := range tests {
		for _, chunks := range [][][]byte{{tc.in}, {tc.in[:1], tc.in[1:]}, {tc.in[:2], tc.in[2:3], tc.in[3:]}} {
			if _, _, err := feedServer(chunks...); err != tc.want {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}
	}
	// The magic is checked on the first byte, without waiting for four.
	var s ServerHandshake
	if _, n, err := s.Feed([]byte{'G'}); err != ErrNotRawSocket || n != 0 {
		t.Errorf("first byte G: n=%d err=%v", n, err)
	}
	if _, _, err := s.Feed([]byte{0x7F, 0x11, 0, 0}); err != ErrNotRawSocket {
		t.Errorf("error did not stick: %v", err)
	}
	// The error code is what the router replies with.
	var code ErrorCode
	_, _, err := feedServer([]byte{0x7F, 0x12, 0, 9})
	if !errors.As(err, &code) || !bytes.Equal(AppendError(nil, code), []byte{0x7F, 0x30, 0, 0}) {
		t.Errorf("reply for reserved bits: %v", err)
	}
	// Done: the same request again, nothing consumed.
	s = ServerHandshake{}
	req, _, _ := s.Feed([]byte{0x7F, 0x22, 0, 0})
	if again, n, err := s.Feed([]byte{1, 2, 3}); again != req || n != 0 || err != nil {
		t.Errorf("Feed after completion: %v %d %v", again, n, err)
	}
}

func TestClientHandshake(t *testing.T) {
	c := ClientHandshake{Request: Handshake{Serializer: CBOR, LengthExp: 4}}
	if got := c.AppendRequest(nil); !bytes.Equal(got, []byte{0x7F, 0x43, 0, 0}) {
		t.Fatalf("request %x", got)
	}
	reply := []byte{0x7F, 0xA3, 0, 0, 9}
	for _, chunks := range [][][]byte{{reply}, {reply[:1], reply[1:3], reply[3:]}} {
		cc := c
		var got *Handshake
		var n int
		for _, ch := range chunks {
			var err error
			got, n, err = cc.Feed(ch)
			if err != nil {
				t.Fatal(err)
			}
			if got != nil {
				if !bytes.Equal(ch[n:], []byte{9}) {
					t.Errorf("bytes after the reply: %x", ch[n:])
				}
				break
			}
		}
		if got == nil || got.Serializer != CBOR || got.MaxLen() != 512<<10 {
			t.Fatalf("reply %+v", got)
		}
	}
	for code := ErrorCode(0); code < 16; code++ {
		cc := c
		_, _, err := cc.Feed(AppendError(nil, code))
		var rej *RejectedError
		var got ErrorCode
		if !errors.As(err, &rej) || rej.Code != code || !errors.As(err, &got) || got != code {
			t.Errorf("error reply %d: got %v", code, err)
		}
		if code == ErrMaxConnections && !errors.Is(err, ErrMaxConnections) {
			t.Errorf("errors.Is does not see the code")
		}
		if err.Error() == "" || code.Error() == "" {
			t.Error("empty error text")
		}
	}
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{[]byte{0x7E, 0x43, 0, 0}, ErrNotRawSocket},
		{[]byte{0x7F, 0x41, 0, 0}, ErrReplySerializer},
		{[]byte{0x7F, 0x43, 0, 1}, ErrReplyReserved},
		{[]byte{0x7F, 0x10, 1, 0}, ErrReplyReserved},
	} {
		cc := c
		if _, _, err := cc.Feed(tc.in); err != tc.want {
			t.Errorf("%x: got %v, want %v", tc.in, err, tc.want)
		}
		if _, _, err := cc.Feed(tc.in); err != tc.want {
			t.Errorf("%x: error did not stick", tc.in)
		}
	}
}
