package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// callTimers enforces CALL.Options.timeout for the whole router: a fixed set
// of min-heaps of deadlines (sharded so that pollers arming timers for
// different callers rarely meet on a lock) and one goroutine that sleeps
// until the earliest deadline and fails the expired calls. Arming and
// disarming a timer is O(log n) in its shard and allocates nothing once the
// heap's backing array has grown; there is no goroutine or runtime timer
// per call. The goroutine runs only while timers are pending.
//
// A heap entry names its call by (caller, caller's request id, record); the
// expiry handler acts only if the caller's calls table still maps that
// request id to that record, so an entry that outlived its call is
// harmless. Records are taken out of the heap before they go back to the
// pool (release), because the heap writes their tidx field.
//
// Lock order: a shard lock is a leaf: it may be taken while holding a
// Session.mu, and nothing is acquired while holding it.
type callTimers struct {
	shards  [timerShards]timerShard
	pending atomic.Int64 // entries in all heaps
	running atomic.Bool  // the expiry goroutine is running
	wake    atomic.Int64 // when the goroutine plans to wake (unix ns); 0 while it scans
	kick    chan struct{}
	now     func() int64 // unix ns; replaced by tests
	expire  func(e []timerEntry)
}

const timerShards = 16

type timerShard struct {
	mu   sync.Mutex
	heap []timerEntry
	_    [40]byte // keep shards on separate cache lines
}

type timerEntry struct {
	when   int64 // unix ns
	inv    *invocation
	caller *Session
	req    uint64 // the caller's CALL request id
}

func (t *callTimers) init(expire func([]timerEntry)) {
	t.kick = make(chan struct{}, 1)
	t.now = func() int64 { return time.Now().UnixNano() }
	t.expire = expire
}

// arm schedules inv's deadline (inv.deadline, unix ns). The caller owns
// inv: it is in the caller's calls table and nobody can free it meanwhile.
func (t *callTimers) arm(inv *invocation) {
	sh := &t.shards[inv.tshard%timerShards]
	sh.mu.Lock()
	if len(sh.heap) == cap(sh.heap) {
		// Double rather than append's 1.25× for large slices: a heap that
		// grows to 100k entries copies itself fewer times.
		h := make([]timerEntry, len(sh.heap), max(64, 2*cap(sh.heap)))
		copy(h, sh.heap)
		sh.heap = h
	}
	sh.heap = append(sh.heap, timerEntry{when: inv.deadline, inv: inv, caller: inv.caller, req: inv.callerReq})
	i := len(sh.heap) - 1
	inv.tidx = int32(i + 1)
	sh.up(i)
	sh.mu.Unlock()
	t.pending.Add(1)
	if !t.running.Load() && t.running.CompareAndSwap(false, true) {
		go t.loop()
		return
	}
	if w := t.wake.Load(); w == 0 || inv.deadline < w {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// disarm removes inv's entry if it is still in a heap.
func (t *callTimers) disarm(inv *invocation) {
	if inv.deadline == 0 {
		return
	}
	sh := &t.shards[inv.tshard%timerShards]
	sh.mu.Lock()
	if inv.tidx > 0 {
		sh.remove(int(inv.tidx - 1))
		t.pending.Add(-1)
	}
	sh.mu.Unlock()
}

// loop is the expiry goroutine: it collects the expired entries of every
// shard, hands them to expire outside the shard locks, and sleeps until the
// next deadline or a kick from arm (an earlier deadline than planned).
func (t *callTimers) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var due []timerEntry
	for {
		t.wake.Store(0)
		now := t.now()
		next := int64(0)
		due = due[:0]
		for i := range t.shards {
			sh := &t.shards[i]
			sh.mu.Lock()
			for len(sh.heap) > 0 && sh.heap[0].when <= now {
				due = append(due, sh.heap[0])
				sh.remove(0)
			}
			if len(sh.heap) > 0 && (next == 0 || sh.heap[0].when < next) {
				next = sh.heap[0].when
			}
			sh.mu.Unlock()
		}
		if len(due) > 0 {
			t.pending.Add(-int64(len(due)))
			t.expire(due)
			clear(due)
			continue // expiring took time: rescan before sleeping
		}
		if next == 0 {
			// Nothing pending: stop, unless arm added an entry after the
			// scan and saw running still set.
			t.running.Store(false)
			if t.pending.Load() == 0 || !t.running.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		t.wake.Store(next)
		timer.Reset(time.Duration(next - now))
		select {
		case <-timer.C:
		case <-t.kick:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
	}
}

// Heap operations; the caller holds sh.mu. Positions are stored 1-based in
// invocation.tidx so that a zeroed record reads as "not in a heap".

func (sh *timerShard) swap(i, j int) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	h[i].inv.tidx = int32(i + 1)
	h[j].inv.tidx = int32(j + 1)
}

func (sh *timerShard) up(i int) {
	h := sh.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			return
		}
		sh.swap(i, p)
		i = p
	}
}

func (sh *timerShard) down(i int) {
	h := sh.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].when < h[l].when {
			m = r
		}
		if h[i].when <= h[m].when {
			return
		}
		sh.swap(i, m)
		i = m
	}
}

func (sh *timerShard) remove(i int) {
	last := len(sh.heap) - 1
	if i != last {
		sh.swap(i, last)
	}
	sh.heap[last].inv.tidx = 0
	sh.heap[last] = timerEntry{}
	sh.heap = sh.heap[:last]
	if i != last {
		sh.down(i)
		sh.up(i)
	}
}
