package trie

import (
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

const (
	defaultShards    = 32
	maxShards        = 1 << 12
	defaultCacheSize = 1024
	maxCacheSize     = 1 << 20
)

// Options configure an Index.
type Options struct {
	// Shards is the number of exact-match shards, each with its own writer
	// lock and table. It is rounded up to a power of two; 0 means 32.
	Shards int
	// CacheSize is the number of match-cache slots (rounded up to a power of
	// two); 0 means 1024, a negative value disables the cache.
	CacheSize int
}

// shard is one exact-match hash table and the lock its writers take.
type shard[V comparable] struct {
	// tab is read by every lookup; mu and n are written by every Update of
	// the shard. A cache line each, so writers do not keep evicting the
	// line readers need (nor a neighbouring shard's).
	tab atomic.Pointer[table[V]]
	_   [56]byte
	mu  sync.Mutex
	n   atomic.Int64
	_   [48]byte
}

// tree is one pattern tree (prefix or wildcard) and the lock its writers take.
type tree[V comparable] struct {
	mu   sync.Mutex
	root atomic.Pointer[node[V]]
	n    atomic.Int64
}

// Index maps URIs under a match policy to values of type V and answers, for
// a concrete URI, which stored patterns match it. See the package
// documentation for the concurrency contract. Create one with New; the zero
// Index is not usable. Update compares values with ==, so V must not be an
// interface type holding uncomparable dynamic values.
type Index[V comparable] struct {
	seed   uint64 // per-index random XXH64 seed
	shift  uint   // 64 - log2(len(shards))
	shards []shard[V]

	prefix   tree[V]
	wildcard tree[V]

	// gen counts pattern changes; match-cache slots are valid only for the
	// generation they were filled at. It starts at 1 so a zeroed slot never
	// looks valid.
	gen       atomic.Uint64
	cache     atomic.Pointer[cache[V]] // allocated with the first pattern
	cacheSize int                      // 0: cache disabled
}

// New returns an empty index whose hash seed is drawn at random, so clients
// cannot choose URIs that collide in it.
func New[V comparable](o Options) *Index[V] {
	return newSeeded[V](o, rand.Uint64())
}

func newSeeded[V comparable](o Options, seed uint64) *Index[V] {
	ns := o.Shards
	if ns <= 0 {
		ns = defaultShards
	}
	ns = ceilPow2(min(ns, maxShards))
	ix := &Index[V]{
		shift:  uint(64 - bits.TrailingZeros(uint(ns))),
		shards: make([]shard[V], ns),
	}
	ix.seed = seed
	for i := range ix.shards {
		ix.shards[i].tab.Store(newTable[V](1))
	}
	ix.prefix.root.Store(&node[V]{})
	ix.wildcard.root.Store(&node[V]{})
	ix.gen.Store(1)
	switch cs := o.CacheSize; {
	case cs == 0:
		ix.cacheSize = defaultCacheSize
	case cs > 0:
		ix.cacheSize = ceilPow2(min(cs, maxCacheSize))
	}
	return ix
}

func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// hash is the seeded XXH64 of b.
func (ix *Index[V]) hash(b []byte) uint64 { return xxh64(b, ix.seed) }

func (ix *Index[V]) hashString(s string) uint64 { return xxh64(s, ix.seed) }

func (ix *Index[V]) shardOf(h uint64) *shard[V] {
	// The top bits pick the shard; the table uses the low bits, so the two
	// choices are independent.
	return &ix.shards[(h>>ix.shift)&uint64(len(ix.shards)-1)]
}

func (ix *Index[V]) treeOf(p Policy) *tree[V] {
	if p == Prefix {
		return &ix.prefix
	}
	return &ix.wildcard
}

// Lookup returns the entry stored under exactly (uri, p). Lock-free, zero
// allocations.
func (ix *Index[V]) Lookup(uri []byte, p Policy) (V, bool) {
	var zero V
	var e *entry[V]
	switch p {
	case Exact:
		h := ix.hash(uri)
		e = ix.shardOf(h).tab.Load().find(h, uri)
	case Prefix, Wildcard:
		e = ix.treeOf(p).root.Load().lookup(uri, p == Wildcard)
	}
	if e == nil {
		return zero, false
	}
	return e.val, true
}

// Update runs fn under the writer lock of (uri, p)'s shard with the current
// entry (ok=false if none) and stores what fn returns (keep=false removes
// the entry). It is the only mutation; fn must not call back into ix.
// Readers never block on it. Returns what was stored (ok=false if nothing).
//
// Exact entries are locked by the hash shard of uri; all prefix patterns
// share one lock, and so do all wildcard patterns. An Update that stores the
// value already there (== comparison) changes nothing and does not
// invalidate the match cache. An unknown policy stores nothing and does not
// call fn.
func (ix *Index[V]) Update(uri []byte, p Policy, fn func(old V, ok bool) (v V, keep bool)) (V, bool) {
	switch p {
	case Exact:
		return ix.updateExact(uri, fn)
	case Prefix, Wildcard:
		return ix.updatePattern(uri, p, fn)
	}
	var zero V
	return zero, false
}

func (ix *Index[V]) updateExact(uri []byte, fn func(V, bool) (V, bool)) (V, bool) {
	var zero V
	h := ix.hash(uri)
	s := ix.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock() // fn may panic; the shard must stay usable
	t := s.tab.Load()
	old, g, j, _ := t.probe(h, uri)
	found := old != nil
	oldV := zero
	if found {
		oldV = old.val
	}
	v, keep := fn(oldV, found)
	switch {
	case keep && found:
		if v != oldV {
			t.groups[g].slots[j].Store(newEntry(old.key, v))
		}
		return v, true
	case keep:
		if (t.used+1)*8 > t.capacity()*maxLoad {
			// Full: double if it is mostly live entries, else it is mostly
			// tombstones and a same-size rebuild clears them.
			n := len(t.groups)
			if (t.live+1)*16 > t.capacity()*maxLoad {
				n *= 2
			}
			t = t.rebuilt(n, ix.hashString)
			s.tab.Store(t)
		}
		t.insertNew(h, newEntry(uri, v))
		s.n.Add(1)
		return v, true
	case found:
		t.remove(g, j)
		s.n.Add(-1)
		// Shrink once the table is mostly air, so memory follows churn.
		if len(t.groups) > 1 && t.live*8*8 < t.capacity()*maxLoad {
			s.tab.Store(t.rebuilt(groupsFor(t.live), ix.hashString))
		}
	}
	return zero, false
}

func (ix *Index[V]) updatePattern(uri []byte, p Policy, fn func(V, bool) (V, bool)) (V, bool) {
	var zero V
	wild := p == Wildcard
	tr := ix.treeOf(p)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	root := tr.root.Load()
	old := root.lookup(uri, wild)
	oldV := zero
	if old != nil {
		oldV = old.val
	}
	v, keep := fn(oldV, old != nil)
	var ne *entry[V]
	switch {
	case keep && old != nil:
		if v == oldV {
			return v, true
		}
		ne = newEntry(old.key, v)
	case keep:
		ne = newEntry(uri, v)
	case old == nil:
		return zero, false
	}
	nr, changed := put(root, tokens(uri, wild), 0, ne)
	if !changed {
		// Unreachable: old and ne differ, so the tree must change.
		return oldV, old != nil
	}
	if ix.cacheSize > 0 && ix.cache.Load() == nil {
		// Both pattern trees may get here at once; one cache wins.
		ix.cache.CompareAndSwap(nil, newCache[V](ix.cacheSize))
	}
	// Root first, generation after: see cache.go for why the order matters.
	tr.root.Store(nr)
	switch {
	case old == nil:
		tr.n.Add(1)
	case ne == nil:
		tr.n.Add(-1)
	}
	ix.gen.Add(1)
	if ne == nil {
		return zero, false
	}
	return v, true
}

// Match appends to dst every entry whose pattern matches uri (subscription
// semantics: exact, every matching prefix, every matching wildcard pattern)
// and returns it. Order: the exact entry, then prefix patterns shortest
// first, then wildcard patterns. Nothing is deduplicated. Lock-free; zero
// allocations when dst has capacity (and on cache hits).
func (ix *Index[V]) Match(uri []byte, dst []V) []V {
	h := ix.hash(uri)
	if e := ix.shardOf(h).tab.Load().find(h, uri); e != nil {
		dst = append(dst, e.val)
	}
	g := ix.gen.Load()
	pr, wr := ix.prefix.root.Load(), ix.wildcard.root.Load()
	if pr.empty() && wr.empty() {
		return dst
	}
	c := ix.cache.Load()
	if c != nil {
		var hit [maxCached]*entry[V]
		if n, _, ok := c.get(h, uri, g, &hit); ok {
			for _, e := range hit[:n] {
				dst = append(dst, e.val)
			}
			return dst
		}
	}
	col := collector[V]{dst: dst}
	matchPrefix(pr, uri, &col)
	matchWild(wr, uri, 0, &col)
	if c != nil && col.cacheable() && ix.gen.Load() == g {
		c.put(h, uri, g, col.ents[:col.n], col.np)
	}
	return col.dst
}

// Best returns the single best match (registration semantics): the exact
// entry, else the longest matching prefix, else the wildcard pattern the
// spec's rules pick. Lock-free, zero allocations.
//
// The spec (rpc_pattern_based_registration.md, "Calls matching multiple
// registrations"):
//
//  1. Check for exact matching registration. If this match exists — use it.
//  2. If there are prefix-based registrations, find the registration with
//     the longest prefix match. Longest means it has more URI components
//     matched, e.g. for call URI a1.b2.c3.d4 registration a1.b2.c3 has
//     higher priority than registration a1.b2. If this match exists — use it.
//  3. If there are wildcard-based registrations, find the registration with
//     the longest portion of URI components matched before each wildcard.
//     E.g. for call URI a1.b2.c3.d4 registration a1.b2..d4 has higher
//     priority than registration a1...d4.
//
// Rule 2: all matching prefixes are string prefixes of the one URI, so the
// longest string never has fewer components than a shorter one; the longest
// string wins (for a1.b and a1.b2 both matching a1.b2.c, a1.b2).
//
// Rule 3: two wildcard patterns matching the same URI have the same number
// of components and agree on every literal component, so they first differ
// where one has a literal and the other a wildcard; "longest portion before
// each wildcard" (compared portion by portion, as the spec's examples do)
// prefers the literal there. That is exactly the first match of a walk that
// tries the literal child before the wild edge, so no ranking pass is
// needed, and the order is total: no ties between distinct patterns.
func (ix *Index[V]) Best(uri []byte) (v V, p Policy, ok bool) {
	h := ix.hash(uri)
	if e := ix.shardOf(h).tab.Load().find(h, uri); e != nil {
		return e.val, Exact, true
	}
	g := ix.gen.Load()
	pr, wr := ix.prefix.root.Load(), ix.wildcard.root.Load()
	if pr.empty() && wr.empty() {
		return v, Exact, false
	}
	c := ix.cache.Load()
	if c != nil {
		var hit [maxCached]*entry[V]
		if n, np, ok := c.get(h, uri, g, &hit); ok {
			switch {
			case np > 0:
				return hit[np-1].val, Prefix, true
			case n > 0:
				return hit[0].val, Wildcard, true
			}
			return v, Exact, false
		}
	}
	col := collector[V]{best: true}
	matchPrefix(pr, uri, &col)
	matchWild(wr, uri, 0, &col)
	if c != nil && col.cacheable() && ix.gen.Load() == g {
		c.put(h, uri, g, col.ents[:col.n], col.np)
	}
	switch {
	case col.lastP != nil:
		return col.lastP.val, Prefix, true
	case col.firstW != nil:
		return col.firstW.val, Wildcard, true
	}
	return v, Exact, false
}

// Len returns the number of entries (exact, prefix and wildcard).
func (ix *Index[V]) Len() int {
	n := ix.prefix.n.Load() + ix.wildcard.n.Load()
	for i := range ix.shards {
		n += ix.shards[i].n.Load()
	}
	return int(n)
}

// Range calls fn for every entry until fn returns false (for meta API
// listings): exact entries in no particular order, then prefix and wildcard
// patterns in byte order of their stored form. It takes no lock: it reads
// each shard's current table and each tree's current root, so an entry
// present for the whole call is reported exactly once, and one added or
// removed meanwhile may or may not be. fn must not mutate ix.
func (ix *Index[V]) Range(fn func(uri string, p Policy, v V) bool) {
	for i := range ix.shards {
		if !ix.shards[i].tab.Load().each(func(e *entry[V]) bool { return fn(e.key, Exact, e.val) }) {
			return
		}
	}
	if !ix.prefix.root.Load().each(func(e *entry[V]) bool { return fn(e.key, Prefix, e.val) }) {
		return
	}
	ix.wildcard.root.Load().each(func(e *entry[V]) bool { return fn(e.key, Wildcard, e.val) })
}
