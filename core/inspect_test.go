package core_test

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// TestTables follows the router's table sizes through a session's life:
// subscriptions and registrations (shared ones counted once, their members
// each), a pending call at both ends, then everything gone once the
// sessions leave — GOODBYE for one, a dropped transport for the other.
func TestTables(t *testing.T) {
	r := newRouter(t, core.Config{})
	a, b := join(t, r, codec.JSON), join(t, r, codec.MsgPack)
	a.subscribe("t.a", nil)
	b.subscribe("t.a", nil)
	b.subscribe("t", map[string]any{"match": "prefix"})
	a.register("p.a", map[string]any{"invoke": "roundrobin"})
	b.register("p.a", map[string]any{"invoke": "roundrobin"})
	b.register("p.b", nil)
	b.send(codec.CALL, b.req(), map[string]any{}, "p.b", []any{1})
	b.expect(codec.INVOCATION)

	want := core.TableSizes{Sessions: 2, Subscriptions: 2, Subscribers: 3, Registrations: 2, Callees: 3,
		PendingCalls: 1, PendingInvs: 1, TrieSubs: 2, TrieRegs: 2}
	if got := r.Tables(); got != want {
		t.Fatalf("tables %+v, want %+v", got, want)
	}
	if got := r.Realm("realm1").Tables(); got != want {
		t.Fatalf("realm tables %+v, want %+v", got, want)
	}

	a.send(codec.GOODBYE, map[string]any{}, "wamp.close.normal")
	a.expect(codec.GOODBYE)
	want = core.TableSizes{Sessions: 1, Subscriptions: 2, Subscribers: 2, Registrations: 2, Callees: 2,
		PendingCalls: 1, PendingInvs: 1, TrieSubs: 2, TrieRegs: 2}
	if got := r.Tables(); got != want {
		t.Fatalf("after a left: tables %+v, want %+v", got, want)
	}

	b.l.Close() // detaches from a fresh goroutine
	deadline := time.Now().Add(10 * time.Second)
	for r.Tables() != (core.TableSizes{}) {
		if time.Now().After(deadline) {
			t.Fatalf("after everyone left: tables %+v, want all zero", r.Tables())
		}
		time.Sleep(time.Millisecond)
	}
}
