package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

func TestPubSub(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t, core.Config{})
		sub := join(t, r, f)
		pub := join(t, r, f)
		sid := sub.subscribe("com.myapp.topic1", nil)

		rq := pub.req()
		pub.send(codec.PUBLISH, rq, map[string]any{}, "com.myapp.topic1", []any{"Hello, world!"}, map[string]any{"color": "orange"})
		ev := sub.expect(codec.EVENT)
		must(t, asID(t, ev[1]) == sid, "subscription id %v", ev[1])
		must(t, asID(t, ev[2]) >= 1 && asID(t, ev[2]) <= codec.MaxID, "publication id %v", ev[2])
		must(t, len(ev) == 6 && ev[4].([]any)[0] == "Hello, world!" && dictOf(t, ev[5])["color"] == "orange", "event %v", ev)
		pub.quiet() // no PUBLISHED without acknowledge

		// acknowledge
		rq = pub.req()
		pub.send(codec.PUBLISH, rq, map[string]any{"acknowledge": true}, "com.myapp.topic1")
		ack := pub.expect(codec.PUBLISHED)
		ev = sub.expect(codec.EVENT)
		must(t, asID(t, ack[1]) == rq && ack[2] == ev[2], "PUBLISHED %v vs EVENT %v", ack, ev)
		must(t, len(ev) == 4, "event without payload has %d elements", len(ev))
	})
}

func TestPublisherExclusion(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	p.subscribe("a.b", nil)
	p.send(codec.PUBLISH, p.req(), map[string]any{}, "a.b")
	p.quiet() // excluded by default
	p.send(codec.PUBLISH, p.req(), map[string]any{"exclude_me": false}, "a.b")
	p.expect(codec.EVENT)
}

func TestSharedSubscriptionID(t *testing.T) {
	r := newRouter(t, core.Config{})
	a, b := join(t, r, codec.JSON), join(t, r, codec.MsgPack)
	ida, idb := a.subscribe("x.y", nil), b.subscribe("x.y", nil)
	must(t, ida == idb, "subscription ids differ: %d %d", ida, idb)
	idp := a.subscribe("x.y", map[string]any{"match": "prefix"})
	must(t, idp != ida, "prefix subscription shares the exact id")
}

func TestUnsubscribe(t *testing.T) {
	r := newRouter(t, core.Config{})
	s, p := join(t, r, codec.JSON), join(t, r, codec.JSON)
	id := s.subscribe("a.b", nil)
	rq := s.req()
	s.send(codec.UNSUBSCRIBE, rq, id)
	u := s.expect(codec.UNSUBSCRIBED)
	must(t, asID(t, u[1]) == rq, "UNSUBSCRIBED %v", u)
	p.send(codec.PUBLISH, p.req(), map[string]any{}, "a.b")
	s.quiet()
	rq = s.req()
	s.send(codec.UNSUBSCRIBE, rq, id)
	s.expectError(codec.UNSUBSCRIBE, rq, core.ErrNoSuchSubscription)
}

func TestBrokerErrors(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	for _, topic := range []string{"a..b", "a b", "", ".a", "a#b"} {
		rq := p.req()
		p.send(codec.SUBSCRIBE, rq, map[string]any{}, topic)
		p.expectError(codec.SUBSCRIBE, rq, core.ErrInvalidURI)
		rq = p.req()
		p.send(codec.PUBLISH, rq, map[string]any{"acknowledge": true}, topic)
		p.expectError(codec.PUBLISH, rq, core.ErrInvalidURI)
	}
	rq := p.req()
	p.send(codec.PUBLISH, rq, map[string]any{"acknowledge": true}, "wamp.session.on_join")
	p.expectError(codec.PUBLISH, rq, core.ErrInvalidURI)
	rq = p.req()
	p.send(codec.SUBSCRIBE, rq, map[string]any{"match": "regex"}, "a.b")
	p.expectError(codec.SUBSCRIBE, rq, core.ErrInvalidArgument)
	// Invalid URI without acknowledge: silently dropped, session stays.
	p.send(codec.PUBLISH, p.req(), map[string]any{}, "a..b")
	p.quiet()
	p.subscribe("still.alive", nil)
}

func TestPatternSubscriptions(t *testing.T) {
	r := newRouter(t, core.Config{})
	s, p := join(t, r, codec.JSON), join(t, r, codec.JSON)
	exact := s.subscribe("com.myapp.topic.emergency", nil)
	prefix := s.subscribe("com.myapp.topic.emerge", map[string]any{"match": "prefix"})
	wild := s.subscribe("com.myapp..emergency", map[string]any{"match": "wildcard"})
	p.send(codec.PUBLISH, p.req(), map[string]any{}, "com.myapp.topic.emergency", []any{1})
	got := map[uint64]map[string]any{}
	for i := 0; i < 3; i++ {
		ev := s.expect(codec.EVENT)
		got[asID(t, ev[1])] = dictOf(t, ev[3])
	}
	s.quiet()
	must(t, len(got) == 3, "events for %v", got)
	must(t, got[exact]["topic"] == nil, "exact event carries topic")
	must(t, got[prefix]["topic"] == "com.myapp.topic.emergency" && got[wild]["topic"] == "com.myapp.topic.emergency", "pattern events lack topic: %v", got)
	// wildcard needs equal component counts
	p.send(codec.PUBLISH, p.req(), map[string]any{}, "com.myapp.a.b.emergency")
	s.quiet()
}

func TestBlackWhiteListing(t *testing.T) {
	r := newRouter(t, core.Config{})
	pub := join(t, r, codec.JSON)
	subs := make([]*peer, 4)
	for i := range subs {
		subs[i] = connect(t, r, codec.JSON)
		subs[i].hello("realm1", map[string]any{"authid": []string{"ann", "bob", "ann", "cid"}[i]})
		subs[i].id = asID(t, subs[i].expect(codec.WELCOME)[1])
		subs[i].subscribe("t.x", nil)
	}
	check := func(opts map[string]any, want ...int) {
		t.Helper()
		pub.send(codec.PUBLISH, pub.req(), opts, "t.x")
		for i, s := range subs {
			in := false
			for _, w := range want {
				in = in || w == i
			}
			if in {
				s.expect(codec.EVENT)
			} else {
				s.quiet()
			}
		}
	}
	check(map[string]any{"exclude": []any{subs[1].id}}, 0, 2, 3)
	check(map[string]any{"eligible": []any{subs[1].id, subs[3].id}}, 1, 3)
	check(map[string]any{"eligible_authid": []any{"ann"}}, 0, 2)
	check(map[string]any{"exclude_authid": []any{"ann"}, "eligible": []any{subs[0].id, subs[1].id}}, 1)
	check(map[string]any{"eligible_authrole": []any{"anonymous"}, "exclude_authrole": "nobody"}, 0, 1, 2, 3)
	check(map[string]any{"exclude_authrole": []any{"anonymous"}})
}

func TestPublisherDisclosure(t *testing.T) {
	r := newRouter(t, core.Config{})
	s := join(t, r, codec.JSON)
	p := connect(t, r, codec.JSON)
	p.hello("realm1", map[string]any{"authid": "pub1"})
	p.id = asID(t, p.expect(codec.WELCOME)[1])
	s.subscribe("t", nil)
	p.send(codec.PUBLISH, p.req(), map[string]any{"disclose_me": true}, "t")
	d := dictOf(t, s.expect(codec.EVENT)[3])
	must(t, asID(t, d["publisher"]) == p.id && d["publisher_authid"] == "pub1" && d["publisher_authrole"] == "anonymous", "details %v", d)
	p.send(codec.PUBLISH, p.req(), map[string]any{}, "t")
	d = dictOf(t, s.expect(codec.EVENT)[3])
	must(t, d["publisher"] == nil, "undisclosed publisher leaked: %v", d)
}

// TestCrossSerializerEvent: a JSON publisher, MsgPack and CBOR subscribers
// see identical values, binary included.
func TestCrossSerializerEvent(t *testing.T) {
	r := newRouter(t, core.Config{})
	pub := join(t, r, codec.JSON)
	var subs []*peer
	for _, f := range formats {
		s := join(t, r, f)
		s.subscribe("x.bin", nil)
		subs = append(subs, s)
	}
	args := []any{[]byte{0, 1, 2, 0xff}, "ünï", int64(-5), uint64(1) << 62, 1.5, true, nil, []any{}, map[string]any{"k": []any{1}}}
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "x.bin", args, map[string]any{"big": uint64(18446744073709551615)})
	var first []any
	for _, s := range subs {
		ev := s.expect(codec.EVENT)
		if first == nil {
			first = ev
		}
		must(t, equalValues(ev[4], first[4]) && equalValues(ev[5], first[5]), "%v sees %v, want %v", s.f, ev[4:], first[4:])
	}
	must(t, equalValues(first[4].([]any)[0], []byte{0, 1, 2, 0xff}), "binary arg %#v", first[4].([]any)[0])
}

// TestEventOrder: events from one publisher reach a subscriber in order.
func TestEventOrder(t *testing.T) {
	r := newRouter(t, core.Config{})
	s, p := join(t, r, codec.MsgPack), join(t, r, codec.JSON)
	s.subscribe("seq", nil)
	const n = 10000
	for i := 0; i < n; i++ {
		p.send(codec.PUBLISH, p.req(), map[string]any{}, "seq", []any{i})
	}
	for i := 0; i < n; i++ {
		ev := s.expect(codec.EVENT)
		if got := asID(t, ev[4].([]any)[0]); got != uint64(i) {
			t.Fatalf("event %d carries %d", i, got)
		}
	}
}
