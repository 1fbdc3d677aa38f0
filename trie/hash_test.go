package trie

import (
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestSeededHash checks xxh64 against the library's seeded Digest for every
// length up to a few blocks, with random seeds and contents.
func TestSeededHash(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	buf := make([]byte, 200)
	for n := 0; n <= len(buf); n++ {
		for trial := 0; trial < 20; trial++ {
			for i := range buf[:n] {
				buf[i] = byte(r.Uint32())
			}
			seed := r.Uint64()
			if trial == 0 {
				seed = 0
			}
			d := xxhash.NewWithSeed(seed)
			d.Write(buf[:n])
			want := d.Sum64()
			if got := xxh64(buf[:n], seed); got != want {
				t.Fatalf("xxh64(len %d, seed %#x) = %#x, xxhash.Digest says %#x", n, seed, got, want)
			}
			if got := xxh64(string(buf[:n]), seed); got != want {
				t.Fatalf("xxh64(string, len %d, seed %#x) = %#x, want %#x", n, seed, got, want)
			}
		}
	}
}
