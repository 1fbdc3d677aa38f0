package core

import "github.com/zwamp/zwamp/codec"

// Decision is an authorizer's answer to one action, a set of bits.
type Decision uint8

// Decision bits.
const (
	// Allow lets the action proceed; without it the action is refused.
	Allow Decision = 1 << iota
	// Pending means the answer comes later: the router holds the message
	// (and every later message of the session, in order) until the
	// authorizer calls Session.Resume with the final Decision.
	Pending
	// DiscloseForce discloses the publisher's or caller's identity whether
	// or not the client asked for it (PUBLISH and CALL).
	DiscloseForce
	// DiscloseForbid refuses an action whose options ask for disclose_me,
	// with ERROR wamp.error.option_disallowed.disclose_me.
	DiscloseForbid
	// Failed marks a refusal caused by the authorizer failing (an error, a
	// timeout, an overload) rather than a "no": the ERROR is
	// wamp.error.authorization_failed instead of wamp.error.not_authorized.
	Failed

	// decided marks Session.resumed as set (a resumed refusal is 0 otherwise).
	decided Decision = 1 << 7
)

// ErrDiscloseMeDisallowed refuses a disclose_me the session's role may not ask for.
const ErrDiscloseMeDisallowed = "wamp.error.option_disallowed.disclose_me"

// Decider is an Authorizer that answers with a Decision: it sees the
// action's options, can force or forbid identity disclosure, and can answer
// later (Pending). The router prefers Decide over Authorize when the
// realm's Authorizer implements it.
//
// Only one action per session is pending at a time (the session's later
// messages wait behind it), so Resume needs no token; calling it more than
// once per Pending answer would decide a later action.
//
// Decide runs on the session's driver goroutine for every PUBLISH,
// SUBSCRIBE, CALL and REGISTER: it must not block and should not allocate.
// uri and d are only valid during the call; a Pending answer must copy what
// it needs before returning and call s.Resume exactly once, from any
// goroutine, when it has the answer.
type Decider interface {
	Decide(s *Session, a Action, uri []byte, d *codec.Details) Decision
}

// RoleChecker is implemented by authorizers that know which roles exist in
// a realm: a session whose authrole is unknown is refused at join with
// ABORT wamp.error.no_such_role.
type RoleChecker interface {
	HasRole(role string) bool
}

// authzHook is the realm's current authorizer, swapped atomically by
// Realm.SetAuthorizer.
type authzHook struct {
	az  Authorizer
	dec Decider
}

// maxHeld bounds the messages a session may queue behind an action whose
// authorization is pending; past it the session is aborted.
const maxHeld = 1024

// SetAuthorizer replaces the realm's authorizer (nil allows everything).
// The next action of every session uses the new one; actions already
// pending finish with the old.
func (r *Realm) SetAuthorizer(a Authorizer) {
	if a == nil {
		r.authz.Store(nil)
		return
	}
	h := &authzHook{az: a}
	h.dec, _ = a.(Decider)
	r.authz.Store(h)
}

// Authorizer returns the realm's authorizer, or nil.
func (r *Realm) Authorizer() Authorizer {
	if h := r.authz.Load(); h != nil {
		return h.az
	}
	return nil
}

// HasRole reports whether a session with role may join the realm: true
// unless the realm's authorizer is a RoleChecker that does not know role.
// Authenticators may call it to refuse early.
func (r *Realm) HasRole(role string) bool {
	if h := r.authz.Load(); h != nil {
		if rc, ok := h.az.(RoleChecker); ok {
			return rc.HasRole(role)
		}
	}
	return true
}

// decide asks the realm's authorizer about one action of s.
func (s *Session) decide(a Action, uri []byte, d *codec.Details) Decision {
	if dec := s.resumed; dec != 0 {
		// Re-running a held message: the answer has arrived.
		s.resumed = 0
		return dec &^ decided
	}
	h := s.realm.authz.Load()
	if h == nil {
		return Allow
	}
	if h.dec != nil {
		return h.dec.Decide(s, a, uri, d)
	}
	if h.az.Authorize(s, a, uri) {
		return Allow
	}
	return 0
}

// allowedNow reports whether s may do a on uri, for the checks a meta
// procedure makes on the URI it acts on (get_events, add_testament). Such a
// check cannot hold its message like an action can, so a decision still
// pending at a dynamic authorizer counts as a refusal; the authorizer's
// cached answer decides the caller's next try.
func (s *Session) allowedNow(a Action, uri []byte) bool {
	var d codec.Details
	dec := s.decide(a, uri, &d)
	return dec&Allow != 0 && dec&Pending == 0
}

// authorized applies the authorizer's decision on m (an action of type
// reqType): it reports whether the handler goes on. A refusal is answered
// with ERROR (for PUBLISH only when acknowledged); a pending answer holds
// the message; forced disclosure is written into m's options.
func (s *Session) authorized(b *Batch, a Action, reqType codec.Type, m *codec.Message) bool {
	d := &m.Details
	dec := s.decide(a, m.URI, d)
	if dec&Pending != 0 {
		s.hold()
		return false
	}
	reply := reqType != codec.PUBLISH || d.Acknowledge
	if dec&Allow == 0 {
		if reply {
			uri := ErrNotAuthorized
			if dec&Failed != 0 {
				uri = ErrAuthorizationFailed
			}
			s.replyError(b, reqType, m.Request, uri, "not authorized to "+a.String()+" "+quote(m.URI))
		}
		return false
	}
	if dec&DiscloseForbid != 0 && d.DiscloseMe {
		if reply {
			s.replyError(b, reqType, m.Request, ErrDiscloseMeDisallowed, "this session may not ask for disclose_me")
		}
		return false
	}
	if dec&DiscloseForce != 0 {
		d.DiscloseMe = true
	}
	return true
}

// hold queues the message being handled (the conn's current raw bytes)
// until Resume; the session's later messages queue behind it.
func (s *Session) hold() {
	c := s.conn
	cp := append([]byte(nil), c.raw...)
	// In front: during Resume's drain the message being re-run was taken
	// off the queue, and it goes back first.
	s.held = append(s.held, nil)
	copy(s.held[1:], s.held)
	s.held[0] = cp
	s.holding = true
	s.realm.router.stats.held.Add(1)
}

// queue appends a message that arrived while an earlier one is held.
func (s *Session) queue(b *Batch, data []byte) {
	if len(s.held) >= maxHeld {
		c := s.conn
		c.sendAbort(b, ErrAuthorizationFailed, "too many messages waiting for the authorizer")
		c.endSession(b)
		c.close()
		return
	}
	s.held = append(s.held, append([]byte(nil), data...))
}

// Resume delivers the final decision for the action s's authorizer
// answered Pending: the held message is routed or refused, then the
// messages queued behind it are handled in order (until one is pending
// again). Safe to call from any goroutine; a session that has ended since
// ignores it. The output is flushed before Resume returns.
func (s *Session) Resume(dec Decision) {
	s.resumeHeld(func() { s.resumed = (dec &^ Pending) | decided }, func() { s.resumed = 0 })
}

// resumeHeld re-runs the held message with the answer it waited for (set
// before the replay, reset after it), then the messages queued behind it.
// It reports whether a held message was still waiting.
func (s *Session) resumeHeld(set, reset func()) bool {
	c := s.conn
	b := AcquireBatch()
	c.mu.Lock()
	waiting := c.sess == s && s.holding && len(s.held) > 0
	if waiting {
		s.holding = false
		first := s.held[0]
		s.held = s.held[1:]
		set()
		c.replay(b, first)
		reset()
		for !s.holding && len(s.held) > 0 && c.sess == s && c.state == connEstablished {
			next := s.held[0]
			s.held[0] = nil
			s.held = s.held[1:]
			c.receive(b, next)
		}
		if len(s.held) == 0 {
			s.held = nil
		}
	}
	c.mu.Unlock()
	b.Release()
	return waiting
}

// replay re-runs a held message whose request id was already checked.
func (c *Conn) replay(b *Batch, data []byte) {
	m := &b.in
	m.MaxDepth = c.r.cfg.MaxDepth
	if err := c.codec.Decode(m, data); err != nil {
		// It decoded when it was first received.
		c.violation(b, "malformed message: "+err.Error())
		return
	}
	c.raw = data
	b.inRaw = data // recorded and forwarded as the publication
	c.sess.handle(b, m)
	c.raw = nil
}

// ConnectLocalAs opens an in-process connection whose session joins with
// identity id, without authentication and whatever its HELLO says: for the
// router's own service sessions (the dynamic authorizer's caller,
// bridges), never for anything a remote peer controls. Its role need not
// be one the realm's authorizer knows (no ABORT wamp.error.no_such_role),
// though the authorizer still decides its actions. In-process sessions
// that the configuration should govern authenticate instead, with package
// auth's LocalTrust (authmethod "zwamp-local", the realm's trusted role).
func (r *Router) ConnectLocalAs(f codec.Format, id Identity) *Local {
	l := r.ConnectLocal(f)
	l.conn.trusted = &id
	return l
}

// Held reports how many actions have been held for a pending authorization
// since the router started.
func (r *Router) Held() int64 { return r.stats.held.Load() }
