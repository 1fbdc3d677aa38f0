package trie

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDifferential grows and shrinks random indexes and compares every
// answer with the brute-force reference, with the cache on, off and tiny
// (so that slots are shared and overwritten), and with one shard and many.
func TestDifferential(t *testing.T) {
	opts := []Options{
		{},
		{CacheSize: -1},
		{CacheSize: 1, Shards: 1},
		{CacheSize: 4, Shards: 4},
	}
	for _, o := range opts {
		for seed := uint64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("shards=%d,cache=%d,seed=%d", o.Shards, o.CacheSize, seed), func(t *testing.T) {
				differential(t, o, seed, 200, 150)
			})
		}
	}
}

func differential(t *testing.T, o Options, seed uint64, nEntries, nQueries int) {
	r := rand.New(rand.NewPCG(seed, 0x7269))
	ix := New[int](o)
	ref := refIndex{}
	queries := make([]string, nQueries)
	for i := range queries {
		queries[i] = randURI(r)
	}
	var probes []refKey
	checkAll := func() {
		t.Helper()
		// Twice: the second pass answers from the cache where it can.
		for pass := 0; pass < 2; pass++ {
			for _, q := range queries {
				check(t, ix, ref, q)
			}
		}
		checkLookups(t, ix, ref, probes)
	}
	next := 1
	for i := 0; i < nEntries; i++ {
		pat, p := randPattern(r)
		store(t, ix, ref, pat, p, next)
		probes = append(probes, refKey{pat, p})
		next++
		if i%40 == 0 {
			checkAll()
		}
	}
	checkAll()
	// Overwrite some values in place: a value change must reach Match even
	// for URIs whose result is cached.
	for i := 0; i < nEntries/4; i++ {
		k := probes[r.IntN(len(probes))]
		store(t, ix, ref, k.pat, k.p, next)
		next++
	}
	checkAll()
	// Random removals down to nothing, re-checking along the way, with
	// removals of absent entries and a few re-insertions mixed in.
	live := make([]refKey, 0, len(ref))
	for k := range ref {
		live = append(live, k)
	}
	slices.SortFunc(live, func(a, b refKey) int { return cmpKey(a, b) })
	r.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for i := 0; i < len(live); i++ {
		k := live[i]
		drop(t, ix, ref, k.pat, k.p)
		drop(t, ix, ref, k.pat, k.p) // absent now: a no-op
		if i%7 == 0 && i+1 < len(live) {
			// Re-insert something already removed; it is removed again below.
			j := r.IntN(i + 1)
			store(t, ix, ref, live[j].pat, live[j].p, next)
			next++
			live = append(live, live[j])
		}
		if i%25 == 0 {
			checkAll()
		}
	}
	checkAll()
	if len(ref) != 0 {
		t.Fatalf("reference not emptied: %v", dump(ref))
	}
	// An emptied index must be back to its pristine shape: every tree
	// branch pruned.
	if !ix.prefix.root.Load().empty() || !ix.wildcard.root.Load().empty() {
		t.Fatalf("pattern trees not pruned after removing everything")
	}
}

// TestDifferentialCompression exercises label splits and merges with
// patterns that share long prefixes.
func TestDifferentialCompression(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 42))
	ix := New[int](Options{})
	ref := refIndex{}
	pats := []string{
		"com.myapp.topic", "com.myapp.topic.emergency", "com.myapp.topic.emerge",
		"com.myapp.to", "com.myapp.", "com.myapp", "com.my", "c", "", "com.myapp.topic.emergency.11",
		"com..topic", "com.myapp..x", "com...", "..", ".", "com.myapp.topic.", "com.myapp.topi.c",
	}
	uris := []string{
		"com.myapp.topic", "com.myapp.topic.emergency", "com.myapp.topic.emergency.11",
		"com.myapp.topic.emergency-low", "com.myapp.topic.emerge", "com.myapp.x", "com.myapp.topi.c",
		"com.x.topic", "a.b.c", "com.myapp.topic.x", "c", "com", "com.b.c.d", "x.y.z",
	}
	for round := 0; round < 20; round++ {
		perm := r.Perm(len(pats) * 3)
		for _, i := range perm {
			pat, p := pats[i%len(pats)], Policy(i/len(pats))
			if r.IntN(2) == 0 {
				store(t, ix, ref, pat, p, round*1000+i+1)
			} else {
				drop(t, ix, ref, pat, p)
			}
			for _, u := range uris {
				check(t, ix, ref, u)
			}
		}
	}
}

// TestMatchAppends checks that Match appends to dst and leaves what was
// there alone.
func TestMatchAppends(t *testing.T) {
	ix := New[int](Options{})
	ix.Update([]byte("a.b"), Exact, set(1))
	ix.Update([]byte("a"), Prefix, set(2))
	ix.Update([]byte("a."), Wildcard, set(3))
	for pass := 0; pass < 2; pass++ { // miss, then cache hit
		dst := make([]int, 2, 8)
		dst[0], dst[1] = -1, -2
		got := ix.Match([]byte("a.b"), dst)
		if want := []int{-1, -2, 1, 2, 3}; !slices.Equal(got, want) {
			t.Fatalf("pass %d: Match = %v, want %v (exact, prefixes, wildcards, in order)", pass, got, want)
		}
	}
}

func cmpKey(a, b refKey) int {
	if a.pat != b.pat {
		if a.pat < b.pat {
			return -1
		}
		return 1
	}
	return int(a.p) - int(b.p)
}

func set(v int) func(int, bool) (int, bool) {
	return func(int, bool) (int, bool) { return v, true }
}

// TestDifferentialBytes uses raw byte strings (high bytes, '#', spaces,
// empty components in queries), which the index must handle exactly like
// the reference even though a router would have rejected them earlier.
func TestDifferentialBytes(t *testing.T) {
	alphabet := []string{"a", "\xb9", "\xff", ".", ".", "#", " ", "\xc2"}
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() string {
		s := ""
		for n := r.IntN(6); n > 0; n-- {
			s += alphabet[r.IntN(len(alphabet))]
		}
		return s
	}
	for round := 0; round < 20; round++ {
		ix := New[int](Options{CacheSize: 8})
		ref := refIndex{}
		var queries []string
		for i := 0; i < 60; i++ {
			p := Policy(r.IntN(3))
			pat := gen()
			store(t, ix, ref, pat, p, i+1)
			queries = append(queries, pat, gen())
		}
		for pass := 0; pass < 2; pass++ {
			for _, q := range queries {
				check(t, ix, ref, q)
			}
		}
	}
}
