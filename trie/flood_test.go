package trie

import (
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestHashFlooding plays the attacker who knows the hash function but not
// the seed: it picks URIs that all land in the same table group under the
// unseeded hash (seed 0, which is plain xxhash.Sum64), shows that they do
// wreck an unseeded table, and then that the same URIs in a real (randomly
// seeded) index keep probe sequences short.
func TestHashFlooding(t *testing.T) {
	const (
		n        = 1024
		collBits = 11 // covers every table size up to 2048 groups
	)
	unseeded := newSeeded[int](Options{Shards: 1}, 0)
	if b := []byte("com.example"); unseeded.hash(b) != xxhash.Sum64(b) {
		t.Fatal("seed 0 is not the public unseeded xxhash")
	}
	var keys [][]byte
	buf := []byte("com.flood.")
	base := len(buf)
	target := uint64(0)
	for i := 0; len(keys) < n; i++ {
		buf = strconv.AppendInt(buf[:base], int64(i), 36)
		h := unseeded.hash(buf)
		if len(keys) == 0 {
			target = (h >> 7) & (1<<collBits - 1)
		}
		if (h>>7)&(1<<collBits-1) == target {
			keys = append(keys, append([]byte(nil), buf...))
		}
	}

	probeStats := func(ix *Index[int]) (maxP int, mean float64) {
		tab := ix.shards[0].tab.Load()
		if int(tab.mask+1) > 1<<collBits {
			t.Fatalf("table grew to %d groups; the keys collide only in %d bits", tab.mask+1, collBits)
		}
		sum := 0
		for i, k := range keys {
			if v, ok := ix.Lookup(k, Exact); !ok || v != i {
				t.Fatalf("Lookup(%q) = (%d, %v), want (%d, true)", k, v, ok, i)
			}
			_, _, _, p := tab.probe(ix.hash(k), k)
			sum += p
			maxP = max(maxP, p)
		}
		return maxP, float64(sum) / float64(len(keys))
	}
	fill := func(ix *Index[int]) {
		for i, k := range keys {
			ix.Update(k, Exact, set(i))
		}
	}

	fill(unseeded)
	uMax, uMean := probeStats(unseeded)
	t.Logf("unseeded: max %d groups probed, mean %.1f", uMax, uMean)
	// All keys share one home group, so they spill along one probe sequence
	// of about n/8 groups: the attack works against an unseeded table.
	if uMean < n/8/4 {
		t.Fatalf("unseeded mean probe length %.1f: the colliding keys do not collide", uMean)
	}

	seeded := New[int](Options{Shards: 1})
	fill(seeded)
	sMax, sMean := probeStats(seeded)
	t.Logf("seeded: max %d groups probed, mean %.2f", sMax, sMean)
	if sMax > 8 || sMean > 2 {
		t.Fatalf("seeded index: max %d / mean %.2f groups probed for the flooding keys; want <= 8 / <= 2", sMax, sMean)
	}
}
