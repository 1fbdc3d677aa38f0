package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// TestNothingAfterGoodbye: a session that leaves gets nothing after its
// GOODBYE or ABORT, not even the meta events about its own subscriptions
// and registrations going away, though it was subscribed to them; other
// sessions subscribed to those meta events still get every one. (Found by
// FuzzRouter: the router used to publish them while the leaving session
// was still subscribed.)
func TestNothingAfterGoodbye(t *testing.T) {
	for _, how := range []string{"goodbye", "violation"} {
		t.Run(how, func(t *testing.T) {
			r := newRouter(t, core.Config{})
			watch := join(t, r, codec.JSON)
			watch.request(codec.SUBSCRIBE, map[string]any{"match": "prefix"}, "wamp.subscription")
			watch.request(codec.SUBSCRIBE, map[string]any{"match": "prefix"}, "wamp.registration")

			a := join(t, r, codec.MsgPack)
			a.request(codec.SUBSCRIBE, map[string]any{"match": "prefix"}, "wamp.subscription")
			a.request(codec.SUBSCRIBE, map[string]any{}, "wamp.registration.on_unregister")
			a.request(codec.SUBSCRIBE, map[string]any{}, "t.a")
			a.request(codec.REGISTER, map[string]any{}, "p.a")
			for watch.recv2() {
			}
			for a.recv2() {
			}

			if how == "goodbye" {
				a.send(codec.GOODBYE, map[string]any{}, "wamp.close.normal")
				a.expect(codec.GOODBYE)
			} else {
				a.send(codec.WELCOME, 1, map[string]any{})
				a.expectAbort(core.ErrProtocolViolation)
			}
			a.quiet()

			// The watcher hears a's three subscriptions and its registration
			// go: on_unsubscribe for each, on_delete for the two a alone
			// was subscribed to (it shares "wamp.subscription" with the
			// watcher), on_unregister and on_delete.
			n := 0
			for watch.recv2() {
				n++
			}
			if n != 3+2+2 {
				t.Fatalf("watcher got %d meta events, want 7", n)
			}
		})
	}
}

// request sends a request and reads until its acknowledgement, dropping
// the meta events that may come first.
func (p *peer) request(typ codec.Type, opts map[string]any, uri string) {
	p.t.Helper()
	p.send(typ, p.req(), opts, uri)
	for {
		m, ok := p.recv()
		if !ok {
			p.t.Fatalf("no acknowledgement of %v %s", typ, uri)
		}
		if got := codec.Type(asID(p.t, m[0])); got == codec.SUBSCRIBED || got == codec.REGISTERED {
			return
		} else if got != codec.EVENT {
			p.t.Fatalf("%v %s: got %v", typ, uri, m)
		}
	}
}

// recv2 reads and drops one message if one arrives within the wait.
func (p *peer) recv2() bool {
	_, ok := p.recv()
	return ok
}
