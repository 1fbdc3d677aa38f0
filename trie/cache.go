package trie

import (
	"encoding/binary"
	"sync/atomic"
)

// The match cache remembers, for recently matched URIs, which prefix and
// wildcard patterns matched (exact entries are not cached: their lookup is
// as cheap as a cache probe, and leaving them out means subscribe/unsubscribe
// churn on exact topics never invalidates anything).
//
// It is direct-mapped: a URI's slot is chosen by the same seeded hash as its
// exact-table position. Each slot is a sequence lock built only from atomic
// words, so lookups take no lock, never allocate, and stay clean under the
// race detector:
//   - a filler (any Match/Best goroutine that missed) claims the slot by
//     moving seq from even to odd with a CAS, stores the fields, and sets seq
//     to the next even number; if the CAS fails it simply does not cache;
//   - a reader loads seq, then the fields, then seq again, and uses what it
//     read only if seq was even and unchanged.
//
// Staleness: every slot carries the index generation that its filler read
// before walking the trees, and a hit requires it to equal the generation
// the reader reads. A pattern Update publishes the new tree root first and
// increments the generation after, so a filler that walked an old tree
// necessarily read an old generation; once the Update has returned, every
// Match reads the new generation and ignores the old slots. This is the
// genid scheme of nats-server's sublist, without its lock.
const (
	maxCached   = 8  // results per slot; URIs with more matches are not cached
	maxKeyWords = 8  // key words per slot; longer URIs are not cached
	maxKeyLen   = 64 // maxKeyWords * 8
)

type cslot[V comparable] struct {
	seq  atomic.Uint64
	gen  atomic.Uint64
	hash atomic.Uint64
	meta atomic.Uint64 // key length | results<<8 | prefix results<<16
	key  [maxKeyWords]atomic.Uint64
	res  [maxCached]atomic.Pointer[entry[V]]
}

type cache[V comparable] struct {
	slots []cslot[V]
	mask  uint64
}

func newCache[V comparable](size int) *cache[V] {
	return &cache[V]{slots: make([]cslot[V], size), mask: uint64(size - 1)}
}

// keyWord returns bytes [8i, 8i+8) of k, zero-padded, little endian.
func keyWord(k []byte, i int) uint64 {
	if o := 8 * i; o+8 <= len(k) {
		return binary.LittleEndian.Uint64(k[o:])
	}
	var w uint64
	for j := len(k) - 1; j >= 8*i; j-- {
		w = w<<8 | uint64(k[j])
	}
	return w
}

// get copies the cached result for uri (hash h) into out and returns its
// size and how many leading results are prefix matches; ok is false on a
// miss. gen is the index generation the caller read before looking.
func (c *cache[V]) get(h uint64, uri []byte, gen uint64, out *[maxCached]*entry[V]) (n, np int, ok bool) {
	if len(uri) > maxKeyLen {
		return 0, 0, false
	}
	s := &c.slots[h&c.mask]
	q := s.seq.Load()
	if q&1 != 0 || s.hash.Load() != h || s.gen.Load() != gen {
		return 0, 0, false
	}
	meta := s.meta.Load()
	if int(meta&0xff) != len(uri) {
		return 0, 0, false
	}
	n, np = int(meta>>8&0xff), int(meta>>16&0xff)
	if n > maxCached || np > n {
		return 0, 0, false
	}
	for i := 0; i*8 < len(uri); i++ {
		if s.key[i].Load() != keyWord(uri, i) {
			return 0, 0, false
		}
	}
	for i := 0; i < n; i++ {
		// Entries are immutable, so any non-nil pointer is safe to use even
		// if the slot is being rewritten; the seq re-check decides.
		if out[i] = s.res[i].Load(); out[i] == nil {
			return 0, 0, false
		}
	}
	if s.seq.Load() != q {
		return 0, 0, false
	}
	return n, np, true
}

// put stores the complete result ents (the first np being prefix matches)
// for uri, computed from trees read at generation gen. It never waits: a
// slot being written by someone else is left alone.
func (c *cache[V]) put(h uint64, uri []byte, gen uint64, ents []*entry[V], np int) {
	if len(uri) > maxKeyLen || len(ents) > maxCached {
		return
	}
	s := &c.slots[h&c.mask]
	q := s.seq.Load()
	if q&1 != 0 || !s.seq.CompareAndSwap(q, q+1) {
		return
	}
	s.hash.Store(h)
	s.gen.Store(gen)
	s.meta.Store(uint64(len(uri)) | uint64(len(ents))<<8 | uint64(np)<<16)
	for i := 0; i*8 < len(uri); i++ {
		s.key[i].Store(keyWord(uri, i))
	}
	for i := range s.res {
		var e *entry[V]
		if i < len(ents) {
			e = ents[i]
		}
		// Clearing unused slots lets removed patterns be collected.
		s.res[i].Store(e)
	}
	s.seq.Store(q + 2)
}
