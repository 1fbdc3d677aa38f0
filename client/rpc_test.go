package client_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

var bg = context.Background()

func echo(_ context.Context, inv *client.Invocation) (*client.Result, error) {
	return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
}

func TestRPC(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t)
		callee := join(t, r, f)
		caller := join(t, r, codec.JSON)
		invs := make(chan *client.Invocation, 1)
		reg, err := callee.Register("com.myapp.user.new", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
			invs <- inv
			return &client.Result{Args: []any{30}, Kwargs: map[string]any{"userid": 123, "name": inv.Kwargs["firstname"]}}, nil
		}, nil)
		noErr(t, err)
		must(t, reg.ID() != 0, "registration id 0")

		res, err := caller.Call(bg, "com.myapp.user.new", []any{"johnny"}, map[string]any{"firstname": "John"}, &client.CallOptions{DiscloseMe: true})
		noErr(t, err)
		must(t, reflect.DeepEqual(res.Args, []any{int64(30)}), "result args %#v", res.Args)
		must(t, reflect.DeepEqual(res.Kwargs, map[string]any{"userid": int64(123), "name": "John"}), "result kwargs %#v", res.Kwargs)
		inv := recvT(t, invs, "invocation")
		must(t, inv.Registration == reg.ID() && inv.Request != 0, "invocation ids %d %d", inv.Registration, inv.Request)
		must(t, inv.Procedure == "com.myapp.user.new", "procedure %q", inv.Procedure)
		must(t, reflect.DeepEqual(inv.Args, []any{"johnny"}), "invocation args %#v", inv.Args)
		must(t, inv.Caller == caller.ID(), "caller %d, want %d (disclose_me)", inv.Caller, caller.ID())
		must(t, inv.Progress == nil, "Progress set though the caller did not ask")

		// Without disclose_me, without payload, and a nil result.
		_, err = callee.Register("com.myapp.nothing", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
		noErr(t, err)
		res, err = caller.Call(bg, "com.myapp.nothing", nil, nil, nil)
		noErr(t, err)
		must(t, res.Args == nil && res.Kwargs == nil, "empty result %+v", res)

		noErr(t, reg.Unregister())
		noErr(t, reg.Unregister()) // twice is fine
		_, err = caller.Call(bg, "com.myapp.user.new", nil, nil, nil)
		wampError(t, err, "wamp.error.no_such_procedure")
	})
}

func TestCallErrors(t *testing.T) {
	r := newRouter(t)
	callee := join(t, r, codec.CBOR)
	caller := join(t, r, codec.JSON)

	_, err := callee.Register("com.example.fail", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		switch inv.Args[0] {
		case "wamp":
			return nil, &client.Error{URI: "com.example.error.taken", Args: []any{"taken", 7}, Kwargs: map[string]any{"who": "bob"}}
		case "wrapped":
			return nil, fmt.Errorf("context: %w", &client.Error{URI: "com.example.error.wrapped"})
		case "plain":
			return nil, errors.New("disk on fire")
		}
		panic("not reached")
	}, nil)
	noErr(t, err)

	_, err = caller.Call(bg, "com.example.fail", []any{"wamp"}, nil, nil)
	e := wampError(t, err, "com.example.error.taken")
	must(t, reflect.DeepEqual(e.Args, []any{"taken", int64(7)}) && reflect.DeepEqual(e.Kwargs, map[string]any{"who": "bob"}), "error payload %+v", e)
	must(t, e.Error() == "com.example.error.taken: taken", "Error() = %q", e.Error())

	_, err = caller.Call(bg, "com.example.fail", []any{"wrapped"}, nil, nil)
	wampError(t, err, "com.example.error.wrapped")

	_, err = caller.Call(bg, "com.example.fail", []any{"plain"}, nil, nil)
	e = wampError(t, err, "wamp.error.runtime_error")
	must(t, reflect.DeepEqual(e.Args, []any{"disk on fire"}), "runtime error args %#v", e.Args)

	// Router errors.
	_, err = caller.Call(bg, "com.example.nobody", nil, nil, nil)
	e = wampError(t, err, "wamp.error.no_such_procedure")
	must(t, len(e.Args) == 1, "router error carries its message: %+v", e)
	_, err = caller.Register("com.example.fail", echo, nil)
	wampError(t, err, "wamp.error.procedure_already_exists")
	_, err = callee.Register("com.example.fail", echo, nil)
	wampError(t, err, "wamp.error.procedure_already_exists")
	for _, uri := range []string{"a..b", "a b", "", "wamp.session.count"} {
		_, err = callee.Register(uri, echo, nil)
		wampError(t, err, "wamp.error.invalid_uri")
	}
	for _, uri := range []string{"a..b", "a b", ""} {
		_, err = caller.Call(bg, uri, nil, nil, nil)
		wampError(t, err, "wamp.error.invalid_uri")
	}
	_, err = callee.Register("com.example.x", echo, &client.RegisterOptions{Invoke: "sometimes"})
	wampError(t, err, "wamp.error.invalid_argument")

	// The session survived all of it.
	_, err = callee.Register("com.example.echo", echo, nil)
	noErr(t, err)
	res, err := caller.Call(bg, "com.example.echo", []any{"ok"}, nil, nil)
	noErr(t, err)
	must(t, res.Args[0] == "ok", "echo %v", res.Args)
}

func TestCalleePanic(t *testing.T) {
	r := newRouter(t)
	callee := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	_, err := callee.Register("com.example.panic", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		if inv.Args[0] == "boom" {
			panic("kaboom")
		}
		return &client.Result{Args: inv.Args}, nil
	}, nil)
	noErr(t, err)
	_, err = caller.Call(bg, "com.example.panic", []any{"boom"}, nil, nil)
	e := wampError(t, err, "wamp.error.runtime_error")
	must(t, reflect.DeepEqual(e.Args, []any{"kaboom"}), "panic value not reported: %#v", e.Args)
	res, err := caller.Call(bg, "com.example.panic", []any{"calm"}, nil, nil)
	noErr(t, err)
	must(t, res.Args[0] == "calm", "callee did not survive its panic: %v", res.Args)
}

func TestProgressiveResults(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t)
		callee := join(t, r, f)
		caller := join(t, r, codec.JSON)
		late := make(chan func(args []any, kwargs map[string]any) error, 1)
		_, err := callee.Register("com.example.count", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
			if inv.Progress == nil {
				return &client.Result{Args: []any{"no progress asked"}}, nil
			}
			n := int(inv.Args[0].(int64))
			for i := 1; i <= n; i++ {
				if err := inv.Progress([]any{i}, map[string]any{"of": n}); err != nil {
					return nil, err
				}
			}
			late <- inv.Progress
			return &client.Result{Args: []any{"done"}}, nil
		}, nil)
		noErr(t, err)

		var got []int64
		res, err := caller.Call(bg, "com.example.count", []any{5}, nil, &client.CallOptions{OnProgress: func(r *client.Result) {
			must(t, r.Details["progress"] == true, "progressive result without progress detail: %v", r.Details)
			got = append(got, r.Args[0].(int64))
		}})
		noErr(t, err)
		must(t, reflect.DeepEqual(got, []int64{1, 2, 3, 4, 5}), "progress %v", got)
		must(t, res.Args[0] == "done" && res.Details["progress"] == nil, "final %+v", res)

		progress := recvT(t, late, "Progress func")
		eventually(t, "Progress refused after the handler returned", func() bool {
			return errors.Is(progress(nil, nil), client.ErrInvocationDone)
		})

		res, err = caller.Call(bg, "com.example.count", []any{5}, nil, nil)
		noErr(t, err)
		must(t, res.Args[0] == "no progress asked", "progress offered without receive_progress: %v", res.Args)
	})
}

// TestCallCancel: ctx cancellation and CallOptions.Timeout end a call whose
// callee never answers; the client sends CANCEL (killnowait) and forgets the
// call, so the late answer is dropped.
func TestCallCancel(t *testing.T) {
	r := newRouter(t)
	callee := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	_, err := callee.Register("com.example.hang", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		entered <- struct{}{}
		<-release
		return &client.Result{Args: []any{"late"}}, nil
	}, nil)
	noErr(t, err)
	_, err = callee.Register("com.example.echo", echo, nil)
	noErr(t, err)

	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error, 1)
	go func() {
		_, err := caller.Call(ctx, "com.example.hang", nil, nil, nil)
		errc <- err
	}()
	recvT(t, entered, "invocation")
	cancel()
	err = recvT(t, errc, "Call to return after cancel")
	must(t, errors.Is(err, context.Canceled), "cancelled Call returned %v", err)

	// Timeout is also sent in CALL.Options and zwamp's dealer enforces it,
	// so whichever clock fires first ends the call: the client's own
	// deadline or the dealer's ERROR wamp.error.timeout.
	_, err = caller.Call(bg, "com.example.hang", nil, nil, &client.CallOptions{Timeout: 20 * time.Millisecond})
	var we *client.Error
	must(t, errors.Is(err, context.DeadlineExceeded) || errors.As(err, &we) && we.URI == "wamp.error.timeout",
		"timed-out Call returned %v", err)
	recvT(t, entered, "second invocation")

	// An already cancelled context never sends the call.
	_, err = caller.Call(ctx, "com.example.echo", nil, nil, nil)
	must(t, errors.Is(err, context.Canceled), "Call with a done ctx returned %v", err)

	// The late results are dropped and the session goes on.
	close(release)
	for i := 0; i < 3; i++ {
		res, err := caller.Call(bg, "com.example.echo", []any{i}, nil, nil)
		noErr(t, err)
		must(t, res.Args[0] == int64(i), "result %v for call %d: a late result was taken for this one", res.Args, i)
	}
}

// TestConcurrentCalls: 1000 calls from 50 goroutines, each answered with
// its own arguments.
func TestConcurrentCalls(t *testing.T) {
	r := newRouter(t)
	callee := join(t, r, codec.MsgPack)
	caller := join(t, r, codec.JSON)
	_, err := callee.Register("com.example.add", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: []any{inv.Args[0].(int64) + inv.Args[1].(int64)}, Kwargs: inv.Kwargs}, nil
	}, nil)
	noErr(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				tag := fmt.Sprintf("%d/%d", g, i)
				res, err := caller.Call(bg, "com.example.add", []any{g, i * 1000}, map[string]any{"tag": tag}, nil)
				switch {
				case err != nil:
					errs <- err
				case res.Args[0] != int64(g+i*1000) || res.Kwargs["tag"] != tag:
					errs <- fmt.Errorf("call %s answered with %v %v", tag, res.Args, res.Kwargs)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMixedSerializers: a JSON caller, a MsgPack callee and a CBOR
// subscriber see the very same Go values, []byte included.
func TestMixedSerializers(t *testing.T) {
	r := newRouter(t)
	caller := join(t, r, codec.JSON)
	callee := join(t, r, codec.MsgPack)
	sub := join(t, r, codec.CBOR)

	args := []any{
		nil, true, false, int64(0), int64(-1), int64(1 << 40), int64(-1 << 50), 1.5, -0.25,
		"", "héllo \"wörld\"\n", []byte{0, 1, 2, 0xff}, []byte{},
		[]any{int64(1), "two", []any{}}, map[string]any{},
		map[string]any{"bin": []byte("raw"), "nested": map[string]any{"x": []any{nil}}},
	}
	kwargs := map[string]any{"bytes": []byte{9, 8, 7}, "n": int64(42), "s": "x"}

	invs := make(chan *client.Invocation, 1)
	_, err := callee.Register("com.example.values", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		invs <- inv
		return &client.Result{Args: inv.Args, Kwargs: inv.Kwargs}, nil
	}, nil)
	noErr(t, err)
	events := make(chan *client.Event, 1)
	_, err = sub.Subscribe("com.example.values", func(ev *client.Event) { events <- ev }, nil)
	noErr(t, err)

	res, err := caller.Call(bg, "com.example.values", args, kwargs, nil)
	noErr(t, err)
	inv := recvT(t, invs, "invocation")
	must(t, reflect.DeepEqual(inv.Args, args), "MsgPack callee got\n%#v\nwant\n%#v", inv.Args, args)
	must(t, reflect.DeepEqual(inv.Kwargs, kwargs), "MsgPack callee got kwargs %#v", inv.Kwargs)
	must(t, reflect.DeepEqual(res.Args, args), "JSON caller got back\n%#v\nwant\n%#v", res.Args, args)
	must(t, reflect.DeepEqual(res.Kwargs, kwargs), "JSON caller got back kwargs %#v", res.Kwargs)

	noErr(t, caller.Publish("com.example.values", args, kwargs, &client.PublishOptions{Acknowledge: true}))
	ev := recvT(t, events, "event")
	must(t, reflect.DeepEqual(ev.Args, args), "CBOR subscriber got\n%#v\nwant\n%#v", ev.Args, args)
	must(t, reflect.DeepEqual(ev.Kwargs, kwargs), "CBOR subscriber got kwargs %#v", ev.Kwargs)
}

// TestStructPayload: values outside the common set go through JSON
// marshalling, so json tags apply.
func TestStructPayload(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.MsgPack)
	_, err := c.Register("com.example.echo", echo, nil)
	noErr(t, err)
	type point struct {
		X int    `json:"x"`
		Y int    `json:"y"`
		L string `json:"label,omitempty"`
	}
	res, err := c.Call(bg, "com.example.echo", []any{point{1, 2, ""}, []int{3, 4}, map[string]int{"a": 1}}, nil, nil)
	noErr(t, err)
	want := []any{map[string]any{"x": int64(1), "y": int64(2)}, []any{int64(3), int64(4)}, map[string]any{"a": int64(1)}}
	must(t, reflect.DeepEqual(res.Args, want), "struct payload %#v", res.Args)

	_, err = c.Call(bg, "com.example.echo", []any{func() {}}, nil, nil)
	must(t, err != nil, "unencodable argument accepted")
	// The failed encode did not use up a request id (the router would
	// abort the session for a gap).
	res, err = c.Call(bg, "com.example.echo", []any{"after"}, nil, nil)
	noErr(t, err)
	must(t, res.Args[0] == "after", "echo %v", res.Args)
}

func TestSharedRegistration(t *testing.T) {
	r := newRouter(t)
	a := join(t, r, codec.JSON)
	b := join(t, r, codec.JSON)
	caller := join(t, r, codec.JSON)
	name := func(n string) client.InvocationHandler {
		return func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: []any{n}}, nil
		}
	}
	opts := &client.RegisterOptions{Invoke: "roundrobin"}
	_, err := a.Register("com.example.rr", name("a"), opts)
	noErr(t, err)
	_, err = b.Register("com.example.rr", name("b"), opts)
	noErr(t, err)
	var got []any
	for i := 0; i < 4; i++ {
		res, err := caller.Call(bg, "com.example.rr", nil, nil, nil)
		noErr(t, err)
		got = append(got, res.Args[0])
	}
	must(t, reflect.DeepEqual(got, []any{"a", "b", "a", "b"}), "round robin %v", got)

	// Pattern registration: Invocation.Procedure is the called URI.
	procs := make(chan string, 1)
	_, err = a.Register("com.example.pre", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		procs <- inv.Procedure
		return nil, nil
	}, &client.RegisterOptions{Match: "prefix"})
	noErr(t, err)
	_, err = caller.Call(bg, "com.example.pre.fix", nil, nil, nil)
	noErr(t, err)
	must(t, recvT(t, procs, "procedure") == "com.example.pre.fix", "procedure of a prefix registration")
}
