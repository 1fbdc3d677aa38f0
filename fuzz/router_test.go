package fuzz

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/core"
)

// Everything top-level here is prefixed with router: the package is shared
// by the fuzz targets of every codec and parser.
//
// FuzzRouter drives one core.Router through the in-process transport with
// a sequence of operations decoded from the input, on routerSlots sessions
// plus an observer, and checks after every step that each session received
// exactly what a small model of the router (routerModel, written from the
// spec and the router's documented policies, not from its code paths)
// predicts, and that the router's tables (core.Router.Tables) match the
// model's. At the end every session leaves and every table must be empty.

var routerUpdateCorpus = flag.Bool("routercorpus.update", false, "rewrite testdata/fuzz/FuzzRouter/ seed files")

const (
	routerSlots    = 4 // fuzzed sessions; the observer is slot routerSlots
	routerObserver = routerSlots
	routerOpLen    = 5 // bytes per operation: op, slot, request-id selector, arg, flags
	routerMaxOps   = 96
)

// Operations (input byte % routerNumOps).
const (
	opJoin = iota
	opBadRealm
	opSubscribe
	opUnsubscribe
	opPublish
	opRegister
	opUnregister
	opCall
	opYield
	opError
	opGoodbye
	opAbort
	opDrop
	opBogus
	routerNumOps
)

var routerOpNames = [...]string{"join", "badrealm", "subscribe", "unsubscribe", "publish", "register",
	"unregister", "call", "yield", "error", "goodbye", "abort", "drop", "bogus"}

type routerPattern struct {
	uri   string
	match string // "" (exact), "prefix", "wildcard", or an unknown policy
}

// The URI sets are small so that operations meet: several sessions on one
// subscription, shared registrations, calls that find a callee.
var (
	routerSubPatterns = []routerPattern{{"t.a", ""}, {"t.b", ""}, {"t", "prefix"}, {"t.", "wildcard"},
		{"obs.t", ""}, {"t..a", ""}, {"", "prefix"}, {"t.a", "fuzzy"},
		{"wamp.session", "prefix"}, {"wamp.subscription", "prefix"}, {"wamp.registration.on_unregister", ""}}
	routerTopics      = []string{"t.a", "t.b", "obs.t", "t..a", "wamp.x", "u.a"}
	routerRegPatterns = []routerPattern{{"p.a", ""}, {"p.b", ""}, {"p", "prefix"}, {"obs.p", ""},
		{"wamp.p", ""}, {"p..a", ""}, {"p.a", "fuzzy"}}
	routerInvokes = []string{"", "single", "roundrobin", "first", "nonsense"}
	routerProcs   = []string{"p.a", "p.b", "p.c", "obs.p", "p..x", "wamp.session.count", "q.a"}
)

// routerQuietLog drops the router's debug logs (one per protocol violation).
var routerQuietLog = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))

var routerFormats = []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR}

var routerRoles = map[string]any{
	"publisher": map[string]any{}, "subscriber": map[string]any{},
	"caller": map[string]any{"features": map[string]any{"progressive_call_results": true}},
	"callee": map[string]any{"features": map[string]any{"progressive_call_results": true}},
}

// The model.

type mSub struct {
	pat     routerPattern
	id      uint64
	members []*mSess
}

type mReg struct {
	pat     routerPattern
	invoke  string // "single" or a shared policy
	id      uint64
	callees []*mSess
	cursor  uint64
}

type mInv struct {
	id        uint64
	caller    *mSess
	callerReq uint64
	callee    *mSess
	progress  bool
}

type mSess struct {
	slot    int
	lastReq uint64
	subs    []*mSub
	regs    []*mReg
	calls   map[uint64]*mInv
	invs    map[uint64]*mInv
	lastInv uint64
}

type connState int

const (
	connNone connState = iota
	connIdle
	connEstablished
	connClosed
)

type mSlot struct {
	l     *core.Local
	f     codec.Format
	state connState
	sess  *mSess
}

// routerMsg is what the harness compares of one message: its type and the
// fields the model predicts. anyID marks an id the router picks (a new
// subscription or registration id), learned from the reply.
type routerMsg struct {
	t        codec.Type
	req, id  uint64
	errType  codec.Type
	uri      string
	progress bool
	anyID    bool
	sub      *mSub // an EVENT's subscription, whose id may be learned in the same step
}

func (m routerMsg) String() string {
	s := m.t.String()
	if m.errType != 0 {
		s += "/" + m.errType.String()
	}
	id := fmt.Sprint(m.id)
	if m.anyID {
		id = "*"
	}
	return fmt.Sprintf("%s req=%d id=%s uri=%q progress=%v", s, m.req, id, m.uri, m.progress)
}

type routerModel struct {
	t      *testing.T
	r      *core.Router
	lax    bool
	slots  [routerSlots + 1]mSlot
	subs   []*mSub
	regs   []*mReg
	exp    [routerSlots + 1][]routerMsg
	newSub *mSub // created by the current step; its id comes with SUBSCRIBED
	newReg *mReg
	cur    string // the step being run, for failure messages
	trace  []string
}

func (m *routerModel) fatalf(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("after %d steps (%s):\n%s\n%s", len(m.trace), m.cur, strings.Join(m.trace, "\n"), fmt.Sprintf(format, args...))
}

func (m *routerModel) expect(slot int, msg routerMsg) { m.exp[slot] = append(m.exp[slot], msg) }

// send encodes v in slot's serializer and writes it.
func (m *routerModel) send(slot int, v ...any) {
	m.t.Helper()
	s := &m.slots[slot]
	b, err := codec.AppendGo(nil, s.f, v)
	if err != nil {
		m.fatalf("encode %v: %v", v, err)
	}
	m.write(slot, b)
}

func (m *routerModel) write(slot int, b []byte) {
	m.t.Helper()
	s := &m.slots[slot]
	err := s.l.Write(b)
	if s.state == connClosed {
		if err != core.ErrLocalClosed {
			m.fatalf("slot %d: write on a closed connection returned %v", slot, err)
		}
	} else if err != nil {
		m.fatalf("slot %d: write: %v", slot, err)
	}
}

// connect opens a fresh in-process connection on slot.
func (m *routerModel) connect(slot int, f codec.Format) {
	s := &m.slots[slot]
	s.l = m.r.ConnectLocal(f)
	s.f = f
	s.state = connIdle
	s.sess = nil
}

// violation is the router's answer to a protocol error: ABORT, the session
// ends, the connection closes.
func (m *routerModel) violation(slot int) {
	m.expect(slot, routerMsg{t: codec.ABORT, uri: core.ErrProtocolViolation})
	m.endSession(slot)
	m.slots[slot].state = connClosed
}

// endSession disposes of the slot's session the way the spec asks: calls
// it made are forgotten (late results are dropped), calls it was serving
// fail at their callers with wamp.error.canceled, its registrations and
// subscriptions go (and with them any left without members), each with its
// meta events, and wamp.session.on_leave. The session has sent or been sent
// GOODBYE or ABORT, so none of it may reach the session itself: its
// subscriptions all go before any meta event is published.
func (m *routerModel) endSession(slot int) {
	s := m.slots[slot].sess
	if s == nil {
		return
	}
	m.slots[slot].sess = nil
	deleted := make([]bool, len(s.subs))
	for i, sub := range s.subs {
		deleted[i] = m.removeMember(sub, s)
	}
	for i := range s.subs {
		m.meta("wamp.subscription.on_unsubscribe")
		if deleted[i] {
			m.meta("wamp.subscription.on_delete")
		}
	}
	s.subs = nil
	s.calls = nil
	for _, inv := range s.invs {
		c := inv.caller
		if c.calls[inv.callerReq] == inv {
			delete(c.calls, inv.callerReq)
			m.expect(c.slot, routerMsg{t: codec.ERROR, errType: codec.CALL, req: inv.callerReq, uri: core.ErrCanceled})
		}
	}
	s.invs = nil
	for _, reg := range s.regs {
		m.unregistered(reg, s)
	}
	s.regs = nil
	m.meta("wamp.session.on_leave")
}

// meta expects the meta event topic at every session subscribed to it.
func (m *routerModel) meta(topic string) {
	for _, sub := range m.subs {
		if routerMatches(sub.pat, topic) {
			for _, x := range sub.members {
				m.expect(x.slot, routerMsg{t: codec.EVENT, sub: sub})
			}
		}
	}
}

// unsubscribed and unregistered remove s and publish the meta events.
func (m *routerModel) unsubscribed(sub *mSub, s *mSess) {
	deleted := m.removeMember(sub, s)
	m.meta("wamp.subscription.on_unsubscribe")
	if deleted {
		m.meta("wamp.subscription.on_delete")
	}
}

func (m *routerModel) unregistered(reg *mReg, s *mSess) {
	deleted := m.removeCallee(reg, s)
	m.meta("wamp.registration.on_unregister")
	if deleted {
		m.meta("wamp.registration.on_delete")
	}
}

// removeCallee and removeMember report whether the registration or
// subscription went with its last member.
func (m *routerModel) removeCallee(reg *mReg, s *mSess) bool {
	reg.callees = slices.DeleteFunc(reg.callees, func(c *mSess) bool { return c == s })
	if len(reg.callees) == 0 {
		m.regs = slices.DeleteFunc(m.regs, func(r *mReg) bool { return r == reg })
		return true
	}
	return false
}

func (m *routerModel) removeMember(sub *mSub, s *mSess) bool {
	sub.members = slices.DeleteFunc(sub.members, func(c *mSess) bool { return c == s })
	if len(sub.members) == 0 {
		m.subs = slices.DeleteFunc(m.subs, func(x *mSub) bool { return x == sub })
		return true
	}
	return false
}

// reqID picks the request id of a request; ok reports whether the router
// must accept it (strict mode: the next sequential id). decodeErr marks an
// id out of WAMP's range, which fails decoding.
func (m *routerModel) reqID(s *mSess, sel, arg byte) (id uint64, ok, decodeErr bool) {
	if sel&7 == 7 {
		return codec.MaxID + 1, false, true
	}
	if m.lax {
		return uint64(sel>>3) % 5, true, false // 0..4: repeats are likely
	}
	next := s.lastReq + 1
	if sel&7 != 6 {
		return next, true, false
	}
	return []uint64{0, s.lastReq, s.lastReq + 2}[arg%3], false, false
}

// request handles the request-id check common to PUBLISH, SUBSCRIBE,
// UNSUBSCRIBE, CALL, REGISTER and UNREGISTER; it sends msg with the chosen
// id (at index 1) and reports whether the router goes on to handle it.
func (m *routerModel) request(slot int, sel, arg byte, msg []any) (uint64, bool) {
	s := m.slots[slot].sess
	id, ok, _ := m.reqID(s, sel, arg)
	msg[1] = id
	m.send(slot, msg...)
	if !ok {
		m.violation(slot)
		return id, false
	}
	if !m.lax {
		s.lastReq = id
	}
	return id, true
}

func routerMatches(p routerPattern, topic string) bool {
	switch p.match {
	case "":
		return p.uri == topic
	case "prefix":
		return strings.HasPrefix(topic, p.uri)
	case "wildcard":
		pc, tc := strings.Split(p.uri, "."), strings.Split(topic, ".")
		if len(pc) != len(tc) {
			return false
		}
		for i := range pc {
			if pc[i] != "" && pc[i] != tc[i] {
				return false
			}
		}
		return true
	}
	return false
}

// routerValid reports whether a pattern is a valid URI for its policy
// under the loose rules, for the fixed sets above.
func routerValid(p routerPattern) bool {
	switch {
	case p.uri == "", strings.Contains(p.uri, ".."):
		return false
	case strings.HasSuffix(p.uri, "."):
		return p.match == "wildcard"
	}
	return true
}

func (m *routerModel) detailsMatch(p routerPattern) map[string]any {
	d := map[string]any{}
	if p.match != "" {
		d["match"] = p.match
	}
	return d
}

// step applies one operation to the model and the router.
func (m *routerModel) step(op, slot int, sel, arg, flags byte) {
	sl := &m.slots[slot]
	m.cur = fmt.Sprintf("%s slot=%d sel=%d arg=%d flags=%d", routerOpNames[op], slot, sel, arg, flags)
	m.trace = append(m.trace, m.cur)
	switch op {
	case opJoin, opBadRealm:
		if sl.state == connNone || sl.state == connClosed {
			m.connect(slot, routerFormats[int(flags)%len(routerFormats)])
		}
	}
	switch sl.state {
	case connNone:
		return
	case connClosed:
		// Anything written to a closed connection is refused (write
		// checks ErrLocalClosed) and reaches no one.
		m.send(slot, codec.GOODBYE, map[string]any{}, "wamp.close.normal")
		return
	case connIdle:
		m.stepIdle(op, slot, sel, arg, flags)
		return
	}
	m.stepEstablished(op, slot, sel, arg, flags)
}

func (m *routerModel) hello(slot int, realm string) {
	m.send(slot, codec.HELLO, realm, map[string]any{"roles": routerRoles})
}

func (m *routerModel) stepIdle(op, slot int, sel, arg, flags byte) {
	sl := &m.slots[slot]
	switch op {
	case opJoin:
		m.hello(slot, "realm1")
		sl.state = connEstablished
		sl.sess = &mSess{slot: slot}
		m.expect(slot, routerMsg{t: codec.WELCOME})
		m.meta("wamp.session.on_join")
	case opBadRealm:
		m.hello(slot, "nope")
		m.expect(slot, routerMsg{t: codec.ABORT, uri: core.ErrNoSuchRealm})
		sl.state = connClosed
	case opAbort:
		m.send(slot, codec.ABORT, map[string]any{}, "wamp.close.normal")
		sl.state = connClosed
	case opDrop:
		m.drop(slot)
	default:
		// Anything else before WELCOME is a protocol violation; each op
		// sends its own message so the decoder sees every kind.
		m.stepEstablishedMsg(op, slot, sel, arg, flags)
		m.violation(slot)
	}
}

func (m *routerModel) drop(slot int) {
	m.slots[slot].l.Close()
	m.endSession(slot)
	m.slots[slot].state = connClosed
}

// stepEstablishedMsg only sends the operation's message, for stepIdle.
func (m *routerModel) stepEstablishedMsg(op, slot int, sel, arg, flags byte) {
	var msg []any
	switch op {
	case opSubscribe:
		msg = []any{codec.SUBSCRIBE, 1, map[string]any{}, "t.a"}
	case opUnsubscribe:
		msg = []any{codec.UNSUBSCRIBE, 1, uint64(arg)}
	case opPublish:
		msg = []any{codec.PUBLISH, 1, map[string]any{}, "t.a"}
	case opRegister:
		msg = []any{codec.REGISTER, 1, map[string]any{}, "p.a"}
	case opUnregister:
		msg = []any{codec.UNREGISTER, 1, uint64(arg)}
	case opCall:
		msg = []any{codec.CALL, 1, map[string]any{}, "p.a"}
	case opYield:
		msg = []any{codec.YIELD, uint64(arg), map[string]any{}}
	case opError:
		msg = []any{codec.ERROR, codec.INVOCATION, uint64(arg), map[string]any{}, "app.error"}
	case opGoodbye:
		msg = []any{codec.GOODBYE, map[string]any{}, "wamp.close.normal"}
	default:
		m.bogus(nil, slot, arg, 0)
		return
	}
	m.send(slot, msg...)
}

// bogus sends something a client must not send (a router message, bytes
// that do not decode, an ERROR for a request type other than INVOCATION) or
// a CANCEL (see cancel), and reports whether the router must treat it as a
// protocol violation.
func (m *routerModel) bogus(s *mSess, slot int, arg, flags byte) (violation bool) {
	switch arg % 4 {
	case 0:
		m.send(slot, codec.WELCOME, 1, map[string]any{})
	case 1:
		m.write(slot, []byte{'['})
	case 2:
		m.send(slot, codec.ERROR, codec.SUBSCRIBE, 1, map[string]any{}, "app.error")
	case 3:
		return m.cancel(s, slot, arg, flags)
	}
	return true
}

// cancel sends CANCEL for one of s's pending calls (or an id that is not
// pending) with a mode or none. No fuzzed callee announces call_canceling,
// so every valid mode acts as skip: the caller gets ERROR
// wamp.error.canceled at once, the invocation stays with its callee and
// its late answer is dropped. An unknown mode is a protocol violation; so
// is CANCEL before the session is established (s == nil).
func (m *routerModel) cancel(s *mSess, slot int, arg, flags byte) (violation bool) {
	mode := []string{"", "skip", "kill", "killnowait", "nonsense"}[int(flags)%5]
	opts := map[string]any{}
	if mode != "" {
		opts["mode"] = mode
	}
	req := uint64(arg>>2) + 1
	if s != nil && len(s.calls) > 0 && flags&0x80 == 0 {
		ids := make([]uint64, 0, len(s.calls))
		for id := range s.calls {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		req = ids[int(arg>>2)%len(ids)]
	}
	m.send(slot, codec.CANCEL, req, opts)
	if s == nil || mode == "nonsense" {
		return true
	}
	if s.calls[req] != nil {
		delete(s.calls, req)
		m.expect(slot, routerMsg{t: codec.ERROR, errType: codec.CALL, req: req, uri: core.ErrCanceled})
	}
	return false
}

func (m *routerModel) stepEstablished(op, slot int, sel, arg, flags byte) {
	sl := &m.slots[slot]
	s := sl.sess
	switch op {
	case opJoin:
		m.hello(slot, "realm1")
		m.violation(slot)
	case opBadRealm:
		m.hello(slot, "nope")
		m.violation(slot)
	case opSubscribe:
		p := routerSubPatterns[int(arg)%len(routerSubPatterns)]
		req, ok := m.request(slot, sel, arg, []any{codec.SUBSCRIBE, 0, m.detailsMatch(p), p.uri})
		if ok {
			m.subscribe(s, req, p)
		}
	case opUnsubscribe:
		id := m.pickID(arg, flags, true)
		req, ok := m.request(slot, sel, arg, []any{codec.UNSUBSCRIBE, 0, id})
		if !ok {
			return
		}
		i := slices.IndexFunc(s.subs, func(x *mSub) bool { return x.id == id })
		if i < 0 {
			m.expect(slot, routerMsg{t: codec.ERROR, errType: codec.UNSUBSCRIBE, req: req, uri: core.ErrNoSuchSubscription})
			return
		}
		sub := s.subs[i]
		s.subs = slices.Delete(s.subs, i, i+1)
		m.unsubscribed(sub, s)
		m.expect(slot, routerMsg{t: codec.UNSUBSCRIBED, req: req})
	case opPublish:
		topic := routerTopics[int(arg)%len(routerTopics)]
		ack, excludeMe := flags&1 != 0, flags&2 == 0
		opts := map[string]any{}
		if ack {
			opts["acknowledge"] = true
		}
		if !excludeMe {
			opts["exclude_me"] = false
		}
		req, ok := m.request(slot, sel, arg, []any{codec.PUBLISH, 0, opts, topic, []any{int(arg)}})
		if ok {
			m.publish(s, req, topic, ack, excludeMe)
		}
	case opRegister:
		p := routerRegPatterns[int(arg)%len(routerRegPatterns)]
		invoke := routerInvokes[int(flags)%len(routerInvokes)]
		d := m.detailsMatch(p)
		if invoke != "" {
			d["invoke"] = invoke
		}
		req, ok := m.request(slot, sel, arg, []any{codec.REGISTER, 0, d, p.uri})
		if ok {
			m.register(s, req, p, invoke)
		}
	case opUnregister:
		id := m.pickID(arg, flags, false)
		req, ok := m.request(slot, sel, arg, []any{codec.UNREGISTER, 0, id})
		if !ok {
			return
		}
		i := slices.IndexFunc(s.regs, func(x *mReg) bool { return x.id == id })
		if i < 0 {
			m.expect(slot, routerMsg{t: codec.ERROR, errType: codec.UNREGISTER, req: req, uri: core.ErrNoSuchRegistration})
			return
		}
		reg := s.regs[i]
		s.regs = slices.Delete(s.regs, i, i+1)
		m.unregistered(reg, s)
		m.expect(slot, routerMsg{t: codec.UNREGISTERED, req: req})
	case opCall:
		proc := routerProcs[int(arg)%len(routerProcs)]
		progress := flags&1 != 0
		opts := map[string]any{}
		if progress {
			opts["receive_progress"] = true
		}
		msg := []any{codec.CALL, 0, opts, proc}
		withArgs := flags&2 == 0
		if withArgs {
			msg = append(msg, []any{int(arg)})
		}
		req, _, decodeErr := m.reqID(s, sel, arg)
		msg[1] = req
		m.send(slot, msg...)
		switch {
		case decodeErr:
			m.violation(slot)
		case !m.lax && req == s.lastReq+1:
			s.lastReq = req
			m.call(s, req, proc, progress, withArgs)
		case !m.lax && (req == 0 || req > s.lastReq+1):
			m.violation(slot) // a gap in the sequence
		case s.calls[req] != nil:
			m.violation(slot) // the id of a call still pending
		case !m.lax:
			// An id used before whose call is over: a late chunk of a
			// progressive call invocation, dropped.
		default: // lax: any id not in use
			m.call(s, req, proc, progress, withArgs)
		}
	case opYield, opError:
		req := m.pickInv(s, sel, arg)
		progress := op == opYield && flags&1 != 0
		if op == opYield {
			opts := map[string]any{}
			if progress {
				opts["progress"] = true
			}
			m.send(slot, codec.YIELD, req, opts, []any{int(arg)})
		} else {
			m.send(slot, codec.ERROR, codec.INVOCATION, req, map[string]any{}, "app.error")
		}
		m.answer(s, req, op == opError, progress)
	case opGoodbye:
		m.send(slot, codec.GOODBYE, map[string]any{}, "wamp.close.normal")
		m.expect(slot, routerMsg{t: codec.GOODBYE, uri: core.CloseGoodbyeAndOut})
		m.endSession(slot)
		sl.state = connIdle
	case opAbort:
		m.send(slot, codec.ABORT, map[string]any{}, "wamp.close.normal")
		m.endSession(slot)
		sl.state = connClosed
	case opDrop:
		m.drop(slot)
	case opBogus:
		if m.bogus(s, slot, arg, flags) {
			m.violation(slot)
		}
	}
}

// pickID chooses a subscription (sub) or registration id: one the model
// knows (anyone's), or one nobody holds.
func (m *routerModel) pickID(arg, flags byte, sub bool) uint64 {
	var ids []uint64
	if sub {
		for _, x := range m.subs {
			ids = append(ids, x.id)
		}
	} else {
		for _, x := range m.regs {
			ids = append(ids, x.id)
		}
	}
	if flags&4 == 0 && len(ids) > 0 {
		return ids[int(arg)%len(ids)]
	}
	return uint64(arg) + 1<<40 // router ids are small sequential numbers
}

// pickInv chooses the INVOCATION request id a YIELD or ERROR answers: a
// pending one, the last issued (maybe already answered), the next (never
// issued: a violation) or 0.
func (m *routerModel) pickInv(s *mSess, sel, arg byte) uint64 {
	switch sel % 8 {
	case 5:
		return s.lastInv
	case 6:
		return s.lastInv + 1
	case 7:
		return 0
	}
	if len(s.invs) == 0 {
		return s.lastInv
	}
	ids := make([]uint64, 0, len(s.invs))
	for id := range s.invs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[int(arg)%len(ids)]
}

func (m *routerModel) subscribe(s *mSess, req uint64, p routerPattern) {
	switch p.match {
	case "", "prefix", "wildcard":
	default:
		m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.SUBSCRIBE, req: req, uri: core.ErrInvalidArgument})
		return
	}
	if !routerValid(p) {
		m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.SUBSCRIBE, req: req, uri: core.ErrInvalidURI})
		return
	}
	i := slices.IndexFunc(m.subs, func(x *mSub) bool { return x.pat == p })
	if i < 0 {
		sub := &mSub{pat: p, members: []*mSess{s}}
		m.subs = append(m.subs, sub)
		s.subs = append(s.subs, sub)
		m.newSub = sub
		m.expect(s.slot, routerMsg{t: codec.SUBSCRIBED, req: req, anyID: true})
		m.meta("wamp.subscription.on_create")
		m.meta("wamp.subscription.on_subscribe")
		return
	}
	sub := m.subs[i]
	m.expect(s.slot, routerMsg{t: codec.SUBSCRIBED, req: req, id: sub.id})
	if !slices.Contains(sub.members, s) {
		sub.members = append(sub.members, s)
		s.subs = append(s.subs, sub)
		m.meta("wamp.subscription.on_subscribe")
	}
}

func (m *routerModel) publish(s *mSess, req uint64, topic string, ack, excludeMe bool) {
	if strings.Contains(topic, "..") || strings.HasPrefix(topic, "wamp.") {
		if ack {
			m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.PUBLISH, req: req, uri: core.ErrInvalidURI})
		}
		return
	}
	for _, sub := range m.subs {
		if !routerMatches(sub.pat, topic) {
			continue
		}
		for _, x := range sub.members {
			if x != s || !excludeMe {
				m.expect(x.slot, routerMsg{t: codec.EVENT, sub: sub})
			}
		}
	}
	if ack {
		m.expect(s.slot, routerMsg{t: codec.PUBLISHED, req: req})
	}
}

func (m *routerModel) register(s *mSess, req uint64, p routerPattern, invoke string) {
	errMsg := func(uri string) {
		m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.REGISTER, req: req, uri: uri})
	}
	switch {
	case p.match != "" && p.match != "prefix" && p.match != "wildcard":
		errMsg(core.ErrInvalidArgument)
		return
	case invoke == "nonsense":
		errMsg(core.ErrInvalidArgument)
		return
	case !routerValid(p) || strings.HasPrefix(p.uri, "wamp."):
		errMsg(core.ErrInvalidURI)
		return
	}
	if invoke == "" {
		invoke = "single"
	}
	i := slices.IndexFunc(m.regs, func(x *mReg) bool { return x.pat == p })
	if i < 0 {
		reg := &mReg{pat: p, invoke: invoke, callees: []*mSess{s}}
		m.regs = append(m.regs, reg)
		s.regs = append(s.regs, reg)
		m.newReg = reg
		m.expect(s.slot, routerMsg{t: codec.REGISTERED, req: req, anyID: true})
		m.meta("wamp.registration.on_create")
		m.meta("wamp.registration.on_register")
		return
	}
	reg := m.regs[i]
	if reg.invoke == "single" || invoke == "single" || reg.invoke != invoke || slices.Contains(reg.callees, s) {
		errMsg(core.ErrProcedureAlreadyExists)
		return
	}
	reg.callees = append(reg.callees, s)
	s.regs = append(s.regs, reg)
	m.expect(s.slot, routerMsg{t: codec.REGISTERED, req: req, id: reg.id})
	m.meta("wamp.registration.on_register")
}

func (m *routerModel) call(s *mSess, req uint64, proc string, progress, withArgs bool) {
	if strings.Contains(proc, "..") {
		m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.CALL, req: req, uri: core.ErrInvalidURI})
		return
	}
	// The best registration: exact, else the longest prefix.
	var reg *mReg
	for _, x := range m.regs {
		if x.pat.match == "" && x.pat.uri == proc {
			reg = x
		}
	}
	if reg == nil {
		for _, x := range m.regs {
			if x.pat.match == "prefix" && strings.HasPrefix(proc, x.pat.uri) && (reg == nil || len(x.pat.uri) > len(reg.pat.uri)) {
				reg = x
			}
		}
	}
	if reg == nil {
		if proc == "wamp.session.count" {
			if withArgs {
				// Its one optional argument is a list of authroles.
				m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.CALL, req: req, uri: core.ErrInvalidArgument})
			} else {
				m.expect(s.slot, routerMsg{t: codec.RESULT, req: req})
			}
			return
		}
		m.expect(s.slot, routerMsg{t: codec.ERROR, errType: codec.CALL, req: req, uri: core.ErrNoSuchProcedure})
		return
	}
	callee := reg.callees[0]
	switch {
	case len(reg.callees) == 1:
	case reg.invoke == "roundrobin":
		reg.cursor++
		callee = reg.callees[(reg.cursor-1)%uint64(len(reg.callees))]
	}
	callee.lastInv++
	inv := &mInv{id: callee.lastInv, caller: s, callerReq: req, callee: callee, progress: progress}
	if s.calls == nil {
		s.calls = map[uint64]*mInv{}
	}
	s.calls[req] = inv
	if callee.invs == nil {
		callee.invs = map[uint64]*mInv{}
	}
	callee.invs[inv.id] = inv
	m.expect(callee.slot, routerMsg{t: codec.INVOCATION, req: inv.id, id: reg.id, progress: progress})
}

// answer models a YIELD (progressive or final) or an ERROR from callee s.
func (m *routerModel) answer(s *mSess, req uint64, isErr, progress bool) {
	inv := s.invs[req]
	if inv == nil {
		if req == 0 || req > s.lastInv {
			m.violation(s.slot)
		}
		return // already answered, or its caller left and it was settled
	}
	if progress && !inv.progress {
		return
	}
	if !progress {
		delete(s.invs, req)
	}
	c := inv.caller
	if c.calls[inv.callerReq] != inv {
		return // the caller left
	}
	if !progress {
		delete(c.calls, inv.callerReq)
	}
	if isErr {
		m.expect(c.slot, routerMsg{t: codec.ERROR, errType: codec.CALL, req: inv.callerReq, uri: "app.error"})
	} else {
		m.expect(c.slot, routerMsg{t: codec.RESULT, req: inv.callerReq, progress: progress})
	}
}

// settle waits for asynchronous detaches (a closed in-process connection
// detaches from a fresh goroutine), then compares what every slot received
// with the model's expectations and the router's tables with the model's.
func (m *routerModel) settle() {
	m.t.Helper()
	conns := 0
	for i := range m.slots {
		if st := m.slots[i].state; st == connIdle || st == connEstablished {
			conns++
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for spins := 0; m.r.Stats().Conns != int64(conns); spins++ {
		if time.Now().After(deadline) {
			m.fatalf("router has %d connections, model %d", m.r.Stats().Conns, conns)
		}
		// The detaching goroutine is usually runnable already: yielding
		// lets it run far sooner than the shortest sleep would.
		runtime.Gosched()
		if spins > 100 {
			time.Sleep(20 * time.Microsecond)
		}
	}
	for i := range m.slots {
		m.compare(i)
	}
	m.newSub, m.newReg = nil, nil
	m.checkTables()
}

func (m *routerModel) compare(slot int) {
	m.t.Helper()
	sl := &m.slots[slot]
	var got []routerMsg
	if sl.l != nil {
		var dm codec.Message
		for {
			b, ok := sl.l.TryRead()
			if !ok {
				break
			}
			dm.Reset()
			if err := codec.ByFormat(sl.f).Decode(&dm, b); err != nil {
				m.fatalf("slot %d: router sent a message that does not decode: %v: %q", slot, err, b)
			}
			rm := routerMsg{t: dm.Type, req: dm.Request, id: dm.ID, uri: string(dm.URI)}
			switch dm.Type {
			case codec.ERROR:
				rm.errType = dm.ErrorType
			case codec.RESULT:
				rm.progress = dm.Details.Progress
			case codec.INVOCATION:
				rm.progress = dm.Details.ReceiveProgress
			case codec.WELCOME, codec.PUBLISHED:
				rm.id = 0 // a session or publication id: the router's choice
			}
			got = append(got, rm)
		}
	}
	want := m.exp[slot]
	m.exp[slot] = nil
	// Learn router-chosen ids (one new subscription or registration per
	// step at most), then compare as multisets: the order in which one
	// step's messages reach a session (several events, cancellations) is
	// not specified.
	for i, w := range want {
		if !w.anyID {
			continue
		}
		for _, g := range got {
			if g.t == w.t && g.req == w.req {
				w.id = g.id
			}
		}
		want[i] = w
		m.learn(w)
	}
	for i, w := range want {
		if w.sub != nil {
			want[i].id = w.sub.id
		}
	}
	key := func(x routerMsg) string { x.anyID = false; return x.String() }
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if !slices.EqualFunc(got, want, func(a, b routerMsg) bool { return key(a) == key(b) }) {
		m.fatalf("slot %d received:\n  %v\nthe model expected:\n  %v", slot, got, want)
	}
}

func (m *routerModel) learn(w routerMsg) {
	switch w.t {
	case codec.SUBSCRIBED:
		for _, x := range m.subs {
			if x != m.newSub && x.id == w.id {
				m.fatalf("new subscription got id %d, already in use", w.id)
			}
		}
		m.newSub.id = w.id
	case codec.REGISTERED:
		for _, x := range m.regs {
			if x != m.newReg && x.id == w.id {
				m.fatalf("new registration got id %d, already in use", w.id)
			}
		}
		m.newReg.id = w.id
	}
}

func (m *routerModel) checkTables() {
	m.t.Helper()
	var want core.TableSizes
	for i := range m.slots {
		s := m.slots[i].sess
		if s == nil {
			continue
		}
		want.Sessions++
		want.PendingCalls += len(s.calls)
		want.PendingInvs += len(s.invs)
	}
	want.Subscriptions, want.TrieSubs = len(m.subs), len(m.subs)
	for _, x := range m.subs {
		want.Subscribers += len(x.members)
	}
	want.Registrations, want.TrieRegs = len(m.regs), len(m.regs)
	for _, x := range m.regs {
		want.Callees += len(x.callees)
	}
	if got := m.r.Tables(); got != want {
		m.fatalf("router tables %+v, model %+v", got, want)
	}
	if got := m.r.Stats().Sessions; got != int64(want.Sessions) {
		m.fatalf("router counts %d sessions, model %d", got, want.Sessions)
	}
}

// observe runs the observer's round trips: publish to its own topic with
// exclude_me=false and acknowledge, call its own procedure and yield.
func (m *routerModel) observe() {
	m.t.Helper()
	o := m.slots[routerObserver].sess
	m.cur = "observer"
	m.trace = append(m.trace, "observer round trip")
	req := o.lastReq + 1
	m.send(routerObserver, codec.PUBLISH, req, map[string]any{"acknowledge": true, "exclude_me": false}, "obs.t", []any{"ping"})
	o.lastReq = req
	m.publish(o, req, "obs.t", true, false)
	m.settle()
	req = o.lastReq + 1
	m.send(routerObserver, codec.CALL, req, map[string]any{}, "obs.p", []any{"ping"})
	o.lastReq = req
	m.call(o, req, "obs.p", false, true)
	m.settle()
	m.send(routerObserver, codec.YIELD, o.lastInv, map[string]any{}, []any{"pong"})
	m.answer(o, o.lastInv, false, false)
	m.settle()
}

// routerRun executes one input.
func routerRun(t *testing.T, data []byte) {
	m := &routerModel{t: t}
	if len(data) > 0 {
		m.lax = data[0]&1 != 0 // byte 0: request-id checking
		data = data[1:]
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, LaxRequestIDs: m.lax, Logger: routerQuietLog})
	if err != nil {
		t.Fatal(err)
	}
	m.r = r

	// The observer: a well-behaved session with a subscription and a
	// registration of its own, present throughout.
	m.connect(routerObserver, codec.JSON)
	m.stepIdle(opJoin, routerObserver, 0, 0, 0)
	m.settle()
	o := m.slots[routerObserver].sess
	obsSub := routerPattern{"obs.t", ""}
	m.send(routerObserver, codec.SUBSCRIBE, uint64(1), map[string]any{}, "obs.t")
	o.lastReq = 1
	m.subscribe(o, 1, obsSub)
	m.settle()
	m.send(routerObserver, codec.REGISTER, uint64(2), map[string]any{}, "obs.p")
	o.lastReq = 2
	m.register(o, 2, routerPattern{"obs.p", ""}, "")
	m.settle()

	for n := 0; len(data) >= routerOpLen && n < routerMaxOps; n++ {
		op := int(data[0]) % routerNumOps
		slot := int(data[1]) % routerSlots
		m.step(op, slot, data[2], data[3], data[4])
		data = data[routerOpLen:]
		m.settle()
	}
	m.observe()

	// Everyone leaves: sessions say GOODBYE, then every connection closes.
	for i := range m.slots {
		if m.slots[i].state == connEstablished {
			m.step(opGoodbye, i, 0, 0, 0)
			m.settle()
		}
	}
	for i := range m.slots {
		if st := m.slots[i].state; st == connIdle || st == connEstablished {
			m.step(opDrop, i, 0, 0, 0)
			m.settle()
		}
	}
	if got := m.r.Tables(); got != (core.TableSizes{}) {
		m.fatalf("tables not empty after everyone left: %+v", got)
	}
}

// routerOp builds one operation of an input.
func routerOp(op, slot int, sel, arg, flags byte) []byte {
	return []byte{byte(op), byte(slot), sel, arg, flags}
}

func routerSeq(lax bool, ops ...[]byte) []byte {
	b := []byte{0}
	if lax {
		b[0] = 1
	}
	for _, o := range ops {
		b = append(b, o...)
	}
	return b
}

// Request-id selectors: routerNext is the next sequential id (strict
// mode), routerWrong a wrong one, routerRange one beyond 2^53.
const (
	routerNext  = 0
	routerWrong = 6
	routerRange = 7
)

// routerSeeds are meaningful sequences: each a scenario the router must get
// right, for the fuzzer to mutate.
var routerSeeds = [][]byte{
	// pubsub among three sessions: exact, prefix and wildcard subscriptions,
	// acknowledged publish with and without exclude_me, unsubscribe.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 1), routerOp(opJoin, 2, 0, 0, 2),
		routerOp(opSubscribe, 0, routerNext, 0, 0), routerOp(opSubscribe, 1, routerNext, 0, 0),
		routerOp(opSubscribe, 1, routerNext, 2, 0), routerOp(opSubscribe, 2, routerNext, 3, 0),
		routerOp(opPublish, 0, routerNext, 0, 1), routerOp(opPublish, 0, routerNext, 0, 3),
		routerOp(opPublish, 2, routerNext, 1, 1), routerOp(opUnsubscribe, 1, routerNext, 0, 0),
		routerOp(opUnsubscribe, 1, routerNext, 0, 0), routerOp(opPublish, 2, routerNext, 0, 1)),
	// RPC: register, call with progressive results, progress then final
	// yield, an ERROR answer, a late YIELD, an id never issued.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 2),
		routerOp(opRegister, 0, routerNext, 0, 0), routerOp(opCall, 1, routerNext, 0, 1),
		routerOp(opYield, 0, 0, 0, 1), routerOp(opYield, 0, 0, 0, 1), routerOp(opYield, 0, 0, 0, 0),
		routerOp(opCall, 1, routerNext, 0, 0), routerOp(opError, 0, 0, 0, 0),
		routerOp(opYield, 0, 5, 0, 0), routerOp(opYield, 0, 6, 0, 0)),
	// A callee leaves mid-call (caller gets canceled); a caller leaves
	// mid-call (the late YIELD is dropped); the callee dies by transport.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0), routerOp(opJoin, 2, 0, 0, 1),
		routerOp(opRegister, 0, routerNext, 1, 0), routerOp(opCall, 1, routerNext, 1, 0),
		routerOp(opCall, 2, routerNext, 1, 0), routerOp(opGoodbye, 1, 0, 0, 0),
		routerOp(opYield, 0, 0, 0, 0), routerOp(opDrop, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0)),
	// Shared round-robin registration over three callees, a mismatched
	// policy, a duplicate, unregister, calls through a prefix registration.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0), routerOp(opJoin, 2, 0, 0, 0),
		routerOp(opRegister, 0, routerNext, 0, 2), routerOp(opRegister, 1, routerNext, 0, 2),
		routerOp(opRegister, 2, routerNext, 0, 3), routerOp(opRegister, 1, routerNext, 0, 2),
		routerOp(opCall, 2, routerNext, 0, 0), routerOp(opCall, 2, routerNext, 0, 0),
		routerOp(opCall, 2, routerNext, 0, 0), routerOp(opUnregister, 0, routerNext, 0, 0),
		routerOp(opRegister, 2, routerNext, 2, 0), routerOp(opCall, 1, routerNext, 2, 0)),
	// Protocol violations: wrong request id, out-of-range id, HELLO twice,
	// router-only messages, ERROR for SUBSCRIBE, garbage; rejoin after each.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opSubscribe, 0, routerWrong, 0, 0),
		routerOp(opJoin, 0, 0, 0, 1), routerOp(opCall, 0, routerRange, 0, 0),
		routerOp(opJoin, 0, 0, 0, 2), routerOp(opJoin, 0, 0, 0, 0),
		routerOp(opJoin, 1, 0, 0, 0), routerOp(opBogus, 1, 0, 0, 0),
		routerOp(opJoin, 1, 0, 0, 0), routerOp(opBogus, 1, 0, 2, 0),
		routerOp(opJoin, 1, 0, 0, 0), routerOp(opBogus, 1, 0, 1, 0), routerOp(opBogus, 1, 0, 3, 0)),
	// Session lifecycle: bad realm, GOODBYE then HELLO on the same
	// connection, ABORT, messages before HELLO and after close.
	routerSeq(false,
		routerOp(opBadRealm, 0, 0, 0, 0), routerOp(opPublish, 0, 0, 0, 0), routerOp(opJoin, 0, 0, 0, 0),
		routerOp(opSubscribe, 0, routerNext, 2, 0), routerOp(opGoodbye, 0, 0, 0, 0),
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opSubscribe, 0, routerNext, 2, 0),
		routerOp(opAbort, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0), routerOp(opGoodbye, 1, 0, 0, 0),
		routerOp(opCall, 1, 0, 0, 0), routerOp(opJoin, 2, 0, 0, 0), routerOp(opDrop, 2, 0, 0, 0)),
	// Lax request ids: repeated ids, a duplicate CALL id (a violation).
	routerSeq(true,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0),
		routerOp(opRegister, 0, 8, 0, 0), routerOp(opSubscribe, 1, 8, 0, 0),
		routerOp(opCall, 1, 8, 0, 0), routerOp(opCall, 1, 8, 0, 0), routerOp(opPublish, 0, 8, 0, 1)),
	// CANCEL: of a pending call (default mode, skip, kill: all skip, the
	// callee not announcing call_canceling), of no pending call, with an
	// unknown mode (a violation); the late YIELD of a canceled call.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0),
		routerOp(opRegister, 0, routerNext, 0, 0), routerOp(opCall, 1, routerNext, 0, 0),
		routerOp(opBogus, 1, 0, 3, 0), routerOp(opYield, 0, 0, 0, 0),
		routerOp(opCall, 1, routerNext, 0, 1), routerOp(opBogus, 1, 0, 3, 2),
		routerOp(opBogus, 1, 0, 3, 0x81), routerOp(opCall, 1, routerNext, 0, 0),
		routerOp(opBogus, 1, 0, 3, 4)),
	// Other sessions' ids, unknown ids, meta procedure, invalid URIs.
	routerSeq(false,
		routerOp(opJoin, 0, 0, 0, 0), routerOp(opJoin, 1, 0, 0, 0),
		routerOp(opSubscribe, 0, routerNext, 0, 0), routerOp(opRegister, 0, routerNext, 0, 0),
		routerOp(opUnsubscribe, 1, routerNext, 0, 0), routerOp(opUnregister, 1, routerNext, 0, 0),
		routerOp(opUnsubscribe, 1, routerNext, 0, 4), routerOp(opCall, 1, routerNext, 5, 0),
		routerOp(opCall, 1, routerNext, 5, 2), routerOp(opSubscribe, 1, routerNext, 5, 0), routerOp(opSubscribe, 1, routerNext, 7, 0),
		routerOp(opRegister, 1, routerNext, 3, 0), routerOp(opRegister, 1, routerNext, 4, 0),
		routerOp(opPublish, 1, routerNext, 4, 1), routerOp(opCall, 1, routerNext, 4, 0)),
}

// FuzzRouter: see the comment at the top of this file. Input: byte 0 picks
// strict or lax request ids; then 5 bytes per operation (operation, slot,
// request-id selector, argument, flags).
func FuzzRouter(f *testing.F) {
	for _, s := range routerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		routerRun(t, data)
	})
}

// TestRouterSeedCorpus keeps the checked-in seed corpus in step with the
// seeds above; run with -routercorpus.update to rewrite it.
func TestRouterSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for i, s := range routerSeeds {
		files[fmt.Sprintf("FuzzRouter/seed%02d", i)] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
	}
	wsCheckCorpus(t, files, *routerUpdateCorpus, "-routercorpus.update", "TestRouterSeedCorpus")
}
