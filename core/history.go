package core

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// Event history and event retention (advanced/pubsub_event_history.md,
// pubsub_event_retention.md).
//
// Both keep publications in their encoded form: the PUBLISH message as the
// publisher's serializer encoded it, copied once into memory the realm owns.
// A reader in another serializer gets the payload transcoded when its answer
// is encoded. History is kept per concrete topic, in a byte ring per topic
// (so a publication is stored once however many subscriptions match it), and
// wamp.subscription.get_events merges the rings of the topics a
// subscription's pattern matches, in arrival order.
//
// Memory is bounded three ways: per topic by the rule's event count and byte
// limit, per realm by Config.EventStoreMaxBytes over everything the store
// holds (rings, entry tables, retained events, per-topic overhead). When the
// realm budget is spent a topic may still reuse its own ring (evicting its
// oldest events) but no new topic or retained event is added; refused
// events are counted.
//
// Locks: the topic index's shard lock (creating a topic) and eventStore.mu
// (the retained map) are taken before a topicHistory.mu or retainedEvent.mu
// and never while holding one; none of them is held while
// sending. They come after the trie and session locks of the lock order in
// doc.go and before the transport's output lock, which is never taken under
// them.

// DefaultEventStoreMaxBytes is the per-realm memory budget of event history
// and retained events when Config.EventStoreMaxBytes is 0.
const DefaultEventStoreMaxBytes = 64 << 20

// Defaults of a HistoryRule.
const (
	DefaultHistoryLimit    = 1000
	DefaultHistoryMaxBytes = 1 << 20
)

// HistoryRule turns on event history for the topics matching Topic under
// Match.
type HistoryRule struct {
	// Topic is the URI or pattern; Match is "exact" (default), "prefix"
	// or "wildcard", as in SUBSCRIBE.
	Topic string
	Match string
	// Limit is the number of events kept per topic (0: DefaultHistoryLimit).
	Limit int
	// MaxBytes bounds the encoded size of the events kept per topic
	// (0: DefaultHistoryMaxBytes). A larger single event is not kept.
	MaxBytes int
}

type historyRule struct {
	topic    string
	policy   trie.Policy
	limit    int
	maxBytes int
}

// historyRules is the compiled Config.History. Rules are few and fixed, so
// exact ones sit in a map and patterns in slices scanned in order; a topic
// takes the first rule that matches it, exact before prefix before wildcard.
type historyRules struct {
	exact    map[string]*historyRule
	patterns []*historyRule
}

func compileHistory(rules []HistoryRule) (*historyRules, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	h := &historyRules{exact: make(map[string]*historyRule)}
	var prefix, wild []*historyRule
	for i, rr := range rules {
		m := codec.ParseMatch([]byte(rr.Match))
		if rr.Match == "" {
			m = codec.MatchExact
		}
		p, ok := matchPolicy(m)
		if !ok {
			return nil, fmt.Errorf("core: history rule %d: unknown match policy %q", i, rr.Match)
		}
		if !validPatternLoose([]byte(rr.Topic), p) {
			return nil, fmt.Errorf("core: history rule %d: invalid topic %q for match %q", i, rr.Topic, rr.Match)
		}
		if rr.Limit < 0 || rr.MaxBytes < 0 {
			return nil, fmt.Errorf("core: history rule %d: negative limit", i)
		}
		hr := &historyRule{topic: rr.Topic, policy: p, limit: rr.Limit, maxBytes: rr.MaxBytes}
		if hr.limit == 0 {
			hr.limit = DefaultHistoryLimit
		}
		if hr.maxBytes == 0 {
			hr.maxBytes = DefaultHistoryMaxBytes
		}
		switch p {
		case trie.Exact:
			if _, dup := h.exact[hr.topic]; !dup {
				h.exact[hr.topic] = hr
			}
		case trie.Prefix:
			prefix = append(prefix, hr)
		default:
			wild = append(wild, hr)
		}
	}
	h.patterns = append(prefix, wild...)
	return h, nil
}

func validPatternLoose(uri []byte, p trie.Policy) bool {
	switch p {
	case trie.Exact:
		return trie.ValidURI(uri, 0)
	case trie.Prefix:
		return len(uri) > 0 && trie.ValidURI(uri, trie.AllowEmpty)
	}
	return trie.ValidURI(uri, trie.AllowEmpty)
}

// rule returns the rule for a concrete topic, or nil.
func (h *historyRules) rule(topic []byte) *historyRule {
	if hr, ok := h.exact[string(topic)]; ok {
		return hr
	}
	for _, hr := range h.patterns {
		if patternMatches(hr.topic, hr.policy, topic) {
			return hr
		}
	}
	return nil
}

// patternMatches reports whether the concrete topic matches pattern under
// p: equality, a string prefix, or component-wise with empty components as
// wildcards (the same rules as package trie).
func patternMatches(pattern string, p trie.Policy, topic []byte) bool {
	switch p {
	case trie.Exact:
		return pattern == string(topic)
	case trie.Prefix:
		return strings.HasPrefix(string(topic), pattern)
	}
	t := string(topic)
	for {
		pi := strings.IndexByte(pattern, '.')
		ti := strings.IndexByte(t, '.')
		if (pi < 0) != (ti < 0) {
			return false
		}
		pc, tc := pattern, t
		if pi >= 0 {
			pc, tc = pattern[:pi], t[:ti]
		}
		if pc != "" && pc != tc {
			return false
		}
		if pi < 0 {
			return true
		}
		pattern, t = pattern[pi+1:], t[ti+1:]
	}
}

// eventStore is one realm's history and retained events.
type eventStore struct {
	base  time.Time // wall and monotonic clock at init; see now
	max   int64
	bytes atomic.Int64 // memory charged against max
	seq   atomic.Uint64

	topics *trie.Index[*topicHistory] // by concrete topic, exact policy

	mu       sync.RWMutex // guards retained
	retained map[string]*retainedEvent

	refused atomic.Int64 // events not kept for lack of budget or size
}

func (st *eventStore) init(max int64) {
	if max == 0 {
		max = DefaultEventStoreMaxBytes
	}
	st.max = max
	st.base = time.Now()
	st.topics = trie.New[*topicHistory](trie.Options{})
	st.retained = make(map[string]*retainedEvent)
}

// now returns the wall clock in unix nanoseconds, as the wall clock at
// init plus the monotonic time since.
func (st *eventStore) now() int64 { return st.base.UnixNano() + int64(time.Since(st.base)) }

// reserve charges n bytes against the budget; it reports false (charging
// nothing) when they do not fit.
func (st *eventStore) reserve(n int) bool {
	if st.bytes.Add(int64(n)) > st.max {
		st.bytes.Add(-int64(n))
		return false
	}
	return true
}

// storedEvent is what both history and retention keep of a publication
// besides its bytes: when, which publication, and who published it (the
// publisher may be gone when the event is read).
type storedEvent struct {
	seq, pub  uint64
	ts        int64 // unix nanoseconds
	format    codec.Format
	publisher uint64
	authID    string
	authRole  string
}

// histEntry is one event in a topic's ring: its bytes are
// data[off : off+n].
type histEntry struct {
	storedEvent
	off, n int
}

const histEntrySize = 96 // approximate, for the budget

// topicHistory is one topic's ring of events.
type topicHistory struct {
	topic string
	rule  *historyRule
	st    *eventStore

	mu      sync.Mutex
	data    []byte
	ents    []histEntry // ring: ents[head], ... n entries
	head, n int
}

// topicOverhead is what a topic costs besides its ring, for the budget.
const topicOverhead = 256

// recordPublish keeps the publication m, whose encoding in the publisher
// pub's serializer is raw, in the topic's history and, if it asks for it,
// as the topic's retained event. It runs on the PUBLISH path and allocates
// nothing in steady state.
func (r *Realm) recordPublish(b *Batch, pub *Session, m *codec.Message, raw []byte, pubID uint64) {
	d := &m.Details
	retain := d.Has(codec.KeyRetain) && d.Retain
	var h *topicHistory
	if rules := r.router.history; rules != nil && d.Set&(1<<codec.KeyExclude|1<<codec.KeyEligible) == 0 {
		// Events filtered by session id are never kept; those filtered by
		// authid/authrole are, and get_events applies the filters to its
		// caller (pubsub_event_history.md, Security Aspects).
		// A publisher usually publishes to the same topic again.
		if h = pub.lastHist; h == nil || h.topic != string(m.URI) {
			h = r.store.history(m.URI, rules)
			pub.lastHist = h
		}
	}
	if h == nil && !retain {
		return
	}
	if b.nowNS == 0 {
		// One clock read per input batch (timestamps need not be unique,
		// pubsub_event_history.md), and of the monotonic clock only, which
		// is half the cost of time.Now.
		b.nowNS = r.store.now()
	}
	ev := storedEvent{seq: r.store.seq.Add(1), pub: pubID, ts: b.nowNS, format: pub.format,
		publisher: pub.id, authID: pub.authID, authRole: pub.authRole}
	if h != nil {
		h.add(raw, ev)
	}
	if retain {
		r.store.retain(m.URI, raw, ev)
	}
}

// history returns the topic's ring: found without a lock in the topic
// index, created on the first publication to a topic a rule matches (if
// the budget allows); nil when there is none.
func (st *eventStore) history(topic []byte, rules *historyRules) *topicHistory {
	if h, ok := st.topics.Lookup(topic, trie.Exact); ok {
		return h
	}
	hr := rules.rule(topic)
	if hr == nil {
		return nil
	}
	var h *topicHistory
	st.topics.Update(topic, trie.Exact, func(old *topicHistory, ok bool) (*topicHistory, bool) {
		if ok {
			h = old
			return old, true
		}
		if !st.reserve(topicOverhead + len(topic)) {
			return nil, false
		}
		h = &topicHistory{topic: string(topic), rule: hr, st: st}
		return h, true
	})
	return h
}

func (h *topicHistory) add(msg []byte, ev storedEvent) {
	if h == nil {
		return
	}
	st := h.st
	l := len(msg)
	if l > h.rule.maxBytes {
		st.refused.Add(1)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// At the count limit growEntries refuses and the oldest goes.
	if h.n == len(h.ents) && !h.growEntries() {
		if h.n == 0 {
			st.refused.Add(1)
			return
		}
		h.evict()
	}
	for {
		if off, ok := h.place(l); ok {
			copy(h.data[off:], msg)
			i := (h.head + h.n) % len(h.ents)
			h.ents[i] = histEntry{storedEvent: ev, off: off, n: l}
			h.n++
			return
		}
		if h.growData(l) {
			continue
		}
		if h.n == 0 {
			st.refused.Add(1)
			return
		}
		h.evict()
	}
}

func (h *topicHistory) evict() {
	h.ents[h.head] = histEntry{}
	h.head = (h.head + 1) % len(h.ents)
	h.n--
}

// place finds room for l bytes in the data ring after the newest entry.
func (h *topicHistory) place(l int) (int, bool) {
	if h.n == 0 {
		return 0, l <= len(h.data)
	}
	start := h.ents[h.head].off
	tail := &h.ents[(h.head+h.n-1)%len(h.ents)]
	w := tail.off + tail.n
	if tail.off >= start { // live bytes are data[start:w]
		if l <= len(h.data)-w {
			return w, true
		}
		return 0, l <= start
	}
	// live bytes wrap: data[start:] and data[:w]
	return w, l <= start-w
}

// growData doubles the data ring (up to the rule's byte limit and within
// the realm budget), copying the live entries to its start in order.
func (h *topicHistory) growData(need int) bool {
	size := max(2*len(h.data), 1024)
	for size < need {
		size *= 2
	}
	size = min(size, h.rule.maxBytes)
	if size <= len(h.data) || size < need || !h.st.reserve(size-len(h.data)) {
		return false
	}
	data := make([]byte, size)
	off := 0
	for k := 0; k < h.n; k++ {
		e := &h.ents[(h.head+k)%len(h.ents)]
		copy(data[off:], h.data[e.off:e.off+e.n])
		e.off = off
		off += e.n
	}
	h.data = data
	return true
}

// growEntries doubles the entry ring up to the rule's count limit.
func (h *topicHistory) growEntries() bool {
	size := min(max(2*len(h.ents), 8), h.rule.limit)
	if size <= len(h.ents) || !h.st.reserve((size-len(h.ents))*histEntrySize) {
		return false
	}
	ents := make([]histEntry, size)
	for k := 0; k < h.n; k++ {
		ents[k] = h.ents[(h.head+k)%len(h.ents)]
	}
	h.ents = ents
	h.head = 0
	return true
}

// storedCopy is an event copied out of the store for a reader.
type storedCopy struct {
	storedEvent
	topic string
	msg   []byte
}

// snapshot copies the topic's events out, oldest first.
func (h *topicHistory) snapshot(dst []storedCopy) []storedCopy {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := 0; k < h.n; k++ {
		e := &h.ents[(h.head+k)%len(h.ents)]
		dst = append(dst, storedCopy{storedEvent: e.storedEvent, topic: h.topic,
			msg: append([]byte(nil), h.data[e.off:e.off+e.n]...)})
	}
	return dst
}

// retainedEvent is a topic's last publication with retain: true.
type retainedEvent struct {
	topic string
	mu    sync.Mutex
	ev    storedEvent
	msg   []byte
}

func (st *eventStore) retain(topic, msg []byte, ev storedEvent) {
	st.mu.RLock()
	re := st.retained[string(topic)]
	st.mu.RUnlock()
	if re == nil {
		st.mu.Lock()
		if re = st.retained[string(topic)]; re == nil {
			if !st.reserve(topicOverhead + len(topic)) {
				st.mu.Unlock()
				st.refused.Add(1)
				return
			}
			re = &retainedEvent{topic: string(topic)}
			st.retained[re.topic] = re
		}
		st.mu.Unlock()
	}
	re.mu.Lock()
	defer re.mu.Unlock()
	if len(msg) > cap(re.msg) {
		if !st.reserve(len(msg) - cap(re.msg)) {
			st.refused.Add(1)
			return
		}
		re.msg = make([]byte, 0, len(msg))
	}
	re.msg = append(re.msg[:0], msg...)
	re.ev = ev
}

// retainedFor copies out the retained events of the topics that sub
// matches.
func (st *eventStore) retainedFor(sub *subscription) []storedCopy {
	var found []*retainedEvent
	st.mu.RLock()
	if sub.policy == trie.Exact {
		if re := st.retained[sub.uri]; re != nil {
			found = append(found, re)
		}
	} else {
		for t, re := range st.retained {
			if patternMatches(sub.uri, sub.policy, unsafeBytes(t)) {
				found = append(found, re)
			}
		}
	}
	st.mu.RUnlock()
	var out []storedCopy
	for _, re := range found {
		re.mu.Lock()
		if len(re.msg) > 0 {
			out = append(out, storedCopy{storedEvent: re.ev, topic: re.topic, msg: append([]byte(nil), re.msg...)})
		}
		re.mu.Unlock()
	}
	return out
}

// historyFor copies out the history of the topics that sub matches, in
// arrival order.
func (st *eventStore) historyFor(sub *subscription) []storedCopy {
	var found []*topicHistory
	if sub.policy == trie.Exact {
		if h, ok := st.topics.Lookup(unsafeBytes(sub.uri), trie.Exact); ok {
			found = append(found, h)
		}
	} else {
		st.topics.Range(func(t string, _ trie.Policy, h *topicHistory) bool {
			if patternMatches(sub.uri, sub.policy, unsafeBytes(t)) {
				found = append(found, h)
			}
			return true
		})
	}
	var out []storedCopy
	for _, h := range found {
		out = h.snapshot(out)
	}
	if len(found) > 1 {
		sortBySeq(out)
	}
	return out
}

// EventStoreStats reports the realm's event store: bytes held against
// Config.EventStoreMaxBytes and events not kept (budget spent, or larger
// than their topic's byte limit).
func (r *Realm) EventStoreStats() (bytes, refused int64) {
	return r.store.bytes.Load(), r.store.refused.Load()
}
