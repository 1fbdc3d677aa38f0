package core_test

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// histDelta returns after - before, bucket by bucket.
func histDelta(before, after core.Histogram) (d []uint64, count uint64, sum float64) {
	d = make([]uint64, len(after.Counts))
	for i := range d {
		d[i] = after.Counts[i] - before.Counts[i]
	}
	return d, after.Count - before.Count, after.Sum - before.Sum
}

// TestCallCounts: every outcome a caller can see is counted once when its
// answer is sent — a RESULT, a callee's ERROR, a router ERROR, a CANCEL, a
// timeout — and the latency of each lands in the histogram: the router's
// own answer in the first bucket, a call held by its callee for 100 ms in
// a bucket of at least 65.5 ms.
func TestCallCounts(t *testing.T) {
	r := newRouter(t, core.Config{})
	callee := joinWith(t, r, codec.JSON, feats(nil, canceling), nil)
	caller := joinWith(t, r, codec.MsgPack, feats(canceling, nil), nil)
	callee.register("com.example.slow", nil)

	c0, l0 := core.CallCounts(), core.CallLatency()
	const hold = 100 * time.Millisecond

	// result, after the callee held the call.
	rq := caller.callOpts(map[string]any{}, "com.example.slow")
	inv := callee.expect(codec.INVOCATION)
	time.Sleep(hold)
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{}, []any{"ok"})
	res := caller.expect(codec.RESULT)
	must(t, asID(t, res[1]) == rq, "RESULT %v for request %d", res, rq)

	// A progressive result is not an outcome; the final RESULT after it is.
	rq = caller.callOpts(map[string]any{"receive_progress": true}, "com.example.slow")
	inv = callee.expect(codec.INVOCATION)
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{"progress": true}, []any{1})
	caller.expect(codec.RESULT)
	callee.send(codec.YIELD, asID(t, inv[1]), map[string]any{}, []any{2})
	caller.expect(codec.RESULT)

	// error from the callee.
	rq = caller.callOpts(map[string]any{}, "com.example.slow")
	inv = callee.expect(codec.INVOCATION)
	callee.send(codec.ERROR, codec.INVOCATION, asID(t, inv[1]), map[string]any{}, "com.example.oops")
	caller.expectError(codec.CALL, rq, "com.example.oops")

	// error from the router, answered while the CALL is handled.
	rq = caller.callOpts(map[string]any{}, "com.example.none")
	caller.expectError(codec.CALL, rq, core.ErrNoSuchProcedure)

	// canceled.
	rq = caller.callOpts(map[string]any{}, "com.example.slow")
	callee.expect(codec.INVOCATION)
	caller.send(codec.CANCEL, rq, map[string]any{"mode": "skip"})
	caller.expectError(codec.CALL, rq, core.ErrCanceled)

	// timeout, after at least 100 ms.
	rq = caller.callOpts(map[string]any{"timeout": hold.Milliseconds()}, "com.example.slow")
	inv = callee.expect(codec.INVOCATION)
	caller.expectError(codec.CALL, rq, core.ErrTimeout)
	expectInterrupt(t, callee, asID(t, inv[1]), "killnowait")

	c1 := core.CallCounts()
	got := core.CallOutcomes{Result: c1.Result - c0.Result, Error: c1.Error - c0.Error,
		Canceled: c1.Canceled - c0.Canceled, Timeout: c1.Timeout - c0.Timeout}
	want := core.CallOutcomes{Result: 2, Error: 2, Canceled: 1, Timeout: 1}
	must(t, got == want, "call outcomes %+v, want %+v", got, want)

	d, n, sum := histDelta(l0, core.CallLatency())
	must(t, n == 6, "latency observations %d, want 6", n)
	must(t, d[0] >= 1, "the router's own ERROR is not in the first bucket: %v", d)
	var slow uint64
	for i := 17; i < len(d); i++ { // bucket 17: [65.5 ms, 131 ms)
		slow += d[i]
	}
	must(t, slow >= 2, "the held call and the timeout are not in the ≥ 65.5 ms buckets: %v", d)
	must(t, sum >= 2*hold.Seconds(), "latency sum %.3fs, want ≥ %.3fs", sum, 2*hold.Seconds())
	must(t, core.CallLatency().Upper[0] == 1e-6, "first latency bound %g, want 1µs", core.CallLatency().Upper[0])
}

// TestFanOutHistogram: each publication is placed by the number of
// subscribers it reached (exclude_me and nobody subscribed included).
func TestFanOutHistogram(t *testing.T) {
	r := newRouter(t, core.Config{})
	pub := join(t, r, codec.JSON)
	three := []*peer{join(t, r, codec.JSON), join(t, r, codec.MsgPack), join(t, r, codec.CBOR)}
	for _, s := range three {
		s.subscribe("com.example.three", nil)
	}
	pub.subscribe("com.example.self", nil)
	one := join(t, r, codec.JSON)
	one.subscribe("com.example.self", nil)

	f0 := core.FanOutHistogram()
	for i := 0; i < 2; i++ {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.example.three", []any{i})
		for _, s := range three {
			s.expect(codec.EVENT)
		}
	}
	pub.send(codec.PUBLISH, pub.req(), map[string]any{"acknowledge": true}, "com.example.nobody")
	pub.expect(codec.PUBLISHED)
	pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.example.self") // exclude_me: 1 of 2
	one.expect(codec.EVENT)

	d, n, sum := histDelta(f0, core.FanOutHistogram())
	want := make([]uint64, core.FanOutBuckets)
	want[0], want[1], want[2] = 1, 1, 2 // 0; 1; 2–3
	for i := range want {
		must(t, d[i] == want[i], "fan-out buckets %v, want %v", d, want)
	}
	must(t, n == 4 && sum == 7, "fan-out count %d sum %g, want 4 and 7", n, sum)
	u := core.FanOutHistogram().Upper
	must(t, u[0] == 0 && u[1] == 1 && u[2] == 3 && u[3] == 7, "fan-out bounds %v", u[:4])
}
