package rawsocket

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

type recorder struct{ ev []string }

func (r *recorder) OnMessage(p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("msg %q", trunc(p)))
	return nil
}
func (r *recorder) OnPing(p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("ping %q", trunc(p)))
	return nil
}
func (r *recorder) OnPong(p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("pong %q", trunc(p)))
	return nil
}

// trunc keeps event strings short for 16 MiB frames while still telling
// payloads apart.
func trunc(p []byte) string {
	if len(p) > 64 {
		return fmt.Sprintf("%s…(%d bytes)", p[:32], len(p))
	}
	return string(p)
}

func hdr(b0 byte, n int) []byte { return []byte{b0, byte(n >> 16), byte(n >> 8), byte(n)} }

func frame(t MsgType, p string) []byte {
	b, err := AppendFrame(nil, t, []byte(p), MaxLen)
	if err != nil {
		panic(err)
	}
	return b
}

// feed runs a fresh decoder over chunks and returns the events and the
// sentinel error (nil if none).
func feed(t testing.TB, max int, chunks [][]byte) ([]string, error) {
	t.Helper()
	d := &Decoder{MaxLen: max}
	r := &recorder{}
	var sentinel error
	for _, c := range chunks {
		if err := d.Feed(c, r); err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError", err)
			}
			sentinel = fe.Err
			if d.Buffered() {
				t.Error("decoder holds a buffer after an error")
			}
			break
		}
	}
	d.Reset()
	return r.ev, sentinel
}

func splits(in []byte, rng *rand.Rand) [][][]byte {
	out := [][][]byte{{in}}
	if len(in) < 100 {
		var bytewise [][]byte
		for i := range in {
			bytewise = append(bytewise, in[i:i+1])
		}
		out = append(out, bytewise)
	}
	for range 4 {
		var chunks [][]byte
		rest := in
		for len(rest) > 0 {
			n := 1 + rng.IntN(min(len(rest), 1+len(in)/3))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		out = append(out, chunks)
	}
	return out
}

func TestDecoderRules(t *testing.T) {
	big := strings.Repeat("b", MaxLen)
	tests := []struct {
		name string
		max  int
		in   []byte
		want []string
		err  error
	}{
		{name: "message", in: frame(Message, `[1,"realm",{}]`), want: []string{`msg "[1,\"realm\",{}]"`}},
		{name: "empty message", in: frame(Message, ""), want: []string{`msg ""`}},
		{name: "ping pong message", in: slices.Concat(frame(Ping, "abc"), frame(Pong, ""), frame(Message, "m")),
			want: []string{`ping "abc"`, `pong ""`, `msg "m"`}},
		{name: "at the limit", max: 512, in: frame(Message, strings.Repeat("x", 512)), want: []string{`msg "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…(512 bytes)"`}},
		{name: "over the limit", max: 512, in: frame(Message, strings.Repeat("x", 513)), err: ErrFrameTooLong},
		{name: "ping over the limit", max: 512, in: frame(Ping, strings.Repeat("x", 513)), err: ErrFrameTooLong},
		{name: "limit checked before the payload arrives", max: 512, in: hdr(0, 600), err: ErrFrameTooLong},
		{name: "16M-1 needs no X bit", in: slices.Concat(hdr(0, MaxLen-1), []byte(big[1:])), want: []string{`msg "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb…(16777215 bytes)"`}},
		{name: "16M with the X bit", in: slices.Concat([]byte{0x08, 0, 0, 0}, []byte(big)), want: []string{`msg "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb…(16777216 bytes)"`}},
		{name: "16M over a smaller limit", max: MaxLen - 1, in: []byte{0x08, 0, 0, 0}, err: ErrFrameTooLong},
		{name: "X bit with length bits", in: []byte{0x08, 0, 0, 1}, err: ErrBadLength},
		{name: "X bit with high length bits", in: []byte{0x09, 0x80, 0, 0}, err: ErrBadLength},
		{name: "reserved bit 4", in: hdr(0x10, 0), err: ErrReservedFrameBits},
		{name: "reserved bit 5", in: hdr(0x20, 0), err: ErrReservedFrameBits},
		{name: "reserved bit 6", in: hdr(0x40, 0), err: ErrReservedFrameBits},
		{name: "reserved bit 7", in: hdr(0x80, 0), err: ErrReservedFrameBits},
		{name: "type 3", in: hdr(3, 0), err: ErrReservedType},
		{name: "type 7", in: hdr(7, 0), err: ErrReservedType},
		{name: "bad frame after good ones", in: slices.Concat(frame(Message, "a"), frame(Ping, "b"), hdr(5, 1), []byte("c")),
			want: []string{`msg "a"`, `ping "b"`}, err: ErrReservedType},
		{name: "incomplete frame is no error", in: hdr(0, 10)[:3]},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, chunks := range splits(tc.in, rng) {
				ev, err := feed(t, tc.max, chunks)
				if err != tc.err || !slices.Equal(ev, tc.want) {
					t.Fatalf("split %d (%d pieces): got %q, %v; want %q, %v", i, len(chunks), ev, err, tc.want, tc.err)
				}
			}
		})
	}
}

func TestFrameErrorText(t *testing.T) {
	d := Decoder{MaxLen: 1024}
	err := d.Feed(hdr(0, 5000), &recorder{})
	if !errors.Is(err, ErrFrameTooLong) || !strings.Contains(err.Error(), "5000 > 1024") || !strings.Contains(err.Error(), "00001388") {
		t.Errorf("error text %q lacks the length, limit or prefix", err)
	}
	if again := d.Feed(frame(Message, "x"), &recorder{}); again != err {
		t.Errorf("error did not stick: %v", again)
	}
}

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		t      MsgType
		n      int
		limit  int
		want   []byte
		tooBig bool
	}{
		{Message, 0, MaxLen, []byte{0, 0, 0, 0}, false},
		{Ping, 5, 512, []byte{1, 0, 0, 5}, false},
		{Pong, 512, 512, []byte{2, 0, 2, 0}, false},
		{Message, 513, 512, nil, true},
		{Message, MaxLen - 1, MaxLen, []byte{0, 0xFF, 0xFF, 0xFF}, false},
		{Message, MaxLen, MaxLen, []byte{0x08, 0, 0, 0}, false},
		{Message, MaxLen + 1, 1 << 30, nil, true},
		{Message, -1, MaxLen, nil, true},
	}
	for _, tc := range tests {
		got, err := AppendHeader([]byte{0xEE}, tc.t, tc.n, tc.limit)
		if tc.tooBig {
			if err != ErrTooLong || !bytes.Equal(got, []byte{0xEE}) {
				t.Errorf("%v %d limit %d: %x, %v; want ErrTooLong and dst unchanged", tc.t, tc.n, tc.limit, got, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, append([]byte{0xEE}, tc.want...)) {
			t.Errorf("%v %d: %x, %v; want %x", tc.t, tc.n, got, err, tc.want)
		}
	}
	if _, err := AppendFrame(nil, Message, make([]byte, 600), 512); err != ErrTooLong {
		t.Errorf("AppendFrame over the limit: %v", err)
	}
	if Ping.String() != "ping" || MsgType(6).String() != "MsgType(6)" {
		t.Error("MsgType.String")
	}
}

// TestPingPong: a PONG built from a PING's payload decodes to the same
// payload, as the spec requires.
func TestPingPong(t *testing.T) {
	payload := []byte("\x00ping\xff")
	var out []byte
	h := &funcHandler{ping: func(p []byte) error {
		var err error
		out, err = AppendFrame(out, Pong, p, MaxLen)
		return err
	}}
	var d Decoder
	if err := d.Feed(frame(Ping, string(payload)), h); err != nil {
		t.Fatal(err)
	}
	ev, err := feed(t, 0, [][]byte{out})
	if err != nil || len(ev) != 1 || ev[0] != fmt.Sprintf("pong %q", payload) {
		t.Errorf("pong: %q %v", ev, err)
	}
}

type funcHandler struct {
	msg  func([]byte) error
	ping func([]byte) error
}

func (f *funcHandler) OnMessage(p []byte) error {
	if f.msg != nil {
		return f.msg(p)
	}
	return nil
}
func (f *funcHandler) OnPing(p []byte) error {
	if f.ping != nil {
		return f.ping(p)
	}
	return nil
}
func (f *funcHandler) OnPong([]byte) error { return nil }

func TestDecoderViews(t *testing.T) {
	in := slices.Concat(frame(Message, "first"), frame(Message, "second"))
	start := uintptr(unsafe.Pointer(&in[0]))
	var got []string
	h := &funcHandler{msg: func(p []byte) error {
		q := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
		if q < start || q+uintptr(len(p)) > start+uintptr(len(in)) {
			t.Errorf("payload %q is not a view of the input", p)
		}
		if cap(p) != len(p) {
			t.Errorf("payload %q has spare capacity", p)
		}
		got = append(got, string(p))
		return nil
	}}
	var d Decoder
	if err := d.Feed(in, h); err != nil || !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	if d.Buffered() {
		t.Error("buffer held after whole frames")
	}

	// Split payload: buffered until complete, then the buffer goes back.
	got = nil
	h.msg = func(p []byte) error { got = append(got, string(p)); return nil }
	in = frame(Message, "spanning")
	first := slices.Clone(in[:7])
	d.Feed(first, h)
	if !d.Buffered() {
		t.Error("no buffer while a payload spans calls")
	}
	clear(first) // the caller reuses its read buffer
	d.Feed(in[7:], h)
	if !slices.Equal(got, []string{"spanning"}) || d.Buffered() {
		t.Errorf("got %q, buffered %v", got, d.Buffered())
	}
	// A prefix alone takes no buffer.
	d.Feed(in[:3], h)
	if d.Buffered() {
		t.Error("buffer taken for a partial prefix")
	}
}

func TestDecoderHandlerError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	h := &funcHandler{msg: func([]byte) error { n++; return stop }}
	var d Decoder
	in := slices.Concat(frame(Message, "a"), frame(Message, "b"))
	if err := d.Feed(in, h); err != stop {
		t.Fatalf("got %v", err)
	}
	if err := d.Feed(in, h); err != stop || n != 1 {
		t.Fatalf("got %v after %d calls", err, n)
	}
}
