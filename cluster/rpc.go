package cluster

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/trie"
)

// Routed RPC across nodes.
//
// Every node mirrors each callee on another node as a proxy: a peer
// session (core.Router.JoinPeer) registered in the local dealer exactly as
// the registry lists the remote callee. A CALL is routed by the caller's
// node's own dealer — best match, invocation policy, progressive results,
// cancel, timeout all unchanged — and when it picks a proxy, the
// INVOCATION the dealer "sends" to it is forwarded to the callee's node.
// There a peer caller standing for that proxy (one per proxy) re-issues it
// as a CALL aimed at that one callee (core.Session.PeerCall); the RESULT or
// ERROR it gets back is forwarded home and handed to the proxy as its YIELD
// or ERROR. So each side runs the ordinary single-node dealer, and the wire
// between them carries WAMP messages in the peers' serializer.

// peerFormat is the serializer of proxies and peer callers.
const peerFormat = codec.MsgPack

// proxyIdle is how long a proxy whose callee has no registrations left
// stays, so that calls already forwarded to it can still be answered.
// (A variable for the tests; a node reads it when it attaches.)
var proxyIdle = 30 * time.Second

type proxyKey struct {
	instance, realm string
	session         uint64
}

type callerKey struct {
	origin, realm string
	proxy         uint64
}

// proxy is the local stand-in for one callee session on another node.
type proxy struct {
	id   uint64
	key  proxyKey
	sess *core.Session
	dst  string // the callee node's rpc subject

	mu   sync.Mutex
	regs map[uint64]RegKey // local registration id → registry key
	scr  codec.Message     // decode scratch for Send
	buf  []byte
}

type rpcState struct {
	n         *Node
	idleAfter time.Duration // proxyIdle when the node attached
	sub       *nats.Subscription
	ch        chan *nats.Msg

	mu      sync.Mutex
	next    uint64
	proxies map[proxyKey]*proxy
	byID    map[uint64]*proxy
	callers map[callerKey]*core.Session
	regs    map[RegKey]RegValue // the registry as last applied here
	// conflicts are keys whose proxies could not register because a local
	// callee held them (reconcile.go retries them).
	conflicts map[RegKey]bool
	dead      map[string]bool // instances declared dead: never proxied again
}

func (rs *rpcState) start(n *Node) error {
	rs.n = n
	rs.idleAfter = proxyIdle
	rs.proxies = make(map[proxyKey]*proxy)
	rs.byID = make(map[uint64]*proxy)
	rs.callers = make(map[callerKey]*core.Session)
	rs.regs = make(map[RegKey]RegValue)
	rs.conflicts = make(map[RegKey]bool)
	rs.dead = make(map[string]bool)
	// One goroutine takes the node's RPC traffic in order and handles a run
	// of it per Batch (see nextQueued).
	rs.ch = make(chan *nats.Msg, eventQueueLen)
	sub, err := n.nc.ChanSubscribe(NodeSubject(n.self, "rpc"), rs.ch)
	if err != nil {
		return err
	}
	_ = sub.SetPendingLimits(-1, -1)
	rs.sub = sub
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			var msg *nats.Msg
			select {
			case <-n.ctx.Done():
				return
			case msg = <-rs.ch:
			}
			b := core.AcquireBatch()
			for i := 0; ; i++ {
				rs.receive(b, msg)
				if i == maxRun-1 {
					break
				}
				if msg = nextQueued(rs.ch); msg == nil {
					break
				}
			}
			b.Release()
		}
	}()
	return nil
}

func (rs *rpcState) close() {
	if rs.sub != nil {
		_ = rs.sub.Unsubscribe()
	}
	rs.mu.Lock()
	var leave []*core.Session
	for _, p := range rs.proxies {
		leave = append(leave, p.sess)
	}
	for _, q := range rs.callers {
		leave = append(leave, q)
	}
	rs.proxies = map[proxyKey]*proxy{}
	rs.byID = map[uint64]*proxy{}
	rs.callers = map[callerKey]*core.Session{}
	rs.mu.Unlock()
	for _, s := range leave {
		s.PeerLeave()
	}
}

// Register implements core.Cluster: the registry admits or refuses the
// callee, then the held REGISTER goes on.
func (n *Node) Register(r *core.Realm, s *core.Session, reg core.ClusterRegistration) {
	k := RegKey{Realm: r.Name(), URI: reg.URI, Match: matchName(reg.Policy)}
	c := Callee{Instance: n.self, Session: s.ID(), Features: uint64(s.Features(3)),
		DiscloseCaller: reg.DiscloseCaller, ForwardTimeout: reg.ForwardTimeout}
	invoke := reg.Invoke.String()
	n.kv.do(k, func(ctx context.Context) {
		err := n.e.Registry().Register(ctx, k, invoke, c)
		uri, msg := "", ""
		switch {
		case err == nil:
		case errors.Is(err, ErrExists):
			uri, msg = core.ErrProcedureAlreadyExists, "procedure "+quoteURI(reg.URI)+" is already registered"
		case errors.Is(err, ErrPolicyMismatch):
			uri, msg = core.ErrProcedureAlreadyExists, "procedure "+quoteURI(reg.URI)+" is already registered with another invocation policy"
		default:
			uri, msg = ErrClusterUnavailable, "the cluster's registry cannot admit the registration now"
			n.log.Warn("cluster register failed", "uri", reg.URI, "error", err)
		}
		if !s.ClusterRegistered(uri, msg) && err == nil {
			// The session ended while its REGISTER waited: withdraw.
			_ = n.e.Registry().Unregister(ctx, k, n.self, c.Session)
		}
	})
}

// ErrClusterUnavailable answers a REGISTER the cluster's registry could not
// decide in time (no quorum: this node is cut off from most of the
// cluster).
const ErrClusterUnavailable = "wamp.error.unavailable"

// Unregistered implements core.Cluster.
func (n *Node) Unregistered(r *core.Realm, s *core.Session, uri string, p trie.Policy) {
	k := RegKey{Realm: r.Name(), URI: uri, Match: matchName(p)}
	id := s.ID()
	n.kv.do(k, func(ctx context.Context) {
		err := n.e.Registry().Unregister(ctx, k, n.self, id)
		if err != nil && !errors.Is(err, ErrNotRegistered) && n.ctx.Err() == nil {
			n.log.Warn("cluster unregister failed", "uri", uri, "error", err)
		}
	})
}

// resync registers the proxies of every remote callee the replica lists for
// k (those already registered are left as they are).
func (n *Node) resync(k RegKey) bool {
	rs := &n.rpc
	v, ok := n.e.Registry().Get(k)
	policy, pok := policyOf(k.Match)
	if !ok || !pok {
		return true
	}
	invoke, err := invokeOf(v.Invoke)
	if err != nil {
		return true
	}
	clean := true
	for _, c := range v.Callees {
		if c.Instance == n.self {
			continue
		}
		p := rs.ensure(proxyKey{c.Instance, k.Realm, c.Session}, c.Features)
		if p == nil {
			clean = false // a node declared dead: resynced when it revives
			continue
		}
		id, err := p.sess.PeerRegister(k.URI, policy, invoke, c.DiscloseCaller, c.ForwardTimeout)
		if err != nil {
			clean = false
			continue
		}
		p.mu.Lock()
		p.regs[id] = k
		p.mu.Unlock()
	}
	return clean
}

// registryChanged applies one registry change to the local proxies (from
// the registry's watch goroutine, in order).
func (n *Node) registryChanged(k RegKey, v *RegValue) {
	rs := &n.rpc
	realm := n.router.Realm(k.Realm)
	policy, ok := policyOf(k.Match)
	if realm == nil || !ok {
		return
	}
	rs.mu.Lock()
	old, had := rs.regs[k]
	if v == nil {
		delete(rs.regs, k)
	} else {
		rs.regs[k] = RegValue{Invoke: v.Invoke, Callees: append([]Callee(nil), v.Callees...)}
	}
	rs.mu.Unlock()

	var nv RegValue
	if v != nil {
		nv = *v
	}
	// A policy change means the key was deleted and created again (the
	// delete may not have been seen): start over.
	reset := had && v != nil && old.Invoke != v.Invoke
	for _, c := range old.Callees {
		if c.Instance == n.self || (!reset && containsCallee(nv.Callees, c)) {
			continue
		}
		if p := rs.lookup(proxyKey{c.Instance, k.Realm, c.Session}); p != nil {
			p.sess.PeerUnregister(k.URI, policy)
			rs.idle(p)
		}
	}
	if v == nil {
		return
	}
	invoke, err := invokeOf(v.Invoke)
	if err != nil {
		n.log.Warn("cluster registry entry ignored", "uri", k.URI, "error", err)
		return
	}
	for _, c := range v.Callees {
		if c.Instance == n.self || (!reset && had && containsCallee(old.Callees, c)) {
			continue
		}
		p := rs.ensure(proxyKey{c.Instance, k.Realm, c.Session}, c.Features)
		if p == nil {
			continue
		}
		id, err := p.sess.PeerRegister(k.URI, policy, invoke, c.DiscloseCaller, c.ForwardTimeout)
		if err != nil {
			// A local callee holds it: a partition is healing, and the
			// reconciler decides (reconcile.go), then resyncs k.
			n.log.Info("cluster proxy waits for a local conflict to resolve", "uri", k.URI, "peer", c.Instance, "error", err)
			rs.mu.Lock()
			rs.conflicts[k] = true
			rs.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.regs[id] = k
		p.mu.Unlock()
	}
	if len(v.Callees) > 1 {
		ids := make([]uint64, len(v.Callees))
		for i, c := range v.Callees {
			ids[i] = c.Session
		}
		realm.OrderCallees(k.URI, policy, ids)
	}
}

func containsCallee(l []Callee, c Callee) bool {
	for _, x := range l {
		if x.Instance == c.Instance && x.Session == c.Session {
			return true
		}
	}
	return false
}

func (rs *rpcState) lookup(k proxyKey) *proxy {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.proxies[k]
}

// ensure returns the proxy for k, creating it (nil for a dead node's).
func (rs *rpcState) ensure(k proxyKey, features uint64) *proxy {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if p := rs.proxies[k]; p != nil {
		return p
	}
	if rs.dead[k.instance] {
		return nil
	}
	rs.next++
	p := &proxy{id: rs.next, key: k, dst: NodeSubject(k.instance, "rpc"), regs: make(map[uint64]RegKey)}
	var f [codec.NumRoles]codec.Feature
	f[3] = codec.Feature(features)
	sess, err := rs.n.router.JoinPeer(k.realm, &proxyTransport{n: rs.n, p: p}, k.session, f)
	if err != nil {
		rs.n.log.Warn("cluster proxy", "error", err)
		return nil
	}
	p.sess = sess
	rs.proxies[k] = p
	rs.byID[p.id] = p
	return p
}

// idle schedules the removal of a proxy left without registrations.
func (rs *rpcState) idle(p *proxy) {
	if p.sess.PeerRegistrations() > 0 {
		return
	}
	time.AfterFunc(rs.idleAfter, func() {
		rs.mu.Lock()
		gone := rs.proxies[p.key] == p && p.sess.PeerRegistrations() == 0
		if gone {
			delete(rs.proxies, p.key)
			delete(rs.byID, p.id)
		}
		rs.mu.Unlock()
		if gone {
			p.sess.PeerLeave()
			// The callee's node may let the proxy's peer caller go.
			h := rpcHeader{kind: kindGone, format: peerFormat, origin: rs.n.self, realm: p.key.realm, proxy: p.id}
			_ = rs.n.nc.Publish(p.dst, appendRPC(nil, &h, nil))
		}
	})
}

// dropNode removes everything that stands for a dead node: its proxies
// leave (calls in flight to them fail with wamp.error.canceled) and the
// peer callers of its calls leave (their callees are interrupted).
func (rs *rpcState) dropNode(instance string) {
	rs.mu.Lock()
	rs.dead[instance] = true
	var leave []*core.Session
	for k, p := range rs.proxies {
		if k.instance == instance {
			leave = append(leave, p.sess)
			delete(rs.proxies, k)
			delete(rs.byID, p.id)
		}
	}
	for k, q := range rs.callers {
		if k.origin == instance {
			leave = append(leave, q)
			delete(rs.callers, k)
		}
	}
	rs.mu.Unlock()
	for _, s := range leave {
		s.PeerLeave()
	}
}

// revive lets a node declared dead (a partition, not a crash) be proxied
// again once the registry lists its callees.
func (rs *rpcState) revive(instance string) {
	rs.mu.Lock()
	delete(rs.dead, instance)
	var keys []RegKey
	for k, v := range rs.regs {
		for _, c := range v.Callees {
			if c.Instance == instance {
				keys = append(keys, k)
				break
			}
		}
	}
	rs.mu.Unlock()
	// Its callees listed while it was thought dead got no proxies.
	for _, k := range keys {
		if !rs.n.resync(k) {
			rs.mu.Lock()
			rs.conflicts[k] = true
			rs.mu.Unlock()
		}
	}
}

// receive handles one node-addressed RPC message (one goroutine, in order),
// its output queued on b.
func (rs *rpcState) receive(b *core.Batch, msg *nats.Msg) {
	var h rpcHeader
	raw, err := parseRPC(msg.Data, &h)
	if err != nil {
		rs.n.ev.dropped.Add(1)
		return
	}
	if h.kind == kindGone {
		rs.callerGone(&h)
		return
	}
	c := codec.ByFormat(h.format)
	if c == nil {
		return
	}
	var m codec.Message
	if err := c.Decode(&m, raw); err != nil {
		rs.n.ev.dropped.Add(1)
		return
	}
	if h.kind == kindAnswer {
		rs.answer(b, &h, &m)
		return
	}
	q := rs.caller(&h)
	if q == nil {
		return
	}
	switch m.Type {
	case codec.INVOCATION:
		var call codec.Message
		call.Type = codec.CALL
		call.Request = m.Request
		call.Args, call.Kwargs = m.Args, m.Kwargs
		d, cd := &m.Details, &call.Details
		call.URI = unsafeBytes(h.uri)
		if d.Has(codec.KeyProcedure) {
			call.URI = d.Str[codec.KeyProcedure]
		}
		if d.Has(codec.KeyReceiveProgress) && d.ReceiveProgress {
			cd.SetBool(codec.KeyReceiveProgress, true)
		}
		if d.Has(codec.KeyProgress) {
			cd.SetBool(codec.KeyProgress, d.Progress)
		}
		if d.Has(codec.KeyTimeout) {
			cd.SetUint(codec.KeyTimeout, d.Timeout)
		}
		for k := codec.KeyPPTScheme; k <= codec.KeyPPTKeyID; k++ {
			if d.Has(k) {
				cd.SetString(k, d.Str[k])
			}
		}
		t := core.PeerTarget{Callee: h.callee, URI: h.uri, Policy: trie.Policy(h.policy)}
		if d.Has(codec.KeyCaller) {
			t.Caller = &core.Origin{Session: d.Caller, AuthID: string(d.Str[codec.KeyCallerAuthID]), AuthRole: string(d.Str[codec.KeyCallerAuthRole])}
		}
		q.PeerCall(b, &call, t)
	case codec.INTERRUPT:
		cancel := m
		cancel.Type = codec.CANCEL
		q.PeerReceive(b, &cancel)
	}
}

// caller returns the peer caller standing for proxy h.proxy of node
// h.origin, creating it on its first call.
func (rs *rpcState) caller(h *rpcHeader) *core.Session {
	k := callerKey{h.origin, h.realm, h.proxy}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if q := rs.callers[k]; q != nil {
		return q
	}
	if rs.dead[h.origin] {
		return nil
	}
	var f [codec.NumRoles]codec.Feature
	f[2] = ^codec.Feature(0)
	q, err := rs.n.router.JoinPeer(h.realm, &answerTransport{n: rs.n, dst: NodeSubject(h.origin, "rpc"), realm: h.realm, proxy: h.proxy}, 0, f)
	if err != nil {
		return nil
	}
	rs.callers[k] = q
	return q
}

// callerGone ends the peer caller of a proxy that left on its node: the
// calls it made there were answered or given up by then (the proxy idled
// proxyIdle with no registration), and nothing will be sent to it again.
func (rs *rpcState) callerGone(h *rpcHeader) {
	k := callerKey{h.origin, h.realm, h.proxy}
	rs.mu.Lock()
	q := rs.callers[k]
	delete(rs.callers, k)
	rs.mu.Unlock()
	if q != nil {
		q.PeerLeave()
	}
}

// answer hands a RESULT or ERROR from the callee's node to the proxy that
// the call went to, as the proxy's YIELD or ERROR.
func (rs *rpcState) answer(b *core.Batch, h *rpcHeader, m *codec.Message) {
	rs.mu.Lock()
	p := rs.byID[h.proxy]
	rs.mu.Unlock()
	if p == nil {
		return
	}
	switch m.Type {
	case codec.RESULT:
		m.Type = codec.YIELD
	case codec.ERROR:
		m.ErrorType = codec.INVOCATION
	default:
		return
	}
	p.sess.PeerReceive(b, m)
}

// proxyTransport carries what the local dealer sends a proxy (INVOCATION,
// INTERRUPT) to the callee's node.
type proxyTransport struct {
	n *Node
	p *proxy
}

func (t *proxyTransport) Format() codec.Format { return peerFormat }

func (t *proxyTransport) Send(msg []byte) bool {
	p := t.p
	p.mu.Lock()
	defer p.mu.Unlock()
	m := &p.scr
	if err := codec.ByFormat(peerFormat).Decode(m, msg); err != nil {
		return false
	}
	h := rpcHeader{kind: kindInvoke, format: peerFormat, origin: t.n.self, realm: p.key.realm, proxy: p.id, callee: p.key.session}
	switch m.Type {
	case codec.INVOCATION:
		k, ok := p.regs[m.ID]
		if !ok {
			return false
		}
		pol, _ := policyOf(k.Match)
		h.uri, h.policy = k.URI, byte(pol)
	case codec.INTERRUPT:
	default:
		return false
	}
	p.buf = appendRPC(p.buf[:0], &h, msg)
	_ = t.n.nc.Publish(p.dst, p.buf)
	return false
}

func (t *proxyTransport) Flush() {}

// Close is called by the router on a protocol error from the proxy's
// side; the proxy leaves (not inline: the router holds its lock).
func (t *proxyTransport) Close() { go t.p.sess.PeerLeave() }

func (t *proxyTransport) Info() core.TransportInfo {
	return core.TransportInfo{Kind: "cluster", Protocol: peerFormat.Subprotocol(), RemoteAddr: t.p.key.instance}
}

// answerTransport carries what the local dealer sends a peer caller
// (RESULT, ERROR) back to the caller's node.
type answerTransport struct {
	n     *Node
	dst   string
	realm string
	proxy uint64

	mu  sync.Mutex
	buf []byte
}

func (t *answerTransport) Format() codec.Format { return peerFormat }

func (t *answerTransport) Send(msg []byte) bool {
	t.mu.Lock()
	h := rpcHeader{kind: kindAnswer, format: peerFormat, origin: t.n.self, realm: t.realm, proxy: t.proxy}
	t.buf = appendRPC(t.buf[:0], &h, msg)
	_ = t.n.nc.Publish(t.dst, t.buf)
	t.mu.Unlock()
	return false
}

func (t *answerTransport) Flush() {}
func (t *answerTransport) Close() {}
func (t *answerTransport) Info() core.TransportInfo {
	return core.TransportInfo{Kind: "cluster", Protocol: peerFormat.Subprotocol(), RemoteAddr: t.dst}
}

// kvQueue runs registry operations off the drivers, in order per key (a
// REGISTER after an UNREGISTER of the same procedure must see it done).
type kvQueue struct {
	n       *Node
	seed    maphash.Seed
	workers [4]kvWorker
}

type kvWorker struct {
	mu   sync.Mutex
	q    []func(context.Context)
	busy bool // running an operation taken off q
	kick chan struct{}
}

func (kq *kvQueue) start(n *Node) {
	kq.n = n
	kq.seed = maphash.MakeSeed()
	for i := range kq.workers {
		w := &kq.workers[i]
		w.kick = make(chan struct{}, 1)
		n.wg.Add(1)
		go kq.run(w)
	}
}

// flush waits (at most d) until every queued operation has run: a node
// that stops after its sessions left withdraws their registrations itself
// rather than leaving them to the reapers.
func (kq *kvQueue) flush(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		idle := true
		for i := range kq.workers {
			w := &kq.workers[i]
			w.mu.Lock()
			idle = idle && len(w.q) == 0 && !w.busy
			w.mu.Unlock()
		}
		if idle {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (kq *kvQueue) do(k RegKey, fn func(context.Context)) {
	var h maphash.Hash
	h.SetSeed(kq.seed)
	h.WriteString(k.Realm)
	h.WriteString(k.URI)
	h.WriteString(k.Match)
	w := &kq.workers[h.Sum64()%uint64(len(kq.workers))]
	w.mu.Lock()
	w.q = append(w.q, fn)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (kq *kvQueue) run(w *kvWorker) {
	defer kq.n.wg.Done()
	for {
		select {
		case <-kq.n.ctx.Done():
			return
		case <-w.kick:
		}
		for {
			w.mu.Lock()
			if len(w.q) == 0 {
				w.busy = false
				w.mu.Unlock()
				break
			}
			fn := w.q[0]
			w.q[0] = nil
			w.q = w.q[1:]
			w.busy = true
			w.mu.Unlock()
			ctx, cancel := context.WithTimeout(kq.n.ctx, kq.n.e.Config().OpTimeout)
			fn(ctx)
			cancel()
		}
	}
}

func quoteURI(s string) string { return "\"" + s + "\"" }

func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
