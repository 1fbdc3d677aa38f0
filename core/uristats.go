package core

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/zwamp/zwamp/trie"
)

// Opt-in per-URI counters: an operator lists URI patterns (exact, prefix
// or wildcard, as in WAMP subscriptions) and gets, per pattern,
// publications to matching topics, the EVENTs they fanned out to, and
// CALLs to matching procedures. Labels are the patterns, never the
// concrete URIs, so the cardinality is the list's length.
//
// With no list (the default) the cost on the hot path is one atomic load
// of a pointer nobody writes (a read-shared cache line) per PUBLISH and per
// CALL. With a list, the URI is matched against the patterns in a
// trie.Index (the subscription index: a hash lookup for the exact ones, the
// radix walks for prefix and wildcard ones behind its lock-free match
// cache), remembered per Batch for a run of messages on the same URI, and
// counted in the Batch's plain fields; Batch.Flush folds them into the
// patterns' atomics, one add per touched pattern and kind per input batch.

// URIPattern is one entry of the opt-in list.
type URIPattern struct {
	URI   string `json:"uri"`
	Match string `json:"match"` // exact (default), prefix, wildcard
}

// MaxURIPatterns bounds the opt-in list.
const MaxURIPatterns = 1000

// URICount is what was counted for one pattern.
type URICount struct {
	URIPattern
	Publishes uint64 // PUBLISHes (and router meta events) to matching topics
	Events    uint64 // EVENTs those publications were delivered as
	Calls     uint64 // CALLs to matching procedures
}

const (
	uriPublish = iota
	uriEvent
	uriCall
	numURIKinds
)

type uriCounter struct {
	n [numURIKinds]atomic.Uint64
	_ [64 - numURIKinds*8]byte // one pattern per cache line
}

// uriMatcher is a compiled list (immutable once installed) and its
// counters.
type uriMatcher struct {
	patterns []URIPattern
	ix       *trie.Index[int] // pattern → its index in patterns
	counts   []uriCounter
}

var uriPatterns atomic.Pointer[uriMatcher]

// URICounterSet is a compiled opt-in list, checked and ready to use.
type URICounterSet struct{ m *uriMatcher }

// SetURICounters replaces the opt-in list, process-wide; an empty list
// turns the counters off. It is CompileURICounters then UseURICounters.
func SetURICounters(list []URIPattern) error {
	set, err := CompileURICounters(list)
	if err != nil {
		return err
	}
	UseURICounters(set)
	return nil
}

// UseURICounters installs set (nil: counters off). A pattern that was in
// the previous list keeps its counts (a reload does not reset them, bar
// the increments of batches in flight); a new one starts from zero.
func UseURICounters(set *URICounterSet) {
	if set == nil || set.m == nil {
		uriPatterns.Store(nil)
		return
	}
	if old := uriPatterns.Load(); old != nil {
		prev := make(map[URIPattern]int, len(old.patterns))
		for i, p := range old.patterns {
			prev[p] = i
		}
		for i, p := range set.m.patterns {
			if j, ok := prev[p]; ok {
				for k := range set.m.counts[i].n {
					set.m.counts[i].n[k].Store(old.counts[j].n[k].Load())
				}
			}
		}
	}
	uriPatterns.Store(set.m)
}

// CompileURICounters checks and compiles list: a pattern with an unknown
// match policy, an empty URI, a duplicate, or too many patterns is an
// error. An empty list compiles to nil (counters off).
func CompileURICounters(list []URIPattern) (*URICounterSet, error) {
	if len(list) == 0 {
		return nil, nil
	}
	if len(list) > MaxURIPatterns {
		return nil, fmt.Errorf("uri counters: %d patterns, at most %d", len(list), MaxURIPatterns)
	}
	m := &uriMatcher{ix: trie.New[int](trie.Options{Shards: 1}), counts: make([]uriCounter, len(list))}
	seen := map[URIPattern]bool{}
	for i, p := range list {
		if p.Match == "" {
			p.Match = "exact"
		}
		if p.URI == "" {
			return nil, fmt.Errorf("uri counters[%d]: empty uri", i)
		}
		if seen[p] {
			return nil, fmt.Errorf("uri counters[%d]: %s %q listed twice", i, p.Match, p.URI)
		}
		seen[p] = true
		var pol trie.Policy
		switch p.Match {
		case "exact":
			pol = trie.Exact
		case "prefix":
			pol = trie.Prefix
		case "wildcard":
			pol = trie.Wildcard
		default:
			return nil, fmt.Errorf("uri counters[%d]: match %q: want exact, prefix or wildcard", i, p.Match)
		}
		m.ix.Update([]byte(p.URI), pol, func(int, bool) (int, bool) { return i, true })
		m.patterns = append(m.patterns, p)
	}
	return &URICounterSet{m}, nil
}

// URICounts returns the counts of the current list, in its order (nil
// when none is set).
func URICounts() []URICount {
	m := uriPatterns.Load()
	if m == nil {
		return nil
	}
	out := make([]URICount, len(m.patterns))
	for i, p := range m.patterns {
		c := &m.counts[i]
		out[i] = URICount{URIPattern: p, Publishes: c.n[uriPublish].Load(), Events: c.n[uriEvent].Load(), Calls: c.n[uriCall].Load()}
	}
	return out
}

// match appends the indices of the patterns uri matches to dst.
func (m *uriMatcher) match(uri []byte, dst []int) []int { return m.ix.Match(uri, dst) }

// uriTally is a Batch's plain-field tally for the current list.
type uriTally struct {
	m       *uriMatcher
	n       [][numURIKinds]uint64
	touched []int // patterns with counts since the last fold
	last    []byte
	lastIdx []int // the patterns last matched
	lastOK  bool
}

// uriCount counts n of kind for uri, and events more EVENTs when kind is
// uriPublish; called on the hot path.
func (b *Batch) uriCount(uri []byte, kind int, n, events uint64) {
	m := uriPatterns.Load()
	if m == nil {
		return
	}
	t := b.uri
	if t == nil || t.m != m {
		if t != nil {
			t.fold()
		}
		t = &uriTally{m: m, n: make([][numURIKinds]uint64, len(m.patterns))}
		b.uri = t
	}
	if !t.lastOK || !bytes.Equal(uri, t.last) {
		t.lastIdx = m.match(uri, t.lastIdx[:0])
		t.last = append(t.last[:0], uri...)
		t.lastOK = true
	}
	for _, i := range t.lastIdx {
		if t.n[i] == [numURIKinds]uint64{} {
			t.touched = append(t.touched, i)
		}
		t.n[i][kind] += n
		t.n[i][uriEvent] += events
	}
}

// fold adds the tally to the patterns' counters and clears it.
func (t *uriTally) fold() {
	for _, i := range t.touched {
		for k, v := range t.n[i] {
			if v != 0 {
				t.m.counts[i].n[k].Add(v)
			}
		}
		t.n[i] = [numURIKinds]uint64{}
	}
	t.touched = t.touched[:0]
}

// published counts one publication to topic that reached n subscribers:
// the fan-out histogram and the opt-in per-URI counters.
func (b *Batch) published(topic []byte, n uint64) {
	b.calls.fanOut(n)
	if uriPatterns.Load() != nil {
		b.uriCount(topic, uriPublish, 1, n)
	}
}

// uriCalled counts one CALL to proc for the opt-in per-URI counters.
func (b *Batch) uriCalled(proc []byte) {
	if uriPatterns.Load() != nil {
		b.uriCount(proc, uriCall, 1, 0)
	}
}
