package trie

import (
	"fmt"
	"testing"

	"github.com/zwamp/zwamp/internal/alloctest"
)

// Zero allocation is a tested property: these fail as soon as a read path
// allocates.

func allocIndex(t testing.TB, cache int) (*Index[int], [][]byte) {
	ix := New[int](Options{CacheSize: cache})
	for i := 0; i < 1000; i++ {
		ix.Update(fmt.Appendf(nil, "com.example.exact.t%d", i), Exact, set(i))
		ix.Update(fmt.Appendf(nil, "com.other%d.", i), Prefix, set(i))
		ix.Update(fmt.Appendf(nil, "com.other%d..x", i), Wildcard, set(i))
	}
	ix.Update([]byte("com.example"), Prefix, set(-1))
	ix.Update([]byte("com..exact.t1"), Wildcard, set(-2))
	ix.Update([]byte("com.example..t1"), Wildcard, set(-3))
	// More URIs than cache slots, so that cycling through them keeps
	// missing, filling and evicting.
	uris := make([][]byte, 4096)
	for i := range uris {
		uris[i] = fmt.Appendf(nil, "com.example.exact.t%d", i%1000)
		if i >= 1000 {
			uris[i] = fmt.Appendf(nil, "com.example.x%d.t1", i)
		}
	}
	return ix, uris
}

func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	alloctest.Zero(t, name, f)
}

func TestAllocsLookup(t *testing.T) {
	ix, _ := allocIndex(t, 0)
	for _, c := range []struct {
		uri string
		p   Policy
	}{
		{"com.example.exact.t7", Exact},
		{"com.example.exact.none", Exact},
		{"com.other7.", Prefix},
		{"com.other7..x", Wildcard},
		{"com.example..t1", Wildcard},
		{"com.nothing..x", Wildcard},
	} {
		uri := []byte(c.uri)
		assertNoAllocs(t, "Lookup "+c.uri, func() { ix.Lookup(uri, c.p) })
	}
}

func TestAllocsMatchBest(t *testing.T) {
	for _, cache := range []int{0, -1, 16} {
		ix, uris := allocIndex(t, cache)
		dst := make([]int, 0, 16)
		for _, u := range []string{
			"com.example.exact.t1", // exact + prefix + two wildcards
			"com.other5.y",         // one prefix
			"com.other5.a.x",       // prefix + wildcard
			"org.none",             // nothing
		} {
			uri := []byte(u)
			assertNoAllocs(t, fmt.Sprintf("cache=%d Match %s", cache, u), func() { dst = ix.Match(uri, dst[:0]) })
			assertNoAllocs(t, fmt.Sprintf("cache=%d Best %s", cache, u), func() { ix.Best(uri) })
		}
		// Misses that fill and evict cache slots do not allocate either.
		i := 0
		assertNoAllocs(t, fmt.Sprintf("cache=%d Match rotating", cache), func() {
			dst = ix.Match(uris[i%len(uris)], dst[:0])
			i++
		})
		assertNoAllocs(t, fmt.Sprintf("cache=%d Best rotating", cache), func() {
			ix.Best(uris[i%len(uris)])
			i++
		})
	}
	// Exact-only index: the pattern machinery is skipped entirely.
	ix := New[int](Options{})
	ix.Update([]byte("a.b"), Exact, set(1))
	dst := make([]int, 0, 4)
	uri := []byte("a.b")
	assertNoAllocs(t, "exact-only Match", func() { dst = ix.Match(uri, dst[:0]) })
	assertNoAllocs(t, "exact-only Best", func() { ix.Best(uri) })
}

func TestAllocsValidURI(t *testing.T) {
	for _, u := range []string{"com.myapp.mytopic1", "com..caf\u00e9.\u4e16", "com.a b", ""} {
		uri := []byte(u)
		for _, r := range []Rules{0, AllowEmpty, Strict, Strict | AllowEmpty} {
			assertNoAllocs(t, fmt.Sprintf("ValidURI(%q, %b)", u, r), func() { ValidURI(uri, r) })
		}
		assertNoAllocs(t, "Reserved", func() { Reserved(uri) })
	}
}
