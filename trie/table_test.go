package trie

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestTableChurn drives one shard through growth, tombstone clean-ups and
// shrinking, checking every key and the table's own bookkeeping as it goes.
func TestTableChurn(t *testing.T) {
	ix := New[int](Options{Shards: 1})
	ref := map[string]int{}
	r := rand.New(rand.NewPCG(9, 9))
	key := func(i int) []byte { return fmt.Appendf(nil, "k.%d", i) }
	verify := func(step int) {
		tab := ix.shards[0].tab.Load()
		live, used := 0, 0
		for i := range tab.groups {
			c := tab.groups[i].ctrl.Load()
			for j := 0; j < groupSlots; j++ {
				b := c >> (8 * j) & 0xff
				e := tab.groups[i].slots[j].Load()
				switch {
				case b == ctrlEmpty || b == ctrlDeleted:
					if e != nil {
						t.Fatalf("step %d: free slot holds %q", step, e.key)
					}
					if b == ctrlDeleted {
						used++
					}
				default:
					if e == nil || ix.hash([]byte(e.key))&0x7f != b {
						t.Fatalf("step %d: full slot with control %#x holds %v", step, b, e)
					}
					live++
					used++
				}
			}
		}
		if live != tab.live || used != tab.used || live != len(ref) {
			t.Fatalf("step %d: counted live=%d used=%d, table says %d/%d, reference has %d", step, live, used, tab.live, tab.used, len(ref))
		}
		if used*8 > tab.capacity()*maxLoad {
			t.Fatalf("step %d: %d of %d slots used, beyond the load limit", step, used, tab.capacity())
		}
		for k, v := range ref {
			if got, ok := ix.Lookup([]byte(k), Exact); !ok || got != v {
				t.Fatalf("step %d: Lookup(%q) = (%d, %v), want (%d, true)", step, k, got, ok, v)
			}
		}
	}
	sizes := map[int]bool{}
	for phase, n := range []int{2000, 50, 3000, 0} {
		// Move the population towards n, with random keys from a range
		// wider than n so that inserts and removals interleave.
		for step := 0; step < 8000; step++ {
			i := r.IntN(2*n + 10)
			k := key(i)
			if _, ok := ref[string(k)]; ok && (len(ref) > n || r.IntN(3) == 0) {
				ix.Update(k, Exact, func(int, bool) (int, bool) { return 0, false })
				delete(ref, string(k))
			} else if !ok && len(ref) < n {
				ix.Update(k, Exact, set(step))
				ref[string(k)] = step
			}
			sizes[len(ix.shards[0].tab.Load().groups)] = true
			if step%500 == 0 {
				verify(phase*10000 + step)
			}
		}
		for k := range ref {
			if n == 0 {
				ix.Update([]byte(k), Exact, func(int, bool) (int, bool) { return 0, false })
				delete(ref, k)
			}
		}
		verify(phase*10000 + 9999)
	}
	if got := len(ix.shards[0].tab.Load().groups); got != 1 {
		t.Errorf("empty table kept %d groups", got)
	}
	if len(sizes) < 5 {
		t.Errorf("table took only sizes %v; growth and shrinkage not exercised", sizes)
	}
}

// TestLayout pins the padding the comments promise.
func TestLayout(t *testing.T) {
	if s := unsafe.Sizeof(group[int]{}); s != 64 {
		t.Errorf("group is %d bytes, want 64 (one cache line)", s)
	}
	if s := unsafe.Sizeof(table[int]{}); s != 128 {
		t.Errorf("table is %d bytes, want 128", s)
	}
	if s := unsafe.Sizeof(shard[int]{}); s != 128 {
		t.Errorf("shard is %d bytes, want 128", s)
	}
	if o := unsafe.Offsetof(table[int]{}.live); o < 64 {
		t.Errorf("table.live at offset %d shares the readers' cache line", o)
	}
	if o := unsafe.Offsetof(shard[int]{}.mu); o < 64 {
		t.Errorf("shard.mu at offset %d shares the readers' cache line", o)
	}
}
