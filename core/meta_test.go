package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

func (p *peer) call(proc string, args ...any) []any {
	p.t.Helper()
	rq := p.req()
	p.send(codec.CALL, rq, map[string]any{}, proc, args)
	m, ok := p.recv()
	must(p.t, ok, "no answer to %s", proc)
	return m
}

func (p *peer) callResult(proc string, args ...any) any {
	p.t.Helper()
	m := p.call(proc, args...)
	must(p.t, codec.Type(asID(p.t, m[0])) == codec.RESULT, "%s: %v", proc, m)
	return m[3].([]any)[0]
}

func TestSessionMetaAPI(t *testing.T) {
	r := newRouter(t, core.Config{})
	watcher := join(t, r, codec.JSON)
	watcher.subscribe("wamp.session.on_join", nil)
	watcher.subscribe("wamp.session.on_leave", nil)

	p := connect(t, r, codec.MsgPack)
	p.hello("realm1", map[string]any{"authid": "mia"})
	p.id = asID(t, p.expect(codec.WELCOME)[1])
	ev := watcher.expect(codec.EVENT)
	d := dictOf(t, ev[4].([]any)[0])
	must(t, asID(t, d["session"]) == p.id && d["authid"] == "mia" && d["authrole"] == "anonymous", "on_join %v", d)

	must(t, asID(t, watcher.callResult("wamp.session.count")) == 2, "count")
	must(t, asID(t, watcher.callResult("wamp.session.count", []any{"nobody"})) == 0, "count by role")
	ids := watcher.callResult("wamp.session.list").([]any)
	must(t, len(ids) == 2, "list %v", ids)
	got := dictOf(t, watcher.callResult("wamp.session.get", p.id))
	must(t, got["authid"] == "mia" && dictOf(t, got["transport"])["type"] == "local", "get %v", got)
	m := watcher.call("wamp.session.get", 12345)
	must(t, m[4] == core.ErrNoSuchSession, "get unknown: %v", m)
	m = watcher.call("wamp.session.get", "x")
	must(t, m[4] == core.ErrInvalidArgument, "get bad arg: %v", m)
	m = watcher.call("wamp.no.such.meta")
	must(t, m[4] == core.ErrNoSuchProcedure, "unknown meta: %v", m)

	p.send(codec.GOODBYE, map[string]any{}, core.CloseCloseRealm)
	ev = watcher.expect(codec.EVENT)
	args := ev[4].([]any)
	must(t, asID(t, args[0]) == p.id && args[1] == "mia" && args[2] == "anonymous", "on_leave %v", args)
}

func TestSubscriptionAndRegistrationMetaAPI(t *testing.T) {
	r := newRouter(t, core.Config{})
	w := join(t, r, codec.JSON)
	// The watcher's own subscriptions are announced too: drain those.
	w.subscribe("wamp.subscription.", map[string]any{"match": "prefix"})
	w.expect(codec.EVENT) // on_create of its own subscription
	w.expect(codec.EVENT) // on_subscribe
	w.subscribe("wamp.registration.", map[string]any{"match": "prefix"})
	w.expect(codec.EVENT)
	w.expect(codec.EVENT)

	p := join(t, r, codec.CBOR)
	sid := p.subscribe("com.x", map[string]any{"match": "prefix"})
	create := w.expect(codec.EVENT)[4].([]any)
	cd := dictOf(t, create[1])
	must(t, asID(t, create[0]) == p.id && asID(t, cd["id"]) == sid && cd["uri"] == "com.x" && cd["match"] == "prefix", "on_create %v", create)
	sub := w.expect(codec.EVENT)[4].([]any)
	must(t, asID(t, sub[0]) == p.id && asID(t, sub[1]) == sid, "on_subscribe %v", sub)

	lists := dictOf(t, w.callResult("wamp.subscription.list"))
	must(t, len(lists["prefix"].([]any)) == 3 && len(lists["exact"].([]any)) == 0, "list %v", lists) // the watcher's two and com.x
	must(t, asID(t, w.callResult("wamp.subscription.lookup", "com.x", map[string]any{"match": "prefix"})) == sid, "lookup")
	must(t, w.callResult("wamp.subscription.lookup", "com.x") == nil, "lookup exact should be null")
	must(t, asID(t, w.callResult("wamp.subscription.match", "com.x.y").([]any)[0]) == sid, "match")
	must(t, dictOf(t, w.callResult("wamp.subscription.get", sid))["uri"] == "com.x", "get")
	must(t, asID(t, w.callResult("wamp.subscription.list_subscribers", sid).([]any)[0]) == p.id, "list_subscribers")
	must(t, asID(t, w.callResult("wamp.subscription.count_subscribers", sid)) == 1, "count_subscribers")
	m := w.call("wamp.subscription.get", 999999)
	must(t, m[4] == core.ErrNoSuchSubscription, "get unknown %v", m)

	rid := p.register("com.proc", map[string]any{"invoke": "roundrobin"})
	rc := w.expect(codec.EVENT)[4].([]any)
	must(t, asID(t, dictOf(t, rc[1])["id"]) == rid && dictOf(t, rc[1])["invoke"] == "roundrobin", "registration on_create %v", rc)
	w.expect(codec.EVENT) // on_register
	must(t, asID(t, w.callResult("wamp.registration.match", "com.proc")) == rid, "registration match")
	must(t, asID(t, w.callResult("wamp.registration.count_callees", rid)) == 1, "count_callees")
	must(t, asID(t, w.callResult("wamp.registration.list_callees", rid).([]any)[0]) == p.id, "list_callees")
	must(t, w.callResult("wamp.registration.match", "com.none") == nil, "match none")

	// Leaving fires unsubscribe/delete and unregister/delete.
	p.l.Conn().Detach()
	var kinds []string
	for i := 0; i < 4; i++ {
		ev := w.expect(codec.EVENT)
		kinds = append(kinds, dictOf(t, ev[3])["topic"].(string))
	}
	w.quiet()
	must(t, kinds[0] == "wamp.registration.on_unregister" && kinds[1] == "wamp.registration.on_delete" &&
		kinds[2] == "wamp.subscription.on_unsubscribe" && kinds[3] == "wamp.subscription.on_delete", "leave events %v", kinds)
	must(t, w.callResult("wamp.subscription.lookup", "com.x", map[string]any{"match": "prefix"}) == nil, "subscription survived its last subscriber")
}
