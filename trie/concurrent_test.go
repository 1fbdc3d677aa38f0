package trie

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentReadersWriters runs lock-free readers against writers that
// churn patterns and exact entries (forcing table growth and shrinkage).
// Readers must only ever see complete, correct results: every value they get
// names a pattern that matches, no pattern twice, and every entry that is
// never removed (the stable set) is always there. Run it with -race.
func TestConcurrentReadersWriters(t *testing.T) {
	for _, o := range []Options{{}, {CacheSize: -1}, {CacheSize: 2, Shards: 2}} {
		t.Run(fmt.Sprintf("shards=%d,cache=%d", o.Shards, o.CacheSize), func(t *testing.T) {
			concurrent(t, o)
		})
	}
}

func concurrent(t *testing.T, o Options) {
	// pats is read-only once built; an entry's value is its index here.
	stable := []refKey{
		{"s.a.b", Exact}, {"s.b", Exact}, {"s.c.c", Exact},
		{"s.", Prefix}, {"s.a", Prefix}, {"a.b", Prefix},
		{"s..b", Wildcard}, {"..c", Wildcard}, {"a.", Wildcard},
	}
	pats := append([]refKey(nil), stable...)
	r := rand.New(rand.NewPCG(7, 7))
	comps := []string{"s", "a", "b", "c", "ab"}
	churnSet := map[refKey]bool{}
	for _, k := range stable {
		churnSet[k] = true
	}
	for len(pats) < 200 {
		n := 1 + r.IntN(3)
		cs := make([]string, n)
		p := Policy(r.IntN(3))
		for i := range cs {
			if p != Wildcard || r.IntN(3) > 0 {
				cs[i] = comps[r.IntN(len(comps))]
			}
		}
		pat := strings.Join(cs, ".")
		if p == Prefix {
			pat = pat[:r.IntN(len(pat)+1)]
		}
		if k := (refKey{pat, p}); !churnSet[k] {
			churnSet[k] = true
			pats = append(pats, k)
		}
	}
	churnPats := len(pats)
	for i := 0; i < 3000; i++ { // bulk exact churn: grows and shrinks tables
		pats = append(pats, refKey{fmt.Sprintf("bulk.%d", i), Exact})
	}

	var queries []string
	for _, a := range comps {
		queries = append(queries, a)
		for _, b := range comps {
			queries = append(queries, a+"."+b)
			for _, c := range comps {
				queries = append(queries, a+"."+b+"."+c)
			}
		}
	}
	stableRef := refIndex{}
	for i, k := range stable {
		stableRef[k] = i
	}

	ix := New[int](o)
	for i, k := range stable {
		ix.Update([]byte(k.pat), k.p, set(i))
	}

	var done atomic.Bool
	var wg sync.WaitGroup
	errc := make(chan string, 8)
	fail := func(format string, a ...any) {
		select {
		case errc <- fmt.Sprintf(format, a...):
		default:
		}
		done.Store(true)
	}

	// Writer 1: pattern and small exact churn over the overlapping set.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 1))
		for i := 0; i < 3000 && !done.Load(); i++ {
			v := len(stable) + r.IntN(churnPats-len(stable))
			k := pats[v]
			ix.Update([]byte(k.pat), k.p, func(_ int, ok bool) (int, bool) { return v, !ok })
			if i%50 == 0 { // stable entries rewritten with their own value: a no-op
				s := r.IntN(len(stable))
				ix.Update([]byte(stable[s].pat), stable[s].p, set(s))
			}
		}
	}()
	// Writer 2: bursts of exact inserts and removals in every shard.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 0; round < 4 && !done.Load(); round++ {
			for v := churnPats; v < len(pats); v++ {
				ix.Update([]byte(pats[v].pat), Exact, set(v))
			}
			for v := churnPats; v < len(pats); v++ {
				ix.Update([]byte(pats[v].pat), Exact, func(int, bool) (int, bool) { return 0, false })
			}
		}
	}()

	var readers sync.WaitGroup
	for g := 0; g < 3; g++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			dst := make([]int, 0, 64)
			for iter := 0; !done.Load() || iter < 2; iter++ {
				for _, q := range queries {
					readOnce(ix, q, pats, stableRef, dst, fail)
				}
				for i, k := range stable {
					if v, ok := ix.Lookup([]byte(k.pat), k.p); !ok || v != i {
						fail("Lookup(%q, %v) = (%d, %v), want (%d, true)", k.pat, k.p, v, ok, i)
					}
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
	select {
	case msg := <-errc:
		t.Fatal(msg)
	default:
	}
}

func readOnce(ix *Index[int], q string, pats []refKey, stable refIndex, dst []int, fail func(string, ...any)) {
	got := ix.Match([]byte(q), dst[:0])
	seen := map[int]bool{}
	for _, v := range got {
		if v < 0 || v >= len(pats) || !refMatch(q, pats[v].pat, pats[v].p) {
			fail("Match(%q) returned %d, which does not match", q, v)
			return
		}
		if seen[v] {
			fail("Match(%q) returned %d twice", q, v)
			return
		}
		seen[v] = true
	}
	want := stable.matches(q)
	for _, v := range want {
		if !seen[v] {
			fail("Match(%q) = %v lacks stable entry %d (%v)", q, got, v, pats[v])
			return
		}
	}
	v, p, ok := ix.Best([]byte(q))
	if !ok {
		if len(want) > 0 {
			fail("Best(%q) found nothing; stable matches %v", q, want)
		}
		return
	}
	if v < 0 || v >= len(pats) || pats[v].p != p || !refMatch(q, pats[v].pat, p) {
		fail("Best(%q) = (%d, %v), which does not match", q, v, p)
		return
	}
	// The answer must rank at least as high as the best stable candidate.
	if len(want) == 0 {
		return
	}
	sv, sp, _ := stable.best(nil, q)
	switch {
	case p > sp: // Exact < Prefix < Wildcard in rank order
		fail("Best(%q) = %v %q, but stable %v %q ranks higher", q, p, pats[v].pat, sp, pats[sv].pat)
	case p == sp && p == Exact && v != sv:
		fail("Best(%q) = %d, want stable exact %d", q, v, sv)
	case p == sp && p == Prefix && len(pats[v].pat) < len(pats[sv].pat):
		fail("Best(%q) = prefix %q, shorter than stable %q", q, pats[v].pat, pats[sv].pat)
	case p == sp && p == Wildcard && slices.Compare(portions(pats[v].pat), portions(pats[sv].pat)) < 0:
		fail("Best(%q) = wildcard %q, ranks below stable %q", q, pats[v].pat, pats[sv].pat)
	}
}

// TestConcurrentNoStaleCache checks the cache's promise under concurrency:
// once an Update that changed membership has returned, no Match or Best
// answers with the old membership. A writer toggles patterns that all match
// one URI and publishes a version number after each Update returns; readers
// read the version before and after each call, and every pattern not toggled
// in between must be reported exactly as its state at that version.
func TestConcurrentNoStaleCache(t *testing.T) {
	pats := []refKey{
		{"q", Prefix}, {"q.", Prefix}, {"q.a", Prefix},
		{"q..b", Wildcard}, {".a.b", Wildcard}, {"q.a.", Wildcard},
	}
	const steps = 4000
	uri := []byte("q.a.b")
	k := len(pats)
	// present reports whether pattern i is stored after the first v toggles.
	present := func(i int, v uint64) bool {
		n := int(v) / k // full rounds: each toggled pattern i once per round
		if int(v)%k > i {
			n++
		}
		return n%2 == 1
	}
	// toggledBetween reports whether toggle v2 (which may have taken effect
	// before its version was published) or any between v1 and v2 touched i.
	toggledBetween := func(i int, v1, v2 uint64) bool {
		for n := v1; n <= v2; n++ {
			if int(n)%k == i {
				return true
			}
		}
		return false
	}
	for _, o := range []Options{{CacheSize: -1}, {}, {CacheSize: 1}} {
		ix := New[int](o)
		var ver atomic.Uint64
		var done atomic.Bool
		var wg sync.WaitGroup
		errc := make(chan string, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done.Store(true)
			for n := 0; n < steps; n++ {
				i := n % k
				ix.Update([]byte(pats[i].pat), pats[i].p, func(_ int, ok bool) (int, bool) { return i, !ok })
				ver.Store(uint64(n + 1))
			}
		}()
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dst := make([]int, 0, 16)
				for !done.Load() {
					v1 := ver.Load()
					dst = ix.Match(uri, dst[:0])
					bv, bp, bok := ix.Best(uri)
					v2 := ver.Load()
					for i := range pats {
						if toggledBetween(i, v1, v2) {
							continue
						}
						if got, want := slices.Contains(dst, i), present(i, v1); got != want {
							select {
							case errc <- fmt.Sprintf("version %d..%d: Match reports %v=%v, want %v", v1, v2, pats[i], got, want):
							default:
							}
							return
						}
					}
					// Best: if no Update completed meanwhile, it must be the
					// reference answer at v1, or at v1+1 if that toggle was
					// already in effect.
					if v1 == v2 {
						var want [2]string
						ok := false
						for d := uint64(0); d < 2; d++ {
							ref := refIndex{}
							for i := range pats {
								if present(i, v1+d) {
									ref[pats[i]] = i
								}
							}
							wv, wp, wok := ref.best(t, string(uri))
							want[d] = fmt.Sprintf("(%d, %v, %v)", wv, wp, wok)
							ok = ok || (bv == wv && bp == wp && bok == wok)
						}
						if !ok {
							select {
							case errc <- fmt.Sprintf("version %d: Best = (%d, %v, %v), want %s or %s", v1, bv, bp, bok, want[0], want[1]):
							default:
							}
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		select {
		case msg := <-errc:
			t.Fatalf("options %+v: %s", o, msg)
		default:
		}
	}
}
