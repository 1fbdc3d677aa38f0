package core_test

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

var helloCanceling = []byte(`[1,"realm1",{"roles":{"caller":{"features":{"call_canceling":true}},"callee":{"features":{"call_canceling":true}}}}]`)

// cancelingSession joins a JSON session on a sink transport that announces
// call_canceling as caller and callee.
func cancelingSession(tb testing.TB, r *core.Router, b *core.Batch) (*core.Conn, *sink) {
	s := &sink{f: codec.JSON}
	c := r.Attach(s)
	c.Receive(b, helloCanceling)
	if c.Session() == nil {
		tb.Fatal("join failed")
	}
	return c, s
}

// BenchmarkPendingCalls holds 100k calls pending at one callee, with and
// without a timeout each, and reports the router's heap per pending call
// and the time to admit one (decode, route, record, INVOCATION, and with a
// timeout the timer heap insert). The two subbenchmarks side by side give
// the timer's share. The callee's end then settles all of them.
func BenchmarkPendingCalls(b *testing.B) {
	const n = 100_000
	for _, withTimeout := range []bool{false, true} {
		name := "timeout=none"
		if withTimeout {
			name = "timeout=60s"
		}
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 128)
			var heap uint64
			var admit time.Duration
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				r := newRouter(b, core.Config{})
				batch := core.AcquireBatch()
				callee, _ := cancelingSession(b, r, batch)
				callee.Receive(batch, []byte(`[64,1,{},"com.echo"]`))
				caller, _ := cancelingSession(b, r, batch)
				// Twice: the first GC moves the previous round's pooled
				// records to sync.Pool's victim cache, the second frees them,
				// so this round allocates its own and they are counted.
				runtime.GC()
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.StartTimer()
				start := time.Now()
				for j := uint64(1); j <= n; j++ {
					if withTimeout {
						buf = jsonCallTimeout(buf[:0], j, "com.echo")
					} else {
						buf = jsonCall(buf[:0], j, "com.echo")
					}
					caller.Receive(batch, buf)
				}
				admit += time.Since(start)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap += after.HeapAlloc - before.HeapAlloc
				callee.Detach() // fails the n calls with canceled, disarming their timers
				caller.Detach()
				batch.Release()
			}
			b.ReportMetric(float64(heap)/float64(b.N*n), "B/pending-call")
			b.ReportMetric(float64(admit.Nanoseconds())/float64(b.N*n), "ns/call")
		})
	}
}

func jsonCancel(dst []byte, req uint64, mode string) []byte {
	dst = append(dst, "[49,"...)
	dst = strconv.AppendUint(dst, req, 10)
	dst = append(dst, `,{"mode":"`...)
	dst = append(dst, mode...)
	return append(dst, `"}]`...)
}

func jsonInvocationError(dst []byte, req uint64) []byte {
	dst = append(dst, "[8,68,"...)
	dst = strconv.AppendUint(dst, req, 10)
	return append(dst, `,{},"wamp.error.canceled"]`...)
}

// BenchmarkCancelRoundTrip: CALL, CANCEL and what follows inside the
// router. killnowait: ERROR to the caller and INTERRUPT to the callee at
// once; kill: INTERRUPT, then the callee's ERROR forwarded to the caller.
func BenchmarkCancelRoundTrip(b *testing.B) {
	for _, mode := range []string{"killnowait", "kill"} {
		b.Run(mode, func(b *testing.B) {
			r := newRouter(b, core.Config{})
			batch := core.AcquireBatch()
			defer batch.Release()
			callee, es := cancelingSession(b, r, batch)
			callee.Receive(batch, []byte(`[64,1,{},"com.echo"]`))
			caller, cs := cancelingSession(b, r, batch)
			buf := make([]byte, 0, 128)
			b.ReportAllocs()
			b.ResetTimer()
			for i := uint64(1); i <= uint64(b.N); i++ {
				buf = jsonCall(buf[:0], i, "com.echo")
				caller.Receive(batch, buf)
				buf = jsonCancel(buf[:0], i, mode)
				caller.Receive(batch, buf)
				if mode == "kill" {
					buf = jsonInvocationError(buf[:0], i) // INVOCATION ids are sequential from 1
					callee.Receive(batch, buf)
				}
			}
			b.StopTimer()
			if got := cs.n.Load() - 1; got != int64(b.N) {
				b.Fatalf("%d errors for %d cancels", got, b.N)
			}
			if got := es.n.Load() - 2; got != 2*int64(b.N) {
				b.Fatalf("callee got %d messages for %d calls", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cancels/s")
		})
	}
}
