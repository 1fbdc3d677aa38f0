package trie

import (
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// The exact-match table is an open-addressing hash table in the style of
// Swiss tables (and of Go's own map since 1.24): slots come in groups, and
// each group has a control word holding one byte per slot: ctrlEmpty,
// ctrlDeleted, or the low seven bits of the slot's hash (h2). A probe
// compares all of a group's h2 bytes at once with SWAR arithmetic, so a
// lookup reads one control word per group and dereferences only entries
// whose h2 matches.
//
// What makes it safe for lock-free readers:
//   - entries are immutable; a slot changes only by an atomic pointer store;
//   - a control word changes only by an atomic store of the whole word, done
//     by the one writer holding the shard lock;
//   - an insert stores the slot pointer before the control byte, so a reader
//     that sees the h2 byte also sees the entry; a reader that saw an old
//     control word may find a nil or different entry in the slot, which it
//     treats as a mismatch;
//   - a delete marks a slot empty only if its group already had an empty
//     slot (otherwise deleted), so no probe sequence that runs through a
//     full group is ever cut short — the Swiss-table invariant holds at every
//     instant, not just between operations;
//   - growing builds a complete new table and publishes it with one atomic
//     pointer store; the old table is never written again.
//
// A group is seven slots and a control word, 64 bytes, and group arrays are
// power-of-two multiples of 64 bytes, which Go's allocator aligns to 64: a
// probe touches exactly one cache line per group. The control word's eighth
// byte is a sentinel that never reads as empty, free or matching.
const (
	groupSlots  = 7
	ctrlEmpty   = 0x80
	ctrlDeleted = 0xfe
	bytesLSB    = 0x0101010101010101
	bytesMSB    = 0x8080808080808080
	slotsMSB    = 0x0080808080808080 // bytesMSB for the seven slot bytes
	ctrlInit    = 0xfe80808080808080 // seven empty slots and the sentinel
	// maxLoad is the fill (live + deleted slots) per eight slots above which
	// the table is rebuilt.
	maxLoad = 7
)

// entry is one stored (key, value) pair. It is immutable once published:
// a changed value is a new entry, so a reader holding the pointer always
// sees a consistent pair.
type entry[V comparable] struct {
	key string
	val V
}

// Entries with their key bytes in the same allocation: a lookup hit then
// reads one object (usually one cache line) instead of two, and an insert
// allocates once. The capacities fill Go size classes exactly when V is a
// pointer (a 24-byte header plus 24, 40, 56, 72 or 104 bytes of key makes
// 48, 64, 80, 96 or 128). Longer keys get a separate string.
type (
	entry24[V comparable] struct {
		e   entry[V]
		buf [24]byte
	}
	entry40[V comparable] struct {
		e   entry[V]
		buf [40]byte
	}
	entry56[V comparable] struct {
		e   entry[V]
		buf [56]byte
	}
	entry72[V comparable] struct {
		e   entry[V]
		buf [72]byte
	}
	entry104[V comparable] struct {
		e   entry[V]
		buf [104]byte
	}
)

// inline copies key into buf and returns it as a string that aliases buf.
// buf is never written again, which is what unsafe.String requires.
func inline[T string | []byte](buf []byte, key T) string {
	n := copy(buf, key)
	if n == 0 {
		return ""
	}
	return unsafe.String(&buf[0], n)
}

// newEntry returns an entry for (key, v), with key copied into it.
func newEntry[V comparable, T string | []byte](key T, v V) *entry[V] {
	switch n := len(key); {
	case n <= 24:
		x := &entry24[V]{e: entry[V]{val: v}}
		x.e.key = inline(x.buf[:], key)
		return &x.e
	case n <= 40:
		x := &entry40[V]{e: entry[V]{val: v}}
		x.e.key = inline(x.buf[:], key)
		return &x.e
	case n <= 56:
		x := &entry56[V]{e: entry[V]{val: v}}
		x.e.key = inline(x.buf[:], key)
		return &x.e
	case n <= 72:
		x := &entry72[V]{e: entry[V]{val: v}}
		x.e.key = inline(x.buf[:], key)
		return &x.e
	case n <= 104:
		x := &entry104[V]{e: entry[V]{val: v}}
		x.e.key = inline(x.buf[:], key)
		return &x.e
	}
	return &entry[V]{key: string(key), val: v}
}

type group[V comparable] struct {
	ctrl  atomic.Uint64
	slots [groupSlots]atomic.Pointer[entry[V]]
}

// table is one shard's hash table. groups and mask are fixed at creation;
// live and used are touched only under the shard lock.
type table[V comparable] struct {
	groups []group[V]
	mask   uint64 // len(groups)-1; len(groups) is a power of two
	_      [32]byte
	// Written on every insert and removal: off the readers' cache line.
	// (128 bytes in all: that size class is 128-byte aligned.)
	live int // slots holding an entry
	used int // live plus deleted slots (what bounds probe lengths)
	_    [48]byte
}

func newTable[V comparable](ngroups int) *table[V] {
	t := &table[V]{groups: make([]group[V], ngroups), mask: uint64(ngroups - 1)}
	for i := range t.groups {
		t.groups[i].ctrl.Store(ctrlInit)
	}
	return t
}

// matchH2 returns a bitset (bit 7 of each byte) of the control bytes equal
// to h2. It can report a false positive in a byte above a true match (a
// borrow artefact of the trick); callers verify the key anyway.
func matchH2(ctrl, h2 uint64) uint64 {
	x := ctrl ^ (bytesLSB * h2)
	return (x - bytesLSB) &^ x & bytesMSB
}

// matchEmpty returns the bitset of empty control bytes: high bit set and
// bit 1 clear (ctrlDeleted has bit 1 set, full slots have the high bit clear).
func matchEmpty(ctrl uint64) uint64 {
	return ctrl &^ (ctrl << 6) & bytesMSB
}

// matchFree returns the bitset of empty or deleted slot bytes.
func matchFree(ctrl uint64) uint64 {
	return ctrl & slotsMSB
}

// probe walks the probe sequence of key, whose hash is h, and returns its
// entry and position (e == nil if key is absent) and how many groups it
// inspected. Lock-free: it may run concurrently with the shard's writer;
// only the writer, holding the shard lock, may use the position.
func (t *table[V]) probe(h uint64, key []byte) (e *entry[V], g uint64, j int, groups int) {
	h2 := h & 0x7f
	g = (h >> 7) & t.mask
	// Triangular probing visits every group of a power-of-two table once;
	// the bound is a backstop, since a table always keeps an empty slot.
	for step := uint64(1); step <= t.mask+1; step++ {
		grp := &t.groups[g]
		c := grp.ctrl.Load()
		for m := matchH2(c, h2); m != 0; m &= m - 1 {
			j = bits.TrailingZeros64(m) >> 3
			if e = grp.slots[j].Load(); e != nil && e.key == string(key) {
				return e, g, j, int(step)
			}
		}
		if matchEmpty(c) != 0 {
			return nil, 0, 0, int(step)
		}
		g = (g + step) & t.mask
	}
	return nil, 0, 0, int(t.mask + 1)
}

// find returns the entry stored under key, whose hash is h, or nil.
// Lock-free.
func (t *table[V]) find(h uint64, key []byte) *entry[V] {
	e, _, _, _ := t.probe(h, key)
	return e
}

// insertNew places e, whose key is known to be absent, in the first free
// slot of its probe sequence. The caller has made sure a free slot exists
// (used < capacity). Writer only.
func (t *table[V]) insertNew(h uint64, e *entry[V]) {
	g := (h >> 7) & t.mask
	for step := uint64(1); ; step++ {
		grp := &t.groups[g]
		c := grp.ctrl.Load()
		if m := matchFree(c); m != 0 {
			j := bits.TrailingZeros64(m) >> 3
			shift := uint(j) * 8
			if (c>>shift)&0xff == ctrlEmpty {
				t.used++
			}
			t.live++
			// Slot before control byte: see the type comment.
			grp.slots[j].Store(e)
			grp.ctrl.Store(c&^(0xff<<shift) | (h&0x7f)<<shift)
			return
		}
		g = (g + step) & t.mask
	}
}

// remove deletes the entry at (g, j). Writer only.
func (t *table[V]) remove(g uint64, j int) {
	grp := &t.groups[g]
	c := grp.ctrl.Load()
	shift := uint(j) * 8
	mark := uint64(ctrlDeleted)
	if matchEmpty(c) != 0 {
		// A probe for any key stops at this group already, so the slot may
		// become empty again without hiding anything behind it.
		mark = ctrlEmpty
		t.used--
	}
	t.live--
	grp.ctrl.Store(c&^(0xff<<shift) | mark<<shift)
	// Readers that loaded the old control word may still load this slot;
	// they see nil and treat it as a mismatch. Clearing it frees the entry.
	grp.slots[j].Store(nil)
}

// groupsFor returns the smallest table size (in groups) that holds live
// entries at no more than half its load limit.
func groupsFor(live int) int {
	n := 1
	for n*groupSlots*maxLoad < 2*8*live { // n*groupSlots*maxLoad/8 slots may be used
		n *= 2
	}
	return n
}

// capacity is the number of slots.
func (t *table[V]) capacity() int { return len(t.groups) * groupSlots }

// rebuilt returns a fresh table of ngroups groups holding t's live
// entries. hash recomputes each key's hash: storing it would cost 8 bytes
// per entry for a rare operation.
func (t *table[V]) rebuilt(ngroups int, hash func(string) uint64) *table[V] {
	nt := newTable[V](ngroups)
	for i := range t.groups {
		grp := &t.groups[i]
		for j := range grp.slots {
			if e := grp.slots[j].Load(); e != nil {
				nt.insertNew(hash(e.key), e)
			}
		}
	}
	return nt
}

// each calls fn for every entry until fn returns false; it reports whether
// the iteration ran to the end. Lock-free snapshot of one table.
func (t *table[V]) each(fn func(e *entry[V]) bool) bool {
	for i := range t.groups {
		grp := &t.groups[i]
		for j := range grp.slots {
			if e := grp.slots[j].Load(); e != nil && !fn(e) {
				return false
			}
		}
	}
	return true
}
