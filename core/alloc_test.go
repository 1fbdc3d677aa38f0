package core_test

import (
	"strconv"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// jsonPublish builds [16, req, {}, topic, [payload]] without allocating.
func jsonPublish(dst []byte, req uint64, topic, payload string) []byte {
	dst = append(dst, "[16,"...)
	dst = strconv.AppendUint(dst, req, 10)
	dst = append(dst, `,{},"`...)
	dst = append(dst, topic...)
	dst = append(dst, `",["`...)
	dst = append(dst, payload...)
	return append(dst, `"]]`...)
}

func jsonCall(dst []byte, req uint64, proc string) []byte {
	dst = append(dst, "[48,"...)
	dst = strconv.AppendUint(dst, req, 10)
	dst = append(dst, `,{},"`...)
	dst = append(dst, proc...)
	return append(dst, `",["ping"],{"k":1}]`...)
}

func jsonYield(dst []byte, req uint64) []byte {
	dst = append(dst, "[70,"...)
	dst = strconv.AppendUint(dst, req, 10)
	return append(dst, `,{},["pong"]]`...)
}

// TestAllocsPublishFanOut: 10,000 PUBLISHes, each fanned out to 100
// subscribers over three serializers, allocate nothing once warm.
func TestAllocsPublishFanOut(t *testing.T) {
	r := newRouter(t, core.Config{})
	subs := make([]*peer, 100)
	for i := range subs {
		subs[i] = join(t, r, formats[i%3])
		subs[i].subscribe("com.myapp.topic1", nil)
	}
	pub := join(t, r, codec.JSON)
	buf := make([]byte, 0, 128)
	run := func() {
		buf = jsonPublish(buf[:0], pub.req(), "com.myapp.topic1", "Hello, world!")
		_ = pub.l.Write(buf)
		for _, s := range subs {
			if _, ok := s.l.TryRead(); !ok {
				t.Fatal("subscriber got no event")
			}
		}
	}
	alloctest.Zero(t, "PUBLISH → 100 EVENTs", run)
}

// TestAllocsCallRoundTrip: 10,000 CALL → INVOCATION → YIELD → RESULT
// round trips inside the router allocate nothing once warm.
func TestAllocsCallRoundTrip(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	callee.register("com.echo", nil)
	caller := join(t, r, codec.JSON)
	var m codec.Message
	jc := codec.ByFormat(codec.JSON)
	buf := make([]byte, 0, 128)
	run := func() {
		buf = jsonCall(buf[:0], caller.req(), "com.echo")
		_ = caller.l.Write(buf)
		inv, ok := callee.l.TryRead()
		if !ok || jc.Decode(&m, inv) != nil || m.Type != codec.INVOCATION {
			t.Fatal("no INVOCATION")
		}
		buf = jsonYield(buf[:0], m.Request)
		_ = callee.l.Write(buf)
		res, ok := caller.l.TryRead()
		if !ok || jc.Decode(&m, res) != nil || m.Type != codec.RESULT {
			t.Fatal("no RESULT")
		}
	}
	alloctest.Zero(t, "CALL → RESULT", run)
}

func jsonCallTimeout(dst []byte, req uint64, proc string) []byte {
	dst = append(dst, "[48,"...)
	dst = strconv.AppendUint(dst, req, 10)
	dst = append(dst, `,{"timeout":60000},"`...)
	dst = append(dst, proc...)
	return append(dst, `",["ping"],{"k":1}]`...)
}

// TestAllocsCallWithTimeout: a CALL with a timeout (armed on the dealer's
// timer heap, disarmed by the RESULT) allocates nothing in steady state.
func TestAllocsCallWithTimeout(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := newRouter(t, core.Config{})
	callee := join(t, r, codec.JSON)
	callee.register("com.echo", nil)
	caller := join(t, r, codec.JSON)
	var m codec.Message
	jc := codec.ByFormat(codec.JSON)
	buf := make([]byte, 0, 128)
	run := func() {
		buf = jsonCallTimeout(buf[:0], caller.req(), "com.echo")
		_ = caller.l.Write(buf)
		inv, ok := callee.l.TryRead()
		if !ok || jc.Decode(&m, inv) != nil || m.Type != codec.INVOCATION {
			t.Fatal("no INVOCATION")
		}
		buf = jsonYield(buf[:0], m.Request)
		_ = callee.l.Write(buf)
		res, ok := caller.l.TryRead()
		if !ok || jc.Decode(&m, res) != nil || m.Type != codec.RESULT {
			t.Fatal("no RESULT")
		}
	}
	alloctest.Zero(t, "CALL with timeout → RESULT", run)
}

// TestAllocsCallSharedRegistration: a CALL to a shared registration with
// two callees, whose payload the dealer keeps for re-routing, allocates
// nothing in steady state (the copy goes to the pooled record's buffer).
func TestAllocsCallSharedRegistration(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := newRouter(t, core.Config{})
	callees := []*peer{join(t, r, codec.JSON), join(t, r, codec.JSON)}
	for _, c := range callees {
		c.register("com.echo", map[string]any{"invoke": "roundrobin"})
	}
	caller := join(t, r, codec.JSON)
	var m codec.Message
	jc := codec.ByFormat(codec.JSON)
	buf := make([]byte, 0, 128)
	run := func() {
		buf = jsonCall(buf[:0], caller.req(), "com.echo")
		_ = caller.l.Write(buf)
		var callee *peer
		var inv []byte
		for _, c := range callees {
			if msg, ok := c.l.TryRead(); ok {
				callee, inv = c, msg
			}
		}
		if callee == nil || jc.Decode(&m, inv) != nil || m.Type != codec.INVOCATION {
			t.Fatal("no INVOCATION")
		}
		buf = jsonYield(buf[:0], m.Request)
		_ = callee.l.Write(buf)
		res, ok := caller.l.TryRead()
		if !ok || jc.Decode(&m, res) != nil || m.Type != codec.RESULT {
			t.Fatal("no RESULT")
		}
	}
	alloctest.Zero(t, "CALL to a shared registration → RESULT", run)
}
