package core_test

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// Tests of the advanced RPC features: call canceling, call timeouts,
// progressive call invocations, callee-requested caller disclosure, call
// re-routing and registration revocation. Each runs through core.Local as
// a raw WAMP peer would.

// feats builds a HELLO roles dict where caller and callee announce the
// given features.
func feats(caller, callee []string) map[string]any {
	f := func(names []string) map[string]any {
		m := map[string]any{}
		for _, n := range names {
			m[n] = true
		}
		return map[string]any{"features": m}
	}
	return map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}, "caller": f(caller), "callee": f(callee)}
}

var (
	canceling   = []string{"call_canceling", "progressive_call_results"}
	progressive = []string{"call_canceling", "progressive_call_invocations", "progressive_call_results"}
)

// joinWith joins realm1 announcing roles.
func joinWith(t testing.TB, r *core.Router, f codec.Format, roles map[string]any, details map[string]any) *peer {
	t.Helper()
	p := connect(t, r, f)
	if details == nil {
		details = map[string]any{}
	}
	details["roles"] = roles
	p.hello("realm1", details)
	p.id = asID(t, p.expect(codec.WELCOME)[1])
	return p
}

// quietFor asserts nothing arrives within d.
func (p *peer) quietFor(d time.Duration) {
	p.t.Helper()
	time.Sleep(d)
	p.quiet()
}

// callOpts sends a CALL with options and returns its request id.
func (p *peer) callOpts(opts map[string]any, proc string, payload ...any) uint64 {
	p.t.Helper()
	rq := p.req()
	msg := []any{codec.CALL, rq, opts, proc}
	p.send(append(msg, payload...)...)
	return rq
}

func expectInterrupt(t *testing.T, callee *peer, id uint64, mode string) {
	t.Helper()
	m := callee.expect(codec.INTERRUPT)
	must(t, asID(t, m[1]) == id && dictOf(t, m[2])["mode"] == mode, "INTERRUPT %v, want id %d mode %s", m, id, mode)
}

func TestWelcomeAnnouncesRPCFeatures(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := connect(t, r, codec.JSON)
	p.hello("realm1", nil)
	w := p.expect(codec.WELCOME)
	df := dictOf(t, dictOf(t, dictOf(t, dictOf(t, w[2])["roles"])["dealer"])["features"])
	for _, f := range []string{"call_canceling", "call_timeout", "progressive_call_invocations", "registration_revocation", "caller_identification", "call_reroute"} {
		must(t, df[f] == true, "dealer feature %s not announced: %v", f, df)
	}
	for _, f := range []string{"sharded_registration", "call_trustlevels"} {
		must(t, df[f] == nil, "dealer feature %s announced but not implemented: %v", f, df)
	}
}

func TestCancelModes(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{})
		callee := joinWith(t, r, f, feats(nil, canceling), nil)
		caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
		callee.register("slow", nil)

		// skip: ERROR now, no INTERRUPT, the late YIELD is discarded.
		rq := caller.callOpts(map[string]any{}, "slow")
		inv := callee.expect(codec.INVOCATION)
		caller.send(codec.CANCEL, rq, map[string]any{"mode": "skip"})
		caller.expectError(codec.CALL, rq, core.ErrCanceled)
		callee.quiet()
		callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{}, []any{"late"})
		caller.quiet()

		// kill: INTERRUPT, and the callee's answer ends the call.
		rq = caller.callOpts(map[string]any{}, "slow")
		inv = callee.expect(codec.INVOCATION)
		id := asID(t, inv[1])
		caller.send(codec.CANCEL, rq, map[string]any{"mode": "kill"})
		expectInterrupt(t, callee, id, "kill")
		caller.quiet()
		caller.send(codec.CANCEL, rq, map[string]any{"mode": "kill"}) // a second kill changes nothing
		callee.quiet()
		callee.send(codec.ERROR, codec.INVOCATION, id, map[string]any{}, core.ErrCanceled)
		caller.expectError(codec.CALL, rq, core.ErrCanceled)

		// kill, but the callee finishes first: the caller gets the RESULT.
		rq = caller.callOpts(map[string]any{}, "slow")
		inv = callee.expect(codec.INVOCATION)
		id = asID(t, inv[1])
		caller.send(codec.CANCEL, rq, map[string]any{"mode": "kill"})
		expectInterrupt(t, callee, id, "kill")
		callee.send(codec.YIELD, id, map[string]any{}, []any{"finished"})
		res := caller.expect(codec.RESULT)
		must(t, asID(t, res[1]) == rq && res[3].([]any)[0] == "finished", "RESULT after kill %v", res)

		// killnowait, and CANCEL without a mode (the same): ERROR now,
		// INTERRUPT, the callee's late answer is discarded.
		for _, opts := range []map[string]any{{"mode": "killnowait"}, {}} {
			rq = caller.callOpts(map[string]any{}, "slow")
			inv = callee.expect(codec.INVOCATION)
			id = asID(t, inv[1])
			caller.send(codec.CANCEL, rq, opts)
			caller.expectError(codec.CALL, rq, core.ErrCanceled)
			expectInterrupt(t, callee, id, "killnowait")
			callee.send(codec.ERROR, codec.INVOCATION, id, map[string]any{}, core.ErrCanceled)
			caller.quiet()
			must(t, !callee.closed(), "callee aborted for answering an interrupted invocation")
		}

		// The callee keeps serving.
		rq = caller.callOpts(map[string]any{}, "slow")
		inv = callee.expect(codec.INVOCATION)
		callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
		must(t, asID(t, caller.expect(codec.RESULT)[1]) == rq, "RESULT after cancels")
	})
}

// TestCancelCalleeWithoutCanceling: a callee that did not announce
// call_canceling is never sent INTERRUPT; every mode behaves as skip.
func TestCancelCalleeWithoutCanceling(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, nil), nil)
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	callee.register("slow", nil)
	for _, mode := range []string{"skip", "kill", "killnowait"} {
		rq := caller.callOpts(map[string]any{}, "slow")
		inv := callee.expect(codec.INVOCATION)
		caller.send(codec.CANCEL, rq, map[string]any{"mode": mode})
		caller.expectError(codec.CALL, rq, core.ErrCanceled)
		callee.quiet()
		callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
		caller.quiet()
	}
}

func TestCancelErrorPaths(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	callee.register("echo", nil)

	// CANCEL of a request id never used: ignored.
	caller.send(codec.CANCEL, 999, map[string]any{"mode": "kill"})
	caller.quiet()
	callee.quiet()

	// CANCEL after the RESULT: ignored, no INTERRUPT.
	rq := caller.callOpts(map[string]any{}, "echo")
	inv := callee.expect(codec.INVOCATION)
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	caller.expect(codec.RESULT)
	caller.send(codec.CANCEL, rq, map[string]any{"mode": "killnowait"})
	caller.quiet()
	callee.quiet()
	must(t, !caller.closed() && !callee.closed(), "CANCEL after RESULT closed a session")

	// An unknown mode is a protocol violation.
	rq = caller.callOpts(map[string]any{}, "echo")
	callee.expect(codec.INVOCATION)
	caller.send(codec.CANCEL, rq, map[string]any{"mode": "gently"})
	caller.expectAbort(core.ErrProtocolViolation)
	// The caller's end interrupts the pending invocation.
	expectInterrupt(t, callee, 2, "killnowait")
}

// TestCallerLeavesInterrupts: the basic profile's "Caller Leaving": a
// callee that supports canceling gets INTERRUPT killnowait; one that does
// not gets nothing.
func TestCallerLeavesInterrupts(t *testing.T) {
	r := newRouter(t, core.Config{})
	canc := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	plain := joinWith(t, r, codec.MsgPack, feats(nil, nil), nil)
	canc.register("a", nil)
	plain.register("b", nil)
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	caller.callOpts(map[string]any{}, "a")
	caller.callOpts(map[string]any{}, "b")
	ia := canc.expect(codec.INVOCATION)
	ib := plain.expect(codec.INVOCATION)
	caller.send(codec.GOODBYE, map[string]any{}, core.CloseCloseRealm)
	caller.expect(codec.GOODBYE)
	expectInterrupt(t, canc, asID(t, ia[1]), "killnowait")
	plain.quiet()
	plain.send(codec.YIELD, asID(t, ib[1]), map[string]any{})
	canc.send(codec.YIELD, asID(t, ia[1]), map[string]any{})
	plain.quiet()
	must(t, !plain.closed() && !canc.closed(), "late answers closed a callee")
}

func TestCallTimeout(t *testing.T) {
	r := newRouter(t, core.Config{})
	canc := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	plain := joinWith(t, r, codec.CBOR, feats(nil, nil), nil)
	canc.register("canc", nil)
	plain.register("plain", nil)
	caller := joinWith(t, r, codec.MsgPack, feats(canceling, nil), nil)

	// Callee supports canceling: ERROR timeout, INTERRUPT killnowait.
	rq := caller.callOpts(map[string]any{"timeout": 30}, "canc")
	inv := canc.expect(codec.INVOCATION)
	must(t, dictOf(t, inv[3])["timeout"] == nil, "timeout forwarded to a callee without call_timeout: %v", inv)
	caller.expectError(codec.CALL, rq, core.ErrTimeout)
	expectInterrupt(t, canc, asID(t, inv[1]), "killnowait")
	canc.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	caller.quiet()

	// Callee without canceling: ERROR timeout (skip), no INTERRUPT.
	rq = caller.callOpts(map[string]any{"timeout": 30}, "plain")
	inv = plain.expect(codec.INVOCATION)
	caller.expectError(codec.CALL, rq, core.ErrTimeout)
	plain.quiet()
	plain.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	caller.quiet()

	// Answered in time: the RESULT, and nothing when the deadline passes.
	rq = caller.callOpts(map[string]any{"timeout": 100}, "canc")
	inv = canc.expect(codec.INVOCATION)
	canc.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	must(t, asID(t, caller.expect(codec.RESULT)[1]) == rq, "RESULT")
	caller.quietFor(200 * time.Millisecond)
	canc.quiet()

	// timeout 0 means none.
	rq = caller.callOpts(map[string]any{"timeout": 0}, "canc")
	inv = canc.expect(codec.INVOCATION)
	caller.quietFor(50 * time.Millisecond)
	canc.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	must(t, asID(t, caller.expect(codec.RESULT)[1]) == rq, "RESULT without timeout")

	// Canceled before the deadline: one ERROR, canceled, never timeout.
	rq = caller.callOpts(map[string]any{"timeout": 40}, "canc")
	inv = canc.expect(codec.INVOCATION)
	caller.send(codec.CANCEL, rq, map[string]any{"mode": "skip"})
	caller.expectError(codec.CALL, rq, core.ErrCanceled)
	caller.quietFor(100 * time.Millisecond)
	canc.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
}

// TestCallTimeoutForwarded: a callee that announces call_timeout and
// registers with forward_timeout gets the timeout in INVOCATION.Details and
// the dealer does not enforce it.
func TestCallTimeoutForwarded(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, []string{"call_timeout", "call_canceling"}), nil)
	callee.register("fwd", map[string]any{"forward_timeout": true})
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	rq := caller.callOpts(map[string]any{"timeout": 20}, "fwd")
	inv := callee.expect(codec.INVOCATION)
	must(t, asID(t, dictOf(t, inv[3])["timeout"]) == 20, "timeout not forwarded: %v", inv)
	caller.quietFor(100 * time.Millisecond)
	callee.quiet()
	callee.send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, core.ErrTimeout)
	caller.expectError(codec.CALL, rq, core.ErrTimeout)
}

// TestCallTimeoutRacesResult: with deadlines that expire while results
// are on their way, every call gets exactly one answer, RESULT or ERROR
// timeout, whether the callee supports canceling (killnowait) or not
// (skip).
func TestCallTimeoutRacesResult(t *testing.T) {
	r := newRouter(t, core.Config{})
	canc := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	canc.register("racy.canc", nil)
	plain := joinWith(t, r, codec.JSON, feats(nil, nil), nil)
	plain.register("racy.plain", nil)
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	const n = 300
	for i := 0; i < n; i++ {
		proc := "racy.canc"
		if i%2 == 1 {
			proc = "racy.plain"
		}
		caller.callOpts(map[string]any{"timeout": 1 + i%3}, proc)
	}
	for _, callee := range []*peer{canc, plain} {
		for i := 0; i < n/2; i++ {
			m, ok := callee.recv()
			must(t, ok, "callee got %d of %d INVOCATIONs", i, n/2)
			if codec.Type(asID(t, m[0])) == codec.INVOCATION {
				callee.send(codec.YIELD, asID(t, m[1]), map[string]any{})
			} else {
				i-- // an INTERRUPT for a call already timed out
			}
		}
	}
	answers := map[uint64]int{}
	count := func(m []any) {
		switch codec.Type(asID(t, m[0])) {
		case codec.RESULT:
			answers[asID(t, m[1])]++
		case codec.ERROR:
			must(t, m[4] == core.ErrTimeout, "ERROR %v", m)
			answers[asID(t, m[2])]++
		}
	}
	for len(answers) < n {
		m, ok := caller.recv()
		must(t, ok, "%d of %d calls answered", len(answers), n)
		count(m)
	}
	time.Sleep(50 * time.Millisecond)
	for {
		msg, ok := caller.l.TryRead()
		if !ok {
			break
		}
		v, _ := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: msg})
		count(v.([]any))
	}
	for rq, c := range answers {
		must(t, c == 1, "request %d answered %d times", rq, c)
	}
	must(t, !canc.closed() && !plain.closed(), "callee closed")
}

// TestCalleeLeavesWithTimeout: the callee's end fails the call with
// canceled; its timer fires into nothing.
func TestCalleeLeavesWithTimeout(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	callee.register("slow", nil)
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	rq := caller.callOpts(map[string]any{"timeout": 50}, "slow")
	callee.expect(codec.INVOCATION)
	callee.l.Close()
	caller.expectError(codec.CALL, rq, core.ErrCanceled)
	caller.quietFor(100 * time.Millisecond)
}

func TestProgressiveCallInvocations(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{})
		callee := joinWith(t, r, f, feats(nil, progressive), nil)
		callee.register("upload", nil)
		callee.register("plain", nil)
		caller := joinWith(t, r, codec.JSON, feats(progressive, nil), map[string]any{"authid": "uploader"})

		// [CALL 1 progress] [CALL 2] [CALL 1 progress] [CALL 1 final]
		rq := caller.callOpts(map[string]any{"progress": true, "disclose_me": true, "receive_progress": true}, "upload", []any{"chunk0"})
		inv := callee.expect(codec.INVOCATION)
		id := asID(t, inv[1])
		d := dictOf(t, inv[3])
		must(t, d["progress"] == true && asID(t, d["caller"]) == caller.id && d["receive_progress"] == true, "first chunk %v", inv)
		rq2 := caller.callOpts(map[string]any{}, "plain")
		inv2 := callee.expect(codec.INVOCATION)
		must(t, asID(t, inv2[1]) != id, "second call reuses invocation id")
		callee.send(codec.YIELD, asID(t, inv2[1]), map[string]any{})
		must(t, asID(t, caller.expect(codec.RESULT)[1]) == rq2, "RESULT of the call in between")

		caller.send(codec.CALL, rq, map[string]any{"progress": true}, "upload", []any{"chunk1"})
		inv = callee.expect(codec.INVOCATION)
		d = dictOf(t, inv[3])
		must(t, asID(t, inv[1]) == id && d["progress"] == true && asID(t, d["caller"]) == caller.id && inv[4].([]any)[0] == "chunk1", "second chunk %v", inv)
		// Progressive results flow back while chunks still come.
		callee.send(codec.YIELD, id, map[string]any{"progress": true}, []any{"ack1"})
		res := caller.expect(codec.RESULT)
		must(t, asID(t, res[1]) == rq && dictOf(t, res[2])["progress"] == true, "progressive result %v", res)

		caller.send(codec.CALL, rq, map[string]any{}, "upload", []any{"last"})
		inv = callee.expect(codec.INVOCATION)
		d = dictOf(t, inv[3])
		must(t, asID(t, inv[1]) == id && d["progress"] == nil && inv[4].([]any)[0] == "last", "final chunk %v", inv)
		callee.send(codec.YIELD, id, map[string]any{}, []any{"stored"})
		res = caller.expect(codec.RESULT)
		must(t, asID(t, res[1]) == rq && res[3].([]any)[0] == "stored", "final RESULT %v", res)

		// A chunk for the completed call is discarded, not a violation.
		caller.send(codec.CALL, rq, map[string]any{"progress": true}, "upload")
		callee.quiet()
		caller.quiet()
		// A gap in new request ids still is.
		caller.send(codec.CALL, caller.rq+2, map[string]any{}, "plain")
		caller.expectAbort(core.ErrProtocolViolation)
	})
}

func TestProgressiveCallInvocationErrors(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, progressive), nil)
	callee.register("upload", nil)
	old := joinWith(t, r, codec.JSON, feats(nil, []string{"progressive_call_invocations"}), nil) // no call_canceling
	old.register("old", nil)
	caller := joinWith(t, r, codec.JSON, feats(progressive, nil), nil)

	// The callee lacks the feature (or call canceling): application error.
	rq := caller.callOpts(map[string]any{"progress": true}, "old")
	caller.expectError(codec.CALL, rq, core.ErrFeatureNotSupported)
	old.quiet()

	// The callee answers early: later chunks are dropped.
	rq = caller.callOpts(map[string]any{"progress": true}, "upload")
	inv := callee.expect(codec.INVOCATION)
	callee.send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, "app.error.too_big")
	caller.expectError(codec.CALL, rq, "app.error.too_big")
	caller.send(codec.CALL, rq, map[string]any{"progress": true}, "upload")
	caller.send(codec.CALL, rq, map[string]any{}, "upload")
	callee.quiet()
	caller.quiet()

	// Reusing the id of a pending call that is not streaming: violation.
	rq = caller.callOpts(map[string]any{}, "upload")
	callee.expect(codec.INVOCATION)
	caller.send(codec.CALL, rq, map[string]any{"progress": true}, "upload")
	caller.expectAbort(core.ErrProtocolViolation)

	// A caller that did not announce the feature: violation.
	plain := joinWith(t, r, codec.JSON, feats(nil, nil), nil)
	plain.callOpts(map[string]any{"progress": true}, "upload")
	plain.expectAbort(core.ErrProtocolViolation)
}

func TestProgressiveCallInvocationsPeerLeaves(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, progressive), nil)
	callee.register("upload", nil)

	// Caller leaves mid-stream: INTERRUPT killnowait.
	caller := joinWith(t, r, codec.JSON, feats(progressive, nil), nil)
	caller.callOpts(map[string]any{"progress": true}, "upload")
	inv := callee.expect(codec.INVOCATION)
	caller.l.Close()
	expectInterrupt(t, callee, asID(t, inv[1]), "killnowait")

	// Callee leaves mid-stream: ERROR canceled; later chunks are dropped.
	caller = joinWith(t, r, codec.JSON, feats(progressive, nil), nil)
	rq := caller.callOpts(map[string]any{"progress": true}, "upload")
	callee.expect(codec.INVOCATION)
	callee.l.Close()
	caller.expectError(codec.CALL, rq, core.ErrCanceled)
	caller.send(codec.CALL, rq, map[string]any{}, "upload")
	caller.quiet()
	must(t, !caller.closed(), "caller closed for a chunk after the callee left")
}

// TestDiscloseCaller: REGISTER.Options.disclose_caller makes every
// INVOCATION name the caller (id, authid, authrole).
func TestDiscloseCaller(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	callee.register("who", map[string]any{"disclose_caller": true})
	callee.register("anon", nil)
	caller := connect(t, r, codec.MsgPack)
	caller.hello("realm1", map[string]any{"authid": "alice"})
	caller.id = asID(t, caller.expect(codec.WELCOME)[1])

	caller.callOpts(map[string]any{}, "who")
	inv := callee.expect(codec.INVOCATION)
	d := dictOf(t, inv[3])
	must(t, asID(t, d["caller"]) == caller.id && d["caller_authid"] == "alice" && d["caller_authrole"] == "anonymous", "disclosed %v", d)
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
	caller.expect(codec.RESULT)

	caller.callOpts(map[string]any{}, "anon")
	inv = callee.expect(codec.INVOCATION)
	must(t, dictOf(t, inv[3])["caller"] == nil, "disclosed without asking: %v", inv)
}

func TestCallRerouting(t *testing.T) {
	for _, tc := range []struct {
		invoke string
		order  []int // which callee gets the call, in turn
	}{
		{"roundrobin", []int{0, 1, 2}},
		{"first", []int{0, 1, 2}},
		{"last", []int{2, 1, 0}},
		{"random", nil},
	} {
		t.Run(tc.invoke, func(t *testing.T) {
			r := newRouter(t, core.Config{})
			callees := []*peer{join(t, r, codec.JSON), join(t, r, codec.MsgPack), join(t, r, codec.CBOR)}
			for _, c := range callees {
				c.register("svc", map[string]any{"invoke": tc.invoke})
			}
			caller := join(t, r, codec.JSON)
			next := func() (int, []any) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for time.Now().Before(deadline) {
					for i, c := range callees {
						if msg, ok := c.l.TryRead(); ok {
							v, err := codec.ToGo(codec.Raw{Format: c.f, Bytes: msg})
							must(t, err == nil, "decode: %v", err)
							return i, v.([]any)
						}
					}
					time.Sleep(time.Millisecond)
				}
				t.Fatal("no callee got the call")
				return 0, nil
			}
			// All three unavailable: each tried once, in policy order, with
			// the original payload; then no_available_callee.
			rq := caller.callOpts(map[string]any{}, "svc", []any{"payload"}, map[string]any{"k": 1})
			seen := map[int]bool{}
			for step := 0; step < 3; step++ {
				i, inv := next()
				must(t, !seen[i], "callee %d tried twice", i)
				seen[i] = true
				if tc.order != nil {
					must(t, i == tc.order[step], "step %d went to callee %d, want %d", step, i, tc.order[step])
				}
				must(t, inv[4].([]any)[0] == "payload" && asID(t, dictOf(t, inv[5])["k"]) == 1, "payload lost: %v", inv)
				callees[i].send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, core.ErrUnavailable)
			}
			caller.expectError(codec.CALL, rq, core.ErrNoAvailableCallee)

			// One unavailable, the next answers.
			rq = caller.callOpts(map[string]any{}, "svc", []any{"again"})
			i, inv := next()
			callees[i].send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, core.ErrUnavailable)
			j, inv := next()
			must(t, j != i && inv[4].([]any)[0] == "again", "rerouted to %d after %d: %v", j, i, inv)
			callees[j].send(codec.YIELD, asID(t, inv[1]), map[string]any{}, []any{"ok"})
			res := caller.expect(codec.RESULT)
			must(t, asID(t, res[1]) == rq && res[3].([]any)[0] == "ok", "RESULT %v", res)
		})
	}
}

func TestCallReroutingSingle(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	callee.register("svc", nil)
	caller := join(t, r, codec.JSON)
	rq := caller.callOpts(map[string]any{}, "svc")
	inv := callee.expect(codec.INVOCATION)
	callee.send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, core.ErrUnavailable)
	caller.expectError(codec.CALL, rq, core.ErrNoAvailableCallee)
}

func TestRemoveCallee(t *testing.T) {
	r := newRouter(t, core.Config{AllowMetaKill: true})
	revocable := joinWith(t, r, codec.JSON, feats(nil, []string{"registration_revocation"}), nil)
	plain := join(t, r, codec.MsgPack)
	regID := revocable.register("svc", map[string]any{"invoke": "roundrobin"})
	must(t, plain.register("svc", map[string]any{"invoke": "roundrobin"}) == regID, "shared registration id")
	admin := join(t, r, codec.JSON)

	rq := admin.callOpts(map[string]any{}, "wamp.registration.remove_callee", []any{regID, revocable.id}, map[string]any{"reason": "moving"})
	must(t, asID(t, admin.expect(codec.RESULT)[1]) == rq, "remove_callee RESULT")
	u := revocable.expect(codec.UNREGISTERED)
	d := dictOf(t, u[2])
	must(t, asID(t, u[1]) == 0 && asID(t, d["registration"]) == regID && d["reason"] == "moving", "UNREGISTERED %v", u)
	// Its own UNREGISTER now finds nothing; calls go to the other callee.
	urq := revocable.req()
	revocable.send(codec.UNREGISTER, urq, regID)
	revocable.expectError(codec.UNREGISTER, urq, core.ErrNoSuchRegistration)
	for i := 0; i < 2; i++ {
		admin.callOpts(map[string]any{}, "svc")
		inv := plain.expect(codec.INVOCATION)
		plain.send(codec.YIELD, asID(t, inv[1]), map[string]any{})
		admin.expect(codec.RESULT)
	}
	revocable.quiet()

	// A callee without registration_revocation is removed silently.
	rq = admin.callOpts(map[string]any{}, "wamp.registration.remove_callee", []any{regID, plain.id})
	admin.expect(codec.RESULT)
	plain.quiet()
	rq = admin.callOpts(map[string]any{}, "svc")
	admin.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)

	// Errors: unknown registration, a session that is not its callee.
	id2 := plain.register("other", nil)
	rq = admin.callOpts(map[string]any{}, "wamp.registration.remove_callee", []any{regID + 1000, plain.id})
	admin.expectError(codec.CALL, rq, core.ErrNoSuchRegistration)
	rq = admin.callOpts(map[string]any{}, "wamp.registration.remove_callee", []any{id2, admin.id})
	admin.expectError(codec.CALL, rq, core.ErrNoSuchSession)
}

func TestRemoveCalleeDisabled(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	regID := callee.register("svc", nil)
	admin := join(t, r, codec.JSON)
	rq := admin.callOpts(map[string]any{}, "wamp.registration.remove_callee", []any{regID, callee.id})
	admin.expectError(codec.CALL, rq, core.ErrNotAuthorized)
	rq = admin.callOpts(map[string]any{}, "svc")
	callee.expect(codec.INVOCATION)
}

// TestKillThenTimeout: a call canceled in kill mode whose callee never
// answers still ends at its timeout (ERROR timeout, INTERRUPT killnowait).
func TestKillThenTimeout(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	callee.register("stuck", nil)
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	rq := caller.callOpts(map[string]any{"timeout": 100}, "stuck")
	id := asID(t, callee.expect(codec.INVOCATION)[1])
	caller.send(codec.CANCEL, rq, map[string]any{"mode": "kill"})
	expectInterrupt(t, callee, id, "kill")
	caller.expectError(codec.CALL, rq, core.ErrTimeout)
	expectInterrupt(t, callee, id, "killnowait")
	callee.send(codec.ERROR, codec.INVOCATION, id, map[string]any{}, core.ErrCanceled)
	caller.quiet()
}

// TestRerouteAfterCancel: a call canceled (skip) while its first callee
// still holds it is not re-routed when that callee answers unavailable.
func TestRerouteAfterCancel(t *testing.T) {
	r := newRouter(t, core.Config{})
	a, b := join(t, r, codec.JSON), join(t, r, codec.JSON)
	a.register("svc", map[string]any{"invoke": "roundrobin"})
	b.register("svc", map[string]any{"invoke": "roundrobin"})
	caller := joinWith(t, r, codec.JSON, feats(canceling, nil), nil)
	rq := caller.callOpts(map[string]any{}, "svc")
	inv := a.expect(codec.INVOCATION)
	caller.send(codec.CANCEL, rq, map[string]any{"mode": "skip"})
	caller.expectError(codec.CALL, rq, core.ErrCanceled)
	a.send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, core.ErrUnavailable)
	b.quiet()
	caller.quiet()
}
