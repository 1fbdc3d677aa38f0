package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// callKw calls proc with positional and keyword arguments and returns the
// answer (RESULT or ERROR).
func (p *peer) callKw(proc string, args []any, kw map[string]any) []any {
	p.t.Helper()
	rq := p.req()
	if args == nil {
		args = []any{}
	}
	p.send(codec.CALL, rq, map[string]any{}, proc, args, kw)
	for {
		m, ok := p.recv()
		must(p.t, ok, "no answer to %s", proc)
		switch codec.Type(asID(p.t, m[0])) {
		case codec.RESULT, codec.ERROR:
			must(p.t, asID(p.t, m[2-boolInt(codec.Type(asID(p.t, m[0])) == codec.RESULT)]) == rq, "answer to another request: %v", m)
			return m
		}
		p.t.Fatalf("%s: %v before the answer", proc, m)
	}
}

// expectAsync is expect for messages caused on another goroutine (a kill,
// a transport's end): it waits up to 10 s, for loaded -race runs.
func (p *peer) expectAsync(typ codec.Type) []any {
	p.t.Helper()
	for i := 0; i < 10; i++ {
		if m, ok := p.recv(); ok {
			must(p.t, codec.Type(asID(p.t, m[0])) == typ, "want %v, got %v", typ, m)
			return m
		}
	}
	p.t.Fatalf("want %v, got nothing in 10 s", typ)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func resultArgs(t testing.TB, m []any) []any {
	t.Helper()
	must(t, codec.Type(asID(t, m[0])) == codec.RESULT, "want RESULT, got %v", m)
	if len(m) < 4 {
		return nil
	}
	return m[3].([]any)
}

// welcomeFeatures joins and returns WELCOME.Details.roles.<role>.features.
func welcomeFeatures(t *testing.T, r *core.Router, role string) map[string]any {
	p := connect(t, r, codec.JSON)
	p.hello("realm1", nil)
	w := p.expect(codec.WELCOME)
	roles := dictOf(t, dictOf(t, w[2])["roles"])
	return dictOf(t, dictOf(t, roles[role])["features"])
}

func TestRetainedEvent(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{})
		must(t, welcomeFeatures(t, r, "broker")["event_retention"] == true, "event_retention not announced")
		pub := join(t, r, codec.JSON)
		rq := pub.req()
		pub.send(codec.PUBLISH, rq, map[string]any{"retain": true}, "com.sensor.temp", []any{1})
		rq = pub.req()
		pub.send(codec.PUBLISH, rq, map[string]any{"retain": true, "disclose_me": true}, "com.sensor.temp", []any{2}, map[string]any{"unit": "C"})
		rq = pub.req()
		pub.send(codec.PUBLISH, rq, map[string]any{}, "com.sensor.temp", []any{3}) // not retained

		s := join(t, r, f)
		// Without get_retained: nothing.
		s.subscribe("com.sensor.temp", nil)
		s.quiet()
		id := s.subscribe("com.sensor.temp", map[string]any{"get_retained": true})
		ev := s.expect(codec.EVENT)
		must(t, asID(t, ev[1]) == id, "EVENT for %v, want %d", ev[1], id)
		d := dictOf(t, ev[3])
		must(t, d["retained"] == true, "retained flag missing: %v", d)
		must(t, asID(t, d["publisher"]) == pub.id, "publisher not disclosed: %v", d)
		must(t, equalValues(ev[4], []any{int64(2)}) && equalValues(ev[5], map[string]any{"unit": "C"}), "payload %v", ev)
		s.quiet()

		// A pattern subscription gets the retained event of each matching
		// topic, with the topic.
		rq = pub.req()
		pub.send(codec.PUBLISH, rq, map[string]any{"retain": true}, "com.sensor.hum", []any{"h"})
		w := join(t, r, f)
		wid := w.subscribe("com.sensor", map[string]any{"match": "prefix", "get_retained": true})
		got := map[string]bool{}
		for i := 0; i < 2; i++ {
			ev := w.expect(codec.EVENT)
			must(t, asID(t, ev[1]) == wid, "EVENT for %v", ev[1])
			got[dictOf(t, ev[3])["topic"].(string)] = true
		}
		must(t, got["com.sensor.temp"] && got["com.sensor.hum"], "topics %v", got)
		w.quiet()

		// The publisher itself is excluded by default, as it would have
		// been from the original publication.
		pid := pub.subscribe("com.sensor.hum", map[string]any{"get_retained": true})
		_ = pid
		pub.quiet()
	})
}

func TestRetainedEventEligibility(t *testing.T) {
	r := newRouter(t, core.Config{})
	pub := join(t, r, codec.JSON)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"retain": true, "eligible_authid": []any{"alice"}}, "com.secret", []any{"s"})
	bob := connect(t, r, codec.CBOR)
	bob.hello("realm1", map[string]any{"authid": "bob"})
	bob.id = asID(t, bob.expect(codec.WELCOME)[1])
	bob.subscribe("com.secret", map[string]any{"get_retained": true})
	bob.quiet()
	alice := connect(t, r, codec.MsgPack)
	alice.hello("realm1", map[string]any{"authid": "alice"})
	alice.id = asID(t, alice.expect(codec.WELCOME)[1])
	alice.subscribe("com.secret", map[string]any{"get_retained": true})
	ev := alice.expect(codec.EVENT)
	must(t, equalValues(ev[4], []any{"s"}), "payload %v", ev)
}

func historyConfig() core.Config {
	return core.Config{History: []core.HistoryRule{
		{Topic: "com.hist.a", Limit: 3},
		{Topic: "com.pre.", Match: "prefix", Limit: 100},
		{Topic: "com..log", Match: "wildcard", MaxBytes: 64},
	}}
}

func TestEventHistory(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, historyConfig())
		must(t, welcomeFeatures(t, r, "broker")["event_history"] == true, "event_history not announced")
		reader := join(t, r, f)
		sid := reader.subscribe("com.hist.a", nil)
		pub := join(t, r, codec.JSON)
		var pubIDs []uint64
		for i := 0; i < 5; i++ {
			rq := pub.req()
			pub.send(codec.PUBLISH, rq, map[string]any{"acknowledge": true, "disclose_me": i == 4}, "com.hist.a", []any{i}, map[string]any{"i": i})
			pubIDs = append(pubIDs, asID(t, pub.expect(codec.PUBLISHED)[2]))
			reader.expect(codec.EVENT)
		}
		// The count limit keeps the last 3, in order of occurrence.
		evs := resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid}, nil))[0].([]any)
		must(t, len(evs) == 3, "got %d events: %v", len(evs), evs)
		for k, e := range evs {
			d := dictOf(t, e)
			must(t, asID(t, d["publication"]) == pubIDs[k+2] && asID(t, d["subscription"]) == sid, "event %d: %v", k, d)
			must(t, equalValues(d["args"], []any{int64(k + 2)}) && equalValues(d["kwargs"], map[string]any{"i": int64(k + 2)}), "payload %d: %v", k, d)
			ts, err := time.Parse(time.RFC3339Nano, d["timestamp"].(string))
			must(t, err == nil && time.Since(ts) < time.Minute, "timestamp %v", d["timestamp"])
		}
		must(t, asID(t, dictOf(t, dictOf(t, evs[2])["details"])["publisher"]) == pub.id, "publisher not disclosed: %v", evs[2])

		// limit (positional, as Crossbar takes it, and keyword), reverse,
		// publication bounds.
		evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid, 2}, nil))[0].([]any)
		must(t, len(evs) == 2 && asID(t, dictOf(t, evs[0])["publication"]) == pubIDs[2], "limit: %v", evs)
		evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid}, map[string]any{"reverse": true, "limit": 1}))[0].([]any)
		must(t, len(evs) == 1 && asID(t, dictOf(t, evs[0])["publication"]) == pubIDs[4], "reverse: %v", evs)
		evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid}, map[string]any{"after_publication": pubIDs[2]}))[0].([]any)
		must(t, len(evs) == 2 && asID(t, dictOf(t, evs[0])["publication"]) == pubIDs[3], "after_publication: %v", evs)
		evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid}, map[string]any{"until_publication": pubIDs[3], "from_publication": pubIDs[3]}))[0].([]any)
		must(t, len(evs) == 1 && asID(t, dictOf(t, evs[0])["publication"]) == pubIDs[3], "from/until_publication: %v", evs)
		evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid}, map[string]any{"before_time": "2000-01-01T00:00:00Z"}))[0].([]any)
		must(t, len(evs) == 0, "before_time: %v", evs)

		// Errors.
		m := reader.callKw("wamp.subscription.get_events", []any{12345}, nil)
		must(t, m[4] == core.ErrNoSuchSubscription, "unknown subscription: %v", m)
		m = reader.callKw("wamp.subscription.get_events", []any{sid}, map[string]any{"from_time": "yesterday"})
		must(t, m[4] == core.ErrInvalidArgument, "bad time: %v", m)
	})
}

// A pattern subscription's history holds every publication its pattern
// matches, from all topics, in arrival order; events filtered by session id
// are not kept; the byte limit drops events larger than it.
func TestEventHistoryPatterns(t *testing.T) {
	r := newRouter(t, historyConfig())
	pub := join(t, r, codec.MsgPack)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.pre.x", []any{"x1"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.pre.y", []any{"y1"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"exclude": []any{1}}, "com.pre.y", []any{"excluded"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.pre.x", []any{"x2"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.other", []any{"o"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.a.log", []any{strings.Repeat("z", 100)})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.a.log", []any{"small"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"eligible_authrole": []any{"admin"}}, "com.pre.z", []any{"admins only"})
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"exclude_authid": []any{"bob"}}, "com.pre.z", []any{"not for bob"})

	reader := join(t, r, codec.JSON)
	// Subscribing after the fact: history is kept per topic, so a new
	// subscription sees what was published before it existed.
	pre := reader.subscribe("com.pre", map[string]any{"match": "prefix"})
	evs := resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{pre}, nil))[0].([]any)
	var got []string
	for _, e := range evs {
		d := dictOf(t, e)
		got = append(got, d["args"].([]any)[0].(string)+"@"+dictOf(t, d["details"])["topic"].(string))
	}
	must(t, strings.Join(got, ",") == "x1@com.pre.x,y1@com.pre.y,x2@com.pre.x,not for bob@com.pre.z", "prefix history %v", got)
	evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{pre}, map[string]any{"topic": "com.pre.y"}))[0].([]any)
	must(t, len(evs) == 1, "topic filter: %v", evs)

	x := reader.subscribe("com.pre.x", nil)
	evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{x}, nil))[0].([]any)
	must(t, len(evs) == 2, "exact history %v", evs)

	o := reader.subscribe("com.other", nil)
	evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{o}, nil))[0].([]any)
	must(t, len(evs) == 0, "no rule, no history: %v", evs)

	w := reader.subscribe("com..log", map[string]any{"match": "wildcard"})
	evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{w}, nil))[0].([]any)
	must(t, len(evs) == 1 && equalValues(dictOf(t, evs[0])["args"], []any{"small"}), "byte limit: %v", evs)

	// Events with authid/authrole lists are kept and filtered per reader.
	z := reader.subscribe("com.pre.z", nil)
	evs = resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{z}, nil))[0].([]any)
	must(t, len(evs) == 1 && equalValues(dictOf(t, evs[0])["args"], []any{"not for bob"}), "anonymous reader: %v", evs)
	bob := connect(t, r, codec.CBOR)
	bob.hello("realm1", map[string]any{"authid": "bob"})
	bob.expect(codec.WELCOME)
	evs = resultArgs(t, bob.callKw("wamp.subscription.get_events", []any{z}, nil))[0].([]any)
	must(t, len(evs) == 0, "bob reads events filtered from him: %v", evs)
}

func TestEventHistoryOff(t *testing.T) {
	r := newRouter(t, core.Config{})
	must(t, welcomeFeatures(t, r, "broker")["event_history"] == nil, "event_history announced without history")
	p := join(t, r, codec.JSON)
	sid := p.subscribe("com.x", nil)
	m := p.callKw("wamp.subscription.get_events", []any{sid}, nil)
	must(t, m[4] == core.ErrNoSuchProcedure, "get_events without history: %v", m)
	_, err := core.NewRouter(core.Config{History: []core.HistoryRule{{Topic: "a..b", Match: "exact"}}})
	must(t, err != nil, "invalid rule accepted")
}

// The realm budget bounds the store: once spent, new topics keep nothing.
func TestEventStoreBudget(t *testing.T) {
	cfg := historyConfig()
	cfg.EventStoreMaxBytes = 8 << 10
	r := newRouter(t, cfg)
	pub := join(t, r, codec.JSON)
	for i := 0; i < 200; i++ {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.pre.t"+string(rune('a'+i%26))+strings.Repeat("x", i), []any{strings.Repeat("p", 200)})
	}
	reader := join(t, r, codec.JSON)
	sid := reader.subscribe("com.pre", map[string]any{"match": "prefix"})
	evs := resultArgs(t, reader.callKw("wamp.subscription.get_events", []any{sid}, nil))[0].([]any)
	must(t, len(evs) > 0 && len(evs) < 40, "%d events kept within an 8 KiB budget", len(evs))
	held, refused := r.Realm("realm1").EventStoreStats()
	must(t, held <= 8<<10 && refused > 0, "store holds %d bytes, refused %d", held, refused)
}

func TestTestament(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{AllowMetaKill: true})
		must(t, welcomeFeatures(t, r, "dealer")["testament_meta_api"] == true, "testament_meta_api not announced")
		w := join(t, r, codec.JSON)
		w.subscribe("com.will", nil)

		ends := map[string]func(r *core.Router, p *peer){
			"goodbye": func(_ *core.Router, p *peer) {
				p.send(codec.GOODBYE, map[string]any{}, core.CloseCloseRealm)
				p.expectAsync(codec.GOODBYE)
			},
			"transport-loss": func(_ *core.Router, p *peer) { p.l.Close() },
			"abort":          func(_ *core.Router, p *peer) { p.send(codec.ABORT, map[string]any{}, "wamp.error.whatever") },
			"kill": func(_ *core.Router, p *peer) {
				m := w.callKw("wamp.session.kill", []any{p.id}, nil)
				must(t, codec.Type(asID(t, m[0])) == codec.RESULT, "kill: %v", m)
			},
		}
		for name, end := range ends {
			p := join(t, r, f)
			m := p.callKw("wamp.session.add_testament", []any{"com.will", []any{"destroyed-1"}, map[string]any{"who": name}}, nil)
			must(t, len(resultArgs(t, m)) == 0, "add_testament returns no value: %v", m)
			p.callKw("wamp.session.add_testament", []any{"com.will", []any{"detached-1"}}, map[string]any{"scope": "detached", "publish_options": map[string]any{"disclose_me": true}})
			p.callKw("wamp.session.add_testament", []any{"com.will", []any{"destroyed-2"}}, map[string]any{"scope": "destroyed"})
			p.callKw("wamp.session.add_testament", []any{"com.will", []any{"flushed"}}, map[string]any{"scope": "detached"})
			m = p.callKw("wamp.session.add_testament", []any{"com.will", []any{}}, map[string]any{"scope": "forever"})
			must(t, m[4] == core.ErrInvalidArgument, "bad scope: %v", m)
			m = p.callKw("wamp.session.add_testament", []any{"wamp.session.on_join", []any{}}, nil)
			must(t, m[4] == core.ErrInvalidURI, "reserved topic: %v", m)
			p.callKw("wamp.session.flush_testaments", nil, map[string]any{"scope": "detached"})
			p.callKw("wamp.session.add_testament", []any{"com.will", []any{"detached-1"}}, map[string]any{"scope": "detached", "publish_options": map[string]any{"disclose_me": true}})
			end(r, p)
			var got []string
			for i := 0; i < 3; i++ {
				ev := w.expectAsync(codec.EVENT)
				got = append(got, ev[4].([]any)[0].(string))
				if i == 0 {
					must(t, asID(t, dictOf(t, ev[3])["publisher"]) == p.id, "%s: publish_options not applied: %v", name, ev)
				}
				if i == 1 {
					must(t, equalValues(ev[5], map[string]any{"who": name}), "%s: kwargs %v", name, ev)
				}
			}
			must(t, strings.Join(got, ",") == "detached-1,destroyed-1,destroyed-2", "%s: testaments %v", name, got)
			w.quiet()
		}

		// flush_testaments without scope flushes "destroyed".
		p := join(t, r, f)
		p.callKw("wamp.session.add_testament", []any{"com.will", []any{"gone"}}, nil)
		p.callKw("wamp.session.flush_testaments", nil, nil)
		p.send(codec.GOODBYE, map[string]any{}, core.CloseCloseRealm)
		p.expectAsync(codec.GOODBYE)
		w.quiet()
	})
}

func TestSessionKill(t *testing.T) {
	r := newRouter(t, core.Config{})
	must(t, welcomeFeatures(t, r, "broker")["subscription_revocation"] == nil, "subscription_revocation announced without AllowMetaKill")
	admin := join(t, r, codec.JSON)
	victim := join(t, r, codec.JSON)
	for _, proc := range []string{"wamp.session.kill", "wamp.session.kill_by_authid", "wamp.session.kill_by_authrole", "wamp.session.kill_all", "wamp.subscription.remove_subscriber"} {
		m := admin.callKw(proc, []any{victim.id}, nil)
		must(t, m[4] == core.ErrNotAuthorized, "%s allowed without AllowMetaKill: %v", proc, m)
	}
	victim.quiet()

	r = newRouter(t, core.Config{AllowMetaKill: true})
	admin = join(t, r, codec.JSON)
	admin.subscribe("wamp.session.on_leave", nil)
	hello := func(authid string) *peer {
		p := connect(t, r, codec.MsgPack)
		p.hello("realm1", map[string]any{"authid": authid})
		p.id = asID(t, p.expect(codec.WELCOME)[1])
		return p
	}
	v1 := hello("v1")
	m := admin.callKw("wamp.session.kill", []any{v1.id}, map[string]any{"reason": "com.app.bye", "message": "go away"})
	must(t, len(resultArgs(t, m)) == 0, "kill result %v", m)
	g := v1.expectAsync(codec.GOODBYE)
	must(t, g[2] == "com.app.bye" && dictOf(t, g[1])["message"] == "go away", "GOODBYE %v", g)
	ev := admin.expectAsync(codec.EVENT)
	must(t, asID(t, ev[4].([]any)[0]) == v1.id, "on_leave %v", ev)
	v1.send(codec.GOODBYE, map[string]any{}, core.CloseGoodbyeAndOut)
	must(t, asID(t, admin.callResult("wamp.session.count")) == 1, "killed session still counted")

	m = admin.callKw("wamp.session.kill", []any{admin.id}, nil)
	must(t, m[4] == core.ErrNoSuchSession, "killing oneself: %v", m)
	m = admin.callKw("wamp.session.kill", []any{12345}, nil)
	must(t, m[4] == core.ErrNoSuchSession, "unknown session: %v", m)
	m = admin.callKw("wamp.session.kill", []any{12345}, map[string]any{"reason": "not a uri!"})
	must(t, m[4] == core.ErrInvalidURI, "bad reason: %v", m)

	a1, a2, b1 := hello("a"), hello("a"), hello("b")
	ids := resultArgs(t, admin.callKw("wamp.session.kill_by_authid", []any{"a"}, nil))[0].([]any)
	must(t, len(ids) == 2, "kill_by_authid %v", ids)
	for _, p := range []*peer{a1, a2} {
		must(t, p.expectAsync(codec.GOODBYE)[2] == core.CloseKilled, "default reason")
	}
	admin.expectAsync(codec.EVENT)
	admin.expectAsync(codec.EVENT)
	n := resultArgs(t, admin.callKw("wamp.session.kill_by_authrole", []any{"anonymous"}, nil))[0]
	must(t, asID(t, n) == 1, "kill_by_authrole %v (the caller is excluded)", n)
	b1.expectAsync(codec.GOODBYE)
	admin.expectAsync(codec.EVENT)

	c1, c2 := hello("c"), hello("c")
	c1.subscribe("wamp.session.on_leave", nil)
	n = resultArgs(t, admin.callKw("wamp.session.kill_all", nil, nil))[0]
	must(t, asID(t, n) == 2, "kill_all %v", n)
	c1.expectAsync(codec.GOODBYE)
	c2.expectAsync(codec.GOODBYE)
	// kill_all generates no meta events.
	admin.quiet()
}

func TestRemoveSubscriber(t *testing.T) {
	r := newRouter(t, core.Config{AllowMetaKill: true})
	must(t, welcomeFeatures(t, r, "broker")["subscription_revocation"] == true, "subscription_revocation not announced")
	admin := join(t, r, codec.JSON)
	admin.subscribe("wamp.subscription.on_unsubscribe", nil)
	rev := connect(t, r, codec.CBOR)
	rev.hello("realm1", map[string]any{"roles": map[string]any{"subscriber": map[string]any{"features": map[string]any{"subscription_revocation": true}}}})
	rev.id = asID(t, rev.expect(codec.WELCOME)[1])
	plain := join(t, r, codec.JSON)
	sid := rev.subscribe("com.t", nil)
	must(t, plain.subscribe("com.t", nil) == sid, "same subscription")

	m := admin.callKw("wamp.subscription.remove_subscriber", []any{sid, rev.id}, map[string]any{"reason": "no longer authorized"})
	resultArgs(t, m)
	u := rev.expectAsync(codec.UNSUBSCRIBED)
	must(t, asID(t, u[1]) == 0 && asID(t, dictOf(t, u[2])["subscription"]) == sid && dictOf(t, u[2])["reason"] == "no longer authorized", "UNSUBSCRIBED %v", u)
	ev := admin.expectAsync(codec.EVENT)
	must(t, asID(t, ev[4].([]any)[0]) == rev.id, "on_unsubscribe %v", ev)

	// A subscriber without the feature gets no UNSUBSCRIBED but is removed.
	admin.callKw("wamp.subscription.remove_subscriber", []any{sid, plain.id, "positional reason"}, nil)
	admin.expectAsync(codec.EVENT)
	plain.quiet()
	pub := join(t, r, codec.JSON)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.t", []any{1})
	rev.quiet()
	plain.quiet()
	m = admin.callKw("wamp.subscription.remove_subscriber", []any{sid, plain.id}, nil)
	must(t, m[4] == core.ErrNoSuchSubscription, "second removal: %v", m)
	sid2 := rev.subscribe("com.t2", nil)
	resultArgs(t, admin.callKw("wamp.subscription.remove_subscriber", []any{sid2, rev.id, "positional"}, nil))
	u = rev.expectAsync(codec.UNSUBSCRIBED)
	must(t, asID(t, dictOf(t, u[2])["subscription"]) == sid2 && dictOf(t, u[2])["reason"] == "positional", "UNSUBSCRIBED %v", u)
	admin.expectAsync(codec.EVENT) // on_unsubscribe
	// An unsubscribe of the revoked subscription by the client is an error.
	rq := rev.req()
	rev.send(codec.UNSUBSCRIBE, rq, sid)
	rev.expectError(codec.UNSUBSCRIBE, rq, core.ErrNoSuchSubscription)
}

// Meta procedures on unknown things: lookups give null, lists give [].
func TestMetaAPIEmptyAnswers(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	must(t, p.callResult("wamp.subscription.lookup", "com.none") == nil, "subscription.lookup")
	must(t, p.callResult("wamp.registration.lookup", "com.none") == nil, "registration.lookup")
	must(t, p.callResult("wamp.registration.match", "com.none") == nil, "registration.match")
	// The spec makes subscription.match nullable: "A list of all matching
	// subscription IDs, or null".
	must(t, p.callResult("wamp.subscription.match", "com.none") == nil, "subscription.match")
	l := dictOf(t, p.callResult("wamp.subscription.list"))
	for _, k := range []string{"exact", "prefix", "wildcard"} {
		v, ok := l[k].([]any)
		must(t, ok && len(v) == 0, "subscription.list %s: %v", k, l)
	}
	sid := p.subscribe("com.x", nil)
	_ = sid
	list := p.callResult("wamp.session.list", []any{"nobody"}).([]any)
	must(t, len(list) == 0, "session.list %v", list)
}

func TestPublicationTrustLevels(t *testing.T) {
	must(t, welcomeFeatures(t, newRouter(t, core.Config{}), "broker")["publication_trustlevels"] == nil, "announced without rules")
	r := newRouter(t, core.Config{PublicationTrustLevels: []core.TrustLevelRule{
		{Topic: "com.secure", Match: "prefix", Level: 3},
		{Topic: "com.other", AuthRole: "anonymous", Level: 1},
		{Topic: "com.roleless", AuthRole: "admin", Level: 9},
	}})
	must(t, welcomeFeatures(t, r, "broker")["publication_trustlevels"] == true, "publication_trustlevels not announced")
	s := join(t, r, codec.MsgPack)
	for _, topic := range []string{"com.secure.x", "com.other", "com.roleless", "com.none"} {
		s.subscribe(topic, nil)
	}
	s.subscribe("wamp.session.on_join", nil)
	pub := join(t, r, codec.JSON)
	ev := s.expect(codec.EVENT) // on_join: router events carry no trustlevel
	_, has := dictOf(t, ev[3])["trustlevel"]
	must(t, !has, "meta event with trustlevel: %v", ev)
	want := map[string]any{"com.secure.x": int64(3), "com.other": int64(1), "com.roleless": nil, "com.none": nil}
	for _, topic := range []string{"com.secure.x", "com.other", "com.roleless", "com.none"} {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{"retain": true}, topic, []any{topic})
		ev := s.expect(codec.EVENT)
		got, has := dictOf(t, ev[3])["trustlevel"]
		must(t, (want[topic] == nil && !has) || equalValues(got, want[topic]), "%s: trustlevel %v, want %v", topic, got, want[topic])
	}
	// A retained event gets its trust level too.
	w := join(t, r, codec.CBOR)
	w.subscribe("com.secure", map[string]any{"match": "prefix", "get_retained": true})
	ev = w.expect(codec.EVENT)
	must(t, equalValues(dictOf(t, ev[3])["trustlevel"], int64(3)), "retained event: %v", ev)
	_, err := core.NewRouter(core.Config{PublicationTrustLevels: []core.TrustLevelRule{{Topic: "x", Match: "fuzzy"}}})
	must(t, err != nil, "bad rule accepted")
}
