package core

import (
	"sync"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// Conn is the router side of one transport connection. A transport can
// outlive the WAMP sessions it carries: after GOODBYE the client may HELLO
// again on the same Conn and gets a new Session.
//
// Receive and Detach are called by the transport's driver, one at a time.
type Conn struct {
	r      *Router
	t      Transport
	codec  codec.Codec
	format codec.Format
	// mu serialises the driver's Receive and Detach with Shutdown from
	// other goroutines; uncontended on the hot path.
	mu       sync.Mutex
	sess     *Session   // current session; nil between sessions
	hs       *handshake // authentication in progress (handshake.go)
	state    connState
	detached bool
	held     bool      // the driver holds mu for a run of Receive calls (Hold); driver-only
	raw      []byte    // the message being handled (a view), for Session.hold
	trusted  *Identity // set by Router.ConnectLocalAs: skips authentication
}

type connState uint8

const (
	connIdle           connState = iota // waiting for HELLO
	connEstablished                     // session open
	connShuttingDown                    // router sent GOODBYE, waiting for the reply
	connClosed                          // ABORTed or detached; input is ignored
	connAuthenticating                  // HELLO or AUTHENTICATE handed to the auth worker pool
	connChallenging                     // CHALLENGE sent, waiting for AUTHENTICATE
)

// then passes every incoming message to Conn.Receive and reports the end of
// the connection with Conn.Detach.
func (r *Router) Attach(t Transport) *Conn {
	f := t.Format()
	c := &Conn{r: r, t: t, codec: codec.ByFormat(f), format: f}
	r.stats.conns.Add(1)
	return c
}

// Transport returns the connection's transport.
func (c *Conn) Transport() Transport { return c.t }

// Session returns the current session, or nil.
func (c *Conn) Session() *Session { return c.sess }

// Receive handles one complete WAMP message from the peer. data is only
// read during the call. Output produced for any session is queued on the
// transports and recorded in b for flushing.
func (c *Conn) Receive(b *Batch, data []byte) {
	if c.held {
		c.receive(b, data)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.receive(b, data)
}

// Hold takes the connection's lock for the Receive calls that follow, until
// Unhold: a driver that hands over several messages from one read takes the
// lock once per read rather than once per message (on a 1→1 publish that
// was ~5% of the router's CPU). Only the driver calls Hold, Receive and
// Unhold, and nothing else is called in between that could wait on the
// connection; Shutdown from other goroutines waits until Unhold.
func (c *Conn) Hold() {
	c.mu.Lock()
	c.held = true
}

// Unhold releases the lock Hold took.
func (c *Conn) Unhold() {
	c.held = false
	c.mu.Unlock()
}

func (c *Conn) receive(b *Batch, data []byte) {
	if c.state == connClosed {
		return
	}
	if c.state == connEstablished && c.sess.holding {
		// An earlier action waits for its authorization: keep the order.
		c.sess.queue(b, data)
		return
	}
	m := &b.in
	m.MaxDepth = c.r.cfg.MaxDepth
	if err := c.codec.Decode(m, data); err != nil {
		c.r.stats.decodeErrors.Add(1)
		c.violation(b, "malformed message: "+err.Error())
		return
	}
	b.counts.countIn(m.Type)
	b.inRaw = data
	switch c.state {
	case connIdle:
		switch m.Type {
		case codec.HELLO:
			c.handleHello(b, m)
		case codec.ABORT:
			c.close()
		default:
			c.violation(b, "received "+m.Type.String()+" before the session was established")
		}
	case connEstablished:
		c.raw = data
		c.sess.dispatch(b, m)
		c.raw = nil
	case connAuthenticating, connChallenging:
		c.receiveAuthenticating(b, m)
	case connShuttingDown:
		switch m.Type {
		case codec.GOODBYE:
			c.endSession(b)
			c.state = connIdle
		case codec.ABORT:
			c.endSession(b)
			c.close()
		}
		// Anything else is ignored while closing (state chart edge 14).
	}
}

// Detach ends the connection's session, if any; the driver calls it once
// when the transport has closed.
func (c *Conn) Detach() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.detached {
		return
	}
	c.detached = true
	if c.hs != nil {
		c.endHandshake(c.hs)
	}
	if c.sess != nil {
		b := AcquireBatch()
		c.endSession(b)
		b.Release()
	}
	c.state = connClosed
	c.r.stats.conns.Add(-1)
}

func (c *Conn) close() {
	c.state = connClosed
	c.t.Close()
}

// violation answers a protocol error: ABORT wamp.error.protocol_violation,
// dispose of the session and drop the transport.
func (c *Conn) violation(b *Batch, msg string) {
	c.r.stats.violations.Add(1)
	// Aggregated: many peers misbehaving at once must not flood the log.
	c.r.rlog.Warn("protocol_violation", "protocol violation", "session", c.sessID(), "error", msg)
	c.sendAbort(b, ErrProtocolViolation, msg)
	c.endSession(b)
	c.close()
}

func (c *Conn) sessID() uint64 {
	if c.sess != nil {
		return c.sess.id
	}
	return 0
}

func (c *Conn) sendAbort(b *Batch, reason, msg string) { c.sendClose(b, codec.ABORT, reason, msg) }

func (c *Conn) sendGoodbye(b *Batch, reason, msg string) { c.sendClose(b, codec.GOODBYE, reason, msg) }

// sendClose sends ABORT or GOODBYE (same layout) with an optional message.
func (c *Conn) sendClose(b *Batch, t codec.Type, reason, msg string) {
	out := &b.out
	out.Reset()
	out.Type = t
	out.URI = unsafeBytes(reason)
	if msg != "" {
		out.Details.SetString(codec.KeyMessage, unsafeBytes(msg))
	}
	_ = b.send(c.t, out)
}

// endSession disposes of the current session: its subscriptions,
// registrations, calls and invocations, and its place in the realm.
func (c *Conn) endSession(b *Batch) {
	s := c.sess
	if s == nil {
		return
	}
	c.sess = nil
	r := s.realm
	// The session has sent or been sent GOODBYE or ABORT, so nothing may
	// reach it any more — not even the meta events about its own
	// departure, to which it may be subscribed: it leaves every
	// subscription before any of them is published (the dealer's events
	// first, then the broker's, as before).
	var small [16]bool
	deleted := small[:0]
	for _, sub := range s.subs {
		deleted = append(deleted, r.unsubscribe(s, sub))
	}
	// Testaments go out once the session can no longer receive them.
	s.publishTestaments(b)
	s.leaveDealer(b)
	for i, sub := range s.subs {
		r.meta.unsubscribed(b, s, sub, deleted[i])
	}
	s.subs = nil
	r.sessions.remove(s)
	c.r.stats.sessions.Add(-1)
	r.meta.left(b, s)
}

// Shutdown sends GOODBYE with reason to the connection's session (or closes
// an idle connection) — used when the router or a realm shuts down.
func (c *Conn) Shutdown(b *Batch, reason, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case connEstablished:
		c.sendGoodbye(b, reason, msg)
		c.state = connShuttingDown
	case connIdle:
		c.close()
	}
}

// handleHello opens a session: pick the realm, authenticate, WELCOME.
func (c *Conn) handleHello(b *Batch, m *codec.Message) {
	r := c.r
	if !trie.ValidURI(m.URI, 0) {
		c.sendAbort(b, ErrInvalidURI, "invalid realm URI "+quote(m.URI))
		c.close()
		return
	}
	d := &m.Details
	if d.Roles&(codec.RolePublisher|codec.RoleSubscriber|codec.RoleCaller|codec.RoleCallee) == 0 {
		c.violation(b, "HELLO announces no client role")
		return
	}
	if r.closing.Load() {
		// Shutdown has already sent GOODBYE to the sessions it found; one
		// joining now would be missed.
		c.sendAbort(b, CloseSystemShutdown, "the router is shutting down")
		c.close()
		return
	}
	realm := r.realm(m.URI)
	if realm == nil {
		c.sendAbort(b, ErrNoSuchRealm, "no realm "+quote(m.URI)+" on this router")
		c.close()
		return
	}
	if c.trusted != nil {
		// The router's own in-process session (Router.ConnectLocalAs).
		c.open(b, realm, *c.trusted, d.Roles, d.Features, 0)
		return
	}
	a, h := realm.pickAuthenticator(c, d)
	if ch, ok := a.(Challenger); ok {
		c.beginChallenge(b, realm, ch, m, h)
		return
	}
	var id Identity
	var err *AuthError
	switch {
	case a != nil:
		id, err = a.Authenticate(h)
	case len(realm.authenticators) > 0:
		err = &AuthError{ErrNoAuthMethod, "no acceptable authmethod offered"}
	default:
		id, err = realm.authenticate(b, c, m)
	}
	if err != nil {
		c.sendAbort(b, err.URI, err.Message)
		c.close()
		return
	}
	c.open(b, realm, id, d.Roles, d.Features, 0)
}
