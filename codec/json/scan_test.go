package json

import (
	"math/rand/v2"
	"testing"
)

// TestNextSpecial checks the word-at-a-time scan against a byte loop on
// random buffers biased toward the bytes it must find and the bytes next
// to them (0x1f/0x20, 0x7f/0x80, neighbours of '"' and '\\').
func TestNextSpecial(t *testing.T) {
	interesting := []byte{0x00, 0x1f, 0x20, 0x21, '"', 0x23, '\\', 0x5b, 0x5d, 0x7e, 0x7f, 0x80, 0xa2, 0xdc, 0xff, 'a'}
	r := rand.New(rand.NewPCG(7, 8))
	for n := 0; n < 200000; n++ {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = interesting[r.IntN(len(interesting))]
			} else {
				b[i] = byte(0x20 + r.IntN(0x5f))
				if b[i] == '"' || b[i] == '\\' {
					b[i] = 'x'
				}
			}
		}
		start := 0
		if len(b) > 0 {
			start = r.IntN(len(b))
		}
		want := start
		for want < len(b) && !special[b[want]] {
			want++
		}
		if got := nextSpecial(b, start); got != want {
			t.Fatalf("nextSpecial(%q, %d) = %d, want %d", b, start, got, want)
		}
	}
}
