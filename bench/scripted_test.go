package bench

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// A scripted router: a tiny WAMP server (WebSocket, JSON and MessagePack,
// a goroutine per connection) that answers HELLO, SUBSCRIBE and REGISTER,
// broadcasts each PUBLISH as an EVENT to every subscriber and answers each
// CALL itself with a RESULT carrying the call's Arguments, like the
// ceiling — except that a script may rewrite what it sends: duplicate,
// drop, hold back (reorder), alter the payload, answer with another
// request id or with an ERROR. Each misbehaviour must make the load tool's
// run incomplete and be counted where it belongs.

// script rewrites the n-th EVENT (counted from 0) or RESULT the router
// would send into the messages it sends instead, in order. nil: send m.
type script func(n int64, m codec.Message) []codec.Message

type scriptedRouter struct {
	t      testing.TB
	ln     net.Listener
	events script
	calls  script

	mu     sync.Mutex // subs, counters, scripts' state
	subs   []*scriptedConn
	nEvent int64
	nCall  int64
}

type scriptedConn struct {
	nc  net.Conn
	cd  codec.Codec
	op  ws.Opcode
	wmu sync.Mutex
	m   codec.Message
	r   *scriptedRouter
}

func startScripted(t testing.TB, events, calls script) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &scriptedRouter{t: t, ln: ln, events: events, calls: calls}
	var wg sync.WaitGroup
	var connsMu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, nc)
			connsMu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); r.serve(nc) }()
		}
	}()
	return ln.Addr().String()
}

func (r *scriptedRouter) serve(nc net.Conn) {
	defer nc.Close()
	buf := make([]byte, 64<<10)
	var hs ws.ServerHandshake
	c := &scriptedConn{nc: nc, r: r}
	var pending []byte
	for {
		n, err := nc.Read(buf)
		if err != nil {
			return
		}
		req, used, herr := hs.Feed(buf[:n])
		if herr != nil {
			return
		}
		if req != nil {
			proto := req.ChooseProtocol(func(p []byte) bool {
				return string(p) == "wamp.2.json" || string(p) == "wamp.2.msgpack"
			})
			if proto == nil {
				return
			}
			f, _ := codec.ParseFormat(string(proto[len("wamp.2."):]))
			c.cd = codec.ByFormat(f)
			c.op = ws.OpText
			if f.Binary() {
				c.op = ws.OpBinary
			}
			if _, err := nc.Write(req.AppendAccept(nil, proto)); err != nil {
				return
			}
			pending = append(pending, buf[used:n]...)
			break
		}
	}
	var dec ws.Decoder
	if len(pending) > 0 && dec.Feed(pending, c) != nil {
		return
	}
	for {
		n, err := nc.Read(buf)
		if err != nil {
			return
		}
		if dec.Feed(buf[:n], c) != nil {
			return
		}
	}
}

func (c *scriptedConn) send(m *codec.Message) {
	b, err := c.cd.Append(nil, m)
	if err != nil {
		c.r.t.Errorf("scripted router: encode %v: %v", m.Type, err)
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.nc.Write(ws.AppendFrame(nil, c.op, true, b))
}

func (c *scriptedConn) OnPing([]byte) error       { return nil }
func (c *scriptedConn) OnPong([]byte) error       { return nil }
func (c *scriptedConn) OnClose(int, []byte) error { return errors.New("closed") }

func (c *scriptedConn) OnMessage(_ ws.Opcode, p []byte) error {
	m := &c.m
	if err := c.cd.Decode(m, p); err != nil {
		return err
	}
	r := c.r
	switch m.Type {
	case codec.HELLO:
		c.send(&codec.Message{Type: codec.WELCOME, ID: 1, Details: codec.Details{}})
	case codec.SUBSCRIBE:
		r.mu.Lock()
		r.subs = append(r.subs, c)
		r.mu.Unlock()
		c.send(&codec.Message{Type: codec.SUBSCRIBED, Request: m.Request, ID: 1})
	case codec.REGISTER:
		c.send(&codec.Message{Type: codec.REGISTERED, Request: m.Request, ID: 1})
	case codec.PUBLISH:
		ev := codec.Message{Type: codec.EVENT, ID: 1, Args: copyRaw(m.Args), Kwargs: copyRaw(m.Kwargs)}
		r.mu.Lock()
		ev.Publication = uint64(r.nEvent + 1)
		out := []codec.Message{ev}
		if r.events != nil {
			out = r.events(r.nEvent, ev)
		}
		r.nEvent++
		subs := r.subs
		r.mu.Unlock()
		for _, s := range subs {
			for i := range out {
				s.send(&out[i])
			}
		}
	case codec.CALL:
		res := codec.Message{Type: codec.RESULT, Request: m.Request, Args: copyRaw(m.Args), Kwargs: copyRaw(m.Kwargs)}
		r.mu.Lock()
		out := []codec.Message{res}
		if r.calls != nil {
			out = r.calls(r.nCall, res)
		}
		r.nCall++
		r.mu.Unlock()
		for i := range out {
			c.send(&out[i])
		}
	case codec.GOODBYE:
		c.send(&codec.Message{Type: codec.GOODBYE, URI: []byte("wamp.close.goodbye_and_out")})
		return errors.New("goodbye")
	}
	return nil
}

func copyRaw(r codec.Raw) codec.Raw {
	if r.Bytes != nil {
		r.Bytes = bytes.Clone(r.Bytes)
	}
	return r
}

// alter returns m with one byte of its payload's filler changed.
func alter(m codec.Message) codec.Message {
	b := bytes.Clone(m.Args.Bytes)
	if i := bytes.IndexByte(b, 'x'); i >= 0 {
		b[i] = 'y'
	}
	m.Args.Bytes = b
	return m
}

// at applies f to the n-th message only.
func at(k int64, f func(m codec.Message) []codec.Message) script {
	return func(n int64, m codec.Message) []codec.Message {
		if n == k {
			return f(m)
		}
		return []codec.Message{m}
	}
}

// TestScriptedPubSub: each misbehaviour of the router is caught.
func TestScriptedPubSub(t *testing.T) {
	var held *codec.Message
	cases := []struct {
		name   string
		script script
		check  func(r *Result) bool
	}{
		{"faithful", nil, func(r *Result) bool {
			return r.Complete && r.TotalDelivered == 2*300 && r.Lost == 0 && r.Gaps == 0 && r.Duplicates == 0 && r.OutOfOrder == 0 && r.Corrupt == 0
		}},
		{"duplicate", at(100, func(m codec.Message) []codec.Message { return []codec.Message{m, m} }), func(r *Result) bool {
			// The copy is not a delivery, so it cannot hide a loss.
			return !r.Complete && r.Duplicates == 2 && r.TotalDelivered == 2*300 && r.Lost == 0
		}},
		{"duplicate hides a loss", func(n int64, m codec.Message) []codec.Message {
			switch n {
			case 100:
				return []codec.Message{m, m}
			case 200:
				return nil
			}
			return []codec.Message{m}
		}, func(r *Result) bool {
			return !r.Complete && r.Duplicates == 2 && r.Lost == 2 && r.Gaps == 2 && r.TotalDelivered == 2*299
		}},
		{"drop", at(100, func(codec.Message) []codec.Message { return nil }), func(r *Result) bool {
			return !r.Complete && r.Lost == 2 && r.Gaps == 2
		}},
		{"reorder", func(n int64, m codec.Message) []codec.Message {
			switch n {
			case 100:
				held = &m
				return nil
			case 101:
				return []codec.Message{m, *held}
			}
			return []codec.Message{m}
		}, func(r *Result) bool {
			// Nothing lost, but out of order: incomplete.
			return !r.Complete && r.OutOfOrder == 2 && r.Gaps == 0 && r.Lost == 0 && r.TotalDelivered == 2*300
		}},
		{"altered payload", at(100, func(m codec.Message) []codec.Message { return []codec.Message{alter(m)} }), func(r *Result) bool {
			return !r.Complete && r.Corrupt == 2
		}},
	}
	for _, ser := range []string{"json", "msgpack"} {
		for _, c := range cases {
			t.Run(ser+"/"+c.name, func(t *testing.T) {
				addr := startScripted(t, c.script, nil)
				res, err := RunPubSub(testCtx(t), Config{
					URL: urlFor("ws", addr), Serializer: ser, Count: 300, Duration: 30 * time.Second,
					Subscribers: 2, Window: 400, Drain: 3 * time.Second,
				})
				if err != nil {
					t.Fatal(err)
				}
				if !c.check(res) {
					t.Fatalf("not caught as expected: complete %v delivered %d lost %d gaps %d dups %d ooo %d corrupt %d notes %q",
						res.Complete, res.TotalDelivered, res.Lost, res.Gaps, res.Duplicates, res.OutOfOrder, res.Corrupt, res.Notes)
				}
			})
		}
	}
}

// TestScriptedRPC: a call counts only when a RESULT with its own
// outstanding request id and its own payload arrives.
func TestScriptedRPC(t *testing.T) {
	cases := []struct {
		name   string
		script script
		check  func(r *Result) bool
	}{
		{"faithful", nil, func(r *Result) bool {
			return r.Complete && r.TotalCalls == 300 && r.Errors == 0 && r.Unexpected == 0 && r.Corrupt == 0 && r.Unanswered == 0
		}},
		{"wrong request id", at(100, func(m codec.Message) []codec.Message {
			m.Request += 1 << 40
			return []codec.Message{m}
		}), func(r *Result) bool {
			return !r.Complete && r.Unexpected == 1 && r.TotalCalls == 299 && r.Unanswered == 1
		}},
		{"another call's id", at(100, func(m codec.Message) []codec.Message {
			// The answer to call 100 says it answers 101. When 101 is
			// already in flight, that answer lacks 101's payload (corrupt)
			// and 101's own answer comes after it (unexpected); when the
			// caller has not sent 101 yet, the answer matches nothing
			// (unexpected) and 101 later completes normally. Which one
			// happens depends on scheduling; either way call 100 stays
			// unanswered and nothing counts it as done.
			m.Request++
			return []codec.Message{m}
		}), func(r *Result) bool {
			inFlight := r.Corrupt == 1 && r.TotalCalls == 298
			notYet := r.Corrupt == 0 && r.TotalCalls == 299
			return !r.Complete && r.Unexpected == 1 && r.Unanswered == 1 && (inFlight || notYet)
		}},
		{"duplicate result", at(100, func(m codec.Message) []codec.Message { return []codec.Message{m, m} }), func(r *Result) bool {
			return !r.Complete && r.Unexpected == 1 && r.TotalCalls == 300
		}},
		{"error", at(100, func(m codec.Message) []codec.Message {
			return []codec.Message{{Type: codec.ERROR, ErrorType: codec.CALL, Request: m.Request, URI: []byte("wamp.error.runtime_error")}}
		}), func(r *Result) bool {
			return !r.Complete && r.Errors == 1 && r.TotalCalls == 299 && r.Unanswered == 0
		}},
		{"no answer", at(100, func(codec.Message) []codec.Message { return nil }), func(r *Result) bool {
			return !r.Complete && r.Unanswered == 1 && r.TotalCalls == 299
		}},
		{"altered payload", at(100, func(m codec.Message) []codec.Message { return []codec.Message{alter(m)} }), func(r *Result) bool {
			return !r.Complete && r.Corrupt == 1 && r.TotalCalls == 299
		}},
	}
	for _, ser := range []string{"json", "msgpack"} {
		for _, c := range cases {
			t.Run(ser+"/"+c.name, func(t *testing.T) {
				addr := startScripted(t, nil, c.script)
				res, err := RunRPC(testCtx(t), Config{
					URL: urlFor("ws", addr), Serializer: ser, Count: 300, Duration: 5 * time.Second,
					InFlight: 8, Drain: time.Second,
				})
				if err != nil {
					t.Fatal(err)
				}
				if !c.check(res) {
					t.Fatalf("not caught as expected: complete %v calls %d errors %d unexpected %d corrupt %d unanswered %d notes %q",
						res.Complete, res.TotalCalls, res.Errors, res.Unexpected, res.Corrupt, res.Unanswered, res.Notes)
				}
			})
		}
	}
}
