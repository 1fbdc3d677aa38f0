package core

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

// TestTimerHeap: random arms and disarms keep every shard a valid heap
// whose tidx fields point at the entries, and expiry order is by deadline.
func TestTimerHeap(t *testing.T) {
	var sh timerShard
	rng := rand.New(rand.NewPCG(1, 2))
	live := map[*invocation]bool{}
	check := func() {
		for i, e := range sh.heap {
			if int(e.inv.tidx) != i+1 {
				t.Fatalf("entry %d has tidx %d", i, e.inv.tidx)
			}
			if i > 0 && sh.heap[(i-1)/2].when > e.when {
				t.Fatalf("heap order broken at %d", i)
			}
		}
		if len(sh.heap) != len(live) {
			t.Fatalf("heap holds %d, want %d", len(sh.heap), len(live))
		}
	}
	for step := 0; step < 5000; step++ {
		if len(live) == 0 || rng.IntN(3) > 0 {
			inv := &invocation{deadline: rng.Int64N(1000) + 1}
			sh.heap = append(sh.heap, timerEntry{when: inv.deadline, inv: inv})
			inv.tidx = int32(len(sh.heap))
			sh.up(len(sh.heap) - 1)
			live[inv] = true
		} else {
			for inv := range live {
				sh.remove(int(inv.tidx - 1))
				if inv.tidx != 0 {
					t.Fatal("removed entry keeps its tidx")
				}
				delete(live, inv)
				break
			}
		}
		check()
	}
	var got []int64
	for len(sh.heap) > 0 {
		got = append(got, sh.heap[0].when)
		sh.remove(0)
	}
	if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) {
		t.Fatal("entries did not come out in deadline order")
	}
}

// TestTimerExpiry: the goroutine expires exactly the armed-and-not-disarmed
// entries, not before their deadline, and stops when none are pending.
func TestTimerExpiry(t *testing.T) {
	var tm callTimers
	var mu sync.Mutex
	expired := map[*invocation]int64{}
	tm.init(func(due []timerEntry) {
		now := time.Now().UnixNano()
		mu.Lock()
		for _, e := range due {
			expired[e.inv] = now
		}
		mu.Unlock()
	})
	const n = 2000
	invs := make([]*invocation, n)
	base := time.Now().UnixNano()
	for i := range invs {
		invs[i] = &invocation{deadline: base + int64(500+i%40)*int64(time.Millisecond), tshard: uint8(i)}
		tm.arm(invs[i])
	}
	for i := 0; i < n; i += 2 {
		tm.disarm(invs[i])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		k := len(expired)
		mu.Unlock()
		if k >= n/2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(expired) != n/2 {
		t.Fatalf("%d expired, want %d", len(expired), n/2)
	}
	for i, inv := range invs {
		at, ok := expired[inv]
		if ok != (i%2 == 1) {
			t.Fatalf("invocation %d: expired=%v", i, ok)
		}
		if ok && at < inv.deadline {
			t.Fatalf("invocation %d expired %v early", i, time.Duration(inv.deadline-at))
		}
	}
	for time.Now().Before(deadline) && tm.running.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	if tm.running.Load() || tm.pending.Load() != 0 {
		t.Fatalf("timer goroutine still running (pending %d)", tm.pending.Load())
	}
	// And it starts again for a new timer.
	inv := &invocation{deadline: time.Now().UnixNano() + int64(time.Millisecond)}
	mu.Unlock()
	tm.arm(inv)
	for time.Now().Before(deadline) {
		mu.Lock()
		_, ok := expired[inv]
		mu.Unlock()
		if ok {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	if _, ok := expired[inv]; !ok {
		t.Fatal("timer armed after the goroutine stopped never expired")
	}
}

// BenchmarkTimerArmDisarm: arming and disarming one call timeout with 100k
// others pending (the cost a call with a timeout adds to the dealer).
func BenchmarkTimerArmDisarm(b *testing.B) {
	var tm callTimers
	tm.init(func([]timerEntry) {})
	far := time.Now().Add(time.Hour).UnixNano()
	bg := make([]invocation, 100_000)
	for i := range bg {
		bg[i].deadline = far + int64(i)
		bg[i].tshard = uint8(i)
		tm.arm(&bg[i])
	}
	invs := make([]invocation, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inv := &invs[i%len(invs)]
		inv.deadline = far + int64(i%200_000)
		inv.tshard = uint8(i)
		tm.arm(inv)
		tm.disarm(inv)
	}
	b.StopTimer()
	for i := range bg {
		tm.disarm(&bg[i])
	}
}
