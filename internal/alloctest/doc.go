// Package alloctest asserts exact heap allocation counts for hot paths.
//
// testing.AllocsPerRun returns the average number of allocations per run,
// rounded down: a path that allocates 499 times in 500 runs reads as 0. The
// checks here count instead. They run an operation Runs times (at least
// MinRuns, 10,000) and compare the total growth of runtime.MemStats.Mallocs
// with a bound stated at the call site: Zero allows none, AtMost allows a
// stated number per Runs for a path with an amortised allocation (and the
// call site says why). A path that allocates once in 500 runs is caught
// with 20 allocations to spare.
//
// # What is counted, and how it is kept exact
//
// Mallocs counts every heap object of the whole process, so the figure
// includes the netpoll pollers, the router and the test's own client
// goroutines — what a user's process would pay — but also anything else
// running at the time. To make the count mean the operation alone:
//
//   - The garbage collector is off from warm-up to the last round
//     (debug.SetGCPercent(-1), which waits for a cycle in flight to end). A
//     collection would move every sync.Pool's contents to its victim cache
//     and drop the per-P queues, and rebuilding them (new poolLocal arrays,
//     new queue segments, refills) would be counted against the operation;
//     the finalizers a collection queues would add more. So no collection
//     is forced either: a runtime.GC before warm-up was tried and left tens
//     of such allocations in the first round. With the collector off, pools
//     keep what they are given and the heap grows only by what the run
//     allocates.
//   - The operation is warmed up first (Warmup runs, by default as many as a
//     round) so that buffers, pools and maps reach their steady size: growth
//     the hot path pays once is not what is asserted. That takes longer than
//     one would think: a pool's population grows (New) until, on every P,
//     a Get finds an item, and its per-P queues grow segment by segment. On
//     the wire with 16 callers, 1,000 warm-up runs left 3 to 27 such
//     allocations in the next 10,000; 10,000 left none.
//   - The count is taken over a round of Runs operations, between two
//     runtime.ReadMemStats calls (which stop the world, so every P's counts
//     are flushed); up to Rounds rounds (5) are measured and the check
//     passes as soon as one round is within the bound: the minimum over
//     rounds is compared. Something unrelated that allocates now and then (a finalizer
//     queued by an earlier collection, a test timeout timer, a goroutine of
//     an earlier test winding down, a sync.Pool queue segment still growing)
//     lands in one round, not in all of them; an operation that allocates
//     even once in 5,000 runs allocates in every round and fails. On the
//     wire, after warm-up, 1 to 15 allocations in a first round and 0 in
//     the next are common. Profiled (MemProfileRate 0 during warm-up, 1
//     during the round), those stragglers were sync.(*poolChain).pushHead
//     under core.(*Batch).Release: a poller goroutine that changes P
//     between a pool's Get and Put moves items from one P's queue to the
//     other's, which grows by a segment of twice the size when full —
//     a handful of times over a run, not once per operation.
//   - Tests keep the process quiet themselves: no keepalive timers (netpoll
//     PingInterval -1), no t.Parallel, clients that read with pre-sized
//     buffers and set their deadlines before the check, not inside the
//     operation. A test's own goroutines are counted like the server's.
//
// GOMAXPROCS is left as it is (unlike AllocsPerRun), so the pollers and
// the test's clients run in parallel as in production.
//
// When a check fails it runs one more round with runtime.MemProfileRate = 1
// and reports the stacks that allocated, so the failure says where (that
// round follows a collection, so sync.Pool's own rebuilding is left out).
//
// Under the race detector (Race) every check skips: the instrumentation
// allocates and sync.Pool drops items at random. `make test` runs the
// allocation tests in a separate step without -race and fails when any of
// them skips (scripts/alloc-tests.sh).
package alloctest
