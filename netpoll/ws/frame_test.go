package ws

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendHeader(t *testing.T) {
	tests := []struct {
		op     Opcode
		fin    bool
		length int
		want   []byte
	}{
		{OpText, true, 0, []byte{0x81, 0}},
		{OpBinary, true, 125, []byte{0x82, 125}},
		{OpBinary, false, 126, []byte{0x02, 126, 0, 126}},
		{OpContinuation, true, 0xFFFF, []byte{0x80, 126, 0xFF, 0xFF}},
		{OpBinary, true, 0x10000, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{OpPing, true, 5, []byte{0x89, 5}},
		{OpBinary, true, 1 << 40, []byte{0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0}},
	}
	for _, tc := range tests {
		got := AppendHeader([]byte("prefix"), tc.op, tc.fin, tc.length)
		if !bytes.Equal(got, append([]byte("prefix"), tc.want...)) {
			t.Errorf("AppendHeader(%v, %v, %d) = %x, want prefix+%x", tc.op, tc.fin, tc.length, got[6:], tc.want)
		}
		if n := HeaderSize(tc.length, false); n != len(tc.want) {
			t.Errorf("HeaderSize(%d, false) = %d, want %d", tc.length, n, len(tc.want))
		}
		key := [4]byte{9, 8, 7, 6}
		m := AppendMaskedHeader(nil, tc.op, tc.fin, tc.length, key)
		wantM := slices.Clone(tc.want)
		wantM[1] |= 0x80
		wantM = append(wantM, key[:]...)
		if !bytes.Equal(m, wantM) {
			t.Errorf("AppendMaskedHeader(%v, %v, %d) = %x, want %x", tc.op, tc.fin, tc.length, m, wantM)
		}
		if n := HeaderSize(tc.length, true); n != len(wantM) || n > MaxHeaderSize {
			t.Errorf("HeaderSize(%d, true) = %d, want %d", tc.length, n, len(wantM))
		}
	}
}

// TestEncodeDecodeRoundTrip sends frames of every length class through the
// encoders and back through a Decoder of the other role.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70001} {
		payload := bytes.Repeat([]byte("é"), n/2)
		if n%2 == 1 {
			payload = append(payload, 'x')
		}
		for _, op := range []Opcode{OpText, OpBinary} {
			// Server to client: unmasked, whole and in three fragments.
			wire := AppendFrame(nil, op, true, payload)
			third := len(payload) / 3
			wire = AppendFrame(wire, op, false, payload[:third])
			wire = AppendHeader(wire, OpContinuation, false, third)
			wire = append(wire, payload[third:2*third]...)
			wire = AppendFrame(wire, OpContinuation, true, payload[2*third:])
			wire = AppendFrame(wire, OpPong, true, []byte("pp"))
			wire = AppendClose(wire, CloseNormal, "done")
			want := []string{
				recorded(op, payload), recorded(op, payload), `pong "pp"`, `close 1000 "done"`,
			}
			ev, code := feed(t, true, 0, [][]byte{wire})
			if code != 0 || !slices.Equal(ev, want) {
				t.Fatalf("server frames, n=%d %v: got %.200q code %d", n, op, ev, code)
			}

			// Client to server: masked.
			key := [4]byte{0xde, 0xad, 0xbe, byte(n)}
			wire = AppendMaskedFrame(nil, op, true, payload, key)
			wire = AppendMaskedFrame(wire, op, false, payload[:third], key)
			wire = AppendMaskedFrame(wire, OpContinuation, true, payload[third:], key)
			wire = AppendMaskedFrame(wire, OpPing, true, []byte("pi"), key)
			wire = AppendMaskedClose(wire, 4000, "app", key)
			want = []string{recorded(op, payload), recorded(op, payload), `ping "pi"`, `close 4000 "app"`}
			ev, code = feed(t, false, 0, [][]byte{wire})
			if code != 0 || !slices.Equal(ev, want) {
				t.Fatalf("client frames, n=%d %v: got %.200q code %d", n, op, ev, code)
			}
		}
	}
}

func recorded(op Opcode, p []byte) string {
	r := &recorder{}
	r.OnMessage(op, p)
	return r.ev[0]
}

func TestAppendMaskedFrameKeepsPayload(t *testing.T) {
	p := []byte("do not touch")
	AppendMaskedFrame(nil, OpText, true, p, [4]byte{1, 2, 3, 4})
	if string(p) != "do not touch" {
		t.Errorf("payload changed to %q", p)
	}
}

func TestAppendClose(t *testing.T) {
	if got := AppendClose(nil, 0, "ignored"); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Errorf("code 0: got %x, want an empty close frame", got)
	}
	if got := AppendClose(nil, CloseNoStatus, "ignored"); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Errorf("1005: got %x, want an empty close frame (1005 never goes on the wire)", got)
	}
	if got := AppendClose(nil, 1002, "x"); !bytes.Equal(got, []byte{0x88, 3, 0x03, 0xEA, 'x'}) {
		t.Errorf("1002: got %x", got)
	}
	if got := AppendMaskedClose(nil, 0, "", [4]byte{1, 2, 3, 4}); !bytes.Equal(got, []byte{0x88, 0x80, 1, 2, 3, 4}) {
		t.Errorf("masked code 0: got %x", got)
	}
	// A long reason is cut to 123 bytes without splitting a code point: a
	// 3-byte rune straddling byte 123 goes entirely.
	reason := strings.Repeat("a", 122) + "€€"
	frame := AppendClose(nil, 1000, reason)
	if len(frame) > 2+MaxControlPayload {
		t.Fatalf("close frame of %d bytes", len(frame))
	}
	body := frame[4:]
	if string(body) != strings.Repeat("a", 122) || !utf8.Valid(body) {
		t.Errorf("reason cut to %q", body)
	}
	ev, code := feed(t, true, 0, [][]byte{frame})
	if code != 0 || len(ev) != 1 {
		t.Errorf("decoder refused the cut close frame: %q %d", ev, code)
	}
	masked := AppendMaskedClose(nil, 1000, reason, [4]byte{5, 6, 7, 8})
	if ev, code := feed(t, false, 0, [][]byte{masked}); code != 0 || len(ev) != 1 {
		t.Errorf("decoder refused the cut masked close frame: %q %d", ev, code)
	}
}

func TestOpcodeString(t *testing.T) {
	if OpText.String() != "text" || Opcode(3).String() != "Opcode(3)" {
		t.Errorf("got %q, %q", OpText.String(), Opcode(3).String())
	}
	if !OpPing.IsControl() || OpBinary.IsControl() {
		t.Error("IsControl wrong")
	}
}
