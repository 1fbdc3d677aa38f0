package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

func TestJoinWelcome(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{})
		p := connect(t, r, f)
		p.hello("realm1", map[string]any{"authid": "joe"})
		w := p.expect(codec.WELCOME)
		id := asID(t, w[1])
		must(t, id >= 1 && id <= codec.MaxID, "session id %d out of range", id)
		d := dictOf(t, w[2])
		must(t, d["authid"] == "joe" && d["authrole"] == "anonymous" && d["authmethod"] == "anonymous", "details %v", d)
		roles := dictOf(t, d["roles"])
		for _, role := range []string{"broker", "dealer"} {
			feats := dictOf(t, dictOf(t, roles[role])["features"])
			must(t, feats["session_meta_api"] == true, "%s features %v", role, feats)
		}
		must(t, r.Realm("realm1").SessionCount() == 1, "session count")
	})
}

func TestJoinAbort(t *testing.T) {
	r := newRouter(t, core.Config{})
	cases := []struct {
		name    string
		realm   string
		details map[string]any
		reason  string
	}{
		{"no such realm", "nope", nil, core.ErrNoSuchRealm},
		{"invalid realm uri", "bad realm", nil, core.ErrInvalidURI},
		{"only unsupported authmethods", "realm1", map[string]any{"authmethods": []any{"ticket"}}, core.ErrNoAuthMethod},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := connect(t, r, codec.JSON)
			p.hello(c.realm, c.details)
			p.expectAbort(c.reason)
			must(t, p.closed(), "transport left open after ABORT")
		})
	}
	t.Run("no roles", func(t *testing.T) {
		p := connect(t, r, codec.JSON)
		p.send(codec.HELLO, "realm1", map[string]any{"roles": map[string]any{}})
		p.expectAbort(core.ErrProtocolViolation)
	})
	must(t, r.Realm("realm1").SessionCount() == 0, "aborted sessions joined")
}

func TestAutoCreateRealm(t *testing.T) {
	r := newRouter(t, core.Config{AutoCreateRealms: true})
	p := connect(t, r, codec.JSON)
	p.hello("com.example.new", nil)
	p.expect(codec.WELCOME)
	must(t, r.Realm("com.example.new") != nil, "realm not created")
}

func TestGoodbyeAndRejoin(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	first := p.id
	p.subscribe("a.b", nil)
	p.send(codec.GOODBYE, map[string]any{}, core.CloseCloseRealm)
	g := p.expect(codec.GOODBYE)
	must(t, g[2] == core.CloseGoodbyeAndOut, "GOODBYE reply %v", g)
	must(t, r.Realm("realm1").SessionCount() == 0, "session still joined")

	// The transport outlives the session: HELLO again.
	p.hello("realm1", nil)
	w := p.expect(codec.WELCOME)
	must(t, asID(t, w[1]) != first, "same session id on rejoin")
	// The old subscription is gone: a publish reaches nobody.
	q := join(t, r, codec.JSON)
	q.send(codec.PUBLISH, q.req(), map[string]any{}, "a.b")
	p.quiet()
}

func TestRouterShutdown(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	r.Shutdown()
	g := p.expect(codec.GOODBYE)
	must(t, g[2] == core.CloseSystemShutdown, "GOODBYE %v", g)
	p.send(codec.GOODBYE, map[string]any{}, core.CloseGoodbyeAndOut)
	must(t, r.Realm("realm1").SessionCount() == 0, "session still joined after shutdown")

	// A HELLO after shutdown began would join a session Shutdown never saw.
	late := connect(t, r, codec.JSON)
	late.hello("realm1", nil)
	late.expectAbort(core.CloseSystemShutdown)
	must(t, r.Realm("realm1").SessionCount() == 0, "late session joined during shutdown")
}

// TestProtocolViolations covers every case listed in building_blocks.md:
// each aborts the offender with wamp.error.protocol_violation, removes its
// subscriptions and registrations and leaves other sessions alone.
func TestProtocolViolations(t *testing.T) {
	before := []struct {
		name string
		msg  []any
	}{
		{"GOODBYE before WELCOME", []any{6, map[string]any{}, "wamp.close.close_realm"}},
		{"ERROR before WELCOME", []any{8, 68, 1, map[string]any{}, "x.y"}},
		{"SUBSCRIBED before WELCOME", []any{33, 1, 2}},
		{"UNSUBSCRIBED before WELCOME", []any{35, 1}},
		{"PUBLISHED before WELCOME", []any{17, 1, 2}},
		{"RESULT before WELCOME", []any{50, 1, map[string]any{}}},
		{"REGISTERED before WELCOME", []any{65, 1, 2}},
		{"UNREGISTERED before WELCOME", []any{67, 1}},
		{"INVOCATION before WELCOME", []any{68, 1, 2, map[string]any{}}},
		{"PUBLISH before WELCOME", []any{16, 1, map[string]any{}, "a.b"}},
		{"WELCOME to router", []any{2, 1, map[string]any{}}},
	}
	for _, c := range before {
		t.Run(c.name, func(t *testing.T) {
			r := newRouter(t, core.Config{})
			p := connect(t, r, codec.JSON)
			p.send(c.msg...)
			p.expectAbort(core.ErrProtocolViolation)
			must(t, p.closed(), "transport left open")
		})
	}

	after := []struct {
		name string
		msg  func(p *peer) []any
	}{
		{"second HELLO", func(p *peer) []any { return []any{1, "realm1", map[string]any{"roles": allRoles}} }},
		{"WELCOME", func(p *peer) []any { return []any{2, 1, map[string]any{}} }},
		{"CHALLENGE", func(p *peer) []any { return []any{4, "wampcra", map[string]any{}} }},
		{"ERROR with invalid REQUEST.Type", func(p *peer) []any { return []any{8, 16, 1, map[string]any{}, "x.y"} }},
		{"ERROR for unknown invocation", func(p *peer) []any { return []any{8, 68, 99, map[string]any{}, "x.y"} }},
		{"YIELD with invalid request", func(p *peer) []any { return []any{70, 12345, map[string]any{}} }},
		{"non-sequential request id", func(p *peer) []any { return []any{16, p.rq + 2, map[string]any{}, "a.b"} }},
		{"repeated request id", func(p *peer) []any { return []any{32, p.rq, map[string]any{}, "a.b"} }},
		{"EVENT to router", func(p *peer) []any { return []any{36, 1, 2, map[string]any{}} }},
		{"INVOCATION to router", func(p *peer) []any { return []any{68, 1, 2, map[string]any{}} }},
		{"RESULT to router", func(p *peer) []any { return []any{50, 1, map[string]any{}} }},
		{"SUBSCRIBED to router", func(p *peer) []any { return []any{33, 1, 2} }},
		{"INTERRUPT to router", func(p *peer) []any { return []any{69, 1, map[string]any{}} }},
		{"wrong element count", func(p *peer) []any { return []any{16, p.rq + 1} }},
		{"int for bool option", func(p *peer) []any { return []any{16, p.rq + 1, map[string]any{"acknowledge": 1}, "a.b"} }},
		{"unknown message type", func(p *peer) []any { return []any{7, 1} }},
		{"empty message", func(p *peer) []any { return []any{} }},
	}
	for _, c := range after {
		t.Run(c.name, func(t *testing.T) {
			r := newRouter(t, core.Config{})
			other := join(t, r, codec.JSON)
			otherSub := other.subscribe("a.b", nil)
			p := join(t, r, codec.JSON)
			p.subscribe("a.b", nil)
			p.register("com.proc", nil)
			p.send(c.msg(p)...)
			p.expectAbort(core.ErrProtocolViolation)
			must(t, p.closed(), "transport left open")
			must(t, r.Realm("realm1").SessionCount() == 1, "offender still joined")
			// Its registration is gone, the other session still works.
			q := join(t, r, codec.JSON)
			rq := q.req()
			q.send(codec.CALL, rq, map[string]any{}, "com.proc")
			q.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)
			q.send(codec.PUBLISH, q.req(), map[string]any{}, "a.b", []any{1})
			ev := other.expect(codec.EVENT)
			must(t, asID(t, ev[1]) == otherSub, "event for %v", ev)
		})
	}

	t.Run("malformed bytes", func(t *testing.T) {
		for _, raw := range []string{"", "[", "{}", "[16,", "[\"x\"]", "nope", "[1, \"realm1\", {}] x"} {
			r := newRouter(t, core.Config{})
			p := connect(t, r, codec.JSON)
			p.sendRaw([]byte(raw))
			p.expectAbort(core.ErrProtocolViolation)
			must(t, p.closed(), "transport left open for %q", raw)
		}
	})
}

func TestLaxRequestIDs(t *testing.T) {
	r := newRouter(t, core.Config{LaxRequestIDs: true})
	p := join(t, r, codec.JSON)
	p.send(codec.SUBSCRIBE, 777, map[string]any{}, "a.b")
	m := p.expect(codec.SUBSCRIBED)
	must(t, asID(t, m[1]) == 777, "SUBSCRIBED %v", m)
}

func TestClientAbortEndsSession(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	p.register("com.proc", nil)
	p.send(codec.ABORT, map[string]any{}, "wamp.close.system_shutdown")
	must(t, p.closed(), "transport left open after client ABORT")
	q := join(t, r, codec.JSON)
	rq := q.req()
	q.send(codec.CALL, rq, map[string]any{}, "com.proc")
	q.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)
}

func TestDetachCleansUp(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	p.register("com.proc", nil)
	p.subscribe("a.b", nil)
	p.l.Conn().Detach()
	must(t, r.Realm("realm1").SessionCount() == 0, "session still joined")
	q := join(t, r, codec.JSON)
	q.register("com.proc", nil) // free again
	must(t, r.Stats().Conns == 1, "conns %d", r.Stats().Conns)
}
