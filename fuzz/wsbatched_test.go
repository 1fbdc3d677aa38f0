package fuzz

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/zwamp/zwamp/netpoll/ws"
)

// FuzzWSBatched splits arbitrary batched-WebSocket payloads (ws.NextBatched)
// in both modes: it must never panic, must consume at least one byte per
// message, return only non-empty messages that are exactly the payload's
// bytes between the framing, and give back every message of a batch built
// from the input's pieces.
func FuzzWSBatched(f *testing.F) {
	for _, s := range []string{
		"", "\x1e", "\x18", "[1]\x1e", "[1]\x1e[2]\x18", "[1]", "[1]\x1e\x1e", "\x00\x00\x00\x00",
		"\x00\x00\x00\x01a", "\x00\x00\x00\x02a", "\x00\x00", "\xff\xff\xff\xff", "\x00\x00\x00\x01a\x00\x00\x00\x01b",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bin := range []bool{false, true} {
			rest := data
			var rebuilt []byte
			for len(rest) > 0 {
				msg, next, sep, err := ws.NextBatched(rest, bin)
				if err != nil {
					break
				}
				if len(msg) == 0 || len(next) >= len(rest) {
					t.Fatalf("bin=%v: empty message or no progress on %q", bin, rest)
				}
				if bin {
					rebuilt = binary.BigEndian.AppendUint32(rebuilt, uint32(len(msg)))
					rebuilt = append(rebuilt, msg...)
				} else {
					if bytes.ContainsAny(msg, "\x1e\x18") {
						t.Fatalf("separator inside message %q", msg)
					}
					rebuilt = append(rebuilt, msg...)
					if sep != 0 {
						rebuilt = append(rebuilt, sep)
					}
				}
				rest = next
			}
			if !bytes.HasPrefix(data, rebuilt) || len(rebuilt)+len(rest) != len(data) {
				t.Fatalf("bin=%v: messages do not tile the payload %q", bin, data)
			}
		}
		// Round trip: the input's pieces between separators, batched.
		var pieces [][]byte
		for _, p := range bytes.FieldsFunc(data, func(r rune) bool { return r == 0x1e || r == 0x18 }) {
			pieces = append(pieces, p)
		}
		var text, bin []byte
		for _, p := range pieces {
			text = append(append(text, p...), ws.BatchSeparator)
			bin = append(binary.BigEndian.AppendUint32(bin, uint32(len(p))), p...)
		}
		for _, c := range []struct {
			b   []byte
			bin bool
		}{{text, false}, {bin, true}} {
			rest := c.b
			for i := 0; len(rest) > 0; i++ {
				msg, next, _, err := ws.NextBatched(rest, c.bin)
				if err != nil || i >= len(pieces) || !bytes.Equal(msg, pieces[i]) {
					t.Fatalf("bin=%v: piece %d: got %q, %v", c.bin, i, msg, err)
				}
				rest = next
			}
		}
	})
}
