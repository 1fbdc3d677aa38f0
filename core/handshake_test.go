package core_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// testChallenger is a Challenger for method "test": authid "fast" is
// admitted by Begin without a challenge, "nobody" is refused by Begin,
// everyone else is challenged and admitted by the signature "good".
// Verify waits for gate when it is set, to model a slow check.
type testChallenger struct {
	begins, verifies atomic.Int64
	gate             chan struct{}
	beginGate        chan struct{}
	lastHello        atomic.Pointer[core.Hello]
}

func (*testChallenger) Method() string { return "test" }

func (*testChallenger) Authenticate(*core.Hello) (core.Identity, *core.AuthError) {
	panic("core called Authenticate on a Challenger")
}

func (a *testChallenger) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	a.begins.Add(1)
	a.lastHello.Store(h)
	if a.beginGate != nil {
		<-a.beginGate
	}
	switch h.AuthID {
	case "fast":
		return nil, core.Identity{AuthID: "fast", AuthRole: "user", AuthMethod: "test", AuthProvider: "static"}, nil
	case "nobody":
		return nil, core.Identity{}, &core.AuthError{URI: core.ErrAuthenticationFailed, Message: "authentication failed"}
	}
	return &core.Challenge{Extra: map[string]any{"nonce": "n1"}, State: h.AuthID}, core.Identity{}, nil
}

func (a *testChallenger) Verify(h *core.Hello, ch *core.Challenge, au *core.Authenticate) (core.Identity, *core.AuthError) {
	a.verifies.Add(1)
	if a.gate != nil {
		<-a.gate
	}
	if au.Signature != "good" || ch.State != h.AuthID {
		return core.Identity{}, &core.AuthError{URI: core.ErrAuthenticationFailed, Message: "authentication failed"}
	}
	return core.Identity{AuthID: h.AuthID, AuthRole: "user", AuthMethod: "test", AuthProvider: "static",
		AuthExtra: map[string]any{"k": "v"}}, nil
}

func authRouter(t *testing.T, a core.Authenticator, lim core.AuthLimits) *core.Router {
	return newRouter(t, core.Config{Auth: lim, Realms: []core.RealmConfig{
		{Name: "realm1"},
		{Name: "secure", Authenticators: []core.Authenticator{a}},
	}})
}

func helloAuth(p *peer, authid string, methods ...any) {
	p.hello("secure", map[string]any{"authid": authid, "authmethods": methods})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestChallengeRound(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		a := &testChallenger{}
		r := authRouter(t, a, core.AuthLimits{})
		p := connect(t, r, f)
		helloAuth(p, "alice", "other", "test")
		ch := p.expect(codec.CHALLENGE)
		must(t, ch[1] == "test" && dictOf(t, ch[2])["nonce"] == "n1", "challenge %v", ch)
		p.send(codec.AUTHENTICATE, "good", map[string]any{})
		w := p.expect(codec.WELCOME)
		d := dictOf(t, w[2])
		must(t, d["authid"] == "alice" && d["authrole"] == "user" && d["authmethod"] == "test" &&
			d["authprovider"] == "static", "welcome %v", d)
		must(t, equalValues(d["authextra"], map[string]any{"k": "v"}), "authextra %v", d["authextra"])
		// The id promised to the authenticator (wampcra's challenge) is the
		// session's id.
		must(t, asID(t, w[1]) == a.lastHello.Load().Session, "session %v, promised %d", w[1], a.lastHello.Load().Session)
		must(t, r.AuthStats().Successes == 1, "stats %+v", r.AuthStats())

		// Admitted by Begin without a challenge round.
		q := connect(t, r, f)
		helloAuth(q, "fast", "test")
		q.expect(codec.WELCOME)
	})
}

func TestChallengeRefused(t *testing.T) {
	a := &testChallenger{}
	r := authRouter(t, a, core.AuthLimits{})
	p := connect(t, r, codec.JSON)
	helloAuth(p, "alice", "test")
	p.expect(codec.CHALLENGE)
	p.send(codec.AUTHENTICATE, "bad", map[string]any{})
	p.expectAbort(core.ErrAuthenticationFailed)
	waitFor(t, "close", p.closed)

	q := connect(t, r, codec.JSON)
	helloAuth(q, "nobody", "test")
	q.expectAbort(core.ErrAuthenticationFailed)
	must(t, r.AuthStats().Failures == 2, "stats %+v", r.AuthStats())

	// A method the realm does not have.
	n := connect(t, r, codec.JSON)
	helloAuth(n, "alice", "ticket")
	n.expectAbort(core.ErrNoAuthMethod)
	// No method at all on a realm with authenticators.
	n = connect(t, r, codec.JSON)
	n.hello("secure", nil)
	n.expectAbort(core.ErrNoAuthMethod)
}

func TestChallengeProtocol(t *testing.T) {
	a := &testChallenger{}
	r := authRouter(t, a, core.AuthLimits{})
	// Anything but AUTHENTICATE or ABORT while challenged is a violation.
	p := connect(t, r, codec.JSON)
	helloAuth(p, "alice", "test")
	p.expect(codec.CHALLENGE)
	p.send(codec.PUBLISH, 1, map[string]any{}, "a.b")
	p.expectAbort(core.ErrProtocolViolation)

	// ABORT from the client ends the handshake quietly.
	q := connect(t, r, codec.JSON)
	helloAuth(q, "alice", "test")
	q.expect(codec.CHALLENGE)
	q.send(codec.ABORT, map[string]any{}, "wamp.error.cannot_authenticate")
	waitFor(t, "close", q.closed)
	must(t, a.verifies.Load() == 0, "verify called")
}

func TestChallengeTimeout(t *testing.T) {
	a := &testChallenger{}
	r := authRouter(t, a, core.AuthLimits{HandshakeTimeout: 100 * time.Millisecond})
	p := connect(t, r, codec.JSON)
	helloAuth(p, "alice", "test")
	p.expect(codec.CHALLENGE)
	waitFor(t, "timeout", func() bool { return r.AuthStats().Timeouts == 1 })
	p.expectAbort(core.ErrAuthenticationFailed)
	waitFor(t, "close", p.closed)
	// An AUTHENTICATE after the timeout gets nothing.
	p.send(codec.AUTHENTICATE, "good", map[string]any{})
	p.quiet()
	must(t, a.verifies.Load() == 0, "verify ran after the timeout")
}

// TestSlowVerifyDoesNotBlock: while a Verify is stuck on the worker pool,
// an established session's pubsub on the same router keeps flowing, and
// the stuck login completes when its check returns.
func TestSlowVerifyDoesNotBlock(t *testing.T) {
	a := &testChallenger{gate: make(chan struct{})}
	r := authRouter(t, a, core.AuthLimits{})
	sub := join(t, r, codec.JSON)
	pub := join(t, r, codec.JSON)
	sub.subscribe("a.b", nil)

	p := connect(t, r, codec.JSON)
	helloAuth(p, "alice", "test")
	p.expect(codec.CHALLENGE)
	p.send(codec.AUTHENTICATE, "good", map[string]any{})
	waitFor(t, "verify", func() bool { return a.verifies.Load() == 1 })
	for i := 0; i < 10; i++ {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "a.b", []any{i})
		sub.expect(codec.EVENT)
	}
	p.quiet()
	close(a.gate)
	p.expect(codec.WELCOME)
}

func TestFailureRateLimit(t *testing.T) {
	a := &testChallenger{}
	r := authRouter(t, a, core.AuthLimits{MaxFailuresPerAddr: 3, MaxFailuresPerAuthID: -1})
	for i := 0; i < 3; i++ {
		p := connect(t, r, codec.JSON)
		helloAuth(p, "nobody", "test")
		p.expectAbort(core.ErrAuthenticationFailed)
	}
	begins := a.begins.Load()
	// The address is over its limit: refused before any check, even with
	// a good authid.
	p := connect(t, r, codec.JSON)
	helloAuth(p, "fast", "test")
	m := p.expectAbort(core.ErrAuthenticationFailed)
	must(t, a.begins.Load() == begins, "authenticator ran for a rate-limited HELLO")
	must(t, r.AuthStats().RateLimited == 1, "stats %+v %v", r.AuthStats(), m)
	// Anonymous realms are not affected.
	join(t, r, codec.JSON)
}

func TestFailureRateLimitPerAuthID(t *testing.T) {
	a := &testChallenger{}
	r := authRouter(t, a, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: 2})
	for i := 0; i < 2; i++ {
		p := connect(t, r, codec.JSON)
		helloAuth(p, "alice", "test")
		p.expect(codec.CHALLENGE)
		p.send(codec.AUTHENTICATE, "bad", map[string]any{})
		p.expectAbort(core.ErrAuthenticationFailed)
	}
	p := connect(t, r, codec.JSON)
	helloAuth(p, "alice", "test")
	p.expectAbort(core.ErrAuthenticationFailed)
	must(t, r.AuthStats().RateLimited == 1, "stats %+v", r.AuthStats())
	// Another authid from the same address still gets in.
	q := connect(t, r, codec.JSON)
	helloAuth(q, "fast", "test")
	q.expect(codec.WELCOME)
}

func TestPendingBound(t *testing.T) {
	a := &testChallenger{beginGate: make(chan struct{})}
	r := authRouter(t, a, core.AuthLimits{MaxPendingPerAddr: 2, Workers: 2})
	var ps []*peer
	for i := 0; i < 2; i++ {
		p := connect(t, r, codec.JSON)
		helloAuth(p, "fast", "test")
		ps = append(ps, p)
	}
	waitFor(t, "begins", func() bool { return a.begins.Load() == 2 })
	p := connect(t, r, codec.JSON)
	helloAuth(p, "fast", "test")
	p.expectAbort(core.ErrAuthenticationFailed)
	must(t, r.AuthStats().Busy == 1, "stats %+v", r.AuthStats())
	// A connection that goes away frees its slot.
	ps[0].l.Close()
	close(a.beginGate)
	ps[1].expect(codec.WELCOME)
	q := connect(t, r, codec.JSON)
	helloAuth(q, "fast", "test")
	q.expect(codec.WELCOME)
}

// TestWorkerPoolDrains: with one worker busy, queued handshakes wait and
// all complete once it is free (workers are started on demand and exit
// when the queue is empty; none may be left behind with work queued).
func TestWorkerPoolDrains(t *testing.T) {
	a := &testChallenger{beginGate: make(chan struct{})}
	r := authRouter(t, a, core.AuthLimits{Workers: 1})
	var ps []*peer
	for i := 0; i < 3; i++ {
		p := connect(t, r, codec.JSON)
		helloAuth(p, "fast", "test")
		ps = append(ps, p)
	}
	waitFor(t, "first begin", func() bool { return a.begins.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	must(t, a.begins.Load() == 1, "%d begins with one worker", a.begins.Load())
	close(a.beginGate)
	for _, p := range ps {
		p.expect(codec.WELCOME)
	}
	// Later logins start a worker again.
	for i := 0; i < 3; i++ {
		time.Sleep(10 * time.Millisecond)
		q := connect(t, r, codec.JSON)
		helloAuth(q, "fast", "test")
		q.expect(codec.WELCOME)
	}
}
