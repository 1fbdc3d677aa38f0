package trie

import (
	"fmt"
	"slices"
	"testing"
)

// cached reports whether uri's pattern result is in the cache and valid now.
func cached(ix *Index[int], uri string) bool {
	c := ix.cache.Load()
	if c == nil {
		return false
	}
	var out [maxCached]*entry[int]
	_, _, ok := c.get(ix.hash([]byte(uri)), []byte(uri), ix.gen.Load(), &out)
	return ok
}

func TestCacheLifecycle(t *testing.T) {
	ix := New[int](Options{CacheSize: 64})
	ix.Update([]byte("a.b"), Exact, set(1))
	ix.Match([]byte("a.b"), nil)
	if ix.cache.Load() != nil {
		t.Fatal("cache allocated before any pattern exists")
	}
	ix.Update([]byte("a"), Prefix, set(2))
	if cached(ix, "a.b") {
		t.Fatal("result cached before any Match")
	}
	ix.Match([]byte("a.b"), nil)
	if !cached(ix, "a.b") {
		t.Fatal("Match did not fill the cache")
	}
	// Exact churn leaves pattern results alone.
	ix.Update([]byte("a.b"), Exact, set(3))
	ix.Update([]byte("a.c"), Exact, set(4))
	if !cached(ix, "a.b") {
		t.Fatal("an exact Update invalidated the pattern cache")
	}
	if got := ix.Match([]byte("a.b"), nil); !slices.Equal(got, []int{3, 2}) {
		t.Fatalf("Match after exact update = %v, want [3 2]", got)
	}
	// Storing the same value again is no change.
	ix.Update([]byte("a"), Prefix, set(2))
	if !cached(ix, "a.b") {
		t.Fatal("a no-op pattern Update invalidated the cache")
	}
	// A real pattern change invalidates, and the next Match sees it.
	ix.Update([]byte("a."), Wildcard, set(5))
	if cached(ix, "a.b") {
		t.Fatal("a pattern Update left a valid cache slot behind")
	}
	if got := ix.Match([]byte("a.b"), nil); !slices.Equal(got, []int{3, 2, 5}) {
		t.Fatalf("Match after wildcard insert = %v, want [3 2 5]", got)
	}
	// Best fills the cache too, and answers from it.
	ix.Update([]byte("a"), Prefix, set(6))
	if v, p, ok := ix.Best([]byte("a.x")); v != 6 || p != Prefix || !ok {
		t.Fatalf("Best(a.x) = (%d, %v, %v), want (6, prefix, true)", v, p, ok)
	}
	if !cached(ix, "a.x") {
		t.Fatal("Best did not fill the cache")
	}
	if v, p, ok := ix.Best([]byte("a.x")); v != 6 || p != Prefix || !ok {
		t.Fatalf("cached Best(a.x) = (%d, %v, %v), want (6, prefix, true)", v, p, ok)
	}
}

func TestCacheLimits(t *testing.T) {
	ix := New[int](Options{CacheSize: 64})
	// Longer than a slot's key: answered, never cached.
	long := "a." + string(make([]byte, maxKeyLen))
	ix.Update([]byte("a"), Prefix, set(1))
	if got := ix.Match([]byte(long), nil); !slices.Equal(got, []int{1}) {
		t.Fatalf("Match(long) = %v", got)
	}
	if cached(ix, long) {
		t.Fatal("a URI longer than maxKeyLen was cached")
	}
	// More results than a slot holds: answered in full, never cached.
	for i := 0; i <= maxCached; i++ {
		ix.Update([]byte("abcdefghijk"[:i+2]), Prefix, set(10+i))
	}
	got := ix.Match([]byte("abcdefghijk.z"), nil)
	if len(got) != maxCached+2 {
		t.Fatalf("Match = %v, want %d results", got, maxCached+2)
	}
	if cached(ix, "abcdefghijk.z") {
		t.Fatal("a result larger than a slot was cached")
	}
	if v, _, _ := ix.Best([]byte("abcdefghijk.z")); v != 10+maxCached {
		t.Fatalf("Best with an uncacheable result = %d, want %d", v, 10+maxCached)
	}
	// A URI of exactly maxKeyLen bytes is cached; one differing only in its
	// last byte is a different key.
	k1 := []byte(fmt.Sprintf("a.%0*d", maxKeyLen-2, 1))
	k2 := []byte(fmt.Sprintf("a.%0*d", maxKeyLen-2, 2))
	ix.Match(k1, nil)
	if !cached(ix, string(k1)) {
		t.Fatal("a URI of maxKeyLen bytes was not cached")
	}
	c := ix.cache.Load()
	var out [maxCached]*entry[int]
	if _, _, ok := c.get(ix.hash(k1), k2, ix.gen.Load(), &out); ok {
		t.Fatal("cache matched a key differing in its last byte")
	}
}

// TestCacheOff checks that a disabled cache is never allocated.
func TestCacheOff(t *testing.T) {
	ix := New[int](Options{CacheSize: -1})
	ix.Update([]byte("a"), Prefix, set(1))
	ix.Match([]byte("a.b"), nil)
	if ix.cache.Load() != nil {
		t.Fatal("CacheSize<0 allocated a cache")
	}
}
