package core

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// subscription is a router-scope subscription: one (topic, match policy)
// shared by all its subscribers.
//
// Subscribers live in an append-only array of atomic slots so that PUBLISH
// reads them without a lock: adding a subscriber stores a slot and then
// publishes the new length; removing one clears its slot (a tombstone).
// When the array is full, or tombstones outnumber live entries, the writer
// copies the live entries into a fresh array and publishes it. A reader
// holding the old array still sees every subscriber that was live when it
// started, so no event is lost to a concurrent unsubscribe of someone else.
//
// All writes happen inside trie.Index.Update callbacks for this
// subscription's (uri, policy), i.e. under that trie shard's writer lock,
// which also serialises them against the subscription's removal.
type subscription struct {
	id      uint64
	uri     string
	policy  trie.Policy
	created time.Time
	list    atomic.Pointer[subscriberArray]

	// Guarded by the trie shard lock.
	pos  map[*Session]int32
	live int
}

type subscriberArray struct {
	n     atomic.Int32
	slots []atomic.Pointer[Session]
}

func newSubscription(id uint64, uri []byte, p trie.Policy) *subscription {
	s := &subscription{id: id, uri: string(uri), policy: p, created: time.Now(), pos: make(map[*Session]int32, 1)}
	s.list.Store(&subscriberArray{slots: make([]atomic.Pointer[Session], 1)})
	return s
}

func (sub *subscription) routerID() uint64 { return sub.id }

// add appends s; the caller holds the trie shard lock.
func (sub *subscription) add(s *Session) bool {
	if _, ok := sub.pos[s]; ok {
		return false
	}
	a := sub.list.Load()
	n := int(a.n.Load())
	if n == len(a.slots) {
		a = sub.compact(a, 2*sub.live+1)
		n = int(a.n.Load())
	}
	a.slots[n].Store(s)
	a.n.Store(int32(n + 1))
	sub.pos[s] = int32(n)
	sub.live++
	return true
}

// remove clears s's slot; the caller holds the trie shard lock.
func (sub *subscription) remove(s *Session) bool {
	i, ok := sub.pos[s]
	if !ok {
		return false
	}
	delete(sub.pos, s)
	a := sub.list.Load()
	a.slots[i].Store(nil)
	sub.live--
	if n := int(a.n.Load()); n > 32 && sub.live < n/4 {
		sub.compact(a, 2*sub.live+1)
	}
	return true
}

// compact copies the live entries of a into a new array with room for
// capacity entries and publishes it.
func (sub *subscription) compact(a *subscriberArray, capacity int) *subscriberArray {
	if capacity < 4 {
		capacity = 4
	}
	b := &subscriberArray{slots: make([]atomic.Pointer[Session], capacity)}
	n := int(a.n.Load())
	j := 0
	for i := 0; i < n; i++ {
		if s := a.slots[i].Load(); s != nil {
			b.slots[j].Store(s)
			sub.pos[s] = int32(j)
			j++
		}
	}
	b.n.Store(int32(j))
	sub.list.Store(b)
	return b
}

// subscribers calls fn for every current subscriber (lock-free).
func (sub *subscription) subscribers(fn func(*Session) bool) {
	a := sub.list.Load()
	n := int(a.n.Load())
	for i := 0; i < n; i++ {
		if s := a.slots[i].Load(); s != nil {
			if !fn(s) {
				return
			}
		}
	}
}

func (sub *subscription) count() int {
	c := 0
	sub.subscribers(func(*Session) bool { c++; return true })
	return c
}

// handleSubscribe implements SUBSCRIBE.
func (s *Session) handleSubscribe(b *Batch, m *codec.Message) {
	policy, ok := matchPolicy(m.Details.Match)
	if !ok {
		s.replyError(b, codec.SUBSCRIBE, m.Request, ErrInvalidArgument, "unknown match policy "+string(m.Details.Str[codec.KeyMatch]))
		return
	}
	if !s.realm.router.validPattern(m.URI, policy) {
		s.replyError(b, codec.SUBSCRIBE, m.Request, ErrInvalidURI, "invalid topic URI "+quote(m.URI))
		return
	}
	if !s.authorized(b, ActionSubscribe, codec.SUBSCRIBE, m) {
		return
	}
	r := s.realm
	if lim := r.router.limits.SubscriptionsPerSession; len(s.subs) >= lim {
		s.refuseLimit(b, &r.router.stats.limits.subscriptions, codec.SUBSCRIBE, m.Request, "subscriptions per session", lim)
		return
	}
	var sub *subscription
	var added, created bool
	r.subs.Update(m.URI, policy, func(old *subscription, ok bool) (*subscription, bool) {
		if !ok {
			old = newSubscription(r.router.nextID(), m.URI, policy)
			created = true
			if cl := r.router.cluster; cl != nil {
				cl.Interest(r, old.uri, policy, true)
			}
		}
		sub = old
		added = old.add(s)
		return old, true
	})
	if created {
		r.subByID.Store(sub.id, sub)
	}
	if added {
		s.subs = append(s.subs, sub)
	}
	getRetained := m.Details.Has(codec.KeyGetRetained) && m.Details.GetRetained
	s.ack(b, codec.SUBSCRIBED, m.Request, sub.id)
	if getRetained {
		s.sendRetained(b, sub)
	}
	if added {
		r.meta.subscribed(b, s, sub, created)
	}
}

// handleUnsubscribe implements UNSUBSCRIBE.
func (s *Session) handleUnsubscribe(b *Batch, m *codec.Message) {
	sub, ok := takeByID(&s.subs, m.ID)
	if !ok {
		s.replyError(b, codec.UNSUBSCRIBE, m.Request, ErrNoSuchSubscription, "")
		return
	}
	deleted := s.realm.unsubscribe(s, sub)
	s.ack(b, codec.UNSUBSCRIBED, m.Request, 0)
	s.realm.meta.unsubscribed(b, s, sub, deleted)
}

// unsubscribe removes s from sub and drops sub when it has no subscribers
// left; it reports whether sub was deleted.
func (r *Realm) unsubscribe(s *Session, sub *subscription) (deleted bool) {
	r.subs.Update(unsafeBytes(sub.uri), sub.policy, func(old *subscription, ok bool) (*subscription, bool) {
		if !ok || old != sub {
			return old, ok
		}
		sub.remove(s)
		deleted = sub.live == 0
		if cl := r.router.cluster; cl != nil && deleted {
			cl.Interest(r, sub.uri, sub.policy, false)
		}
		return sub, !deleted
	})
	if deleted {
		r.subByID.Delete(sub.id)
	}
	return deleted
}

// handlePublish implements PUBLISH: match, then encode one EVENT per
// (subscription, serializer) and hand the same bytes to every subscriber.
func (s *Session) handlePublish(b *Batch, m *codec.Message) {
	d := &m.Details
	ack := d.Acknowledge
	r := s.realm
	// A publisher mostly publishes to the same topic again: the URI checks
	// (4-6% of the router's CPU on a 1→1 publish) run once per change of
	// topic, not per message. The rules are fixed for the router's life.
	if !bytes.Equal(m.URI, s.lastTopic) || len(m.URI) == 0 {
		if !r.router.validTopic(m.URI) || trie.Reserved(m.URI) {
			if ack {
				s.replyError(b, codec.PUBLISH, m.Request, ErrInvalidURI, "invalid topic URI "+quote(m.URI))
			}
			return
		}
		s.lastTopic = append(s.lastTopic[:0], m.URI...)
	}
	if !s.authorized(b, ActionPublish, codec.PUBLISH, m) {
		return
	}
	pubID := b.globalID()
	r.recordPublish(b, s, m, b.inRaw, pubID)
	r.publish(b, s, m, pubID)
	r.forward(s, m, b.inRaw, pubID)
	if ack {
		s.ack(b, codec.PUBLISHED, m.Request, pubID)
	}
}

// publish delivers the event in m to every matching subscriber. pub is the
// publishing session (nil for router-originated meta events).
func (r *Realm) publish(b *Batch, pub *Session, m *codec.Message, pubID uint64) {
	b.subs = r.subs.Match(m.URI, b.subs[:0])
	if len(b.subs) > 0 {
		r.deliver(b, pub, m, pubID)
	} else {
		b.published(m.URI, 0)
	}
}

// deliver sends the event in m to the subscriptions matched into b.subs
// (and clears b.subs): one EVENT encoding per (subscription, serializer).
func (r *Realm) deliver(b *Batch, pub *Session, m *codec.Message, pubID uint64) {
	subs := b.subs
	d := &m.Details
	excludeMe := d.Bool(codec.KeyExcludeMe, true)
	filtered := d.Set&filterKeys != 0
	disclose := pub != nil && d.DiscloseMe

	out := &b.out
	out.Reset()
	out.Type = codec.EVENT
	out.Publication = pubID
	out.Args = m.Args
	out.Kwargs = m.Kwargs
	od := &out.Details
	if disclose {
		pub.disclose(od, codec.KeyPublisher)
	}
	if pub != nil && len(r.router.trust) > 0 {
		r.router.setTrustLevel(od, m.URI, pub.authRole)
	}
	copyPPT(od, d)

	var sent uint64
	for _, sub := range subs {
		out.ID = sub.id
		if sub.policy != trie.Exact {
			od.SetString(codec.KeyTopic, m.URI)
		} else {
			od.Clear(codec.KeyTopic)
		}
		b.encOK = [codec.NumFormats]bool{}
		a := sub.list.Load()
		n := int(a.n.Load())
		for i := 0; i < n; i++ {
			t := a.slots[i].Load()
			if t == nil || t == pub && excludeMe {
				continue
			}
			if filtered && !eligible(t, d) {
				continue
			}
			f := t.format
			if !b.encOK[f] {
				enc, err := codec.ByFormat(f).Append(b.enc[f][:0], out)
				b.enc[f] = enc
				if err != nil {
					r.router.stats.encodeErrors.Add(1)
					continue
				}
				b.encOK[f] = true
			}
			b.sendRaw(t.conn.t, b.enc[f])
			sent++
		}
	}
	b.counts.countOut(codec.EVENT, sent)
	b.published(m.URI, sent) // fan-out and per-URI counters (uristats.go)
	for i := range subs {
		subs[i] = nil
	}
	b.subs = subs[:0]
}

const filterKeys = 1<<codec.KeyExclude | 1<<codec.KeyEligible |
	1<<codec.KeyExcludeAuthID | 1<<codec.KeyExcludeAuthRole |
	1<<codec.KeyEligibleAuthID | 1<<codec.KeyEligibleAuthRole

// eligible applies subscriber black- and whitelisting.
func eligible(s *Session, d *codec.Details) bool {
	if d.Has(codec.KeyEligible) && !containsID(d.Eligible, s.id) {
		return false
	}
	if d.Has(codec.KeyEligibleAuthID) && !containsStr(d.EligibleAuthID, s.authID) {
		return false
	}
	if d.Has(codec.KeyEligibleAuthRole) && !containsStr(d.EligibleAuthRole, s.authRole) {
		return false
	}
	if d.Has(codec.KeyExclude) && containsID(d.Exclude, s.id) {
		return false
	}
	if d.Has(codec.KeyExcludeAuthID) && containsStr(d.ExcludeAuthID, s.authID) {
		return false
	}
	if d.Has(codec.KeyExcludeAuthRole) && containsStr(d.ExcludeAuthRole, s.authRole) {
		return false
	}
	return true
}

func containsID(l []uint64, id uint64) bool {
	for _, x := range l {
		if x == id {
			return true
		}
	}
	return false
}

func containsStr(l [][]byte, s string) bool {
	for _, x := range l {
		if string(x) == s {
			return true
		}
	}
	return false
}

// copyPPT forwards payload passthru mode keys.
func copyPPT(dst, src *codec.Details) {
	for k := codec.KeyPPTScheme; k <= codec.KeyPPTKeyID; k++ {
		if src.Has(k) {
			dst.SetString(k, src.Str[k])
		}
	}
}

func matchPolicy(m codec.Match) (trie.Policy, bool) {
	switch m {
	case codec.MatchExact:
		return trie.Exact, true
	case codec.MatchPrefix:
		return trie.Prefix, true
	case codec.MatchWildcard:
		return trie.Wildcard, true
	}
	return 0, false
}

func quote(b []byte) string { return strconv.Quote(string(b)) }
