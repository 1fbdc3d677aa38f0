package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

func TestRPC(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{})
		callee := join(t, r, f)
		caller := join(t, r, codec.JSON)
		regID := callee.register("com.myapp.user.new", nil)

		rq := caller.req()
		caller.send(codec.CALL, rq, map[string]any{}, "com.myapp.user.new", []any{"johnny"}, map[string]any{"firstname": "John"})
		inv := callee.expect(codec.INVOCATION)
		must(t, asID(t, inv[2]) == regID, "INVOCATION registration %v", inv[2])
		must(t, inv[4].([]any)[0] == "johnny" && dictOf(t, inv[5])["firstname"] == "John", "INVOCATION payload %v", inv)
		invReq := asID(t, inv[1])
		must(t, invReq == 1, "first INVOCATION request id %d, want 1", invReq)

		callee.send(codec.YIELD, invReq, map[string]any{}, []any{30}, map[string]any{"userid": 123})
		res := caller.expect(codec.RESULT)
		must(t, asID(t, res[1]) == rq && asID(t, res[3].([]any)[0]) == 30 && asID(t, dictOf(t, res[4])["userid"]) == 123, "RESULT %v", res)

		// callee error with args
		rq = caller.req()
		caller.send(codec.CALL, rq, map[string]any{}, "com.myapp.user.new")
		inv = callee.expect(codec.INVOCATION)
		must(t, asID(t, inv[1]) == 2, "INVOCATION ids not sequential: %v", inv[1])
		must(t, len(inv) == 4, "INVOCATION without payload has %d elements", len(inv))
		callee.send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, "com.myapp.error.exists", []any{"taken"}, map[string]any{"n": 1})
		e := caller.expectError(codec.CALL, rq, "com.myapp.error.exists")
		must(t, len(e) == 7 && e[5].([]any)[0] == "taken" && asID(t, dictOf(t, e[6])["n"]) == 1, "ERROR %v", e)
	})
}

func TestDealerErrors(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	q := join(t, r, codec.JSON)

	rq := p.req()
	p.send(codec.CALL, rq, map[string]any{}, "com.nobody")
	p.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)

	id := p.register("com.proc", nil)
	rq = q.req()
	q.send(codec.REGISTER, rq, map[string]any{}, "com.proc")
	q.expectError(codec.REGISTER, rq, core.ErrProcedureAlreadyExists)
	rq = p.req()
	p.send(codec.REGISTER, rq, map[string]any{}, "com.proc")
	p.expectError(codec.REGISTER, rq, core.ErrProcedureAlreadyExists)

	for _, uri := range []string{"a..b", "a b", "", "wamp.session.count"} {
		rq = p.req()
		p.send(codec.REGISTER, rq, map[string]any{}, uri)
		p.expectError(codec.REGISTER, rq, core.ErrInvalidURI)
	}
	for _, uri := range []string{"a..b", "a b", ""} {
		rq = p.req()
		p.send(codec.CALL, rq, map[string]any{}, uri)
		p.expectError(codec.CALL, rq, core.ErrInvalidURI)
	}
	rq = q.req()
	q.send(codec.UNREGISTER, rq, id) // not q's registration
	q.expectError(codec.UNREGISTER, rq, core.ErrNoSuchRegistration)

	rq = p.req()
	p.send(codec.UNREGISTER, rq, id)
	u := p.expect(codec.UNREGISTERED)
	must(t, asID(t, u[1]) == rq, "UNREGISTERED %v", u)
	rq = q.req()
	q.send(codec.CALL, rq, map[string]any{}, "com.proc")
	q.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)
	rq = p.req()
	p.send(codec.UNREGISTER, rq, id)
	p.expectError(codec.UNREGISTER, rq, core.ErrNoSuchRegistration)

	rq = p.req()
	p.send(codec.REGISTER, rq, map[string]any{"invoke": "sometimes"}, "com.x")
	p.expectError(codec.REGISTER, rq, core.ErrInvalidArgument)
}

func TestCalleeLeavesCancelsCalls(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	callee.register("slow", nil)
	rq1, rq2 := caller.req(), caller.req()
	caller.send(codec.CALL, rq1, map[string]any{}, "slow")
	caller.send(codec.CALL, rq2, map[string]any{}, "slow")
	callee.expect(codec.INVOCATION)
	callee.expect(codec.INVOCATION)
	callee.send(codec.GOODBYE, map[string]any{}, core.CloseCloseRealm)
	got := map[uint64]bool{}
	for i := 0; i < 2; i++ {
		e := caller.expect(codec.ERROR)
		must(t, e[4] == core.ErrCanceled, "ERROR %v", e)
		got[asID(t, e[2])] = true
	}
	must(t, got[rq1] && got[rq2], "canceled %v", got)
}

func TestCallerLeavesDiscardsYield(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	callee.register("slow", nil)
	caller.send(codec.CALL, caller.req(), map[string]any{}, "slow")
	inv := callee.expect(codec.INVOCATION)
	caller.l.Conn().Detach()
	// A late YIELD is discarded, not a protocol violation.
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{}, []any{1})
	callee.quiet()
	must(t, !callee.closed(), "callee aborted for a late YIELD")
	// The callee keeps serving new callers.
	c2 := join(t, r, codec.JSON)
	rq := c2.req()
	c2.send(codec.CALL, rq, map[string]any{}, "slow")
	inv = callee.expect(codec.INVOCATION)
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	res := c2.expect(codec.RESULT)
	must(t, asID(t, res[1]) == rq, "RESULT %v", res)
}

func TestCallerDisclosureAndPatternRegistration(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	caller := connect(t, r, codec.CBOR)
	caller.hello("realm1", map[string]any{"authid": "carl"})
	caller.id = asID(t, caller.expect(codec.WELCOME)[1])

	callee.register("com.app.", map[string]any{"match": "prefix"})
	callee.register("com.app.user.get", nil)
	callee.register("com..get", map[string]any{"match": "wildcard"})

	call := func(proc string, opts map[string]any) map[string]any {
		t.Helper()
		caller.send(codec.CALL, caller.req(), opts, proc)
		inv := callee.expect(codec.INVOCATION)
		callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
		caller.expect(codec.RESULT)
		return dictOf(t, inv[3])
	}
	d := call("com.app.user.get", map[string]any{"disclose_me": true})
	must(t, d["procedure"] == nil && asID(t, d["caller"]) == caller.id && d["caller_authid"] == "carl", "exact: %v", d)
	d = call("com.app.user.delete", nil)
	must(t, d["procedure"] == "com.app.user.delete" && d["caller"] == nil, "prefix: %v", d)
	d = call("com.other.get", nil)
	must(t, d["procedure"] == "com.other.get", "wildcard: %v", d)
}

func TestSharedRegistration(t *testing.T) {
	r := newRouter(t, core.Config{})
	callees := []*peer{join(t, r, codec.JSON), join(t, r, codec.JSON), join(t, r, codec.JSON)}
	for _, c := range callees {
		c.register("shared", map[string]any{"invoke": "roundrobin"})
	}
	rq := callees[0].req()
	callees[0].send(codec.REGISTER, rq, map[string]any{"invoke": "random"}, "shared")
	callees[0].expectError(codec.REGISTER, rq, core.ErrProcedureAlreadyExists)

	caller := join(t, r, codec.JSON)
	for round := 0; round < 2; round++ {
		for i := range callees {
			caller.send(codec.CALL, caller.req(), map[string]any{}, "shared")
			inv := callees[i].expect(codec.INVOCATION)
			callees[i].send(codec.YIELD, asID(t, inv[1]), map[string]any{})
			caller.expect(codec.RESULT)
			for j := range callees {
				if j != i {
					callees[j].quiet()
				}
			}
		}
	}
}

func TestProgressiveResults(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee, caller := join(t, r, codec.JSON), join(t, r, codec.MsgPack)
	callee.register("prog", nil)
	rq := caller.req()
	caller.send(codec.CALL, rq, map[string]any{"receive_progress": true}, "prog")
	inv := callee.expect(codec.INVOCATION)
	must(t, dictOf(t, inv[3])["receive_progress"] == true, "receive_progress not forwarded: %v", inv)
	id := asID(t, inv[1])
	for i := 0; i < 3; i++ {
		callee.send(codec.YIELD, id, map[string]any{"progress": true}, []any{i})
		res := caller.expect(codec.RESULT)
		must(t, dictOf(t, res[2])["progress"] == true && asID(t, res[3].([]any)[0]) == uint64(i), "progress %v", res)
	}
	callee.send(codec.YIELD, id, map[string]any{}, []any{"done"})
	res := caller.expect(codec.RESULT)
	must(t, dictOf(t, res[2])["progress"] == nil && res[3].([]any)[0] == "done", "final %v", res)
	must(t, asID(t, res[1]) == rq, "final for %v", res[1])
}

// TestManyCallsInFlight: 1000 calls outstanding at once, all answered to
// the right request.
func TestManyCallsInFlight(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee, caller := join(t, r, codec.CBOR), join(t, r, codec.JSON)
	callee.register("echo", nil)
	const n = 1000
	for i := 0; i < n; i++ {
		caller.send(codec.CALL, caller.req(), map[string]any{}, "echo", []any{i})
	}
	for i := 0; i < n; i++ {
		inv := callee.expect(codec.INVOCATION)
		callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{}, inv[4])
	}
	seen := make(map[uint64]bool)
	for i := 0; i < n; i++ {
		res := caller.expect(codec.RESULT)
		rq := asID(t, res[1])
		must(t, asID(t, res[3].([]any)[0]) == rq-1, "request %d answered with %v", rq, res[3])
		seen[rq] = true
	}
	must(t, len(seen) == n, "answered %d distinct calls", len(seen))
}
