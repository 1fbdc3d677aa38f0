// Package trie is zwamp's URI index: it validates WAMP URIs and answers, on
// every PUBLISH and CALL, which subscriptions or registrations match a URI —
// exact, prefix and wildcard — without taking a lock and without allocating.
//
// # Semantics
//
// An entry is a value stored under (URI, Policy). Match (subscription
// semantics) returns every entry whose pattern matches: the exact entry for
// the URI, every prefix pattern that is a string prefix of it (so
// "com.myapp.topic.emerge" matches "com.myapp.topic.emergency"), and every
// wildcard pattern with the same number of components whose non-empty
// components are equal (an empty component matches exactly one non-empty
// component). Best (registration semantics) returns the one entry the spec
// routes a call to; see Best for the rules and how they are applied.
//
// # Structure
//
// Exact entries live in sharded open-addressing hash tables (table.go),
// Swiss-table style: cache-line groups of seven slots and a control word of
// 7-bit hash tags compared all at once. Keys are hashed with XXH64 under a seed
// drawn at random for each index, and every hit compares the full key, so a
// client that knows the hash function but not the seed cannot pick URIs that
// pile up in one probe sequence (TestHashFlooding shows the attack working
// against seed 0 and failing against a random seed).
//
// Prefix and wildcard patterns live in two byte-level radix trees of
// immutable nodes (radix.go). A walk costs O(len(uri)) steps plus the number
// of matches (plus, for wildcards, the partial matches explored), however
// many patterns do not match; the trees never scan a list of patterns.
//
// A match cache (cache.go) remembers the prefix and wildcard result of hot
// URIs in fixed slots guarded by sequence locks, tagged with a generation
// that every pattern change advances, as nats-server's sublist does.
//
// # Why not Go maps
//
// A Go map is already seeded against flooding and its m[string(b)] lookup
// does not allocate. Read-only and single-threaded it is faster than this
// table on cache-resident keys (BenchmarkGoMap1M against
// BenchmarkLookupExact1M, figures in bench/README.md: mostly its AES-based
// hash against XXH64 and one indirection less), and the same once
// lookups miss the CPU caches. What it cannot do is be read while it is
// written, and every way to make it safe has a cost that grows with the
// router: a sync.RWMutex makes every publish from every poller write one
// shared reader count, a cache line that bounces between all cores (on the
// 2-core machine this was built on, BenchmarkParallelLookupChurn measures
// map+RWMutex as fast as or faster than this index — the hash and the
// single-thread gap dominate there; the bouncing only shows with more
// cores, which was not measured); copying the map on write is O(n) per
// subscribe at a million entries; sync.Map takes its keys as interface
// values, so a []byte URI becomes a heap-allocated string on every lookup. The table here is read with plain atomic loads, written in place
// under a per-shard lock, and grows by publishing a rebuilt copy.
//
// # Concurrency contract
//
// Any goroutine may call Lookup, Match, Best, Len and Range at any time; they
// take no lock and never wait. Any goroutine may call Update; Updates are
// serialised per lock domain:
//
//   - an exact entry by its shard's mutex (chosen by the top bits of the
//     URI's hash), so exact Updates on different shards run in parallel;
//   - all prefix patterns by the prefix tree's mutex;
//   - all wildcard patterns by the wildcard tree's mutex.
//
// Lock order: there is none to get wrong. An Update holds exactly one of
// these mutexes, for the duration of its fn plus the change, and takes no
// other lock; readers hold none; the match cache has no mutex (a goroutine
// that finds a slot being written skips caching rather than waiting). fn
// runs under the lock, so it must be short and must not call into the same
// Index (an Update on the same lock domain would deadlock).
//
// Visibility: once Update has returned, every Lookup, Match and Best that
// starts afterwards sees the change, including answers served from the match
// cache. Each lookup of one structure (a shard's table, a tree) sees it
// either before or after any concurrent Update, never half-way: tables
// change by single atomic stores, trees by publishing a new root after
// copying the changed path. A Match concurrent with several Updates reads
// the exact table, the prefix tree and the wildcard tree one after another,
// so it may see some of those Updates and not others.
//
// # Memory
//
// An exact entry costs one allocation holding the entry and its key bytes
// (a 16+sizeof(V)-byte header plus the key, rounded up to a Go size class;
// keys over 104 bytes get a separate string) and one slot (an 8-byte pointer
// and a control byte, 64 bytes per 7 slots) at a load between 7/16 and 7/8
// once the table has grown: 10-21 bytes. BenchmarkMemoryExact1M measures 1M
// entries with a pointer value and ~27-byte URIs at about 80 bytes per
// entry, 53 of them beyond the URI bytes themselves (a 64-byte entry object
// and ~16 bytes of slots). Pattern trees cost a node per branching point and
// per pattern, and updating one copies the nodes on its path (at most 256
// child pointers each), which is why pattern Updates allocate more than
// exact ones. The cache is 160 bytes per slot (160 KiB by default),
// allocated with the first pattern.
package trie
