//go:build linux

package core_test

import (
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"github.com/zwamp/zwamp/core"
)

// BenchmarkPublishHistory: the router's CPU per PUBLISH with event history
// off and on for the topic (ring of 1000 events, full, so every publish
// also evicts), fanned out to 1 and 100 sink subscribers. Sub-benchmarks
// are run alternately by the command in bench/README.md.
func BenchmarkPublishHistory(b *testing.B) {
	for _, n := range []int{1, 100} {
		for _, history := range []bool{false, true} {
			name := "subs=" + strconv.Itoa(n) + "/history=" + map[bool]string{false: "off", true: "on"}[history]
			b.Run(name, func(b *testing.B) {
				cfg := core.Config{}
				if history {
					cfg.History = []core.HistoryRule{{Topic: "com.myapp", Match: "prefix", Limit: 1000}}
				}
				r := newRouter(b, cfg)
				batch := core.AcquireBatch()
				defer batch.Release()
				for i := 0; i < n; i++ {
					sinkSession(b, r, batch, "com.myapp.topic1")
				}
				pub, _ := sinkSession(b, r, batch, "")
				buf := make([]byte, 0, 128)
				var req uint64
				publish := func() {
					req++
					buf = jsonPublish(buf[:0], req, "com.myapp.topic1", "Hello, world! 0123456789abcdef")
					pub.Receive(batch, buf)
					batch.Flush() // one input batch per publish, as a reader per message would
				}
				for i := 0; i < 2000; i++ { // fill the ring
					publish()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					publish()
				}
			})
		}
	}
}

// BenchmarkPublishHistoryInterleaved runs history off and on side by side
// in blocks of 256 publishes, alternating, and reports each one's CPU time
// per publish (the benchmark goroutine's thread CPU clock, so time spent
// descheduled on a loaded machine is not counted) and their ratio.
func BenchmarkPublishHistoryInterleaved(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run("subs="+strconv.Itoa(n), func(b *testing.B) {
			type side struct {
				pub   *core.Conn
				batch *core.Batch
				buf   []byte
				req   uint64
				ns    int64
			}
			mk := func(history bool) *side {
				cfg := core.Config{}
				if history {
					cfg.History = []core.HistoryRule{{Topic: "com.myapp", Match: "prefix", Limit: 1000}}
				}
				r := newRouter(b, cfg)
				s := &side{batch: core.AcquireBatch(), buf: make([]byte, 0, 128)}
				for i := 0; i < n; i++ {
					sinkSession(b, r, s.batch, "com.myapp.topic1")
				}
				s.pub, _ = sinkSession(b, r, s.batch, "")
				return s
			}
			run := func(s *side, k int) {
				start := threadCPU()
				for i := 0; i < k; i++ {
					s.req++
					s.buf = jsonPublish(s.buf[:0], s.req, "com.myapp.topic1", "Hello, world! 0123456789abcdef")
					s.pub.Receive(s.batch, s.buf)
					s.batch.Flush()
				}
				s.ns += threadCPU() - start
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			off, on := mk(false), mk(true)
			run(off, 2000)
			run(on, 2000)
			off.ns, on.ns = 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				k := min(256, b.N-done)
				run(off, k)
				run(on, k)
				done += k
			}
			b.ReportMetric(float64(off.ns)/float64(b.N), "cpu-ns/pub-off")
			b.ReportMetric(float64(on.ns)/float64(b.N), "cpu-ns/pub-on")
			b.ReportMetric(float64(on.ns)/float64(off.ns), "on/off")
		})
	}
}

// threadCPU returns the calling thread's CPU time in nanoseconds
// (clock_gettime(CLOCK_THREAD_CPUTIME_ID)).
func threadCPU() int64 {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		panic(e)
	}
	return ts.Nano()
}
