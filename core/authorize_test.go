package core_test

import (
	"sync"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// scripted is a Decider that answers Pending for publications and calls under "held." and
// records the sessions waiting, so the test resumes them by hand; other
// URIs get decisions from a table (default Allow).
type scripted struct {
	mu      sync.Mutex
	waiting []*core.Session
	table   map[string]core.Decision
	roles   map[string]bool
}

func (d *scripted) Authorize(s *core.Session, a core.Action, uri []byte) bool { return true }

func (d *scripted) Decide(s *core.Session, a core.Action, uri []byte, _ *codec.Details) core.Decision {
	if (a == core.ActionPublish || a == core.ActionCall) && len(uri) > 5 && string(uri[:5]) == "held." {
		d.mu.Lock()
		d.waiting = append(d.waiting, s)
		d.mu.Unlock()
		return core.Pending
	}
	if dec, ok := d.table[string(uri)]; ok {
		return dec
	}
	return core.Allow
}

func (d *scripted) HasRole(role string) bool { return d.roles == nil || d.roles[role] }

func (d *scripted) take(t *testing.T) *core.Session {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.waiting) != 1 {
		t.Fatalf("%d sessions waiting, want 1", len(d.waiting))
	}
	s := d.waiting[0]
	d.waiting = d.waiting[:0]
	return s
}

// TestPendingDecision: a Pending action is held with every later message of
// its session, in order, while other sessions go on; Resume routes or
// refuses it and drains the queue.
func TestPendingDecision(t *testing.T) {
	d := &scripted{table: map[string]core.Decision{"com.denied": 0}}
	r := newRouter(t, core.Config{Realms: []core.RealmConfig{{Name: "realm1", Authorizer: d}}})
	sub := join(t, r, codec.JSON)
	sub.subscribe("held.a", nil)
	sub.subscribe("com.b", nil)
	pub := join(t, r, codec.JSON)
	other := join(t, r, codec.JSON)

	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "held.a", []any{1})
	s := d.take(t)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "com.b", []any{2})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "com.denied", []any{3})
	pub.quiet()
	sub.quiet()
	// Another session is not held.
	other.send(codec.PUBLISH, other.req(), map[string]any{}, "com.b", []any{"other"})
	if m := sub.expect(codec.EVENT); m[4].([]any)[0] != "other" {
		t.Fatalf("first event %v, want the other session's", m)
	}
	if r.Held() != 1 {
		t.Fatalf("Held %d, want 1", r.Held())
	}
	s.Resume(core.Allow)
	for _, want := range []any{int64(1), int64(2)} {
		if m := sub.expect(codec.EVENT); m[4].([]any)[0] != want {
			t.Fatalf("event %v, want payload %v", m, want)
		}
	}
	pub.expect(codec.PUBLISHED)
	pub.expect(codec.PUBLISHED)
	pub.expectError(codec.PUBLISH, 3, core.ErrNotAuthorized)

	// A refusal after Pending: ERROR, the queue drains behind it.
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "held.a", []any{4})
	s = d.take(t)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "com.b", []any{5})
	s.Resume(core.Failed)
	pub.expectError(codec.PUBLISH, 4, core.ErrAuthorizationFailed)
	pub.expect(codec.PUBLISHED)
	if m := sub.expect(codec.EVENT); m[4].([]any)[0] != int64(5) {
		t.Fatalf("event %v, want payload 5", m)
	}
	sub.quiet()

	// A pending action behind a pending action: one at a time, in order.
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "held.a", []any{6})
	s = d.take(t)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "held.a", []any{7})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "com.b", []any{8})
	s.Resume(core.Allow)
	s = d.take(t) // 7 is pending now; 8 waits behind it
	if m := sub.expect(codec.EVENT); m[4].([]any)[0] != int64(6) {
		t.Fatalf("event %v, want payload 6", m)
	}
	sub.quiet()
	s.Resume(core.Allow)
	for _, want := range []any{int64(7), int64(8)} {
		if m := sub.expect(codec.EVENT); m[4].([]any)[0] != want {
			t.Fatalf("event %v, want payload %v", m, want)
		}
	}

	// A session that leaves while held: Resume is ignored.
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "held.a", []any{9})
	s = d.take(t)
	pub.l.Close()
	waitFor(t, "the held session to end", func() bool { return r.Stats().Sessions == 2 })
	s.Resume(core.Allow)
	sub.quiet()
}

// TestPendingQueueBound: a session that keeps sending while its action is
// pending is aborted past the bound, and the router carries on.
func TestPendingQueueBound(t *testing.T) {
	d := &scripted{}
	r := newRouter(t, core.Config{Realms: []core.RealmConfig{{Name: "realm1", Authorizer: d}}})
	pub := join(t, r, codec.JSON)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "held.a", []any{})
	s := d.take(t)
	for i := 0; i < 1100 && !pub.closed(); i++ {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.b", []any{})
	}
	pub.expectAbort(core.ErrAuthorizationFailed)
	s.Resume(core.Allow) // ignored: the session is gone
	other := join(t, r, codec.JSON)
	other.send(codec.PUBLISH, other.req(), map[string]any{"acknowledge": true}, "com.b", []any{})
	other.expect(codec.PUBLISHED)
}

// TestUnknownRoleRefused: a RoleChecker authorizer refuses a session whose
// authrole it does not know with ABORT wamp.error.no_such_role.
func TestUnknownRoleRefused(t *testing.T) {
	d := &scripted{roles: map[string]bool{"frontend": true}}
	r := newRouter(t, core.Config{Realms: []core.RealmConfig{{Name: "realm1", Authorizer: d}}})
	p := connect(t, r, codec.JSON)
	p.hello("realm1", nil) // anonymous: role "anonymous"
	p.expectAbort(core.ErrNoSuchRole)
	d.roles["anonymous"] = true
	join(t, r, codec.JSON)
}

// TestForcedDisclosure: DiscloseForce discloses the publisher, and
// DiscloseForbid refuses disclose_me.
func TestForcedDisclosure(t *testing.T) {
	d := &scripted{table: map[string]core.Decision{
		"com.forced": core.Allow | core.DiscloseForce,
		"com.nodisc": core.Allow | core.DiscloseForbid,
	}}
	r := newRouter(t, core.Config{Realms: []core.RealmConfig{{Name: "realm1", Authorizer: d}}})
	sub := join(t, r, codec.JSON)
	sub.subscribe("com.forced", nil)
	pub := join(t, r, codec.JSON)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.forced", []any{})
	ev := sub.expect(codec.EVENT)
	if asID(t, dictOf(t, ev[3])["publisher"]) != pub.id {
		t.Fatalf("event %v: publisher not disclosed", ev)
	}
	rq := pub.req()
	pub.send(codec.PUBLISH, rq, map[string]any{"acknowledge": true, "disclose_me": true}, "com.nodisc", []any{})
	pub.expectError(codec.PUBLISH, rq, core.ErrDiscloseMeDisallowed)
}
