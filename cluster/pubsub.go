package cluster

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/trie"
)

// eventQueueLen bounds the events received from other nodes and not yet
// delivered here. The receiving goroutine never waits on a WAMP peer (a
// slow subscriber is the transport's slow-consumer policy), so the queue
// only fills when this node is out of CPU; past it NATS counts the drops
// rather than cutting the node's connection.
const eventQueueLen = 1 << 16

// dedupeLen is how many recent publications a node remembers to drop the
// extra copies NATS delivers when several of the node's subjects match one
// event (an exact and a prefix subscription, say). The server writes those
// copies one after another, and a retained event's second copy follows
// shortly, so a short ring scanned linearly is enough (a map cost 8.5 % of
// a receiving node's CPU).
const dedupeLen = 32

// events forwards this node's publications to the nodes with interest and
// delivers theirs here.
//
// Every NATS subscription of the node feeds one channel read by one
// goroutine, so the events of one publisher are delivered here in the order
// its node sent them, and duplicates meet in one place.
type events struct {
	n  *Node
	ch chan *nats.Msg

	// pubMu guards the encode buffer of Published, called from any driver.
	pubMu sync.Mutex
	pub   []byte
	subj  []byte

	// Interest changes, queued in order by Interest (under core's trie
	// locks) and applied by the interest goroutine.
	imu     sync.Mutex
	iq      []interestChange
	ikick   chan struct{}
	subsMu  sync.Mutex
	subs    map[string]*interestSub // by NATS subject
	done    chan struct{}
	dropped atomic.Int64 // envelopes that could not be parsed or decoded
	remote  atomic.Int64 // events delivered from other nodes

	// Remote interest (interest.go): what the other nodes subscribe to,
	// and this node's own set (interest goroutine only) for announcing.
	rint   remoteInterest
	mine   map[interestKey]int
	digest interestDigest // of mine
	ich    chan *nats.Msg
	isubs  []*nats.Subscription
}

// interestChange is one item for the interest goroutine: a change of this
// node's interest, or a snapshot of it to send to a node just heard from.
type interestChange struct {
	realm, uri string
	policy     trie.Policy
	on         bool
	snapshotTo string
}

type interestSub struct {
	refs int
	sub  *nats.Subscription
}

// retainedSubject carries a second copy of every retained publication, to
// every node.
const retainedSubject = "zw.retained"

func (ev *events) start(n *Node) error {
	ev.n = n
	ev.ch = make(chan *nats.Msg, eventQueueLen)
	ev.ikick = make(chan struct{}, 1)
	ev.subs = make(map[string]*interestSub)
	ev.done = make(chan struct{})
	if err := ev.startInterest(); err != nil {
		return err
	}
	sub, err := n.nc.ChanSubscribe(retainedSubject, ev.ch)
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(-1, -1)
	ev.subs[retainedSubject] = &interestSub{refs: 1, sub: sub}
	// Topics with event history are kept on every node, as if a local
	// session subscribed to them.
	for _, r := range n.router.Realms() {
		for _, h := range n.router.HistoryRules() {
			if p, ok := policyOf(h.Match); ok {
				ev.change(interestChange{realm: r.Name(), uri: h.Topic, policy: p, on: true})
			}
		}
	}
	n.wg.Add(2)
	go ev.receive()
	go ev.applyInterest()
	return nil
}

func (ev *events) close() {
	select {
	case <-ev.done:
	default:
		close(ev.done)
	}
	ev.subsMu.Lock()
	for _, s := range ev.subs {
		_ = s.sub.Unsubscribe()
	}
	for _, s := range ev.isubs {
		_ = s.Unsubscribe()
	}
	ev.isubs = nil
	ev.subs = map[string]*interestSub{}
	ev.subsMu.Unlock()
}

// Published implements core.Cluster: one NATS message per publication, on
// the subject derived from its topic; NATS hands it only to nodes with a
// matching interest subject.
func (n *Node) Published(r *core.Realm, pub *core.Session, m *codec.Message, f codec.Format, raw []byte, pubID uint64) {
	ev := &n.ev
	retain := m.Details.Has(codec.KeyRetain) && m.Details.Retain
	wanted := ev.rint.wanted(r.Name(), m.URI)
	if !wanted && !retain {
		return // nobody elsewhere subscribes: the common all-local case
	}
	h := eventHeader{origin: n.self, realm: r.Name(), pubID: pubID, format: f}
	if pub != nil {
		h.publisher, h.authID, h.authRole = pub.ID(), pub.AuthID(), pub.AuthRole()
	}
	ev.pubMu.Lock()
	ev.pub = appendEvent(ev.pub[:0], &h, raw)
	// Publish copies into the connection's buffer; ordering per publisher
	// holds because one connection carries all of them.
	var err error
	if wanted {
		ev.subj = AppendEventSubject(ev.subj[:0], h.realm, m.URI)
		err = n.nc.Publish(unsafeString(ev.subj), ev.pub)
	}
	if err == nil && retain {
		// Every node keeps the retained event, subscribed or not, for the
		// get_retained of a later subscriber there; a node that also has
		// interest gets two copies and keeps the first.
		err = n.nc.Publish(retainedSubject, ev.pub)
	}
	ev.pubMu.Unlock()
	if err != nil {
		ev.dropped.Add(1)
	}
}

// Interest implements core.Cluster.
func (n *Node) Interest(r *core.Realm, uri string, p trie.Policy, on bool) {
	n.ev.queue(interestChange{realm: r.Name(), uri: uri, policy: p, on: on})
}

// queue hands c to the interest goroutine, without blocking.
func (ev *events) queue(c interestChange) {
	ev.imu.Lock()
	ev.iq = append(ev.iq, c)
	ev.imu.Unlock()
	select {
	case ev.ikick <- struct{}{}:
	default:
	}
}

// applyInterest keeps the node's NATS subscriptions equal to the union of
// the interest subjects of its WAMP subscriptions (reference counted: an
// exact and a prefix subscription may share a subject).
func (ev *events) applyInterest() {
	defer ev.n.wg.Done()
	digest := time.NewTicker(interestDigestEvery)
	defer digest.Stop()
	for {
		select {
		case <-ev.done:
			return
		case <-digest.C:
			d := ev.digest
			ev.send(interestSubject, interestNote{Origin: ev.n.self, Digest: &d})
			continue
		case <-ev.ikick:
		}
		ev.imu.Lock()
		q := ev.iq
		ev.iq = nil
		ev.imu.Unlock()
		for _, c := range q {
			if c.snapshotTo != "" {
				ev.snapshotTo(c.snapshotTo)
				continue
			}
			ev.change(c)
		}
	}
}

func (ev *events) change(c interestChange) {
	ev.announce(interestKey{c.realm, c.uri, c.policy}, c.on)
	ev.subsMu.Lock()
	defer ev.subsMu.Unlock()
	for _, subj := range InterestSubjects(c.realm, c.uri, matchName(c.policy)) {
		s := ev.subs[subj]
		if c.on {
			if s == nil {
				sub, err := ev.n.nc.ChanSubscribe(subj, ev.ch)
				if err != nil {
					ev.n.log.Warn("cluster subscribe failed", "subject", subj, "error", err)
					continue
				}
				_ = sub.SetPendingLimits(-1, -1) // the channel bounds it
				s = &interestSub{sub: sub}
				ev.subs[subj] = s
			}
			s.refs++
			continue
		}
		if s == nil {
			continue
		}
		if s.refs--; s.refs == 0 {
			_ = s.sub.Unsubscribe()
			delete(ev.subs, subj)
		}
	}
}

// receive delivers events from other nodes, a run of queued ones per
// Batch (one flush per destination connection per run).
func (ev *events) receive() {
	defer ev.n.wg.Done()
	var seen dedupe
	var h eventHeader
	var m codec.Message
	var names interner
	for {
		var msg *nats.Msg
		select {
		case <-ev.done:
			return
		case msg = <-ev.ch:
		}
		b := core.AcquireBatch()
		for i := 0; ; i++ {
			ev.deliver(b, msg, &seen, &h, &m, &names)
			if i == maxRun-1 {
				break
			}
			if msg = nextQueued(ev.ch); msg == nil {
				break
			}
		}
		b.Release()
	}
}

// maxRun bounds the messages handled per Batch: one write per destination
// connection per run, as a node's own poller writes once per read.
const maxRun = 64

// nextQueued returns the next message already queued on ch, or nil. When
// the queue is momentarily empty it yields once first: the NATS reader,
// which hands over one message at a time, has usually parsed the next one
// by then, and without the second look every forwarded message would be
// flushed — one write per subscriber — on its own (measured: cross-node
// 1→100 cost 1,264 ns per delivery on the receiving node against 126 ns
// with it, bench/README.md "Cluster").
func nextQueued(ch chan *nats.Msg) *nats.Msg {
	select {
	case m := <-ch:
		return m
	default:
	}
	runtime.Gosched()
	select {
	case m := <-ch:
		return m
	default:
	}
	return nil
}

func (ev *events) deliver(b *core.Batch, msg *nats.Msg, seen *dedupe, h *eventHeader, m *codec.Message, names *interner) {
	raw, err := parseEvent(msg.Data, h, names)
	if err != nil || h.origin == ev.n.self {
		if err != nil {
			ev.dropped.Add(1)
		}
		return
	}
	if !seen.add(h.origin, h.pubID) {
		return
	}
	r := ev.n.router.Realm(h.realm)
	if r == nil {
		return
	}
	c := codec.ByFormat(h.format)
	if c == nil {
		ev.dropped.Add(1)
		return
	}
	m.MaxDepth = 0
	if err := c.Decode(m, raw); err != nil || m.Type != codec.PUBLISH {
		ev.dropped.Add(1)
		return
	}
	var pub *core.Origin
	var o core.Origin
	if h.publisher != 0 {
		o = core.Origin{Session: h.publisher, AuthID: h.authID, AuthRole: h.authRole}
		pub = &o
	}
	r.DeliverRemote(b, m, raw, h.format, h.pubID, pub)
	ev.remote.Add(1)
}

// dedupe remembers the last dedupeLen (origin, publication) pairs.
type dedupe struct {
	ring [dedupeLen]dedupeKey
	next int
}

type dedupeKey struct {
	origin string
	pub    uint64
}

// add records the pair and reports whether it was new.
func (d *dedupe) add(origin string, pub uint64) bool {
	for i := range d.ring {
		if k := &d.ring[i]; k.pub == pub && k.origin == origin {
			return false
		}
	}
	d.ring[d.next] = dedupeKey{origin, pub}
	d.next = (d.next + 1) % dedupeLen
	return true
}
