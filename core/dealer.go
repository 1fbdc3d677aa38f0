package core

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// registration is a router-scope registration: one (procedure, match
// policy) with one callee, or several under a shared-registration policy.
// Callees are a copy-on-write slice (registrations have few callees and
// change rarely) written inside trie.Index.Update callbacks.
type registration struct {
	id      uint64
	uri     string
	policy  trie.Policy
	invoke  codec.Invoke
	created time.Time
	callees atomic.Pointer[[]*Session]
	next    atomic.Uint64 // round-robin cursor

	// REGISTER options, set when any of the callees asked for them (a
	// shared registration has one set for all its callees).
	discloseCaller atomic.Bool // disclose_caller: every INVOCATION names the caller
	forwardTimeout atomic.Bool // forward_timeout: callees that announce call_timeout get the CALL's timeout
}

func (reg *registration) routerID() uint64 { return reg.id }

func (reg *registration) calleeList() []*Session {
	if p := reg.callees.Load(); p != nil {
		return *p
	}
	return nil
}

// invocation is a call in flight: created on CALL, referenced from the
// caller's calls table (by the caller's request id) and the callee's
// invocation table (by the INVOCATION request id). The goroutine that
// removes it from the callee's table owns it and returns it to the pool
// (release) after removing it from the caller's table too; the caller-side
// table is only ever read under the caller's lock, so a record is never
// reused while someone may still read it.
//
// Code that finds a record in the caller's table (CANCEL, a timeout, the
// caller leaving) copies callee and id while holding the caller's lock and
// afterwards compares only the pointer: the record may have been released
// by then.
type invocation struct {
	id        atomic.Uint64 // INVOCATION.Request; 0 until sent (or while re-routed)
	caller    *Session
	callerReq uint64
	reg       *registration
	// callee is written by its owner under the caller's lock (re-routing
	// moves the call to another callee) and read under the caller's lock.
	callee   *Session
	progress bool // the caller accepts progressive results from this callee
	wantProg bool // the caller asked for progressive results

	// Guarded by the caller's lock.
	canceled  bool // a CANCEL in kill mode went to the callee: its answer ends the call
	streaming bool // progressive call invocations: the caller's final CALL is still to come

	disclose bool // every INVOCATION of the call names the caller (set on CALL)
	// origin is the caller to disclose for a call forwarded from another
	// node (PeerCall); nil otherwise.
	origin *Origin

	start int64 // Batch.callNow of the CALL, for the latency histogram (callstats.go)

	// Timeout (timer.go): deadline in unix ns (0: none), position+1 in
	// the timer shard's heap (guarded by the shard lock).
	deadline int64
	tidx     int32
	tshard   uint8
	// fwdTimeout is the timeout forwarded to a callee announcing call_timeout.
	fwdTimeout uint64

	// kept is set for a call to a shared registration with more than one
	// callee: what re-routing needs (reroute.go), touched only by the
	// record's owner. Separate so that other pending calls stay small.
	kept *keptCall
}

// keptCall is a call's copy of its CALL for re-routing: the procedure,
// payload and PPT options copied into keep, views into it in src, and the
// callees that answered wamp.error.unavailable.
type keptCall struct {
	keep  []byte
	src   callSource
	tried []*Session
}

var keptPool = sync.Pool{New: func() any { return new(keptCall) }}

// callSource is what an INVOCATION is built from: views into the CALL being
// handled or, when re-routing, into invocation.keep.
type callSource struct {
	uri          []byte
	args, kwargs codec.Raw
	ppt          [codec.KeyPPTKeyID - codec.KeyPPTScheme + 1][]byte
}

var invocationPool = sync.Pool{New: func() any { return new(invocation) }}

// maxKeep bounds the re-routing buffer a pooled record keeps.
const maxKeep = 64 << 10

func freeInvocation(inv *invocation) {
	if k := inv.kept; k != nil {
		clear(k.tried)
		k.tried = k.tried[:0]
		k.keep = k.keep[:0]
		if cap(k.keep) > maxKeep {
			k.keep = nil
		}
		k.src = callSource{}
		keptPool.Put(k)
	}
	inv.id.Store(0)
	inv.caller, inv.callerReq, inv.reg, inv.callee = nil, 0, nil, nil
	inv.progress, inv.wantProg, inv.canceled, inv.streaming, inv.disclose = false, false, false, false, false
	inv.deadline, inv.tidx, inv.tshard, inv.fwdTimeout = 0, 0, 0, 0
	inv.start = 0
	inv.kept = nil
	inv.origin = nil
	invocationPool.Put(inv)
}

// release disarms inv's timer and returns it to the pool; only its owner
// calls it, after the record left both tables.
func (r *Router) release(inv *invocation) {
	if inv.deadline != 0 {
		r.timers.disarm(inv)
	}
	freeInvocation(inv)
}

// handleRegister implements REGISTER.
func (s *Session) handleRegister(b *Batch, m *codec.Message) {
	d := &m.Details
	policy, ok := matchPolicy(d.Match)
	if !ok {
		s.replyError(b, codec.REGISTER, m.Request, ErrInvalidArgument, "unknown match policy "+string(d.Str[codec.KeyMatch]))
		return
	}
	if d.Invoke == codec.InvokeInvalid {
		s.replyError(b, codec.REGISTER, m.Request, ErrInvalidArgument, "unknown invocation policy "+string(d.Str[codec.KeyInvoke]))
		return
	}
	r := s.realm
	if !r.router.validPattern(m.URI, policy) || trie.Reserved(m.URI) {
		s.replyError(b, codec.REGISTER, m.Request, ErrInvalidURI, "invalid procedure URI "+quote(m.URI))
		return
	}
	if !s.authorized(b, ActionRegister, codec.REGISTER, m) {
		return
	}
	if lim := r.router.limits.RegistrationsPerSession; len(s.regs) >= lim {
		s.refuseLimit(b, &r.router.stats.limits.registrations, codec.REGISTER, m.Request, "registrations per session", lim)
		return
	}
	admitted, ok := s.clusterRegister(b, m, policy)
	if !ok {
		return
	}
	if admitted {
		r.evictPeers(m.URI, policy, d.Invoke)
	}
	var reg *registration
	var created, exists, mismatch bool
	r.regs.Update(m.URI, policy, func(old *registration, ok bool) (*registration, bool) {
		if !ok {
			reg = &registration{id: r.router.nextID(), uri: string(m.URI), policy: policy, invoke: d.Invoke, created: time.Now()}
			reg.callees.Store(&[]*Session{s})
			created = true
			return reg, true
		}
		reg = old
		cur := old.calleeList()
		switch {
		case old.invoke == codec.InvokeSingle || d.Invoke == codec.InvokeSingle:
			exists = true
		case old.invoke != d.Invoke:
			mismatch = true
		default:
			for _, c := range cur {
				if c == s {
					exists = true
					return old, true
				}
			}
			next := make([]*Session, len(cur), len(cur)+1)
			copy(next, cur)
			next = append(next, s)
			old.callees.Store(&next)
		}
		return old, true
	})
	if exists || mismatch {
		msg := "procedure " + quote(m.URI) + " is already registered"
		if mismatch {
			msg += " with invocation policy " + reg.invoke.String()
		}
		if admitted {
			// The cluster admitted what this node refuses: withdraw it.
			r.router.cluster.Unregistered(r, s, string(m.URI), policy)
		}
		s.replyError(b, codec.REGISTER, m.Request, ErrProcedureAlreadyExists, msg)
		return
	}
	if created {
		r.regByID.Store(reg.id, reg)
	}
	if d.Has(codec.KeyForwardTimeout) && d.ForwardTimeout {
		reg.forwardTimeout.Store(true)
	}
	if registerOption(m, "disclose_caller") {
		reg.discloseCaller.Store(true)
	}
	s.mu.Lock()
	s.regs = append(s.regs, reg)
	s.mu.Unlock()
	s.ack(b, codec.REGISTERED, m.Request, reg.id)
	r.meta.registered(b, s, reg, created)
}

// registerOption reports whether REGISTER.Options has name set to true,
// for the options codec.Details does not type (REGISTER is not on the hot
// path).
func registerOption(m *codec.Message, name string) bool {
	if !m.Dict.Present() {
		return false
	}
	opts, err := codec.ToDict(m.Dict)
	if err != nil {
		return false
	}
	v, _ := opts[name].(bool)
	return v
}

// handleUnregister implements UNREGISTER.
func (s *Session) handleUnregister(b *Batch, m *codec.Message) {
	s.mu.Lock()
	reg, ok := takeByID(&s.regs, m.ID)
	s.mu.Unlock()
	if !ok {
		s.replyError(b, codec.UNREGISTER, m.Request, ErrNoSuchRegistration, "")
		return
	}
	deleted := s.realm.unregister(s, reg)
	s.ack(b, codec.UNREGISTERED, m.Request, 0)
	s.realm.meta.unregistered(b, s, reg, deleted)
}

// unregister removes callee s from reg, deleting reg when it was the last.
func (r *Realm) unregister(s *Session, reg *registration) (deleted bool) {
	r.regs.Update(unsafeBytes(reg.uri), reg.policy, func(old *registration, ok bool) (*registration, bool) {
		if !ok || old != reg {
			return old, ok
		}
		cur := reg.calleeList()
		next := make([]*Session, 0, len(cur))
		for _, c := range cur {
			if c != s {
				next = append(next, c)
			}
		}
		reg.callees.Store(&next)
		deleted = len(next) == 0
		return reg, !deleted
	})
	if deleted {
		r.regByID.Delete(reg.id)
	}
	if cl := r.router.cluster; cl != nil && !s.peer {
		cl.Unregistered(r, s, reg.uri, reg.policy)
	}
	return deleted
}

// pick chooses the callee for one call under reg's invocation policy.
func (reg *registration) pick(b *Batch) *Session {
	cs := reg.calleeList()
	switch len(cs) {
	case 0:
		return nil
	case 1:
		return cs[0]
	}
	switch reg.invoke {
	case codec.InvokeLast:
		return cs[len(cs)-1]
	case codec.InvokeRoundRobin:
		return cs[(reg.next.Add(1)-1)%uint64(len(cs))]
	case codec.InvokeRandom:
		return cs[b.rng.Uint64()%uint64(len(cs))]
	}
	return cs[0]
}

// handleCall implements CALL: classify the request id (a new call or the
// continuation of a progressive invocation), find the best registration,
// pick a callee, record the call on both sides and send the INVOCATION.
func (s *Session) handleCall(b *Batch, m *codec.Message) {
	kind := callNew // a held CALL re-run by Resume was classified on arrival
	if s.resumed == 0 {
		kind = s.classifyCall(m.Request)
	}
	switch kind {
	case callContinue:
		s.continueCall(b, m)
		return
	case callDiscard:
		return // continues a call that has completed (progressive invocations)
	case callGap:
		s.violation(b, "non-sequential request id "+strconv.FormatUint(m.Request, 10)+", want "+strconv.FormatUint(nextRequestID(s.lastReq), 10))
		return
	case callInUse:
		s.violation(b, "CALL request id is already in use")
		return
	}
	r := s.realm
	b.uriCalled(m.URI) // opt-in per-URI counters (uristats.go)
	d := &m.Details
	if d.Progress && s.features[roleCaller]&codec.FeatureProgressiveCallInvocations == 0 {
		s.violation(b, "CALL with progress without announcing progressive_call_invocations")
		return
	}
	if !r.router.validTopic(m.URI) {
		s.replyError(b, codec.CALL, m.Request, ErrInvalidURI, "invalid procedure URI "+quote(m.URI))
		return
	}
	if !s.authorized(b, ActionCall, codec.CALL, m) {
		return
	}
	reg, _, ok := r.regs.Best(m.URI)
	if !ok {
		if trie.Reserved(m.URI) && (s.dealerMeta(b, m) || r.meta.call(b, s, m)) {
			return
		}
		s.replyError(b, codec.CALL, m.Request, ErrNoSuchProcedure, "no callee registered for procedure "+quote(m.URI))
		return
	}
	callee := reg.pick(b)
	if callee == nil {
		s.replyError(b, codec.CALL, m.Request, ErrNoSuchProcedure, "no callee registered for procedure "+quote(m.URI))
		return
	}
	s.invoke(b, m, reg, callee, nil)
}

// invoke makes the call in m to callee of reg: record it on both sides and
// send the INVOCATION. origin, for a CALL forwarded by another node
// (PeerCall), is the caller to disclose, nil for no disclosure.
func (s *Session) invoke(b *Batch, m *codec.Message, reg *registration, callee *Session, origin *Origin) {
	r := s.realm
	d := &m.Details
	cf := callee.features[roleCallee]
	if d.Progress && cf&(codec.FeatureProgressiveCallInvocations|codec.FeatureCallCanceling) != codec.FeatureProgressiveCallInvocations|codec.FeatureCallCanceling {
		s.replyError(b, codec.CALL, m.Request, ErrFeatureNotSupported, "the callee of "+quote(m.URI)+" does not support progressive call invocations")
		return
	}
	inv := invocationPool.Get().(*invocation)
	inv.caller = s
	inv.callerReq = m.Request
	inv.callee = callee
	inv.reg = reg
	inv.wantProg = d.ReceiveProgress
	inv.progress = d.ReceiveProgress && cf&codec.FeatureProgressiveCallResults != 0
	inv.streaming = d.Progress
	if s.peer {
		// The caller's node decided disclosure.
		inv.disclose = origin != nil
		inv.origin = origin
	} else {
		inv.disclose = d.DiscloseMe || reg.discloseCaller.Load()
	}
	inv.start = b.callNow()
	if d.Timeout > 0 {
		if cf&codec.FeatureCallTimeout != 0 && reg.forwardTimeout.Load() {
			inv.fwdTimeout = d.Timeout
		} else {
			inv.deadline = r.router.timers.now() + int64(min(d.Timeout, maxTimeoutMS))*int64(time.Millisecond)
			inv.tshard = uint8(s.id)
		}
	}
	src := callSource{uri: m.URI, args: m.Args, kwargs: m.Kwargs}
	for k := codec.KeyPPTScheme; k <= codec.KeyPPTKeyID; k++ {
		src.ppt[k-codec.KeyPPTScheme] = d.Str[k]
	}
	if !d.Progress && reg.invoke != codec.InvokeSingle && len(reg.calleeList()) > 1 {
		inv.keepSource(&src) // for re-routing after wamp.error.unavailable
	}

	// Admission: from here the call has a record in the caller's table.
	s.mu.Lock()
	if s.calls == nil {
		s.calls = make(map[uint64]*invocation)
	}
	if lim := r.router.limits.CallsPerSession; len(s.calls) >= lim && !s.peer {
		s.mu.Unlock()
		freeInvocation(inv)
		s.refuseLimit(b, &r.router.stats.limits.calls, codec.CALL, m.Request, "outstanding calls per caller", lim)
		return
	}
	s.calls[m.Request] = inv
	s.mu.Unlock()
	if inv.deadline != 0 {
		// Armed while s owns the record: once the INVOCATION is out the
		// callee's answer may release it at any moment.
		r.router.timers.arm(inv)
	}

	out := &b.out
	inv.buildInvocation(out, &src)
	if d.Progress {
		out.Details.SetBool(codec.KeyProgress, true)
	}
	sent, err := inv.deliver(b, callee, out)
	if sent && err == nil {
		return
	}
	if s.dropCall(inv) {
		if err == errCalleeBusy {
			lim := r.router.limits.InvocationsPerSession
			s.refuseLimit(b, &r.router.stats.limits.invocations, codec.CALL, m.Request, "outstanding invocations per callee", lim)
		} else if err != nil {
			// The payload could not be written in the callee's serializer.
			s.replyError(b, codec.CALL, m.Request, ErrInvalidArgument, "payload cannot be sent to the callee: "+err.Error())
		} else {
			s.replyError(b, codec.CALL, m.Request, ErrNoSuchProcedure, "callee left")
		}
	}
	r.router.release(inv)
}

// maxTimeoutMS caps CALL.Options.timeout (about 24 days) so deadlines stay
// far from overflowing.
const maxTimeoutMS = 1 << 31

// keepSource copies the CALL's procedure, payload and PPT options into a
// pooled keptCall (its buffer's capacity kept across the pool) for
// re-routing.
func (inv *invocation) keepSource(src *callSource) {
	kc := keptPool.Get().(*keptCall)
	inv.kept = kc
	n := len(src.uri) + len(src.args.Bytes) + len(src.kwargs.Bytes)
	for _, p := range src.ppt {
		n += len(p)
	}
	if cap(kc.keep) < n {
		kc.keep = make([]byte, 0, n)
	}
	k := kc.keep[:0]
	view := func(p []byte) []byte {
		if p == nil {
			return nil
		}
		k = append(k, p...)
		return k[len(k)-len(p) : len(k) : len(k)]
	}
	kc.src.uri = view(src.uri)
	kc.src.args = codec.Raw{Format: src.args.Format, Bytes: view(src.args.Bytes)}
	kc.src.kwargs = codec.Raw{Format: src.kwargs.Format, Bytes: view(src.kwargs.Bytes)}
	for i, p := range src.ppt {
		kc.src.ppt[i] = view(p)
	}
	kc.keep = k
}

// buildInvocation writes inv's INVOCATION into out, all but its request id
// (deliver assigns it). inv.progress must be set for the callee.
func (inv *invocation) buildInvocation(out *codec.Message, src *callSource) {
	out.Reset()
	out.Type = codec.INVOCATION
	out.ID = inv.reg.id
	out.Args = src.args
	out.Kwargs = src.kwargs
	od := &out.Details
	if inv.progress {
		od.SetBool(codec.KeyReceiveProgress, true)
	}
	if o := inv.origin; o != nil {
		od.SetUint(codec.KeyCaller, o.Session)
		if o.AuthID != "" {
			od.SetString(codec.KeyCallerAuthID, unsafeBytes(o.AuthID))
		}
		if o.AuthRole != "" {
			od.SetString(codec.KeyCallerAuthRole, unsafeBytes(o.AuthRole))
		}
	} else if inv.disclose {
		inv.caller.disclose(od, codec.KeyCaller)
	}
	if inv.reg.policy != trie.Exact {
		od.SetString(codec.KeyProcedure, src.uri)
	}
	if inv.fwdTimeout != 0 {
		od.SetUint(codec.KeyTimeout, inv.fwdTimeout)
	}
	for i, p := range src.ppt {
		if p != nil {
			od.SetString(codec.KeyPPTScheme+codec.Key(i), p)
		}
	}
}

// errCalleeBusy is deliver's answer for a callee that already has
// Limits.InvocationsPerSession invocations outstanding.
var errCalleeBusy = errors.New("core: callee at its outstanding-invocations limit")

// deliver gives inv an INVOCATION request id of callee, records it in the
// callee's table and sends out (built by buildInvocation). sent is false
// when the callee has left; err is set when out cannot be encoded for it,
// or is errCalleeBusy when the callee is at Limits.InvocationsPerSession.
// In all failures inv is not in the callee's table afterwards and the
// caller of deliver still owns it; once sent, the callee's goroutine may
// release it at any moment.
func (inv *invocation) deliver(b *Batch, callee *Session, out *codec.Message) (sent bool, err error) {
	callee.mu.Lock()
	if callee.closed {
		callee.mu.Unlock()
		return false, nil
	}
	if len(callee.invs) >= callee.realm.router.limits.InvocationsPerSession {
		// Answer now rather than queue behind the callee's backlog.
		callee.mu.Unlock()
		return false, errCalleeBusy
	}
	callee.lastInv = nextRequestID(callee.lastInv)
	id := callee.lastInv
	inv.id.Store(id)
	out.Request = id
	if callee.invs == nil {
		callee.invs = make(map[uint64]*invocation)
	}
	callee.invs[id] = inv
	// Encoded and queued under the callee's lock so INVOCATION request ids
	// reach the callee in the order they were assigned.
	err = callee.send(b, out)
	if err != nil {
		delete(callee.invs, id)
	}
	callee.mu.Unlock()
	return err == nil, err
}

// callKind is how a CALL's request id relates to the session's calls.
type callKind uint8

const (
	callNew      callKind = iota
	callContinue          // a chunk of a progressive invocation in progress
	callDiscard           // a chunk for a call that has completed
	callGap               // skips request ids: protocol violation
	callInUse             // reuses the id of a pending call that is not streaming
)

// classifyCall applies the request-id rules of progressive call
// invocations (rpc_progressive_call_invocations.md, "Verification of CALL
// Request IDs"): the id after the watermark (s.lastReq) is a new call, a
// larger one a gap, and one at or below it a continuation candidate, which
// continues a streaming call or — the spec's MAY, no grace-period table —
// is discarded. With Config.LaxRequestIDs only the calls table decides.
func (s *Session) classifyCall(req uint64) callKind {
	lax := s.realm.router.cfg.LaxRequestIDs || s.peer
	if !lax {
		want := nextRequestID(s.lastReq)
		if req == want {
			s.lastReq = want
			return callNew
		}
		if req > want || req == 0 {
			return callGap
		}
	}
	s.mu.Lock()
	inv := s.calls[req]
	streaming := inv != nil && inv.streaming
	s.mu.Unlock()
	switch {
	case streaming:
		return callContinue
	case inv != nil:
		return callInUse
	case lax:
		return callNew
	}
	return callDiscard
}

// continueCall forwards one more chunk of a progressive call invocation to
// the callee of its first CALL, with the same INVOCATION request id. Only
// progress is taken from its options; the rest were frozen by the first.
func (s *Session) continueCall(b *Batch, m *codec.Message) {
	final := !m.Details.Progress
	s.mu.Lock()
	inv := s.calls[m.Request]
	if inv == nil || !inv.streaming {
		s.mu.Unlock()
		return
	}
	if final {
		inv.streaming = false
	}
	callee, id, regID, disclose := inv.callee, inv.id.Load(), inv.reg.id, inv.disclose
	s.mu.Unlock()
	if id == 0 {
		return // the call was re-routed or timed out before its INVOCATION went out
	}
	out := &b.out
	out.Reset()
	out.Type = codec.INVOCATION
	out.Request = id
	out.ID = regID
	out.Args = m.Args
	out.Kwargs = m.Kwargs
	if !final {
		out.Details.SetBool(codec.KeyProgress, true)
	}
	if disclose {
		s.disclose(&out.Details, codec.KeyCaller)
	}
	callee.mu.Lock()
	if callee.invs[id] == inv {
		err := callee.send(b, out)
		callee.mu.Unlock()
		if err != nil && s.dropCall(inv) {
			// The callee still holds the record; its answer is discarded.
			s.replyError(b, codec.CALL, m.Request, ErrInvalidArgument, "payload cannot be sent to the callee: "+err.Error())
			callee.interruptNoWait(b, inv, id)
		}
		return
	}
	callee.mu.Unlock()
}

// dropCall removes inv from s's calls if it is still there; it reports
// whether it was.
func (s *Session) dropCall(inv *invocation) bool {
	s.mu.Lock()
	cur, ok := s.calls[inv.callerReq]
	if ok && cur == inv {
		delete(s.calls, inv.callerReq)
	}
	s.mu.Unlock()
	return ok && cur == inv
}

// takeInvocation looks up the invocation a YIELD or ERROR from callee s
// answers; final removes it. A request id that was never issued is a
// protocol violation (reported by ok=false); one that was issued but is no
// longer pending (its caller left, it was canceled) yields inv=nil, ok=true.
func (s *Session) takeInvocation(req uint64, final bool) (inv *invocation, ok bool) {
	s.mu.Lock()
	inv = s.invs[req]
	if inv != nil && final {
		delete(s.invs, req)
	}
	issued := req != 0 && req <= s.lastInv
	s.mu.Unlock()
	return inv, inv != nil || issued
}

// handleYield implements YIELD, including progressive results.
func (s *Session) handleYield(b *Batch, m *codec.Message) {
	progress := m.Details.Progress
	inv, ok := s.takeInvocation(m.Request, !progress)
	if !ok {
		s.violation(b, "YIELD for an unknown INVOCATION request id")
		return
	}
	if inv == nil {
		return // the caller left or canceled; late results are discarded
	}
	if progress && !inv.progress {
		return // the caller did not ask for progressive results
	}
	caller := inv.caller
	var live bool
	if progress {
		caller.mu.Lock()
		// A call canceled in kill mode takes only its final answer.
		live = caller.calls[inv.callerReq] == inv && !inv.canceled
		caller.mu.Unlock()
	} else {
		live = caller.dropCall(inv)
	}
	if live {
		out := &b.out
		out.Reset()
		out.Type = codec.RESULT
		out.Request = inv.callerReq
		out.Args = m.Args
		out.Kwargs = m.Kwargs
		if progress {
			out.Details.SetBool(codec.KeyProgress, true)
		}
		copyPPT(&out.Details, &m.Details)
		if !progress {
			b.callStart = inv.start
		}
		if err := caller.send(b, out); err != nil {
			caller.replyError(b, codec.CALL, inv.callerReq, ErrInvalidArgument, "result cannot be sent to the caller: "+err.Error())
		}
		b.callStart = 0
	}
	if !progress {
		s.realm.router.release(inv)
	}
}

// handleInvocationError implements ERROR from a callee.
func (s *Session) handleInvocationError(b *Batch, m *codec.Message) {
	inv, ok := s.takeInvocation(m.Request, true)
	if !ok {
		s.violation(b, "ERROR for an unknown INVOCATION request id")
		return
	}
	if inv == nil {
		return
	}
	if string(m.URI) == ErrUnavailable {
		s.reroute(b, inv)
		return
	}
	caller := inv.caller
	if caller.dropCall(inv) {
		out := &b.out
		out.Reset()
		out.Type = codec.ERROR
		out.ErrorType = codec.CALL
		out.Request = inv.callerReq
		out.URI = m.URI
		out.Args = m.Args
		out.Kwargs = m.Kwargs
		copyPPT(&out.Details, &m.Details)
		b.callStart = inv.start
		if err := caller.send(b, out); err != nil {
			caller.replyError(b, codec.CALL, inv.callerReq, ErrInvalidArgument, "error cannot be sent to the caller: "+err.Error())
		}
		b.callStart = 0
	}
	s.realm.router.release(inv)
}

// leaveDealer removes s's registrations and settles its calls and
// invocations; called once when s ends.
func (s *Session) leaveDealer(b *Batch) {
	s.mu.Lock()
	s.closed = true
	invs := s.invs
	s.invs = nil
	calls := s.calls
	s.calls = nil
	regs := s.regs
	s.regs = nil
	// As caller: the calls end with s. A callee that supports canceling
	// gets INTERRUPT killnowait and its invocation is dropped (the basic
	// profile's "Caller Leaving"); for the others the invocation stays
	// with the callee, whose late answer finds no caller and is discarded.
	// Callee and id are copied under s's lock: once it is released a
	// callee may answer and release the record.
	var interrupts []pendingCall
	for _, inv := range calls {
		if id := inv.id.Load(); id != 0 && inv.callee.features[roleCallee]&codec.FeatureCallCanceling != 0 {
			interrupts = append(interrupts, pendingCall{inv, inv.callee, id})
		}
	}
	s.mu.Unlock()
	for _, p := range interrupts {
		p.callee.interruptNoWait(b, p.inv, p.id)
	}

	// As callee: every pending call fails with wamp.error.canceled — except
	// while the router shuts down, when every caller is being sent GOODBYE
	// wamp.close.system_shutdown too and that, not whichever of the two
	// sessions the shutdown reached first, is why its call ended.
	router := s.realm.router
	shutdown := router.closing.Load()
	for _, inv := range invs {
		caller := inv.caller
		if caller.dropCall(inv) && !shutdown {
			b.callStart = inv.start
			caller.replyError(b, codec.CALL, inv.callerReq, ErrCanceled, "callee left before answering")
			b.callStart = 0
		}
		router.release(inv)
	}

	for _, reg := range regs {
		deleted := s.realm.unregister(s, reg)
		if !s.peer {
			s.realm.meta.unregistered(b, s, reg, deleted)
		}
	}
}

// pendingCall is a call record with the callee and INVOCATION request id
// read while it was known to be alive.
type pendingCall struct {
	inv    *invocation
	callee *Session
	id     uint64
}

// nextRequestID returns the session-scope id after id: 1, 2, …, 2^53, 1, …
func nextRequestID(id uint64) uint64 {
	if id >= codec.MaxID {
		return 1
	}
	return id + 1
}
