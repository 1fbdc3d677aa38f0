package client_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

func TestJoin(t *testing.T) {
	r := newRouter(t)
	c, err := client.ConnectLocal(r, client.Config{Realm: realm, AuthID: "alice"})
	noErr(t, err)
	defer c.Close()
	must(t, c.ID() != 0, "session id 0")
	d := c.Details()
	must(t, d["realm"] == realm && d["authid"] == "alice" && d["authrole"] == "anonymous", "WELCOME details %v", d)
	roles, _ := d["roles"].(map[string]any)
	must(t, roles["broker"] != nil && roles["dealer"] != nil, "router roles %v", roles)
	must(t, r.Realm(realm).SessionCount() == 1, "session count %d", r.Realm(realm).SessionCount())

	_, err = client.ConnectLocal(r, client.Config{Realm: "no.such.realm"})
	wampError(t, err, "wamp.error.no_such_realm")
	_, err = client.ConnectLocal(r, client.Config{Realm: realm, AuthMethods: []string{"ticket"}})
	wampError(t, err, "wamp.error.no_auth_method")
	_, err = client.ConnectLocal(r, client.Config{Realm: realm, Serializer: 9})
	must(t, err != nil, "unknown serializer accepted")
	_, err = client.Connect(bg, "ws://127.0.0.1:1", client.Config{Realm: realm, Serializer: 9})
	must(t, err != nil, "unknown serializer accepted by Connect")
	eventually(t, "failed joins leave no session", func() bool { return r.Realm(realm).SessionCount() == 1 })
}

// TestCloseAndRejoin: Close says GOODBYE and waits for the answer; the
// realm forgets the session, requests fail with ErrClosed, and a new
// client joins again.
func TestCloseAndRejoin(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	for round := 0; round < 3; round++ {
		c := join(t, r, codec.JSON)
		_, err := c.Register("com.example.proc", echo, nil)
		noErr(t, err)
		_, err = c.Subscribe("com.example.topic", func(*client.Event) {}, nil)
		noErr(t, err)
		noErr(t, c.Close())
		select {
		case <-c.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
		must(t, c.Err() == nil, "Err after Close: %v", c.Err())
		must(t, r.Realm(realm).SessionCount() == 0, "router still has %d sessions", r.Realm(realm).SessionCount())
		_, err = c.Call(bg, "com.example.proc", nil, nil, nil)
		must(t, errors.Is(err, client.ErrClosed), "Call after Close: %v", err)
		err = c.Publish("com.example.topic", nil, nil, nil)
		must(t, errors.Is(err, client.ErrClosed), "Publish after Close: %v", err)
		noErr(t, c.Close()) // again
	}
}

func TestRouterShutdown(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	callee := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	entered := make(chan struct{})
	_, err := callee.Register("com.example.hang", func(ctx context.Context, _ *client.Invocation) (*client.Result, error) {
		close(entered)
		<-ctx.Done() // the session's end cancels it
		return nil, ctx.Err()
	}, nil)
	noErr(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(bg, "com.example.hang", nil, nil, nil)
		errc <- err
	}()
	recvT(t, entered, "invocation")

	r.Shutdown()
	for _, c := range []*client.Client{caller, callee} {
		recvT(t, c.Done(), "Done after shutdown")
		wampError(t, c.Err(), core.CloseSystemShutdown)
	}
	err = recvT(t, errc, "pending call to fail")
	wampError(t, err, core.CloseSystemShutdown)
	eventually(t, "sessions gone", func() bool { return r.Realm(realm).SessionCount() == 0 })
	noErr(t, caller.Close())
	wampError(t, caller.Err(), core.CloseSystemShutdown) // Close after the end changes nothing
	noErr(t, callee.Close())
}

// localWrapper lets a test break the in-process transport under a client.
type localWrapper struct{ l *core.Local }

func (w *localWrapper) Send(msg []byte) error { return w.l.Write(msg) }
func (w *localWrapper) Recv() ([]byte, error) { return w.l.Read() }
func (w *localWrapper) Close() error          { w.l.Close(); return nil }

func TestTransportFailure(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	w := &localWrapper{l: r.ConnectLocal(codec.JSON)}
	c, err := client.New(w, client.Config{Realm: realm})
	noErr(t, err)
	callee := join(t, r, codec.JSON)
	entered := make(chan struct{})
	release := make(chan struct{})
	_, err = callee.Register("com.example.hang", func(context.Context, *client.Invocation) (*client.Result, error) {
		close(entered)
		<-release
		return nil, nil
	}, nil)
	noErr(t, err)
	defer close(release)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(bg, "com.example.hang", nil, nil, nil)
		errc <- err
	}()
	recvT(t, entered, "invocation")
	w.l.Close() // the connection breaks

	err = recvT(t, errc, "pending call to fail")
	must(t, errors.Is(err, core.ErrLocalClosed), "pending call failed with %v", err)
	recvT(t, c.Done(), "Done")
	must(t, errors.Is(c.Err(), core.ErrLocalClosed), "Err = %v", c.Err())
	_, err = c.Subscribe("com.example.t", func(*client.Event) {}, nil)
	must(t, errors.Is(err, core.ErrLocalClosed), "Subscribe after the failure: %v", err)
	noErr(t, c.Close())
}

// TestGoroutinesAfterClose: a client that did everything leaves no
// goroutine behind once closed.
func TestGoroutinesAfterClose(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	a := join(t, r, codec.JSON)
	b := join(t, r, codec.CBOR)
	got := make(chan struct{}, 10)
	_, err := a.Subscribe("com.example.t", func(*client.Event) { got <- struct{}{} }, nil)
	noErr(t, err)
	_, err = a.Register("com.example.p", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		if inv.Progress != nil {
			_ = inv.Progress([]any{1}, nil)
		}
		return nil, nil
	}, nil)
	noErr(t, err)
	noErr(t, b.Publish("com.example.t", nil, nil, nil))
	recvT(t, got, "event")
	_, err = b.Call(bg, "com.example.p", nil, nil, &client.CallOptions{OnProgress: func(*client.Result) {}})
	noErr(t, err)
	ctx, cancel := context.WithTimeout(bg, time.Millisecond)
	_, _ = b.Call(ctx, "com.example.p", nil, nil, &client.CallOptions{Timeout: time.Second})
	cancel()
	noErr(t, a.Close())
	noErr(t, b.Close())
}

// TestCloseFromHandler: Close may be called from an event or invocation
// handler without deadlocking.
func TestCloseFromHandler(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	a := join(t, r, codec.JSON)
	b := join(t, r, codec.JSON)
	closed := make(chan error, 1)
	_, err := a.Subscribe("com.example.bye", func(*client.Event) { closed <- a.Close() }, nil)
	noErr(t, err)
	noErr(t, b.Publish("com.example.bye", nil, nil, nil))
	noErr(t, recvT(t, closed, "Close from an event handler"))
	recvT(t, a.Done(), "Done")

	_, err = b.Register("com.example.bye", func(context.Context, *client.Invocation) (*client.Result, error) {
		closed <- b.Close()
		return nil, nil
	}, nil)
	noErr(t, err)
	c := join(t, r, codec.JSON)
	_, err = c.Call(bg, "com.example.bye", nil, nil, nil)
	// The callee left before answering: the dealer cancels the call.
	wampError(t, err, "wamp.error.canceled")
	noErr(t, recvT(t, closed, "Close from an invocation handler"))
}

func TestConcurrentClose(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _ = c.Close() }()
		go func() { defer wg.Done(); _ = c.Publish("com.example.t", []any{1}, nil, nil) }()
	}
	wg.Wait()
	recvT(t, c.Done(), "Done")
	must(t, c.Err() == nil, "Err after Close: %v", c.Err())
}

// --- protocol details against a scripted router ---

func TestHelloAnnouncesRoles(t *testing.T) {
	p := newPipe(t, codec.JSON)
	done := p.startNew(client.Config{Realm: realm, AuthID: "joe", AuthMethods: []string{"anonymous", "ticket"}, AuthExtra: map[string]any{"k": "v"}})
	hello := p.expect(codec.HELLO)
	must(t, hello[1] == realm, "realm %v", hello[1])
	d := hello[2].(map[string]any)
	must(t, d["agent"] == client.Agent, "agent %v", d["agent"])
	must(t, d["authid"] == "joe" && reflect.DeepEqual(d["authmethods"], []any{"anonymous", "ticket"}), "auth details %v", d)
	must(t, reflect.DeepEqual(d["authextra"], map[string]any{"k": "v"}), "authextra %v", d["authextra"])
	roles := d["roles"].(map[string]any)
	feature := func(role, f string) bool {
		r, _ := roles[role].(map[string]any)
		fs, _ := r["features"].(map[string]any)
		return fs[f] == true
	}
	for _, rf := range [][2]string{
		{"caller", "progressive_call_results"}, {"caller", "call_canceling"}, {"caller", "call_timeout"},
		{"callee", "progressive_call_results"}, {"callee", "call_canceling"}, {"callee", "pattern_based_registration"},
		{"publisher", "publisher_exclusion"}, {"publisher", "subscriber_blackwhite_listing"},
		{"subscriber", "pattern_based_subscription"},
	} {
		must(t, feature(rf[0], rf[1]), "HELLO does not announce %s.%s: %v", rf[0], rf[1], roles)
	}
	p.welcome(7, nil)
	res := recvT(t, done, "New")
	noErr(t, res.err)
	must(t, res.c.ID() == 7, "session id %d", res.c.ID())
	p.Close()
}

// TestChallenge: CHALLENGE is answered through Config.Authenticate.
func TestChallenge(t *testing.T) {
	p := newPipe(t, codec.MsgPack)
	var gotMethod string
	var gotExtra map[string]any
	done := p.startNew(client.Config{
		Realm: realm, Serializer: codec.MsgPack, AuthMethods: []string{"ticket"},
		Authenticate: func(method string, extra map[string]any) (string, map[string]any, error) {
			gotMethod, gotExtra = method, extra
			return "secret-ticket", map[string]any{"x": 1}, nil
		},
	})
	p.expect(codec.HELLO)
	p.send(codec.CHALLENGE, "ticket", map[string]any{"nonce": "abc"})
	auth := p.expect(codec.AUTHENTICATE)
	must(t, auth[1] == "secret-ticket" && reflect.DeepEqual(auth[2], map[string]any{"x": int64(1)}), "AUTHENTICATE %v", auth)
	p.welcome(9, nil)
	res := recvT(t, done, "New")
	noErr(t, res.err)
	must(t, gotMethod == "ticket" && gotExtra["nonce"] == "abc", "Authenticate saw %q %v", gotMethod, gotExtra)
	must(t, res.c.ID() == 9, "id %d", res.c.ID())
	p.Close()

	// Refused by the router after AUTHENTICATE.
	p = newPipe(t, codec.JSON)
	done = p.startNew(client.Config{Realm: realm, Authenticate: func(string, map[string]any) (string, map[string]any, error) {
		return "wrong", nil, nil
	}})
	p.expect(codec.HELLO)
	p.send(codec.CHALLENGE, "wampcra", map[string]any{})
	p.expect(codec.AUTHENTICATE)
	p.send(codec.ABORT, map[string]any{"message": "bad signature"}, "wamp.error.authentication_failed")
	e := wampError(t, recvT(t, done, "New").err, "wamp.error.authentication_failed")
	must(t, e.Error() == "wamp.error.authentication_failed: bad signature", "Error() = %q", e.Error())

	// No authenticator: the client refuses the challenge with ABORT.
	p = newPipe(t, codec.JSON)
	done = p.startNew(client.Config{Realm: realm})
	p.expect(codec.HELLO)
	p.send(codec.CHALLENGE, "wampcra", map[string]any{})
	abort := p.expect(codec.ABORT)
	must(t, abort[2] == "wamp.error.cannot_authenticate", "ABORT %v", abort)
	wampError(t, recvT(t, done, "New").err, "wamp.error.cannot_authenticate")

	// Authenticate fails.
	errNoKey := errors.New("no key")
	p = newPipe(t, codec.JSON)
	done = p.startNew(client.Config{Realm: realm, Authenticate: func(string, map[string]any) (string, map[string]any, error) {
		return "", nil, errNoKey
	}})
	p.expect(codec.HELLO)
	p.send(codec.CHALLENGE, "cryptosign", map[string]any{})
	abort = p.expect(codec.ABORT)
	must(t, abort[2] == "wamp.error.cannot_authenticate", "ABORT %v", abort)
	err := recvT(t, done, "New").err
	must(t, errors.Is(err, errNoKey), "Authenticate error lost: %v", err)
}

func TestJoinTimeout(t *testing.T) {
	p := newPipe(t, codec.JSON)
	done := p.startNew(client.Config{Realm: realm, RequestTimeout: 20 * time.Millisecond})
	p.expect(codec.HELLO)
	err := recvT(t, done, "New").err
	must(t, errors.Is(err, client.ErrTimeout), "join without WELCOME: %v", err)
}

// joinPipe returns a client joined over a scripted router.
func joinPipe(t *testing.T, f codec.Format, dealerFeatures map[string]any) (*client.Client, *pipe) {
	t.Helper()
	return joinPipeConfig(t, client.Config{Realm: realm, Serializer: f, RequestTimeout: waitLong}, dealerFeatures)
}

// joinPipeConfig is joinPipe with the test's own Config, whose Serializer
// must be set.
func joinPipeConfig(t *testing.T, cfg client.Config, dealerFeatures map[string]any) (*client.Client, *pipe) {
	t.Helper()
	p := newPipe(t, cfg.Serializer)
	done := p.startNew(cfg)
	p.expect(codec.HELLO)
	p.welcome(1, dealerFeatures)
	res := recvT(t, done, "New")
	noErr(t, res.err)
	t.Cleanup(func() { p.Close(); <-res.c.Done() })
	return res.c, p
}

// TestRequestIDs: session-scope ids are sequential across request types,
// starting at 1.
func TestRequestIDs(t *testing.T) {
	c, p := joinPipe(t, codec.JSON, nil)
	noErr(t, c.Publish("a.b", nil, nil, nil))
	m := p.expect(codec.PUBLISH)
	must(t, asInt(t, m[1]) == 1, "first PUBLISH id %v", m[1])
	go func() { _, _ = c.Subscribe("a.b", func(*client.Event) {}, nil) }()
	m = p.expect(codec.SUBSCRIBE)
	must(t, asInt(t, m[1]) == 2, "SUBSCRIBE id %v", m[1])
	go func() { _, _ = c.Call(bg, "a.b", nil, nil, nil) }()
	m = p.expect(codec.CALL)
	must(t, asInt(t, m[1]) == 3, "CALL id %v", m[1])
	go func() { _, _ = c.Register("a.b", echo, nil) }()
	m = p.expect(codec.REGISTER)
	must(t, asInt(t, m[1]) == 4, "REGISTER id %v", m[1])
}

// TestCallOptionsOnTheWire: receive_progress, timeout and disclose_me reach
// the CALL, and a cancelled call sends CANCEL killnowait when the dealer
// announced call canceling.
func TestCallOptionsOnTheWire(t *testing.T) {
	c, p := joinPipe(t, codec.JSON, map[string]any{"call_canceling": true})
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "com.example.p", []any{1}, nil, &client.CallOptions{
			Timeout: 1500 * time.Millisecond, DiscloseMe: true, OnProgress: func(*client.Result) {},
		})
		errc <- err
	}()
	call := p.expect(codec.CALL)
	opts := call[2].(map[string]any)
	must(t, opts["receive_progress"] == true && asInt(t, opts["timeout"]) == 1500 && opts["disclose_me"] == true, "CALL options %v", opts)
	cancel()
	must(t, errors.Is(recvT(t, errc, "Call"), context.Canceled), "cancelled call")
	m := p.expect(codec.CANCEL)
	must(t, m[1] == call[1] && m[2].(map[string]any)["mode"] == "killnowait", "CANCEL %v", m)
	// The router's answer to the cancelled call is dropped.
	p.send(codec.ERROR, codec.CALL, call[1], map[string]any{}, "wamp.error.canceled")
	p.send(codec.RESULT, call[1], map[string]any{})

	// A progressive RESULT before the final one, in order.
	var got []any
	resc := make(chan *client.Result, 1)
	go func() {
		res, err := c.Call(bg, "com.example.p", nil, nil, &client.CallOptions{OnProgress: func(r *client.Result) { got = append(got, r.Args[0]) }})
		if err != nil {
			t.Error(err)
		}
		resc <- res
	}()
	call = p.expect(codec.CALL)
	p.send(codec.RESULT, call[1], map[string]any{"progress": true}, []any{"p1"})
	p.send(codec.RESULT, call[1], map[string]any{"progress": true}, []any{"p2"})
	p.send(codec.RESULT, call[1], map[string]any{}, []any{"final"})
	res := recvT(t, resc, "result")
	must(t, res.Args[0] == "final" && reflect.DeepEqual(got, []any{"p1", "p2"}), "progress %v final %v", got, res.Args)
}

// TestInterrupt: INTERRUPT cancels the invocation's context and the
// handler's context error is answered with wamp.error.canceled.
func TestInterrupt(t *testing.T) {
	c, p := joinPipe(t, codec.CBOR, nil)
	entered := make(chan struct{})
	go func() {
		_, err := c.Register("com.example.long", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
			close(entered)
			<-ctx.Done()
			return nil, ctx.Err()
		}, nil)
		if err != nil {
			t.Error(err)
		}
	}()
	reg := p.expect(codec.REGISTER)
	p.send(codec.REGISTERED, reg[1], 555)
	p.send(codec.INVOCATION, 1, 555, map[string]any{})
	recvT(t, entered, "invocation")
	p.send(codec.INTERRUPT, 1, map[string]any{"mode": "kill"})
	e := p.expect(codec.ERROR)
	must(t, asInt(t, e[1]) == int64(codec.INVOCATION) && asInt(t, e[2]) == 1 && e[4] == "wamp.error.canceled", "answer to INTERRUPT %v", e)

	// An INVOCATION for a registration the client does not have.
	p.send(codec.INVOCATION, 2, 999, map[string]any{})
	e = p.expect(codec.ERROR)
	must(t, asInt(t, e[2]) == 2 && e[4] == "wamp.error.no_such_registration", "unknown registration %v", e)
}

// TestRouterGoodbyeAndAbort: a GOODBYE from the router is answered with
// goodbye_and_out; an ABORT ends the session with its reason.
func TestRouterGoodbyeAndAbort(t *testing.T) {
	c, p := joinPipe(t, codec.JSON, nil)
	p.send(codec.GOODBYE, map[string]any{"message": "maintenance"}, "wamp.close.system_shutdown")
	m := p.expect(codec.GOODBYE)
	must(t, m[2] == "wamp.close.goodbye_and_out", "answer to GOODBYE %v", m)
	recvT(t, c.Done(), "Done")
	e := wampError(t, c.Err(), "wamp.close.system_shutdown")
	must(t, e.Details["message"] == "maintenance", "details %v", e.Details)

	c, p = joinPipe(t, codec.JSON, nil)
	p.send(codec.ABORT, map[string]any{}, "wamp.error.protocol_violation", []any{"you did something"})
	recvT(t, c.Done(), "Done")
	e = wampError(t, c.Err(), "wamp.error.protocol_violation")
	must(t, e.Error() == "wamp.error.protocol_violation: you did something", "Error() = %q", e.Error())
}

// TestRouterViolations: nonsense from the router makes the client ABORT
// with wamp.error.protocol_violation.
func TestRouterViolations(t *testing.T) {
	for name, msg := range map[string][]any{
		"WELCOME again":          {codec.WELCOME, 2, map[string]any{}},
		"HELLO":                  {codec.HELLO, "realm1", map[string]any{}},
		"malformed":              {codec.EVENT, "x"},
		"unknown type":           {99, 1},
		"SUBSCRIBED for a CALL":  {codec.SUBSCRIBED, 1, 5},
		"ERROR for another type": {codec.ERROR, codec.REGISTER, 1, map[string]any{}, "a.b"},
	} {
		t.Run(name, func(t *testing.T) {
			c, p := joinPipe(t, codec.JSON, nil)
			go func() { _, _ = c.Call(bg, "a.b", nil, nil, nil) }()
			p.expect(codec.CALL)
			p.send(msg...)
			m := p.expect(codec.ABORT)
			must(t, m[2] == "wamp.error.protocol_violation", "ABORT %v", m)
			recvT(t, c.Done(), "Done")
			wampError(t, c.Err(), "wamp.error.protocol_violation")
		})
	}
}

// TestLateAnswers: answers to requests nobody waits for any more are
// dropped without harm.
func TestLateAnswers(t *testing.T) {
	c, p := joinPipe(t, codec.JSON, nil)
	p.send(codec.RESULT, 42, map[string]any{})
	p.send(codec.ERROR, codec.CALL, 43, map[string]any{}, "a.b")
	p.send(codec.SUBSCRIBED, 44, 1)
	p.send(codec.EVENT, 12345, 1, map[string]any{})
	p.send(codec.INTERRUPT, 77, map[string]any{})
	errc := make(chan error, 1)
	go func() { errc <- c.Publish("a.b", nil, nil, &client.PublishOptions{Acknowledge: true}) }()
	m := p.expect(codec.PUBLISH)
	p.send(codec.PUBLISHED, m[1], 1)
	// The reader handled everything sent before PUBLISHED.
	noErr(t, recvT(t, errc, "acknowledged Publish"))
	select {
	case <-c.Done():
		t.Fatalf("session ended: %v", c.Err())
	default:
	}
}

func TestRequestTimeout(t *testing.T) {
	c, p := joinPipeConfig(t, client.Config{Realm: realm, Serializer: codec.JSON, RequestTimeout: 200 * time.Millisecond}, nil)
	_, err := c.Subscribe("a.b", func(*client.Event) {}, nil)
	must(t, errors.Is(err, client.ErrTimeout), "Subscribe without answer: %v", err)
	sub := p.expect(codec.SUBSCRIBE)
	// The late SUBSCRIBED installs nothing (events for it are dropped) and
	// is undone: nobody owns that subscription.
	p.send(codec.SUBSCRIBED, sub[1], 5)
	p.send(codec.EVENT, 5, 1, map[string]any{})
	uns := p.expect(codec.UNSUBSCRIBE)
	must(t, asInt(t, uns[2]) == 5, "UNSUBSCRIBE %v after the late SUBSCRIBED 5", uns)
	p.send(codec.UNSUBSCRIBED, uns[1])

	_, err = c.Register("a.p", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
	must(t, errors.Is(err, client.ErrTimeout), "Register without answer: %v", err)
	reg := p.expect(codec.REGISTER)
	p.send(codec.REGISTERED, reg[1], 6)
	unr := p.expect(codec.UNREGISTER)
	must(t, asInt(t, unr[2]) == 6, "UNREGISTER %v after the late REGISTERED 6", unr)
	p.send(codec.UNREGISTERED, unr[1])

	// A REGISTER refused late leaves nothing to undo.
	_, err = c.Register("a.q", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
	must(t, errors.Is(err, client.ErrTimeout), "Register without answer: %v", err)
	reg = p.expect(codec.REGISTER)
	p.send(codec.ERROR, codec.REGISTER, reg[1], map[string]any{}, "wamp.error.procedure_already_exists")

	err = c.Publish("a.b", nil, nil, &client.PublishOptions{Acknowledge: true})
	must(t, errors.Is(err, client.ErrTimeout), "acknowledged Publish without answer: %v", err)
	p.expect(codec.PUBLISH) // nothing else was sent
	// Close: GOODBYE is not answered either.
	err = c.Close()
	must(t, errors.Is(err, client.ErrTimeout), "Close without GOODBYE answer: %v", err)
	must(t, c.Err() == nil, "Err after Close: %v", c.Err())
}

// TestLateSubscribedShared: a subscription confirmed after its Subscribe
// timed out is not undone when a later Subscribe to the same topic got the
// same router subscription id, since UNSUBSCRIBE would end that one too.
func TestLateSubscribedShared(t *testing.T) {
	// Long enough for the second Subscribe's answer under -race on a busy
	// machine; the first Subscribe waits all of it.
	c, p := joinPipeConfig(t, client.Config{Realm: realm, Serializer: codec.JSON, RequestTimeout: 500 * time.Millisecond}, nil)
	_, err := c.Subscribe("a.b", func(*client.Event) {}, nil)
	must(t, errors.Is(err, client.ErrTimeout), "Subscribe without answer: %v", err)
	first := p.expect(codec.SUBSCRIBE)

	got := make(chan *client.Event, 1)
	subc := make(chan error, 1)
	go func() {
		_, err := c.Subscribe("a.b", func(e *client.Event) { got <- e }, nil)
		subc <- err
	}()
	second := p.expect(codec.SUBSCRIBE)
	p.send(codec.SUBSCRIBED, first[1], 5) // late: its undo waits for the second Subscribe
	p.send(codec.SUBSCRIBED, second[1], 5)
	noErr(t, recvT(t, subc, "second Subscribe"))

	noErr(t, c.Publish("a.c", nil, nil, nil))
	p.expect(codec.PUBLISH) // and no UNSUBSCRIBE before it
	p.send(codec.EVENT, 5, 1, map[string]any{})
	recvT(t, got, "event for the second subscription")
}

// TestLateRegisteredUndone: over a real router, a REGISTER confirmed after
// Register timed out is unregistered, so the procedure is free again.
func TestLateRegisteredUndone(t *testing.T) {
	checkNoLeak(t)
	r := newRouter(t)
	h := &holdAck{l: r.ConnectLocal(codec.JSON), release: make(chan struct{})}
	// The timeout also bounds joining and the undoing UNREGISTER, so it is
	// not tiny; Register waits all of it.
	c, err := client.New(h, client.Config{Realm: realm, Serializer: codec.JSON, RequestTimeout: time.Second})
	noErr(t, err)
	released := false
	defer func() {
		if !released {
			close(h.release)
		}
		c.Close()
	}()
	noop := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
	_, err = c.Register("com.example.late", noop, nil)
	must(t, errors.Is(err, client.ErrTimeout), "Register with its REGISTERED held back: %v", err)

	other := join(t, r, codec.JSON)
	_, err = other.Register("com.example.late", noop, nil)
	wampError(t, err, core.ErrProcedureAlreadyExists) // the router did register it
	close(h.release)
	released = true
	eventually(t, "the abandoned registration undone", func() bool {
		reg, err := other.Register("com.example.late", noop, nil)
		return err == nil && reg != nil
	})
}

// holdAck is a client transport over core.Local that holds back the
// router's first REGISTERED until release is closed.
type holdAck struct {
	l       *core.Local
	release chan struct{}
	held    bool // owned by the client's reader
}

func (h *holdAck) Send(msg []byte) error { return h.l.Write(msg) }
func (h *holdAck) Close() error          { h.l.Close(); return nil }
func (h *holdAck) Recv() ([]byte, error) {
	b, err := h.l.Read()
	if err == nil && !h.held && bytes.HasPrefix(b, []byte("[65,")) {
		h.held = true
		<-h.release // the test closes it (deferred too, so a failing test ends)
	}
	return b, err
}

// TestNoCancelWithoutDealerSupport: without call_canceling announced by the
// dealer, a cancelled call is only forgotten.
func TestNoCancelWithoutDealerSupport(t *testing.T) {
	c, p := joinPipe(t, codec.MsgPack, map[string]any{"progressive_call_results": true})
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "com.example.p", nil, nil, nil)
		errc <- err
	}()
	call := p.expect(codec.CALL)
	cancel()
	must(t, errors.Is(recvT(t, errc, "Call"), context.Canceled), "cancelled call")
	noErr(t, c.Publish("com.example.after", nil, nil, nil))
	m := p.expect(codec.PUBLISH) // not a CANCEL first
	must(t, asInt(t, m[1]) == asInt(t, call[1])+1, "request ids %v then %v", call[1], m[1])
}
