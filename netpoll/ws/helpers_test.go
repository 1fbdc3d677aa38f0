package ws

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// recorder is a Handler that writes down everything it is told, copying
// payloads (they die when the method returns).
type recorder struct {
	ev []string
}

func (r *recorder) OnMessage(op Opcode, p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("%s %q", op, p))
	return nil
}
func (r *recorder) OnPing(p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("ping %q", p))
	return nil
}
func (r *recorder) OnPong(p []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("pong %q", p))
	return nil
}
func (r *recorder) OnClose(code int, reason []byte) error {
	r.ev = append(r.ev, fmt.Sprintf("close %d %q", code, reason))
	return nil
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds a frame with the given first byte (FIN, RSV, opcode),
// masked with testKey if masked, with the shortest length encoding.
func frame(b0 byte, masked bool, payload string) []byte {
	var out []byte
	if masked {
		out = AppendMaskedHeader(nil, 0, false, len(payload), testKey)
	} else {
		out = AppendHeader(nil, 0, false, len(payload))
	}
	out[0] = b0
	start := len(out)
	out = append(out, payload...)
	if masked {
		MaskBytes(testKey, 0, out[start:])
	}
	return out
}

// cf is a masked client frame, sf an unmasked server frame.
func cf(b0 byte, payload string) []byte { return frame(b0, true, payload) }
func sf(b0 byte, payload string) []byte { return frame(b0, false, payload) }

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

// feed runs a fresh decoder over chunks (each copied, since Feed unmasks in
// place) and returns the events and the close code of the error (0 if
// none).
func feed(t testing.TB, client bool, max int, chunks [][]byte) ([]string, int) {
	t.Helper()
	d := &Decoder{Client: client, MaxMessageSize: max}
	r := &recorder{}
	code := 0
	for _, c := range chunks {
		if err := d.Feed(slices.Clone(c), r); err != nil {
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("Feed error %v is not a *CloseError", err)
			}
			code = ce.Code
			break
		}
	}
	if d.msgOp == 0 && d.Buffered() {
		t.Errorf("decoder holds a buffer with no message in progress")
	}
	d.Reset()
	return r.ev, code
}

// splits returns ways to deliver in: whole, byte by byte, and a few random
// cuts.
func splits(in []byte, rng *rand.Rand) [][][]byte {
	out := [][][]byte{{in}}
	var bytewise [][]byte
	for i := range in {
		bytewise = append(bytewise, in[i:i+1])
	}
	out = append(out, bytewise)
	for range 4 {
		var chunks [][]byte
		rest := in
		for len(rest) > 0 {
			n := 1 + rng.IntN(len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		out = append(out, chunks)
	}
	return out
}
