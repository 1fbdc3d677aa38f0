package core

import (
	"strconv"

	"github.com/zwamp/zwamp/codec"
)

// dealerMeta answers the dealer's own wamp.* procedures, those that act on
// sessions rather than only read router state; it reports false for any
// other URI (the meta API's, or none).
func (s *Session) dealerMeta(b *Batch, m *codec.Message) bool {
	switch string(m.URI) {
	case "wamp.registration.remove_callee":
		s.removeCallee(b, m)
		return true
	}
	return false
}

// removeCallee implements wamp.registration.remove_callee(registration,
// callee, reason=None) — Crossbar's signature; the meta API text of the
// spec does not define the procedure — with registration revocation
// (rpc_registration_revocation.md): the callee is taken off the
// registration and, if it announced registration_revocation, sent
// [UNREGISTERED, 0, {"registration": id, "reason": reason}]. Pending
// invocations stay with the callee and may still be answered. On a realm
// with an authorizer, the CALL has passed it (package authz grants wamp.*
// only by name); on a realm without one it is off unless
// Config.AllowMetaKill.
func (s *Session) removeCallee(b *Batch, m *codec.Message) {
	r := s.realm
	if !r.router.cfg.AllowMetaKill && r.authz.Load() == nil {
		s.replyError(b, codec.CALL, m.Request, ErrNotAuthorized, "wamp.registration.remove_callee is disabled on this router (AllowMetaKill)")
		return
	}
	args, err := codec.ToList(m.Args)
	if err != nil {
		s.replyError(b, codec.CALL, m.Request, ErrInvalidArgument, err.Error())
		return
	}
	reg, merr := argReg(r, args)
	if merr != nil {
		s.replyError(b, codec.CALL, m.Request, merr.uri, merr.msg)
		return
	}
	calleeID, merr := argID(args, 1, "callee")
	if merr != nil {
		s.replyError(b, codec.CALL, m.Request, merr.uri, merr.msg)
		return
	}
	reason := ""
	if len(args) > 2 {
		reason, _ = args[2].(string)
	}
	if m.Kwargs.Present() {
		if kw, err := codec.ToDict(m.Kwargs); err == nil {
			if v, ok := kw["reason"].(string); ok {
				reason = v
			}
		}
	}
	var callee *Session
	for _, c := range reg.calleeList() {
		if c.id == calleeID {
			callee = c
		}
	}
	if callee == nil {
		s.replyError(b, codec.CALL, m.Request, ErrNoSuchSession, "session "+strconv.FormatUint(calleeID, 10)+" is not a callee of registration "+strconv.FormatUint(reg.id, 10))
		return
	}
	// The callee's regs are guarded by its lock, so its own UNREGISTER or
	// its end, on its poller, and this removal find the entry only once.
	callee.mu.Lock()
	_, mine := takeByID(&callee.regs, reg.id)
	closed := callee.closed
	callee.mu.Unlock()
	if !mine || closed {
		s.replyError(b, codec.CALL, m.Request, ErrNoSuchSession, "session "+strconv.FormatUint(calleeID, 10)+" is not a callee of registration "+strconv.FormatUint(reg.id, 10))
		return
	}
	deleted := r.unregister(callee, reg)
	if callee.features[roleCallee]&codec.FeatureRegistrationRevocation != 0 {
		details := map[string]any{"registration": reg.id}
		if reason != "" {
			details["reason"] = reason
		}
		if raw, err := codec.EncodeGo(callee.format, details); err == nil {
			out := &b.out
			out.Reset()
			out.Type = codec.UNREGISTERED
			out.Dict = raw
			_ = callee.send(b, out)
		}
	}
	r.meta.unregistered(b, callee, reg, deleted)
	out := &b.out
	out.Reset()
	out.Type = codec.RESULT
	out.Request = m.Request
	_ = s.send(b, out)
}
