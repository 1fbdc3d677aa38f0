package core_test

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// TestURICounters drives publications and calls through the router with
// an opt-in list of exact, prefix and wildcard patterns and checks each
// pattern's counts: labelled by pattern, a URI counted under every pattern
// it matches, nothing for URIs no pattern matches.
func TestURICounters(t *testing.T) {
	if err := core.SetURICounters([]core.URIPattern{
		{URI: "uritest.a.x"},                     // exact (the default)
		{URI: "uritest.a.", Match: "prefix"},     // topics and procedures under uritest.a
		{URI: "uritest..x", Match: "wildcard"},   // any second component, last one x
		{URI: "uritest.a.proc", Match: "exact"},  // a procedure
		{URI: "uritest.none", Match: "wildcard"}, // matches nothing used here
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.SetURICounters(nil) })

	r := newRouter(t, core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	var subs []*peer
	for i := 0; i < 2; i++ {
		s := connect(t, r, codec.JSON)
		s.hello("realm1", nil)
		s.expect(codec.WELCOME)
		s.subscribe("uritest.a.x", nil)
		subs = append(subs, s)
	}
	callee := connect(t, r, codec.MsgPack)
	callee.hello("realm1", nil)
	callee.expect(codec.WELCOME)
	callee.register("uritest.a.proc", nil)

	pub := connect(t, r, codec.CBOR)
	pub.hello("realm1", nil)
	pub.expect(codec.WELCOME)
	for _, topic := range []string{"uritest.a.x", "uritest.a.x", "uritest.b.x", "uritest.a.x", "uritest.a.y", "other.topic"} {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, topic)
		pub.expect(codec.PUBLISHED)
	}
	for _, s := range subs {
		for i := 0; i < 3; i++ {
			s.expect(codec.EVENT)
		}
	}
	for i := 0; i < 2; i++ {
		pub.send(codec.CALL, pub.req(), map[string]any{}, "uritest.a.proc")
		inv := callee.expect(codec.INVOCATION)
		callee.send(codec.YIELD, inv[1], map[string]any{})
		pub.expect(codec.RESULT)
	}

	want := map[string][3]uint64{ // publishes, events, calls
		"exact uritest.a.x":     {3, 6, 0},
		"prefix uritest.a.":     {4, 6, 2},
		"wildcard uritest..x":   {4, 6, 0},
		"exact uritest.a.proc":  {0, 0, 2},
		"wildcard uritest.none": {0, 0, 0},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := map[string][3]uint64{}
		for _, c := range core.URICounts() {
			got[c.Match+" "+c.URI] = [3]uint64{c.Publishes, c.Events, c.Calls}
		}
		ok := len(got) == len(want)
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("per-pattern counts (publishes, events, calls):\n got %v\nwant %v", got, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestURICountersConfig(t *testing.T) {
	t.Cleanup(func() { core.SetURICounters(nil) })
	for _, bad := range [][]core.URIPattern{
		{{URI: "a.b", Match: "regex"}},
		{{URI: ""}},
		{{URI: "a.b"}, {URI: "a.b", Match: "exact"}},
	} {
		if err := core.SetURICounters(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if core.URICounts() != nil {
		t.Errorf("counts with no list: %v", core.URICounts())
	}
	if err := core.SetURICounters([]core.URIPattern{{URI: "a.b"}, {URI: "a.b", Match: "prefix"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(core.URICounts()); n != 2 {
		t.Errorf("%d counts for 2 patterns", n)
	}
}
