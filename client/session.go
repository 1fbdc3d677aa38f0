package client

import (
	"fmt"

	"github.com/zwamp/zwamp/codec"
)

// Features the client announces, per role. Each is implemented here.
var helloRoles = map[string]any{
	"publisher": features(
		"publisher_exclusion", "subscriber_blackwhite_listing", "publisher_identification",
	),
	"subscriber": features(
		"pattern_based_subscription", "publisher_identification",
	),
	"caller": features(
		"progressive_call_results", "call_canceling", "call_timeout", "caller_identification",
	),
	"callee": features(
		"progressive_call_results", "call_canceling", "caller_identification",
		"pattern_based_registration", "shared_registration",
	),
}

func features(names ...string) map[string]any {
	f := make(map[string]any, len(names))
	for _, n := range names {
		f[n] = true
	}
	return map[string]any{"features": f}
}

// join runs the opening handshake on the calling goroutine, before the
// reader starts.
func (c *Client) join(cfg *Config) error {
	d := map[string]any{"agent": Agent, "roles": helloRoles}
	if cfg.AuthID != "" {
		d["authid"] = cfg.AuthID
	}
	if len(cfg.AuthMethods) > 0 {
		d["authmethods"] = cfg.AuthMethods
	}
	if cfg.AuthExtra != nil {
		d["authextra"] = cfg.AuthExtra
	}
	dict, err := codec.EncodeGo(c.f, d)
	if err != nil {
		return fmt.Errorf("client: encode HELLO details: %w", err)
	}
	if _, err := c.write(nil, func(m *codec.Message) {
		m.Type = codec.HELLO
		m.URI = view(cfg.Realm)
		m.Dict = dict
	}); err != nil {
		return fmt.Errorf("client: join %q: %w", cfg.Realm, err)
	}
	for {
		data, err := c.t.Recv()
		if err != nil {
			return fmt.Errorf("client: join %q: transport: %w", cfg.Realm, err)
		}
		m := &c.in
		if err := c.cd.Decode(m, data); err != nil {
			c.sendAbort(uriProtocolViolation, "malformed message: "+err.Error())
			return fmt.Errorf("client: join %q: router sent a malformed message: %w", cfg.Realm, err)
		}
		switch m.Type {
		case codec.WELCOME:
			c.id = m.ID
			c.details = c.readDict(m.Dict)
			c.dealer = m.Details.Features[codec.RoleIndex(codec.RoleDealer)]
			c.broker = m.Details.Features[codec.RoleIndex(codec.RoleBroker)]
			return nil
		case codec.ABORT:
			return c.abortError(m)
		case codec.CHALLENGE:
			if err := c.answerChallenge(cfg, m); err != nil {
				return fmt.Errorf("client: join %q: %w", cfg.Realm, err)
			}
		default:
			c.sendAbort(uriProtocolViolation, "received "+m.Type.String()+" before WELCOME")
			return fmt.Errorf("client: join %q: router sent %v before WELCOME", cfg.Realm, m.Type)
		}
	}
}

func (c *Client) answerChallenge(cfg *Config, m *codec.Message) error {
	method := string(m.URI)
	if cfg.Authenticate == nil {
		c.sendAbort(uriCannotAuthenticate, "no authenticator for "+method)
		return &Error{URI: uriCannotAuthenticate, Args: []any{"challenged with " + method + " but Config.Authenticate is nil"}}
	}
	extra := c.readDict(m.Dict)
	sig, ext, err := cfg.Authenticate(method, extra)
	if err != nil {
		c.sendAbort(uriCannotAuthenticate, err.Error())
		return fmt.Errorf("authenticate (%s): %w", method, err)
	}
	var raw codec.Raw
	if ext == nil {
		ext = map[string]any{}
	}
	if raw, err = codec.EncodeGo(c.f, ext); err != nil {
		return fmt.Errorf("encode AUTHENTICATE extra: %w", err)
	}
	_, err = c.write(nil, func(m *codec.Message) {
		m.Type = codec.AUTHENTICATE
		m.URI = view(sig)
		m.Dict = raw
	})
	return err
}

// sendAbort sends ABORT, best effort.
func (c *Client) sendAbort(reason, msg string) {
	_, _ = c.write(nil, func(m *codec.Message) {
		m.Type = codec.ABORT
		m.URI = view(reason)
		if msg != "" {
			m.Details.SetString(codec.KeyMessage, view(msg))
		}
	})
}

// readLoop is the reader goroutine: it decodes every message from the
// router and hands it on. It never runs user code.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	for {
		data, err := c.t.Recv()
		if err != nil {
			c.end(fmt.Errorf("client: transport: %w", err))
			c.t.Close()
			return
		}
		c.rseq++
		if !c.handle(data) {
			c.t.Close()
			return
		}
	}
}

// handle dispatches one message; false ends the read loop.
func (c *Client) handle(data []byte) bool {
	m := &c.in
	if err := c.cd.Decode(m, data); err != nil {
		c.violation(fmt.Sprintf("malformed message: %v", err))
		return false
	}
	switch m.Type {
	case codec.EVENT:
		c.onEvent(m)
	case codec.RESULT:
		c.onResult(m)
	case codec.INVOCATION:
		c.onInvocation(m)
	case codec.INTERRUPT:
		c.onInterrupt(m)
	case codec.PUBLISHED, codec.SUBSCRIBED, codec.UNSUBSCRIBED, codec.REGISTERED, codec.UNREGISTERED:
		return c.onAck(m)
	case codec.ERROR:
		return c.onError(m)
	case codec.GOODBYE:
		if c.closing.Load() {
			// The answer to our GOODBYE.
			c.goodbyeOnce.Do(func() { close(c.goodbye) })
			c.end(nil)
			return false
		}
		_ = c.writeGoodbye(uriGoodbyeAndOut)
		c.end(c.abortError(m))
		return false
	case codec.ABORT:
		c.end(c.abortError(m))
		return false
	default:
		c.violation("received " + m.Type.String() + " during the session")
		return false
	}
	return true
}

// violation answers a protocol error by the router: ABORT
// wamp.error.protocol_violation and end the session.
func (c *Client) violation(msg string) {
	c.log.Warn("zwamp client: protocol violation by the router", "session", c.id, "error", msg)
	c.abort(uriProtocolViolation, msg, &Error{URI: uriProtocolViolation, Args: []any{msg}})
}

// takeLocked returns the request pending under id if it is of type want,
// and removes it unless keep. false means the pending request is of
// another type: the router answered the wrong request. No pending request
// (forgotten after a timeout or cancellation) yields nil, true. Client.mu
// must be held.
func (c *Client) takeLocked(id uint64, want codec.Type, keep bool) (*request, bool) {
	r := c.reqs[id]
	if r == nil {
		return nil, true
	}
	if r.typ != want {
		return nil, false
	}
	if !keep {
		delete(c.reqs, id)
	}
	return r, true
}

// onAck handles PUBLISHED, SUBSCRIBED, UNSUBSCRIBED, REGISTERED and
// UNREGISTERED. Handlers are installed here, on the reader goroutine,
// so that an EVENT or INVOCATION that follows at once finds them.
func (c *Client) onAck(m *codec.Message) bool {
	c.mu.Lock()
	r, ok := c.takeLocked(m.Request, ackOf[m.Type], false)
	var typ codec.Type
	var late bool
	if r == nil {
		if typ, late = c.gaveUp[m.Request]; late {
			delete(c.gaveUp, m.Request)
		}
	}
	if r != nil {
		switch {
		case r.sub != nil:
			c.installSubLocked(r.sub, m.ID)
		case r.reg != nil:
			r.reg.id = m.ID
			c.regs[m.ID] = r.reg
		}
	}
	c.mu.Unlock()
	if !ok {
		c.violation(m.Type.String() + " answers a request of another type")
		return false
	}
	if r == nil {
		c.log.Debug("zwamp client: answer to a request no longer pending", "type", m.Type, "request", m.Request)
		if late && ackOf[m.Type] == typ {
			// Not on the reader: undoing waits for the router's answer.
			go c.undo(typ, m.ID)
		}
		return true
	}
	r.ch <- reply{id: m.ID}
	return true
}

// undo removes a subscription or registration the router confirmed after
// its Subscribe or Register had given up waiting. A subscription id the
// router shares with a live Subscription of ours (a later Subscribe to the
// same topic) is left alone; subMu keeps such a Subscribe from racing the
// UNSUBSCRIBE, as in Unsubscribe.
func (c *Client) undo(typ codec.Type, id uint64) {
	var err error
	switch typ {
	case codec.SUBSCRIBE:
		c.subMu.Lock()
		defer c.subMu.Unlock()
		c.mu.Lock()
		owned := c.subs[id] != nil
		c.mu.Unlock()
		if owned || c.ended.Load() {
			return
		}
		err = c.unsubscribe(id, "(abandoned subscription)")
	case codec.REGISTER:
		err = c.unregister(id, "(abandoned registration)")
	}
	if err != nil && !c.ended.Load() {
		c.log.Warn("zwamp client: cannot undo a request that timed out", "type", typ, "id", id, "error", err)
	}
}

// onError handles ERROR answering one of our requests.
func (c *Client) onError(m *codec.Message) bool {
	c.mu.Lock()
	r, ok := c.takeLocked(m.Request, m.ErrorType, false)
	if r == nil {
		delete(c.gaveUp, m.Request) // refused after all: nothing to undo
	}
	c.mu.Unlock()
	if !ok {
		c.violation("ERROR for " + m.ErrorType.String() + " answers a request of another type")
		return false
	}
	if r == nil {
		c.log.Debug("zwamp client: error for a request no longer pending", "type", m.ErrorType, "request", m.Request, "error", string(m.URI))
		return true
	}
	e := &Error{URI: string(m.URI), Details: c.readDict(m.Dict)}
	var err error
	if e.Args, e.Kwargs, err = c.readPayload(m); err != nil {
		c.log.Warn("zwamp client: undecodable ERROR payload", "error", err)
	}
	r.ch <- reply{err: e}
	return true
}

// onResult handles RESULT, progressive or final.
func (c *Client) onResult(m *codec.Message) {
	progress := m.Details.Progress
	c.mu.Lock()
	r, ok := c.takeLocked(m.Request, codec.CALL, progress)
	c.mu.Unlock()
	if !ok {
		c.log.Warn("zwamp client: RESULT for a request that is not a call", "request", m.Request)
	}
	if r == nil {
		return
	}
	if progress && !r.progress {
		return // not asked for; a router should not send it
	}
	res, err := c.toResult(m)
	if progress {
		if err != nil {
			c.log.Warn("zwamp client: undecodable progressive RESULT dropped", "request", m.Request, "error", err)
			return
		}
		r.mu.Lock()
		r.queue = append(r.queue, res)
		r.mu.Unlock()
		select {
		case r.notify <- struct{}{}:
		default:
		}
		return
	}
	if err != nil {
		err = fmt.Errorf("client: undecodable RESULT payload: %w", err)
		res = nil
	}
	r.ch <- reply{res: res, err: err}
}

func (c *Client) toResult(m *codec.Message) (*Result, error) {
	res := &Result{Details: c.readDict(m.Dict)}
	var err error
	if res.Args, res.Kwargs, err = c.readPayload(m); err != nil {
		return nil, err
	}
	return res, nil
}

// abortError turns an ABORT or GOODBYE into an *Error.
func (c *Client) abortError(m *codec.Message) *Error {
	e := &Error{URI: string(m.URI), Details: c.readDict(m.Dict)}
	e.Args, e.Kwargs, _ = c.readPayload(m)
	return e
}
