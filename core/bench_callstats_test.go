package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/core"
)

// BenchmarkCallRoundTripFlushed is BenchmarkCallRoundTrip with every
// message in its own input batch (Flush after each Receive), the worst
// case for anything done once per batch: the call latency clock is read
// for the CALL and again for the RESULT.
func BenchmarkCallRoundTripFlushed(b *testing.B) {
	r := newRouter(b, core.Config{})
	batch := core.AcquireBatch()
	defer batch.Release()
	callee, _ := sinkSession(b, r, batch, "")
	callee.Receive(batch, []byte(`[64,1,{},"com.echo"]`))
	caller, cs := sinkSession(b, r, batch, "")
	batch.Flush()
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		buf = jsonCall(buf[:0], uint64(i), "com.echo")
		caller.Receive(batch, buf)
		batch.Flush()
		buf = jsonYield(buf[:0], uint64(i))
		callee.Receive(batch, buf)
		batch.Flush()
	}
	b.StopTimer()
	if got := cs.n.Load() - 1; got != int64(b.N) {
		b.Fatalf("%d results for %d calls", got, b.N)
	}
}
