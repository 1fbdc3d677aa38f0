package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// renamedChallenger is testChallenger under another method name, so that
// the process-wide counts by method are this test's alone.
type renamedChallenger struct{ testChallenger }

const renamedMethod = "wirestats-test"

func (*renamedChallenger) Method() string { return renamedMethod }

func (a *renamedChallenger) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	ch, id, err := a.testChallenger.Begin(h)
	id.AuthMethod = renamedMethod
	return ch, id, err
}

func (a *renamedChallenger) Verify(h *core.Hello, ch *core.Challenge, au *core.Authenticate) (core.Identity, *core.AuthError) {
	id, err := a.testChallenger.Verify(h, ch, au)
	id.AuthMethod = renamedMethod
	return id, err
}

func authMethodCount(method string) (ok, failed int64) {
	for _, a := range core.AuthMethodCounts() {
		if a.Method == method {
			return a.Successes, a.Failures
		}
	}
	return 0, 0
}

// TestAuthMethodCounts: logins are counted by method, a success when the
// session joins, a failure when the authenticator refuses; a HELLO
// refused before any authenticator (no acceptable method) is neither.
func TestAuthMethodCounts(t *testing.T) {
	a := &renamedChallenger{}
	r := authRouter(t, a, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1})
	ok0, failed0 := authMethodCount(renamedMethod)

	p := connect(t, r, codec.JSON)
	helloAuth(p, "alice", renamedMethod)
	p.expect(codec.CHALLENGE)
	p.send(codec.AUTHENTICATE, "good", map[string]any{})
	p.expect(codec.WELCOME)

	q := connect(t, r, codec.JSON)
	helloAuth(q, "fast", renamedMethod) // admitted by Begin
	q.expect(codec.WELCOME)

	for _, sig := range []string{"bad", "worse"} {
		x := connect(t, r, codec.JSON)
		helloAuth(x, "bob", renamedMethod)
		x.expect(codec.CHALLENGE)
		x.send(codec.AUTHENTICATE, sig, map[string]any{})
		x.expectAbort(core.ErrAuthenticationFailed)
	}
	n := connect(t, r, codec.JSON)
	helloAuth(n, "carol", "ticket") // not offered: no authenticator looks at it
	n.expectAbort(core.ErrNoAuthMethod)

	ok, failed := authMethodCount(renamedMethod)
	if ok-ok0 != 2 || failed-failed0 != 2 {
		t.Fatalf("%s: %d successes, %d failures since the start, want 2 and 2", renamedMethod, ok-ok0, failed-failed0)
	}
	if ok, failed := authMethodCount("ticket"); ok != 0 || failed != 0 {
		t.Fatalf("ticket: %d/%d counted for a method no realm has", ok, failed)
	}

	anon0, _ := authMethodCount("anonymous")
	m := connect(t, r, codec.JSON)
	m.hello("realm1", nil)
	m.expect(codec.WELCOME)
	if anon, _ := authMethodCount("anonymous"); anon-anon0 < 1 {
		t.Fatalf("anonymous join not counted")
	}
}
