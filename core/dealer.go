package core

import (
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
// after removing it from the caller's table too; the caller-side table is
// only ever read under the caller's lock, so a record is never reused while
// someone may still read it.
type invocation struct {
	id        uint64
	caller    *Session
	callerReq uint64
	callee    *Session
	reg       *registration
	progress  bool // the caller accepts progressive results
}

var invocationPool = sync.Pool{New: func() any { return new(invocation) }}

func freeInvocation(inv *invocation) {
	*inv = invocation{}
	invocationPool.Put(inv)
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
	if !s.authorize(ActionRegister, m.URI) {
		s.replyError(b, codec.REGISTER, m.Request, ErrNotAuthorized, "not authorized to register "+quote(m.URI))
		return
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
		s.replyError(b, codec.REGISTER, m.Request, ErrProcedureAlreadyExists, msg)
		return
	}
	if created {
		r.regByID.Store(reg.id, reg)
	}
	s.regs = append(s.regs, reg)
	s.ack(b, codec.REGISTERED, m.Request, reg.id)
	r.meta.registered(b, s, reg, created)
}

// handleUnregister implements UNREGISTER.
func (s *Session) handleUnregister(b *Batch, m *codec.Message) {
	reg, ok := takeByID(&s.regs, m.ID)
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

// handleCall implements CALL: find the best registration, pick a callee,
// record the call on both sides and send the INVOCATION.
func (s *Session) handleCall(b *Batch, m *codec.Message) {
	r := s.realm
	if !r.router.validTopic(m.URI) {
		s.replyError(b, codec.CALL, m.Request, ErrInvalidURI, "invalid procedure URI "+quote(m.URI))
		return
	}
	if !s.authorize(ActionCall, m.URI) {
		s.replyError(b, codec.CALL, m.Request, ErrNotAuthorized, "not authorized to call "+quote(m.URI))
		return
	}
	reg, _, ok := r.regs.Best(m.URI)
	if !ok {
		if trie.Reserved(m.URI) && r.meta.call(b, s, m) {
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
	d := &m.Details
	inv := invocationPool.Get().(*invocation)
	inv.caller = s
	inv.callerReq = m.Request
	inv.callee = callee
	inv.reg = reg
	inv.progress = d.ReceiveProgress && callee.features[roleCallee]&codec.FeatureProgressiveCallResults != 0

	s.mu.Lock()
	if s.calls == nil {
		s.calls = make(map[uint64]*invocation)
	}
	if _, dup := s.calls[m.Request]; dup {
		s.mu.Unlock()
		freeInvocation(inv)
		s.violation(b, "CALL request id is already in use")
		return
	}
	s.calls[m.Request] = inv
	s.mu.Unlock()

	out := &b.out
	out.Reset()
	out.Type = codec.INVOCATION
	out.ID = reg.id
	out.Args = m.Args
	out.Kwargs = m.Kwargs
	od := &out.Details
	if inv.progress {
		od.SetBool(codec.KeyReceiveProgress, true)
	}
	if d.DiscloseMe {
		s.disclose(od, codec.KeyCaller)
	}
	if reg.policy != trie.Exact {
		od.SetString(codec.KeyProcedure, m.URI)
	}
	copyPPT(od, d)

	callee.mu.Lock()
	if callee.closed {
		callee.mu.Unlock()
		s.dropCall(inv)
		freeInvocation(inv)
		s.replyError(b, codec.CALL, m.Request, ErrNoSuchProcedure, "callee left")
		return
	}
	callee.lastInv = nextRequestID(callee.lastInv)
	inv.id = callee.lastInv
	out.Request = inv.id
	if callee.invs == nil {
		callee.invs = make(map[uint64]*invocation)
	}
	callee.invs[inv.id] = inv
	// Encoded and queued under the callee's lock so INVOCATION request ids
	// reach the callee in the order they were assigned.
	err := callee.send(b, out)
	callee.mu.Unlock()
	if err != nil {
		// The payload could not be written in the callee's serializer.
		callee.mu.Lock()
		delete(callee.invs, inv.id)
		callee.mu.Unlock()
		s.dropCall(inv)
		freeInvocation(inv)
		s.replyError(b, codec.CALL, m.Request, ErrInvalidArgument, "payload cannot be sent to the callee: "+err.Error())
	}
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
// longer pending (its caller left) yields inv=nil, ok=true.
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
		return // the caller left; late results are discarded
	}
	if progress && !inv.progress {
		return // the caller did not ask for progressive results
	}
	caller := inv.caller
	var live bool
	if progress {
		caller.mu.Lock()
		live = caller.calls[inv.callerReq] == inv
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
		if err := caller.send(b, out); err != nil {
			caller.replyError(b, codec.CALL, inv.callerReq, ErrInvalidArgument, "result cannot be sent to the caller: "+err.Error())
		}
	}
	if !progress {
		freeInvocation(inv)
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
		if err := caller.send(b, out); err != nil {
			caller.replyError(b, codec.CALL, inv.callerReq, ErrInvalidArgument, "error cannot be sent to the caller: "+err.Error())
		}
	}
	freeInvocation(inv)
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
	s.mu.Unlock()

	// As caller: pending calls are dropped; their invocations stay with
	// their callees, whose late YIELDs find no caller entry and are discarded.
	_ = calls

	// As callee: every pending call fails with wamp.error.canceled — except
	// while the router shuts down, when every caller is being sent GOODBYE
	// wamp.close.system_shutdown too and that, not whichever of the two
	// sessions the shutdown reached first, is why its call ended.
	shutdown := s.realm.router.closing.Load()
	for _, inv := range invs {
		caller := inv.caller
		if caller.dropCall(inv) && !shutdown {
			caller.replyError(b, codec.CALL, inv.callerReq, ErrCanceled, "callee left before answering")
		}
		freeInvocation(inv)
	}

	for _, reg := range s.regs {
		deleted := s.realm.unregister(s, reg)
		s.realm.meta.unregistered(b, s, reg, deleted)
	}
	s.regs = nil
}

// nextRequestID returns the session-scope id after id: 1, 2, …, 2^53, 1, …
func nextRequestID(id uint64) uint64 {
	if id >= codec.MaxID {
		return 1
	}
	return id + 1
}
