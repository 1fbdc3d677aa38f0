package core

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/zwamp/zwamp/codec"
)

// Session is one WAMP session: from WELCOME to GOODBYE, ABORT or the
// transport's end. Fields without a comment are written before the session
// is published to the realm and only read afterwards.
type Session struct {
	id       uint64
	conn     *Conn
	realm    *Realm
	format   codec.Format
	authID   string
	authRole string
	authMeth string
	authProv string
	roles    codec.Role
	features [codec.NumRoles]codec.Feature
	joined   time.Time

	// Owned by the conn's driver goroutine.
	lastReq   uint64 // last request id received (sequential check)
	lastTopic []byte // the last topic published to that passed the URI checks
	subs      []*subscription
	// Authorization pending (authorize.go): held[0] is the action waiting
	// for its Decision, the rest arrived after it. Touched under conn.mu.
	held    [][]byte
	holding bool
	resumed Decision
	azState any
	// clusterAns is the cluster's answer to the REGISTER being replayed
	// (cluster.go); touched under conn.mu.
	clusterAns *clusterAnswer
	// peer marks a session that stands for one on another node (JoinPeer).
	peer bool
	// testaments by scope (testament.go); quietEnd suppresses them and
	// on_leave when wamp.session.kill_all ends the session.
	testaments [numScopes][]testament
	quietEnd   bool
	lastHist   *topicHistory // history ring of the last topic published to, if any

	mu      sync.Mutex // guards the fields below
	closed  bool
	regs    []*registration        // also removed from by wamp.registration.remove_callee
	calls   map[uint64]*invocation // as caller, by CALL.Request
	invs    map[uint64]*invocation // as callee, by INVOCATION.Request
	lastInv uint64                 // last INVOCATION.Request issued
}

// Role indexes into Session.features.
const (
	rolePublisher = iota
	roleSubscriber
	roleCaller
	roleCallee
)

// ID returns the WAMP session id.
func (s *Session) ID() uint64 { return s.id }

// dispatch routes one message of an established session.
func (s *Session) dispatch(b *Batch, m *codec.Message) {
	switch m.Type {
	case codec.PUBLISH, codec.SUBSCRIBE, codec.UNSUBSCRIBE, codec.REGISTER, codec.UNREGISTER:
		// CALL ids are checked by handleCall: a progressive call's chunks
		// repeat its first id.
		if !s.checkRequestID(b, m) {
			return
		}
	}
	s.handle(b, m)
}

// handle routes one message whose request id has been checked.
func (s *Session) handle(b *Batch, m *codec.Message) {
	switch m.Type {
	case codec.PUBLISH:
		s.handlePublish(b, m)
	case codec.CALL:
		s.handleCall(b, m)
	case codec.YIELD:
		s.handleYield(b, m)
	case codec.SUBSCRIBE:
		s.handleSubscribe(b, m)
	case codec.UNSUBSCRIBE:
		s.handleUnsubscribe(b, m)
	case codec.REGISTER:
		s.handleRegister(b, m)
	case codec.UNREGISTER:
		s.handleUnregister(b, m)
	case codec.ERROR:
		if m.ErrorType != codec.INVOCATION {
			s.violation(b, "ERROR with REQUEST.Type "+m.ErrorType.String()+" sent to a router")
			return
		}
		s.handleInvocationError(b, m)
	case codec.CANCEL:
		s.handleCancel(b, m)
	case codec.GOODBYE:
		c := s.conn
		c.sendGoodbye(b, CloseGoodbyeAndOut, "")
		c.endSession(b)
		c.state = connIdle
	case codec.ABORT:
		c := s.conn
		c.endSession(b)
		c.close()
	default:
		s.violation(b, "received "+m.Type.String()+" after the session was established")
	}
}

// checkRequestID enforces sequential session-scope request ids
// (building_blocks.md, protocol errors) unless Config.LaxRequestIDs.
func (s *Session) checkRequestID(b *Batch, m *codec.Message) bool {
	if s.realm.router.cfg.LaxRequestIDs {
		return true
	}
	want := nextRequestID(s.lastReq)
	if m.Request != want {
		s.violation(b, "non-sequential request id "+strconv.FormatUint(m.Request, 10)+", want "+strconv.FormatUint(want, 10))
		return false
	}
	s.lastReq = want
	return true
}

func (s *Session) violation(b *Batch, msg string) { s.conn.violation(b, msg) }

// send encodes m in s's serializer and queues it on s's transport.
func (s *Session) send(b *Batch, m *codec.Message) error {
	return b.send(s.conn.t, m)
}

// ack sends a request's acknowledgement (SUBSCRIBED, PUBLISHED, ...): the
// request id and, where the layout has one, a router-scope or global id.
func (s *Session) ack(b *Batch, t codec.Type, req, id uint64) {
	out := &b.out
	out.Reset()
	out.Type = t
	out.Request = req
	out.ID = id
	_ = s.send(b, out)
}

// disclose writes s's identity into d under first (publisher or caller)
// and the two keys after it (…_authid, …_authrole).
func (s *Session) disclose(d *codec.Details, first codec.Key) {
	d.SetUint(first, s.id)
	if s.authID != "" {
		d.SetString(first+1, unsafeBytes(s.authID))
	}
	if s.authRole != "" {
		d.SetString(first+2, unsafeBytes(s.authRole))
	}
}

// disclose relies on this key order; these fail to compile if it changes.
var (
	_ = [1]struct{}{}[codec.KeyPublisherAuthID-codec.KeyPublisher-1]
	_ = [1]struct{}{}[codec.KeyPublisherAuthRole-codec.KeyPublisher-2]
	_ = [1]struct{}{}[codec.KeyCallerAuthID-codec.KeyCaller-1]
	_ = [1]struct{}{}[codec.KeyCallerAuthRole-codec.KeyCaller-2]
)

// takeByID removes the entry with router-scope id from a session's
// subscriptions or registrations (order does not matter) and returns it.
func takeByID[T interface{ routerID() uint64 }](list *[]T, id uint64) (T, bool) {
	l := *list
	for i, e := range l {
		if e.routerID() == id {
			last := len(l) - 1
			l[i] = l[last]
			var zero T
			l[last] = zero
			*list = l[:last]
			return e, true
		}
	}
	var zero T
	return zero, false
}

// replyError sends ERROR for a request of s; msg, when set, becomes the
// error's single argument (the convention of Crossbar and Autobahn).
func (s *Session) replyError(b *Batch, reqType codec.Type, req uint64, uri, msg string) {
	var args codec.Raw
	if msg != "" {
		if a, err := codec.EncodeGo(s.format, []any{msg}); err == nil {
			args = a
		}
	}
	s.replyErrorArgs(b, reqType, req, uri, args)
}

// unsafeBytes views a string's bytes without copying. The result must not
// be modified; encoders only read it.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Info describes a session for authorizers and the meta API.
type Info struct {
	ID           uint64
	Realm        string
	AuthID       string
	AuthRole     string
	AuthMethod   string
	AuthProvider string
	Transport    TransportInfo
}

// Info returns a description of s.
func (s *Session) Info() Info {
	return Info{ID: s.id, Realm: s.realm.name, AuthID: s.authID, AuthRole: s.authRole,
		AuthMethod: s.authMeth, AuthProvider: s.authProv, Transport: s.conn.t.Info()}
}

// AuthID returns the session's authid.
func (s *Session) AuthID() string { return s.authID }

// AuthRole returns the session's authrole.
func (s *Session) AuthRole() string { return s.authRole }

// Realm returns the session's realm.
func (s *Session) Realm() *Realm { return s.realm }

// AuthorizerState returns what the realm's authorizer stored on s with
// SetAuthorizerState (its per-session decision cache), or nil. Call it only
// from the authorizer's Decide (the session's driver goroutine).
func (s *Session) AuthorizerState() any { return s.azState }

// SetAuthorizerState stores per-session authorizer state; it lives and dies
// with the session. Call it only from Decide.
func (s *Session) SetAuthorizerState(v any) { s.azState = v }

// counter is an atomic statistic.
type counter = atomic.Int64
