package core_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// expectLimit reads ERROR zwamp.error.limit_exceeded for request req and
// checks its message names the limit.
func (p *peer) expectLimit(reqType codec.Type, req uint64, what string) {
	p.t.Helper()
	m := p.expectError(reqType, req, core.ErrLimitExceeded)
	if len(m) < 6 || !strings.Contains(fmt.Sprint(m[5]), what) {
		p.t.Fatalf("limit error does not say %q: %v", what, m)
	}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// overLimit sends n requests built by msg (each with the next request id)
// that the router refuses, reading and checking the replies as it goes
// without decoding them all, and returns the live-heap growth.
func overLimit(t *testing.T, p *peer, n int, msg func(req uint64) []any) int64 {
	t.Helper()
	before := heapInUse()
	var buf []byte
	for i := 0; i < n; i++ {
		var err error
		buf, err = codec.AppendGo(buf[:0], p.f, msg(p.req()))
		if err != nil {
			t.Fatal(err)
		}
		_ = p.l.Write(buf)
		reply, ok := p.l.TryRead()
		if !ok || !strings.Contains(string(reply), core.ErrLimitExceeded) {
			t.Fatalf("attempt %d: reply %q", i, reply)
		}
	}
	return int64(heapInUse()) - int64(before)
}

// attempts over a limit in the memory checks below, and the live-heap
// growth they may cause: each refused request that was kept would cost
// well over 40 bytes (a subscription, registration or pending call is a
// few hundred), so holding onto them fails the check.
const (
	memAttempts = 50000
	memBound    = 2 << 20
)

func TestLimitSubscriptions(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{SubscriptionsPerSession: 5}})
	p := join(t, r, codec.JSON)
	other := join(t, r, codec.JSON)
	ids := make([]uint64, 5)
	for i := range ids {
		ids[i] = p.subscribe(fmt.Sprintf("com.example.t%d", i), nil)
	}
	rq := p.req()
	p.send(codec.SUBSCRIBE, rq, map[string]any{}, "com.example.over")
	p.expectLimit(codec.SUBSCRIBE, rq, "subscriptions per session")

	// Still usable: events on its subscriptions, publish, register, and a
	// subscription after an unsubscribe.
	other.send(codec.PUBLISH, other.req(), map[string]any{}, "com.example.t0", []any{1})
	p.expect(codec.EVENT)
	p.register("com.example.proc", nil)
	rq = p.req()
	p.send(codec.UNSUBSCRIBE, rq, ids[0])
	p.expect(codec.UNSUBSCRIBED)
	p.subscribe("com.example.after", nil)

	grew := overLimit(t, p, memAttempts, func(req uint64) []any {
		return []any{codec.SUBSCRIBE, req, map[string]any{}, fmt.Sprintf("com.example.x%d", req)}
	})
	t.Logf("live heap growth after %d subscriptions over the limit: %d bytes", memAttempts, grew)
	must(t, grew < memBound, "live heap grew %d bytes after %d refused subscriptions", grew, memAttempts)
	must(t, r.Stats().Limits.Subscriptions == memAttempts+1, "refusals counted %d, want %d", r.Stats().Limits.Subscriptions, memAttempts+1)
	must(t, !p.closed(), "session closed")
}

func TestLimitRegistrations(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{RegistrationsPerSession: 3}})
	p := join(t, r, codec.MsgPack)
	caller := join(t, r, codec.JSON)
	for i := 0; i < 3; i++ {
		p.register(fmt.Sprintf("com.example.p%d", i), nil)
	}
	rq := p.req()
	p.send(codec.REGISTER, rq, map[string]any{}, "com.example.over")
	p.expectLimit(codec.REGISTER, rq, "registrations per session")
	// The procedure over the limit was not registered; the others work.
	rq = caller.req()
	caller.send(codec.CALL, rq, map[string]any{}, "com.example.over")
	caller.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)
	caller.send(codec.CALL, caller.req(), map[string]any{}, "com.example.p1")
	inv := p.expect(codec.INVOCATION)
	p.send(codec.YIELD, inv[1], map[string]any{})
	caller.expect(codec.RESULT)
	p.subscribe("com.example.topic", nil)

	grew := overLimit(t, p, memAttempts, func(req uint64) []any {
		return []any{codec.REGISTER, req, map[string]any{}, fmt.Sprintf("com.example.x%d", req)}
	})
	t.Logf("live heap growth after %d registrations over the limit: %d bytes", memAttempts, grew)
	must(t, grew < memBound, "live heap grew %d bytes after %d refused registrations", grew, memAttempts)
	must(t, r.Stats().Limits.Registrations == memAttempts+1, "refusals counted %d", r.Stats().Limits.Registrations)
}

func TestLimitCallsPerCaller(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{CallsPerSession: 3}})
	callee := join(t, r, codec.JSON)
	caller := join(t, r, codec.CBOR)
	callee.register("com.example.slow", nil)
	var invs [][]any
	for i := 0; i < 3; i++ {
		caller.send(codec.CALL, caller.req(), map[string]any{}, "com.example.slow")
		invs = append(invs, callee.expect(codec.INVOCATION))
	}
	rq := caller.req()
	caller.send(codec.CALL, rq, map[string]any{}, "com.example.slow")
	caller.expectLimit(codec.CALL, rq, "outstanding calls per caller")
	callee.quiet() // no INVOCATION for the refused call

	// The caller keeps working: its pending calls complete, and once one
	// has, a new call goes through.
	callee.send(codec.YIELD, invs[0][1], map[string]any{}, []any{"done"})
	res := caller.expect(codec.RESULT)
	must(t, asID(t, res[1]) == 1, "RESULT for request %v, want 1", res[1])
	caller.send(codec.CALL, caller.req(), map[string]any{}, "com.example.slow")
	invs = append(invs, callee.expect(codec.INVOCATION))
	caller.subscribe("com.example.topic", nil)

	grew := overLimit(t, caller, memAttempts, func(req uint64) []any {
		return []any{codec.CALL, req, map[string]any{}, "com.example.slow", []any{"payload"}}
	})
	t.Logf("live heap growth after %d calls over the limit: %d bytes", memAttempts, grew)
	must(t, grew < memBound, "live heap grew %d bytes after %d refused calls", grew, memAttempts)
	must(t, r.Stats().Limits.Calls == memAttempts+1, "refusals counted %d", r.Stats().Limits.Calls)
	callee.quiet()
}

func TestLimitInvocationsPerCallee(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{InvocationsPerSession: 2}})
	callee := join(t, r, codec.JSON)
	a := join(t, r, codec.JSON)
	b := join(t, r, codec.MsgPack)
	callee.register("com.example.busy", nil)
	a.send(codec.CALL, a.req(), map[string]any{}, "com.example.busy")
	inv1 := callee.expect(codec.INVOCATION)
	a.send(codec.CALL, a.req(), map[string]any{}, "com.example.busy")
	callee.expect(codec.INVOCATION)

	// A third call, from another caller, is answered at once instead of
	// queueing behind the callee's two.
	rq := b.req()
	b.send(codec.CALL, rq, map[string]any{}, "com.example.busy")
	b.expectLimit(codec.CALL, rq, "outstanding invocations per callee")
	callee.quiet()
	must(t, r.Stats().Limits.Invocations == 1, "refusals counted %d", r.Stats().Limits.Invocations)

	// Once the callee answers one, the next call reaches it; b is fine.
	callee.send(codec.YIELD, inv1[1], map[string]any{})
	a.expect(codec.RESULT)
	rq = b.req()
	b.send(codec.CALL, rq, map[string]any{}, "com.example.busy")
	callee.expect(codec.INVOCATION)

	grew := overLimit(t, b, memAttempts, func(req uint64) []any {
		return []any{codec.CALL, req, map[string]any{}, "com.example.busy", []any{"payload"}}
	})
	t.Logf("live heap growth after %d calls over the callee's limit: %d bytes", memAttempts, grew)
	must(t, grew < memBound, "live heap grew %d bytes after %d refused calls", grew, memAttempts)
	callee.quiet()
}

func TestLimitSessionsPerRealm(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{SessionsPerRealm: 2}})
	a := join(t, r, codec.JSON)
	join(t, r, codec.JSON)
	over := connect(t, r, codec.JSON)
	over.hello("realm1", nil)
	m := over.expectAbort(core.ErrLimitExceeded)
	must(t, strings.Contains(fmt.Sprint(m[1]), "sessions per realm"), "ABORT does not name the limit: %v", m)
	must(t, r.Stats().Limits.Sessions == 1, "refusals counted %d", r.Stats().Limits.Sessions)

	// The joined sessions are unaffected; a leave frees a place.
	a.subscribe("com.example.t", nil)
	a.send(codec.GOODBYE, map[string]any{}, "wamp.close.close_realm")
	a.expect(codec.GOODBYE)
	join(t, r, codec.CBOR)

	before := heapInUse()
	hello, _ := codec.AppendGo(nil, codec.JSON, []any{codec.HELLO, "realm1", map[string]any{"roles": allRoles}})
	for i := 0; i < memAttempts; i++ {
		l := r.ConnectLocal(codec.JSON)
		_ = l.Write(hello)
		reply, _ := l.TryRead()
		if !strings.Contains(string(reply), core.ErrLimitExceeded) {
			t.Fatalf("attempt %d: %q", i, reply)
		}
		l.Close()
	}
	grew := int64(heapInUse()) - int64(before)
	t.Logf("live heap growth after %d HELLOs over the limit: %d bytes", memAttempts, grew)
	must(t, grew < memBound, "live heap grew %d bytes", grew)
	must(t, r.Realm("realm1").SessionCount() == 2, "sessions %d", r.Realm("realm1").SessionCount())
}

// TestLimitsOff: a negative limit turns it off.
func TestLimitsOff(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{SubscriptionsPerSession: -1}})
	p := join(t, r, codec.JSON)
	for i := 0; i < core.DefaultSubscriptionsPerSession+10; i++ {
		rq := p.req()
		p.send(codec.SUBSCRIBE, rq, map[string]any{}, fmt.Sprintf("com.example.t%d", i))
		if reply, ok := p.l.TryRead(); !ok || strings.Contains(string(reply), core.ErrLimitExceeded) {
			t.Fatalf("subscription %d refused: %q", i, reply)
		}
	}
}

// TestViolationsLoggedAggregated: protocol violations from many peers make
// one full log line and, once the router is done, one line with the count.
func TestViolationsLoggedAggregated(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r := newRouter(t, core.Config{Logger: log, LogInterval: time.Hour})
	for i := 0; i < 300; i++ {
		p := connect(t, r, codec.JSON)
		p.send(codec.PUBLISH, 1, map[string]any{}, "com.example.t") // before HELLO
		p.expectAbort(core.ErrProtocolViolation)
	}
	r.FlushLogs()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `msg="protocol violation"`) ||
		!strings.Contains(lines[1], `msg="protocol violation (repeated)" repeated=299 total=300`) {
		t.Fatalf("want one full line and one summary, got:\n%s", buf.String())
	}
}

// TestLimitInvocationsReroute: a call re-routed after wamp.error.unavailable
// skips a callee at its invocation limit like one that left.
func TestLimitInvocationsReroute(t *testing.T) {
	r := newRouter(t, core.Config{Limits: core.Limits{InvocationsPerSession: 1}})
	a := join(t, r, codec.JSON)
	b := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	a.register("com.example.shared", map[string]any{"invoke": "roundrobin"})
	b.register("com.example.shared", map[string]any{"invoke": "roundrobin"})
	rq1 := caller.req()
	caller.send(codec.CALL, rq1, map[string]any{}, "com.example.shared")
	invA := a.expect(codec.INVOCATION)
	caller.send(codec.CALL, caller.req(), map[string]any{}, "com.example.shared")
	b.expect(codec.INVOCATION) // b is now at its limit
	a.send(codec.ERROR, codec.INVOCATION, invA[1], map[string]any{}, "wamp.error.unavailable")
	caller.expectError(codec.CALL, rq1, core.ErrNoAvailableCallee)
	b.quiet()
}
