package core

import (
	"github.com/zwamp/zwamp/codec"
)

// reroute handles ERROR wamp.error.unavailable from callee s for inv, which
// s's goroutine owns (it took inv out of s's table): the call goes to the
// next callee of the registration under its invocation policy, as if s's
// registration did not exist (rpc_call_rerouting.md); when no callee is
// left, or the policy is single, the caller gets
// wamp.error.no_available_callee. Only calls to a shared registration that
// had more than one callee when they were made can move (their payload was
// kept for it); the others fail the same way.
func (s *Session) reroute(b *Batch, inv *invocation) {
	router := s.realm.router
	caller := inv.caller
	kc := inv.kept
	if kc != nil {
		kc.tried = append(kc.tried, s)
	}
	for kc != nil {
		next := inv.reg.pickUntried(b, s, kc.tried)
		if next == nil {
			break
		}
		caller.mu.Lock()
		live := caller.calls[inv.callerReq] == inv
		canceled := inv.canceled
		if live && !canceled {
			inv.callee = next
			inv.id.Store(0)
		}
		caller.mu.Unlock()
		if !live {
			router.release(inv) // canceled (skip, killnowait), timed out, or the caller left
			return
		}
		if canceled {
			// Canceled in kill mode: the callee's answer ends the call.
			if caller.dropCall(inv) {
				b.callStart = inv.start
				caller.replyError(b, codec.CALL, inv.callerReq, ErrCanceled, "canceled by the caller (kill)")
				b.callStart = 0
			}
			router.release(inv)
			return
		}
		inv.progress = inv.wantProg && next.features[roleCallee]&codec.FeatureProgressiveCallResults != 0
		out := &b.out
		inv.buildInvocation(out, &kc.src)
		sent, err := inv.deliver(b, next, out)
		if sent {
			return // next's goroutine owns inv now
		}
		if err != nil && err != errCalleeBusy { // a busy callee is skipped like one that left
			if caller.dropCall(inv) {
				b.callStart = inv.start
				caller.replyError(b, codec.CALL, inv.callerReq, ErrInvalidArgument, "payload cannot be sent to the callee: "+err.Error())
				b.callStart = 0
			}
			router.release(inv)
			return
		}
		kc.tried = append(kc.tried, next) // left meanwhile
	}
	if caller.dropCall(inv) {
		b.callStart = inv.start
		caller.replyError(b, codec.CALL, inv.callerReq, ErrNoAvailableCallee, "no callee of "+quote(unsafeBytes(inv.reg.uri))+" is available")
		b.callStart = 0
	}
	router.release(inv)
}

// pickUntried chooses the callee after from (which answered unavailable)
// under reg's policy, skipping those in tried: roundrobin and first take
// the next one in registration order, last the one before, random any
// other; single has no other. nil when none is left.
func (reg *registration) pickUntried(b *Batch, from *Session, tried []*Session) *Session {
	cs := reg.calleeList()
	n := len(cs)
	untried := func(c *Session) bool {
		for _, t := range tried {
			if t == c {
				return false
			}
		}
		return true
	}
	at := -1
	for i, c := range cs {
		if c == from {
			at = i
		}
	}
	switch reg.invoke {
	case codec.InvokeSingle:
		return nil
	case codec.InvokeRandom:
		k := 0
		for _, c := range cs {
			if untried(c) {
				k++
			}
		}
		if k == 0 {
			return nil
		}
		j := int(b.rng.Uint64() % uint64(k))
		for _, c := range cs {
			if untried(c) {
				if j == 0 {
					return c
				}
				j--
			}
		}
		return nil
	}
	step := 1
	if reg.invoke == codec.InvokeLast {
		step = n - 1 // one back, modulo n
		if at < 0 {
			at = 0
		}
	}
	for i := 1; i <= n; i++ {
		c := cs[((at+i*step)%n+n)%n]
		if untried(c) {
			return c
		}
	}
	return nil
}
