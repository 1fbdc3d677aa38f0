package trie

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// Run: go test -run='^$' -bench=. -benchmem -count=5 ./trie

const million = 1 << 20

type sub struct{ id uint64 } // what a router would store: a pointer

var (
	bigOnce sync.Once
	bigIx   *Index[*sub]
	bigKeys [][]byte
)

func exactKey(i int) []byte {
	return fmt.Appendf(nil, "com.example.app%d.topic%d", i/1000, i%1000)
}

// bigIndex is 1M exact entries, built once for all benchmarks.
func bigIndex() (*Index[*sub], [][]byte) {
	bigOnce.Do(func() {
		bigIx = New[*sub](Options{})
		bigKeys = make([][]byte, million)
		for i := range bigKeys {
			bigKeys[i] = exactKey(i)
			s := &sub{id: uint64(i)}
			bigIx.Update(bigKeys[i], Exact, func(*sub, bool) (*sub, bool) { return s, true })
		}
	})
	return bigIx, bigKeys
}

// BenchmarkLookupExact1M looks up keys of a 1M-entry index. "hot64" cycles
// through 64 keys (a router's hottest topics: everything in L1/L2),
// "warm1k" through 1024 (a few hundred KiB of groups, entries and keys:
// L2/L3), "random" draws from all 1M, so nearly every lookup misses the CPU
// caches about three times (group, entry, key bytes). "absent" is a miss.
func BenchmarkLookupExact1M(b *testing.B) {
	ix, keys := bigIndex()
	order := rand.New(rand.NewPCG(1, 1)).Perm(len(keys))
	for _, c := range []struct {
		name string
		mask int
	}{{"hot64", 63}, {"warm1k", 1023}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := ix.Lookup(keys[(i&c.mask)*997], Exact); !ok {
					b.Fatal("missing")
				}
			}
		})
	}
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := ix.Lookup(keys[order[i&(million-1)]], Exact); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("absent", func(b *testing.B) {
		b.ReportAllocs()
		k := []byte("com.example.app5.topicX")
		for b.Loop() {
			if _, ok := ix.Lookup(k, Exact); ok {
				b.Fatal("found")
			}
		}
	})
}

// BenchmarkMatchExact1M is Match (publish) against 1M exact subscriptions
// and no patterns, with the same key sets as BenchmarkLookupExact1M.
func BenchmarkMatchExact1M(b *testing.B) {
	ix, keys := bigIndex()
	order := rand.New(rand.NewPCG(1, 1)).Perm(len(keys))
	dst := make([]*sub, 0, 8)
	for _, c := range []struct {
		name string
		mask int
	}{{"hot64", 63}, {"warm1k", 1023}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dst = ix.Match(keys[(i&c.mask)*997], dst[:0])
			}
		})
	}
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			dst = ix.Match(keys[order[i&(million-1)]], dst[:0])
		}
	})
}

// GoMap1M is the baseline the exact table was weighed against: a plain Go
// map, read-only (it could not be written while read). The m[string(b)]
// form does not allocate.
func BenchmarkGoMap1M(b *testing.B) {
	_, keys := bigIndex()
	m := make(map[string]*sub, len(keys))
	for i, k := range keys {
		m[string(k)] = &sub{id: uint64(i)}
	}
	order := rand.New(rand.NewPCG(1, 1)).Perm(len(keys))
	for _, c := range []struct {
		name string
		mask int
	}{{"hot64", 63}, {"warm1k", 1023}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if m[string(keys[(i&c.mask)*997])] == nil {
					b.Fatal("missing")
				}
			}
		})
	}
	b.Run("random", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if m[string(keys[order[i&(million-1)]])] == nil {
				b.Fatal("missing")
			}
		}
	})
}

// patternIndex holds n non-matching prefix and n non-matching wildcard
// patterns that share as much as possible with the published URIs, plus a
// few that match, and 1000 exact topics.
func patternIndex(n int, o Options) (*Index[*sub], [][]byte) {
	ix := New[*sub](o)
	s := &sub{}
	keep := func(*sub, bool) (*sub, bool) { return s, true }
	for i := 0; i < n; i++ {
		switch i % 2 {
		case 0:
			ix.Update(fmt.Appendf(nil, "com.myapp.other%d.", i), Prefix, keep)
			ix.Update(fmt.Appendf(nil, "com..topic%d.x", i), Wildcard, keep)
		case 1:
			ix.Update(fmt.Appendf(nil, "com.myapp.topic%d", i), Prefix, keep)
			ix.Update(fmt.Appendf(nil, "com.myapp.topic%d.", i), Wildcard, keep)
		}
	}
	ix.Update([]byte("com.myapp"), Prefix, keep)
	ix.Update([]byte("com..topic.x"), Wildcard, keep)
	ix.Update([]byte("com.myapp..x"), Wildcard, keep)
	for i := 0; i < 1000; i++ {
		ix.Update(fmt.Appendf(nil, "com.myapp.topic.x%d", i), Exact, keep)
	}
	uris := make([][]byte, 64)
	for i := range uris {
		uris[i] = fmt.Appendf(nil, "com.myapp.topic.x%d", i)
	}
	uris[0] = []byte("com.myapp.topic.x")
	return ix, uris
}

// BenchmarkMatchPatterns is a publish-shaped Match with 1k, 10k and 100k
// non-matching prefix and wildcard patterns (each) present. The figure must
// not grow with the count. "cached" answers from the match cache; "nocache"
// walks the trees every time (the miss cost).
func BenchmarkMatchPatterns(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		for _, c := range []struct {
			name string
			size int
		}{{"cached", 0}, {"nocache", -1}} {
			ix, uris := patternIndex(n, Options{CacheSize: c.size})
			dst := make([]*sub, 0, 16)
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					dst = ix.Match(uris[i&63], dst[:0])
				}
				if len(dst) < 2 {
					b.Fatalf("Match found %d entries", len(dst))
				}
			})
		}
	}
}

// BenchmarkBestPatterns is Best (call routing) in the same indexes, for a
// procedure that only wildcard registrations match.
func BenchmarkBestPatterns(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		for _, c := range []struct {
			name string
			size int
		}{{"cached", 0}, {"nocache", -1}} {
			ix, _ := patternIndex(n, Options{CacheSize: c.size})
			uri := []byte("com.other.topic.x")
			b.Run(fmt.Sprintf("n=%d/%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, p, ok := ix.Best(uri); !ok || p != Wildcard {
						b.Fatal("no wildcard match")
					}
				}
			})
		}
	}
}

// BenchmarkParallelMatchChurn runs Match on every P while one writer
// goroutine churns exact entries (and, in "patterns", a prefix pattern,
// which invalidates the match cache on every change).
func BenchmarkParallelMatchChurn(b *testing.B) {
	for _, mode := range []string{"exact", "patterns"} {
		b.Run(mode, func(b *testing.B) {
			ix, uris := patternIndex(10000, Options{})
			var stop atomic.Bool
			var writes atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := &sub{}
				keys := make([][]byte, 4096)
				for i := range keys {
					keys[i] = fmt.Appendf(nil, "com.myapp.churn.t%d", i)
				}
				for i := 0; !stop.Load(); i++ {
					k := keys[i&4095]
					ix.Update(k, Exact, func(_ *sub, ok bool) (*sub, bool) { return s, !ok })
					if mode == "patterns" && i%16 == 0 {
						ix.Update([]byte("com.myapp.topic.x1"), Prefix, func(_ *sub, ok bool) (*sub, bool) { return s, !ok })
					}
					writes.Add(1)
					runtime.Gosched() // share the 2 cores: a writer, not a hog
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				dst := make([]*sub, 0, 16)
				i := 0
				for pb.Next() {
					dst = ix.Match(uris[i&63], dst[:0])
					i++
				}
			})
			b.StopTimer()
			stop.Store(true)
			wg.Wait()
			b.ReportMetric(float64(writes.Load())/float64(b.N), "writes/op")
		})
	}
}

// BenchmarkUpdate measures insert+remove pairs (subscribe, unsubscribe).
func BenchmarkUpdate(b *testing.B) {
	s := &sub{}
	add := func(*sub, bool) (*sub, bool) { return s, true }
	rm := func(*sub, bool) (*sub, bool) { return nil, false }
	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "com.myapp.churn%d.t%d", i%100, i)
	}
	b.Run("exact", func(b *testing.B) {
		ix, _ := patternIndex(1000, Options{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			k := keys[i&(len(keys)-1)]
			ix.Update(k, Exact, add)
			ix.Update(k, Exact, rm)
		}
	})
	b.Run("exact-grow-1M", func(b *testing.B) {
		// Inserts only, into a growing table: includes the amortised rebuilds.
		ix := New[*sub](Options{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			ix.Update(exactKey(i), Exact, add)
		}
	})
	for _, p := range []Policy{Prefix, Wildcard} {
		b.Run(p.String()+"-10k", func(b *testing.B) {
			ix, _ := patternIndex(10000, Options{})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := keys[i&(len(keys)-1)]
				ix.Update(k, p, add)
				ix.Update(k, p, rm)
			}
		})
	}
}

// BenchmarkMemoryExact1M reports the heap cost of 1M exact entries holding
// a pointer: bytes/entry in total and beyond the URI bytes themselves.
func BenchmarkMemoryExact1M(b *testing.B) {
	for b.Loop() {
		var before, after runtime.MemStats
		keys := make([][]byte, million)
		keyBytes := 0
		for i := range keys {
			keys[i] = exactKey(i)
			keyBytes += len(keys[i])
		}
		s := &sub{}
		runtime.GC()
		runtime.ReadMemStats(&before)
		ix := New[*sub](Options{CacheSize: -1})
		for _, k := range keys {
			ix.Update(k, Exact, func(*sub, bool) (*sub, bool) { return s, true })
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		total := float64(after.HeapAlloc-before.HeapAlloc) / million
		b.ReportMetric(total, "B/entry")
		b.ReportMetric(total-float64(keyBytes)/million, "overhead-B/entry")
		runtime.KeepAlive(ix)
		runtime.KeepAlive(keys)
	}
}

func BenchmarkValidURI(b *testing.B) {
	for _, c := range []struct {
		name string
		uri  string
		r    Rules
	}{
		{"strict", "com.myapp.topic.emergency.category", Strict},
		{"loose", "com.myapp.topic.emergency.category", 0},
		{"loose-unicode", "com.myäpp.tôpic.ümergency.categöry", 0},
		{"wildcard", "com.myapp..emergency.", Strict | AllowEmpty},
	} {
		uri := []byte(c.uri)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(uri)))
			for b.Loop() {
				if !ValidURI(uri, c.r) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkHash compares the seeded xxhash the index uses with the unseeded
// one and with the standard library's maphash.
func BenchmarkHash(b *testing.B) {
	ix := New[int](Options{})
	uri := []byte("com.example.app123.topic456")
	seed := maphash.MakeSeed()
	var sink uint64
	b.Run("xxhash-seeded", func(b *testing.B) {
		b.SetBytes(int64(len(uri)))
		for b.Loop() {
			sink += ix.hash(uri)
		}
	})
	b.Run("xxhash-unseeded", func(b *testing.B) {
		b.SetBytes(int64(len(uri)))
		for b.Loop() {
			sink += xxhash.Sum64(uri)
		}
	})
	b.Run("maphash", func(b *testing.B) {
		b.SetBytes(int64(len(uri)))
		for b.Loop() {
			sink += maphash.Bytes(seed, uri)
		}
	})
	_ = sink
}

// BenchmarkParallelLookupChurn compares concurrent exact lookups while one
// goroutine keeps subscribing and unsubscribing: this index (no read lock)
// against the obvious alternative, a Go map behind a sync.RWMutex.
func BenchmarkParallelLookupChurn(b *testing.B) {
	const n = 1 << 16
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = exactKey(i)
	}
	churn := make([][]byte, 4096)
	for i := range churn {
		churn[i] = fmt.Appendf(nil, "com.example.churn.t%d", i)
	}
	s := &sub{}
	run := func(b *testing.B, lookup func([]byte) bool, toggle func([]byte)) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				toggle(churn[i&4095])
				runtime.Gosched()
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if !lookup(keys[(i&63)*997]) {
					panic("missing")
				}
				i++
			}
		})
		b.StopTimer()
		stop.Store(true)
		wg.Wait()
	}
	b.Run("index", func(b *testing.B) {
		ix := New[*sub](Options{})
		for _, k := range keys {
			ix.Update(k, Exact, func(*sub, bool) (*sub, bool) { return s, true })
		}
		run(b, func(k []byte) bool { _, ok := ix.Lookup(k, Exact); return ok },
			func(k []byte) { ix.Update(k, Exact, func(_ *sub, ok bool) (*sub, bool) { return s, !ok }) })
	})
	b.Run("gomap-rwmutex", func(b *testing.B) {
		var mu sync.RWMutex
		m := make(map[string]*sub, n)
		for _, k := range keys {
			m[string(k)] = s
		}
		run(b, func(k []byte) bool { mu.RLock(); v := m[string(k)]; mu.RUnlock(); return v != nil },
			func(k []byte) {
				mu.Lock()
				if _, ok := m[string(k)]; ok {
					delete(m, string(k))
				} else {
					m[string(k)] = s
				}
				mu.Unlock()
			})
	})
}
