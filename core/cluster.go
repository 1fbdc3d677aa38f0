package core

import (
	"errors"
	"slices"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// Cluster is a layer that spreads realms over several router nodes
// (package cluster). The router calls it inline, from driver goroutines and
// under locks noted per method, so no method may block or wait on another
// node: what takes time (a replicated write) answers later through the
// Session methods below.
//
// With no Cluster set (the default) none of this costs the hot path more
// than a nil check.
type Cluster interface {
	// Published forwards an event this node accepted: m is the decoded
	// PUBLISH and raw its encoding in format f (views valid only during the
	// call), pub the publisher (nil for the router's own meta events),
	// pubID the publication id every node uses for it.
	Published(r *Realm, pub *Session, m *codec.Message, f codec.Format, raw []byte, pubID uint64)

	// Interest reports that this node gained (on) or lost its last
	// subscription on (uri, p) in r. Called under the subscription trie's
	// shard lock, so calls for one (uri, p) arrive in order.
	Interest(r *Realm, uri string, p trie.Policy, on bool)

	// Register asks the cluster to admit s as a callee of reg. The session's
	// messages are held until the cluster answers with
	// Session.ClusterRegistered, from any goroutine.
	Register(r *Realm, s *Session, reg ClusterRegistration)

	// Unregistered reports that local callee s left the registration
	// (uri, p) (UNREGISTER, remove_callee or the session's end).
	Unregistered(r *Realm, s *Session, uri string, p trie.Policy)

	// MetaCall may take over a meta procedure whose answer covers every
	// node (ClusterMeta): it reports true when it will answer the CALL
	// (request req of s) with Session.Reply or Session.ReplyError, false
	// to let this node answer alone. args and kw are the CALL's payload.
	MetaCall(r *Realm, s *Session, proc string, args []any, kw map[string]any, req uint64) bool
}

// ClusterMeta are the meta procedures offered to Cluster.MetaCall: the
// session queries and the kill procedures.
var ClusterMeta = map[string]bool{
	"wamp.session.count": true, "wamp.session.list": true, "wamp.session.get": true,
	"wamp.session.kill": true, "wamp.session.kill_by_authid": true,
	"wamp.session.kill_by_authrole": true, "wamp.session.kill_all": true,
}

// MetaLocal runs meta procedure proc (one of ClusterMeta) with args and kw
// on this node only, as caller (nil: a caller on another node), and returns
// its result (nil for none) or its error URI and message (uri "" on
// success); for the cluster's scatter-gather of MetaCall. Kills take effect
// before it returns.
func (r *Realm) MetaLocal(proc string, args []any, kw map[string]any, caller *Session) (res any, uri, msg string) {
	if fn, ok := metaProcedures[proc]; ok && ClusterMeta[proc] {
		res, merr := fn(r, args)
		if merr != nil {
			return nil, merr.uri, merr.msg
		}
		return res, "", ""
	}
	fn, ok := metaProceduresExt[proc]
	if !ok || !ClusterMeta[proc] {
		return nil, ErrNoSuchProcedure, "no meta procedure " + proc
	}
	c := &metaCall{s: caller, r: r, uri: proc, args: args, kw: kw}
	res, merr := fn(c)
	for _, fn := range c.after {
		fn()
	}
	if merr != nil {
		return nil, merr.uri, merr.msg
	}
	if _, none := res.(noResultT); none {
		res = nil
	}
	return res, "", ""
}

// Reply sends RESULT for request req of s, with res as the only argument
// (nil: none), from any goroutine (a CALL answered later, e.g. by
// Cluster.MetaCall). A session that has ended since is skipped.
func (s *Session) Reply(req uint64, res any) {
	c := s.conn
	b := AcquireBatch()
	c.mu.Lock()
	if c.sess == s {
		out := &b.out
		out.Reset()
		out.Type = codec.RESULT
		out.Request = req
		var err error
		if res != nil {
			out.Args, err = codec.EncodeGo(s.format, []any{res})
		}
		if err != nil {
			s.replyError(b, codec.CALL, req, ErrInvalidArgument, err.Error())
		} else {
			_ = s.send(b, out)
		}
	}
	c.mu.Unlock()
	b.Release()
}

// ReplyError answers request req (a CALL) of s with ERROR uri and msg, from
// any goroutine.
func (s *Session) ReplyError(req uint64, uri, msg string) {
	c := s.conn
	b := AcquireBatch()
	c.mu.Lock()
	if c.sess == s {
		s.replyError(b, codec.CALL, req, uri, msg)
	}
	c.mu.Unlock()
	b.Release()
}

// ClusterRegistration is a REGISTER that the cluster must admit.
type ClusterRegistration struct {
	URI            string
	Policy         trie.Policy
	Invoke         codec.Invoke
	DiscloseCaller bool
	ForwardTimeout bool
}

// Origin identifies a session on another node, for publisher and caller
// disclosure.
type Origin struct {
	Session  uint64
	AuthID   string
	AuthRole string
}

// PeerTarget aims a CALL from a peer session at the callee its node chose.
type PeerTarget struct {
	// Callee is the local callee's session id, registered on (URI, Policy).
	Callee uint64
	URI    string
	Policy trie.Policy
	// Caller is disclosed to the callee when set (the caller's node decided
	// disclosure).
	Caller *Origin
}

// ErrNotPeer is returned by the Peer* methods on a session JoinPeer did not open.
var ErrNotPeer = errors.New("core: not a peer session")

// SetCluster attaches the cluster layer. Call it before any session joins:
// subscriptions and registrations made earlier are not reported.
func (r *Router) SetCluster(c Cluster) { r.cluster = c }

// HistoryRules returns the configured event history rules (Config.History):
// a cluster node keeps the history of these topics whether or not a local
// session subscribes to them.
func (r *Router) HistoryRules() []HistoryRule { return r.cfg.History }

// SetIDBase makes router-scope ids (subscriptions, registrations) start
// after base, so that ids drawn by different nodes of a cluster do not
// collide. Call it before any session joins.
func (r *Router) SetIDBase(base uint64) { r.ids.Store(base) }

// ClusterRegistered answers the cluster's Register for s: errURI "" admits
// the registration, anything else refuses it with ERROR errURI and msg.
// It reports whether the held REGISTER was still waiting; false means the
// session ended meanwhile and an admitted registration must be withdrawn.
func (s *Session) ClusterRegistered(errURI, msg string) bool {
	ans := &clusterAnswer{uri: errURI, msg: msg}
	// A replay that is held again (a dynamic authorizer asked once more)
	// keeps the answer for the replay after that one.
	return s.resumeHeld(func() { s.clusterAns = ans }, func() {
		if !s.holding {
			s.clusterAns = nil
		}
	})
}

// clusterAnswer is the cluster's answer to a held REGISTER.
type clusterAnswer struct{ uri, msg string }

// clusterRegister runs the cluster's part of REGISTER for a local callee:
// the first pass holds the message and asks; the replay after
// ClusterRegistered reports whether the registration may go ahead (ok) or
// was answered (refused, or held).
func (s *Session) clusterRegister(b *Batch, m *codec.Message, policy trie.Policy) (admitted, ok bool) {
	cl := s.realm.router.cluster
	if cl == nil || s.peer {
		return false, true
	}
	ans := s.clusterAns
	if ans == nil {
		s.hold()
		d := &m.Details
		cl.Register(s.realm, s, ClusterRegistration{
			URI: string(m.URI), Policy: policy, Invoke: d.Invoke,
			DiscloseCaller: registerOption(m, "disclose_caller"),
			ForwardTimeout: d.Has(codec.KeyForwardTimeout) && d.ForwardTimeout,
		})
		return false, false
	}
	s.clusterAns = nil
	if ans.uri != "" {
		s.replyError(b, codec.REGISTER, m.Request, ans.uri, ans.msg)
		return false, false
	}
	return true, true
}

// evictPeers removes the peer callees of (uri, p) when they conflict with a
// registration with invoke policy invoke that the cluster has just admitted
// for a local callee: the replicated registry is the truth, and a
// conflicting peer is a copy of an entry that has since gone there (its
// removal is still on its way here). Peers that agree with it stay: they
// share the registration.
func (r *Realm) evictPeers(uri []byte, p trie.Policy, invoke codec.Invoke) {
	reg, ok := r.regs.Lookup(uri, p)
	if !ok || (reg.invoke == invoke && invoke != codec.InvokeSingle) {
		return
	}
	for _, c := range reg.calleeList() {
		if !c.peer {
			continue
		}
		c.mu.Lock()
		_, had := takeByID(&c.regs, reg.id)
		c.mu.Unlock()
		if had {
			r.unregister(c, reg)
		}
	}
}

// forward hands an accepted publication to the cluster, if there is one.
func (r *Realm) forward(pub *Session, m *codec.Message, raw []byte, pubID uint64) {
	if cl := r.router.cluster; cl != nil && raw != nil {
		cl.Published(r, pub, m, pub.format, raw, pubID)
	}
}

// DeliverRemote delivers an event published on another node to this
// node's matching subscribers, and keeps it in history and as the retained
// event like a local publication. m is the decoded PUBLISH (views into raw,
// which is in format f), pubID the publication id its node assigned, pub
// the publisher (nil for a meta event). Any goroutine may call it, with a
// Batch it owns; it is not forwarded again.
func (r *Realm) DeliverRemote(b *Batch, m *codec.Message, raw []byte, f codec.Format, pubID uint64, pub *Origin) {
	var ghost *Session
	if pub != nil {
		// Publisher disclosure, trust levels and history read the
		// publisher's identity from a Session; this one stands for a
		// session elsewhere and matches no local subscriber (exclude_me
		// compares pointers).
		g := &b.ghost
		g.id, g.authID, g.authRole, g.format, g.realm, g.lastHist = pub.Session, pub.AuthID, pub.AuthRole, f, r, nil
		ghost = g
		r.recordPublish(b, ghost, m, raw, pubID)
	}
	r.publish(b, ghost, m, pubID)
}

// OrderCallees puts the callees of (uri, p) in the order of ids (session
// ids, the cluster's registration order) so that the first and last
// invocation policies pick the same callee on every node; callees not in
// ids keep their place after those that are.
func (r *Realm) OrderCallees(uri string, p trie.Policy, ids []uint64) {
	r.regs.Update(unsafeBytes(uri), p, func(old *registration, ok bool) (*registration, bool) {
		if !ok {
			return old, false
		}
		cur := old.calleeList()
		next := slices.Clone(cur)
		rank := func(s *Session) int {
			if i := slices.Index(ids, s.id); i >= 0 {
				return i
			}
			return len(ids)
		}
		slices.SortStableFunc(next, func(a, b *Session) int { return rank(a) - rank(b) })
		if !slices.Equal(next, cur) {
			old.callees.Store(&next)
		}
		return old, true
	})
}

// JoinPeer opens a session that stands, on this node, for a session on
// another node of the cluster: a proxy for a remote callee (its output, the
// INVOCATIONs, goes to t) or the caller side of calls forwarded from
// another node. It is not listed in the realm (meta API, session counts),
// raises no meta events, is not authorized (its own node did that) and is
// not bound by per-session limits or request-id order. id is the session
// id it stands for (0: none).
func (r *Router) JoinPeer(realm string, t Transport, id uint64, features [codec.NumRoles]codec.Feature) (*Session, error) {
	rl := r.Realm(realm)
	if rl == nil {
		return nil, errors.New("core: join peer: no realm " + realm)
	}
	f := t.Format()
	c := &Conn{r: r, t: t, codec: codec.ByFormat(f), format: f, state: connEstablished}
	s := &Session{
		id: id, conn: c, realm: rl, format: f, peer: true, joined: time.Now(),
		roles:    codec.RoleCaller | codec.RoleCallee,
		features: features,
	}
	c.sess = s
	return s, nil
}

// PeerRegister registers peer session s as a callee of (uri, p) with the
// given options, as the cluster's registry says it is on its node, and
// returns the registration's id on this node (INVOCATIONs name it). A local
// registration that conflicts only through other peers is taken over (those
// peers are stale); one that conflicts with a local callee is refused.
func (s *Session) PeerRegister(uri string, p trie.Policy, invoke codec.Invoke, discloseCaller, forwardTimeout bool) (uint64, error) {
	if !s.peer {
		return 0, ErrNotPeer
	}
	r := s.realm
	for attempt := 0; ; attempt++ {
		var reg *registration
		var created, conflict, dup bool
		r.regs.Update(unsafeBytes(uri), p, func(old *registration, ok bool) (*registration, bool) {
			if !ok {
				reg = &registration{id: r.router.nextID(), uri: uri, policy: p, invoke: invoke, created: time.Now()}
				reg.callees.Store(&[]*Session{s})
				created = true
				return reg, true
			}
			reg = old
			cur := old.calleeList()
			if slices.Contains(cur, s) {
				dup = true
				return old, true
			}
			if old.invoke == codec.InvokeSingle || invoke == codec.InvokeSingle || old.invoke != invoke {
				conflict = true
				return old, true
			}
			next := append(slices.Clone(cur), s)
			old.callees.Store(&next)
			return old, true
		})
		if dup {
			return reg.id, nil
		}
		if conflict {
			if attempt > 0 || slices.ContainsFunc(reg.calleeList(), func(c *Session) bool { return !c.peer }) {
				return 0, errors.New("core: peer register " + uri + ": conflicts with a local callee")
			}
			r.evictPeers(unsafeBytes(uri), p, invoke)
			continue
		}
		if created {
			r.regByID.Store(reg.id, reg)
		}
		if discloseCaller {
			reg.discloseCaller.Store(true)
		}
		if forwardTimeout {
			reg.forwardTimeout.Store(true)
		}
		s.mu.Lock()
		s.regs = append(s.regs, reg)
		s.mu.Unlock()
		return reg.id, nil
	}
}

// PeerUnregister removes peer session s from (uri, p); calls in flight to
// it carry on.
func (s *Session) PeerUnregister(uri string, p trie.Policy) {
	if !s.peer {
		return
	}
	reg, ok := s.realm.regs.Lookup(unsafeBytes(uri), p)
	if !ok {
		return
	}
	s.mu.Lock()
	_, had := takeByID(&s.regs, reg.id)
	s.mu.Unlock()
	if had {
		s.realm.unregister(s, reg)
	}
}

// PeerRegistrations reports how many registrations peer session s holds.
func (s *Session) PeerRegistrations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.regs)
}

// PeerReceive handles one message for peer session s as if its peer had
// sent it: YIELD and ERROR for a proxy callee, CANCEL for a forwarded
// caller. m is decoded by the caller (views valid during the call). Any
// goroutine may call it, one at a time per session.
func (s *Session) PeerReceive(b *Batch, m *codec.Message) {
	c := s.conn
	c.mu.Lock()
	if c.sess == s && s.peer {
		switch m.Type {
		case codec.YIELD, codec.ERROR, codec.CANCEL:
			s.handle(b, m)
		}
	}
	c.mu.Unlock()
}

// PeerCall handles a CALL forwarded from another node, whose dealer chose
// the callee: t names it. A callee that has left by now is answered with
// ERROR wamp.error.no_such_procedure. A CALL that continues a progressive
// call invocation goes to the callee of its first chunk.
func (s *Session) PeerCall(b *Batch, m *codec.Message, t PeerTarget) {
	c := s.conn
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != s || !s.peer || m.Type != codec.CALL {
		return
	}
	switch s.classifyCall(m.Request) {
	case callContinue:
		s.continueCall(b, m)
		return
	case callNew:
	default:
		return
	}
	r := s.realm
	reg, ok := r.regs.Lookup(unsafeBytes(t.URI), t.Policy)
	var callee *Session
	if ok {
		for _, cs := range reg.calleeList() {
			if cs.id == t.Callee && !cs.peer {
				callee = cs
				break
			}
		}
	}
	if callee == nil {
		s.replyError(b, codec.CALL, m.Request, ErrNoSuchProcedure, "callee left")
		return
	}
	var origin *Origin
	if t.Caller != nil {
		o := *t.Caller
		origin = &o
	}
	s.invoke(b, m, reg, callee, origin)
}

// PeerLeave ends peer session s: calls in flight to it (as a proxy callee)
// fail with wamp.error.canceled, its calls (as a forwarded caller) are
// interrupted, and it leaves its registrations. Safe to call more than once.
func (s *Session) PeerLeave() {
	c := s.conn
	b := AcquireBatch()
	c.mu.Lock()
	if c.sess == s && s.peer {
		c.sess = nil
		c.state = connClosed
		s.leaveDealer(b)
	}
	c.mu.Unlock()
	b.Release()
}

// IsPeer reports whether s stands for a session on another node.
func (s *Session) IsPeer() bool { return s.peer }

// Features returns the features s announced for role (0 publisher,
// 1 subscriber, 2 caller, 3 callee).
func (s *Session) Features(role int) codec.Feature { return s.features[role] }

// LocalCallee is one local (not peer) callee of a registration, for the
// cluster's reconciliation of its registry with this node's dealer.
type LocalCallee struct {
	URI     string
	Policy  trie.Policy
	Invoke  codec.Invoke
	Session *Session
	// DiscloseCaller and ForwardTimeout are the registration's options.
	DiscloseCaller, ForwardTimeout bool
}

// LocalCallees calls fn for every local callee of every registration in r.
func (r *Realm) LocalCallees(fn func(LocalCallee)) {
	r.regs.Range(func(uri string, p trie.Policy, reg *registration) bool {
		for _, c := range reg.calleeList() {
			if !c.peer {
				fn(LocalCallee{URI: uri, Policy: p, Invoke: reg.invoke, Session: c,
					DiscloseCaller: reg.discloseCaller.Load(), ForwardTimeout: reg.forwardTimeout.Load()})
			}
		}
		return true
	})
}

// RevokeCallee takes local callee s off the registration (uri, p), as
// wamp.registration.remove_callee does: a callee that announced
// registration_revocation is sent UNREGISTERED with the registration and
// reason; its pending invocations may still be answered. Any goroutine may
// call it; it reports whether s was a callee there.
func (r *Realm) RevokeCallee(s *Session, uri string, p trie.Policy, reason string) bool {
	reg, ok := r.regs.Lookup(unsafeBytes(uri), p)
	if !ok || s.peer {
		return false
	}
	c := s.conn
	b := AcquireBatch()
	defer b.Release()
	c.mu.Lock()
	defer c.mu.Unlock()
	s.mu.Lock()
	_, mine := takeByID(&s.regs, reg.id)
	closed := s.closed
	s.mu.Unlock()
	if !mine || closed {
		return false
	}
	deleted := r.unregister(s, reg)
	if s.features[roleCallee]&codec.FeatureRegistrationRevocation != 0 {
		details := map[string]any{"registration": reg.id, "reason": reason}
		if raw, err := codec.EncodeGo(s.format, details); err == nil {
			out := &b.out
			out.Reset()
			out.Type = codec.UNREGISTERED
			out.Dict = raw
			_ = s.send(b, out)
		}
	}
	r.meta.unregistered(b, s, reg, deleted)
	return true
}
