package ws

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

const (
	fin  = 0x80
	rsv1 = 0x40
	rsv2 = 0x20
	rsv3 = 0x10
)

func closeBody(code int, reason string) string {
	return string([]byte{byte(code >> 8), byte(code)}) + reason
}

// TestDecoderRules holds one case per RFC 6455 rule the decoder enforces:
// the input bytes, the events before the verdict, and the close code the
// verdict carries (0: no error). Every case is also fed byte by byte and in
// random pieces, which must not change anything.
func TestDecoderRules(t *testing.T) {
	long := strings.Repeat("x", 70000)
	len64 := func(b0 byte, n uint64) []byte { // masked header with a 64-bit length
		h := []byte{b0, 0x80 | 127}
		h = binary.BigEndian.AppendUint64(h, n)
		return append(h, testKey[:]...)
	}
	tests := []struct {
		name   string
		client bool
		max    int
		in     []byte
		want   []string
		code   int
	}{
		// Well-formed traffic.
		{name: "text", in: cf(fin|1, "hello"), want: []string{`text "hello"`}},
		{name: "binary", in: cf(fin|2, "\x00\xff"), want: []string{`binary "\x00\xff"`}},
		{name: "empty text", in: cf(fin|1, ""), want: []string{`text ""`}},
		{name: "two messages", in: cat(cf(fin|1, "a"), cf(fin|2, "b")), want: []string{`text "a"`, `binary "b"`}},
		{name: "16-bit length", in: cf(fin|2, strings.Repeat("y", 300)), want: []string{`binary "` + strings.Repeat("y", 300) + `"`}},
		{name: "64-bit length", in: cf(fin|2, long), want: []string{`binary "` + long + `"`}},
		{name: "non-minimal 64-bit length", in: cat(len64(fin|2, 3), maskStr("abc")), want: []string{`binary "abc"`}},
		{name: "fragmented text", in: cat(cf(1, "he"), cf(0, ""), cf(0, "ll"), cf(fin, "o")), want: []string{`text "hello"`}},
		{name: "ping between fragments", in: cat(cf(2, "ab"), cf(fin|9, "p"), cf(fin|0, "cd")), want: []string{`ping "p"`, `binary "abcd"`}},
		{name: "pong between fragments", in: cat(cf(1, "ab"), cf(fin|10, ""), cf(fin|0, "cd")), want: []string{`pong ""`, `text "abcd"`}},
		{name: "ping 125 bytes", in: cf(fin|9, strings.Repeat("p", 125)), want: []string{`ping "` + strings.Repeat("p", 125) + `"`}},
		{name: "code point split across fragments", in: cat(cf(1, "\xe2\x82"), cf(fin, "\xac!")), want: []string{`text "€!"`}},
		{name: "4-byte code point split thrice", in: cat(cf(1, "\xf0"), cf(0, "\x9f"), cf(0, "\x98"), cf(fin, "\x80")), want: []string{`text "😀"`}},
		{name: "binary need not be UTF-8", in: cf(fin|2, "\xc0\x80"), want: []string{`binary "\xc0\x80"`}},
		{name: "server frames to client", client: true, in: cat(sf(fin|1, "hi"), sf(fin|9, "x")), want: []string{`text "hi"`, `ping "x"`}},

		// Close frames.
		{name: "close without body", in: cf(fin|8, ""), want: []string{`close 1005 ""`}},
		{name: "close with code", in: cf(fin|8, closeBody(1000, "")), want: []string{`close 1000 ""`}},
		{name: "close with reason", in: cf(fin|8, closeBody(3000, "bye ✓")), want: []string{`close 3000 "bye ✓"`}},
		{name: "input after close is ignored", in: cat(cf(fin|8, closeBody(1001, "")), cf(fin|1, "late"), []byte{0xff, 0xff}), want: []string{`close 1001 ""`}},
		{name: "close inside fragmented message", in: cat(cf(1, "ab"), cf(fin|8, "")), want: []string{`close 1005 ""`}},
		{name: "close body of 1 byte", in: cf(fin|8, "\x03"), code: 1002},
		{name: "close code 999", in: cf(fin|8, closeBody(999, "")), code: 1002},
		{name: "close code 1005 on the wire", in: cf(fin|8, closeBody(1005, "")), code: 1002},
		{name: "close reason not UTF-8", in: cf(fin|8, closeBody(1000, "\xff")), code: 1007},

		// Framing violations.
		{name: "RSV1", in: cf(fin|rsv1|1, "x"), code: 1002},
		{name: "RSV2", in: cf(fin|rsv2|2, "x"), code: 1002},
		{name: "RSV3", in: cf(fin|rsv3|9, ""), code: 1002},
		{name: "opcode 3", in: cf(fin|3, ""), code: 1002},
		{name: "opcode 7", in: cf(fin|7, ""), code: 1002},
		{name: "opcode 0xB", in: cf(fin|0xB, ""), code: 1002},
		{name: "opcode 0xF", in: cf(fin|0xF, ""), code: 1002},
		{name: "unmasked client frame", in: sf(fin|1, "x"), code: 1002},
		{name: "masked server frame", client: true, in: cf(fin|1, "x"), code: 1002},
		{name: "fragmented ping", in: cf(9, ""), code: 1002},
		{name: "fragmented close", in: cf(8, ""), code: 1002},
		{name: "fragmented pong", in: cf(10, ""), code: 1002},
		{name: "ping of 126 bytes", in: cf(fin|9, strings.Repeat("p", 126)), code: 1002},
		{name: "close of 126 bytes", in: cf(fin|8, closeBody(1000, strings.Repeat("r", 124))), code: 1002},
		{name: "continuation without start", in: cf(fin|0, "x"), code: 1002},
		{name: "continuation after complete message", in: cat(cf(fin|1, "a"), cf(fin|0, "b")), want: []string{`text "a"`}, code: 1002},
		{name: "text inside fragmented message", in: cat(cf(1, "a"), cf(fin|1, "b")), code: 1002},
		{name: "binary inside fragmented message", in: cat(cf(2, "a"), cf(fin|2, "b")), code: 1002},
		{name: "64-bit length with MSB set", in: len64(fin|2, 1<<63), code: 1002},
		{name: "64-bit length all ones", in: len64(fin|2, ^uint64(0)), code: 1002},

		// UTF-8.
		{name: "invalid UTF-8", in: cf(fin|1, "a\xffb"), code: 1007},
		{name: "overlong", in: cf(fin|1, "\xc0\x80"), code: 1007},
		{name: "overlong 3-byte", in: cf(fin|1, "\xe0\x80\xaf"), code: 1007},
		{name: "surrogate", in: cf(fin|1, "\xed\xa0\x80"), code: 1007},
		{name: "above U+10FFFF", in: cf(fin|1, "\xf4\x90\x80\x80"), code: 1007},
		{name: "lone continuation", in: cf(fin|1, "\x80"), code: 1007},
		{name: "truncated at end of message", in: cf(fin|1, "ab\xe2\x82"), code: 1007},
		{name: "truncated at end of fragmented message", in: cat(cf(1, "\xe2"), cf(fin, "\x82")), code: 1007},
		{name: "invalid in second fragment", in: cat(cf(1, "ok"), cf(fin, "\xff")), code: 1007},
		{name: "valid message then invalid", in: cat(cf(fin|1, "κόσμε"), cf(fin|1, "\xce\xba\xe1\xbd")), want: []string{`text "κόσμε"`}, code: 1007},

		// Size limit.
		{name: "at the limit", max: 5, in: cf(fin|2, "12345"), want: []string{`binary "12345"`}},
		{name: "over the limit", max: 5, in: cf(fin|2, "123456"), code: 1009},
		{name: "fragments over the limit", max: 5, in: cat(cf(2, "123"), cf(fin, "456")), code: 1009},
		{name: "control frames do not count", max: 2, in: cat(cf(2, "12"), cf(fin|9, "ping"), cf(fin, "")), want: []string{`ping "ping"`, `binary "12"`}},
		{name: "huge declared length", in: len64(fin|2, 1<<40), code: 1009},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, chunks := range splits(tc.in, rng) {
				ev, code := feed(t, tc.client, tc.max, chunks)
				if code != tc.code || !slices.Equal(ev, tc.want) {
					t.Fatalf("split %d (%d pieces): got events %q, close code %d; want %q, %d",
						i, len(chunks), ev, code, tc.want, tc.code)
				}
			}
		})
	}
}

// maskStr masks s with testKey from key position 0.
func maskStr(s string) []byte {
	b := []byte(s)
	MaskBytes(testKey, 0, b)
	return b
}

// TestCloseCodes checks every code from 0 to 5099 against RFC 6455 section
// 7.4 and the IANA registry.
func TestCloseCodes(t *testing.T) {
	for code := 0; code < 5100; code++ {
		valid := code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
		ev, got := feed(t, false, 0, [][]byte{cf(fin|8, closeBody(code, "r"))})
		if valid {
			want := fmt.Sprintf(`close %d "r"`, code)
			if got != 0 || len(ev) != 1 || ev[0] != want {
				t.Errorf("code %d: got %q, error %d; want %s", code, ev, got, want)
			}
		} else if got != 1002 || len(ev) != 0 {
			t.Errorf("code %d: got %q, error %d; want error 1002", code, ev, got)
		}
	}
}

// TestUTF8FailFast checks that invalid text is refused as soon as the bad
// bytes arrive, before the frame (here: 100 bytes long) is complete.
func TestUTF8FailFast(t *testing.T) {
	for _, bad := range []string{"\xff", "ab\xc0", "\xed\xa0", "\xf4\x90", "\xe0\x80", "\xf5"} {
		whole := cf(fin|1, bad+strings.Repeat("a", 100-len(bad)))
		partial := whole[:6+len(bad)]
		d := &Decoder{}
		err := d.Feed(partial, &recorder{})
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != CloseInvalidPayload {
			t.Errorf("%q: got %v, want close 1007 before the frame ends", bad, err)
		}
	}
	// A prefix that is still valid must not be refused early.
	for _, good := range []string{"\xe2\x82", "\xf0\x9f\x98", "\xc3", "\xed\x9f"} {
		partial := cf(1, good+"\xbf\xbf")[:6+len(good)]
		d := &Decoder{}
		if err := d.Feed(partial, &recorder{}); err != nil {
			t.Errorf("%q: got %v for a valid prefix", good, err)
		}
		d.Reset()
	}
}

// TestUTF8Exhaustive compares the incremental validator, fed in every split,
// with the standard library on all 1- to 3-byte strings over a set of
// interesting bytes, and 4-byte strings of lead bytes with continuations.
func TestUTF8Exhaustive(t *testing.T) {
	alphabet := []byte{0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff}
	check := func(s []byte) {
		want := utf8.Valid(s)
		for cut := 0; cut <= len(s); cut++ {
			var st utf8State
			got := st.valid(s[:cut]) && st.valid(s[cut:]) && st.complete()
			if got != want {
				t.Fatalf("%x cut at %d: got %v, want %v", s, cut, got, want)
			}
		}
	}
	var s [4]byte
	for _, a := range alphabet {
		s[0] = a
		check(s[:1])
		for _, b := range alphabet {
			s[1] = b
			check(s[:2])
			for _, c := range alphabet {
				s[2] = c
				check(s[:3])
				for _, e := range []byte{0x41, 0x80, 0xbf} {
					s[3] = e
					check(s[:4])
				}
			}
		}
	}
	// Long strings exercise the bulk path with a tail.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(2) == 0 {
				b[i] = 'a'
			}
		}
		check(b)
	}
}

// TestDecoderViews checks the ownership discipline: a message wholly inside
// one Feed is a view of the caller's bytes (fragmented or not), one that
// spans calls lives in a pooled buffer that is gone once it is delivered.
func TestDecoderViews(t *testing.T) {
	within := func(p, data []byte) bool {
		if len(p) == 0 {
			return true
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		q := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
		return q >= start && q+uintptr(len(p)) <= start+uintptr(len(data))
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"single frame", cf(fin|2, "payload bytes")},
		{"fragments", cat(cf(2, "pay"), cf(fin|9, "ping"), cf(0, "load"), cf(fin, " bytes"))},
	} {
		data := slices.Clone(tc.in)
		var got []byte
		h := &funcHandler{msg: func(op Opcode, p []byte) error {
			if !within(p, data) {
				t.Errorf("%s: payload is not a view of the input", tc.name)
			}
			if cap(p) != len(p) {
				t.Errorf("%s: payload has spare capacity %d; appending to it would overwrite input", tc.name, cap(p)-len(p))
			}
			got = append(got, p...)
			return nil
		}}
		var d Decoder
		if err := d.Feed(data, h); err != nil {
			t.Fatal(err)
		}
		if string(got) != "payload bytes" {
			t.Errorf("%s: got %q", tc.name, got)
		}
		if d.Buffered() {
			t.Errorf("%s: decoder holds a buffer after a whole message", tc.name)
		}
	}

	// Split: the second half arrives in another call.
	in := cf(fin|2, "split message")
	var d Decoder
	var got []byte
	h := &funcHandler{msg: func(op Opcode, p []byte) error { got = append(got, p...); return nil }}
	first := slices.Clone(in[:10])
	if err := d.Feed(first, h); err != nil {
		t.Fatal(err)
	}
	if !d.Buffered() {
		t.Error("decoder holds no buffer while a message spans calls")
	}
	for i := range first {
		first[i] = 0xEE // the caller reuses its read buffer
	}
	if err := d.Feed(slices.Clone(in[10:]), h); err != nil {
		t.Fatal(err)
	}
	if string(got) != "split message" {
		t.Errorf("got %q", got)
	}
	if d.Buffered() {
		t.Error("decoder still holds a buffer after delivering the message")
	}

	// A header split from its payload takes no buffer: nothing is pending.
	d = Decoder{}
	in = cf(fin|2, "x")
	if err := d.Feed(slices.Clone(in[:3]), h); err != nil {
		t.Fatal(err)
	}
	if d.Buffered() {
		t.Error("decoder took a buffer for a partial header")
	}
}

// funcHandler adapts a function to Handler; the other methods do nothing.
type funcHandler struct {
	msg  func(Opcode, []byte) error
	ping func([]byte) error
}

func (f *funcHandler) OnMessage(op Opcode, p []byte) error { return f.msg(op, p) }
func (f *funcHandler) OnPing(p []byte) error {
	if f.ping != nil {
		return f.ping(p)
	}
	return nil
}
func (f *funcHandler) OnPong([]byte) error       { return nil }
func (f *funcHandler) OnClose(int, []byte) error { return nil }

// TestDecoderHandlerError checks that a Handler's error stops Feed and
// sticks.
func TestDecoderHandlerError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	h := &funcHandler{msg: func(Opcode, []byte) error { calls++; return stop }}
	var d Decoder
	in := cat(cf(fin|2, "a"), cf(fin|2, "b"))
	if err := d.Feed(in, h); err != stop {
		t.Fatalf("got %v, want the handler's error", err)
	}
	if err := d.Feed(cf(fin|2, "c"), h); err != stop {
		t.Fatalf("second Feed: got %v, want the handler's error again", err)
	}
	if calls != 1 {
		t.Errorf("handler called %d times, want 1", calls)
	}
}

// TestDecoderErrorSticks checks that after a violation every Feed returns it
// and the decoder gives its buffer back.
func TestDecoderErrorSticks(t *testing.T) {
	var d Decoder
	first := cf(2, "abcdef")
	if err := d.Feed(slices.Clone(first), &recorder{}); err != nil {
		t.Fatal(err)
	}
	if !d.Buffered() {
		t.Fatal("no buffer while a fragmented message spans calls")
	}
	err := d.Feed(cf(fin|rsv1|0, "x"), &recorder{})
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != CloseProtocolError {
		t.Fatalf("got %v, want close 1002", err)
	}
	if d.Buffered() {
		t.Error("decoder holds a buffer after an error")
	}
	if again := d.Feed(cf(fin|1, "ok"), &recorder{}); again != err {
		t.Errorf("next Feed returned %v, want the same error %v", again, err)
	}
}

// TestMaskBytes compares the word-wide masking with a byte loop for every
// length up to 100 and every key phase.
func TestMaskBytes(t *testing.T) {
	key := [4]byte{1, 2, 0x80, 0xff}
	for n := 0; n <= 100; n++ {
		for pos := range 4 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := slices.Clone(b)
			for i := range want {
				want[i] ^= key[(pos+i)&3]
			}
			if next := MaskBytes(key, pos, b); next != (pos+n)&3 {
				t.Fatalf("n=%d pos=%d: next position %d, want %d", n, pos, next, (pos+n)&3)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: got %x, want %x", n, pos, b, want)
			}
		}
	}
}
