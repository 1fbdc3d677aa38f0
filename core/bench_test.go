package core_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// sink is the cheapest possible Transport: it counts deliveries. It
// isolates the router's own cost (decode, route, encode) from any I/O.
type sink struct {
	f     codec.Format
	n     atomic.Int64
	bytes atomic.Int64
}

func (s *sink) Format() codec.Format     { return s.f }
func (s *sink) Send(msg []byte) bool     { s.n.Add(1); s.bytes.Add(int64(len(msg))); return false }
func (s *sink) Flush()                   {}
func (s *sink) Close()                   {}
func (s *sink) Info() core.TransportInfo { return core.TransportInfo{Kind: "sink"} }

var helloJSON = []byte(`[1,"realm1",{"roles":{"publisher":{},"subscriber":{},"caller":{},"callee":{}}}]`)

// sinkSession joins a JSON session on a sink transport and optionally
// subscribes it to topic.
func sinkSession(tb testing.TB, r *core.Router, b *core.Batch, topic string) (*core.Conn, *sink) {
	s := &sink{f: codec.JSON}
	c := r.Attach(s)
	c.Receive(b, helloJSON)
	if c.Session() == nil {
		tb.Fatal("join failed")
	}
	if topic != "" {
		c.Receive(b, []byte(`[32,1,{},"`+topic+`"]`))
	}
	return c, s
}

func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			r := newRouter(b, core.Config{})
			batch := core.AcquireBatch()
			defer batch.Release()
			sinks := make([]*sink, n)
			for i := range sinks {
				_, sinks[i] = sinkSession(b, r, batch, "com.myapp.topic1")
			}
			pub, _ := sinkSession(b, r, batch, "")
			buf := make([]byte, 0, 128)
			var req uint64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req++
				buf = jsonPublish(buf[:0], req, "com.myapp.topic1", "Hello, world! 0123456789abcdef")
				pub.Receive(batch, buf)
			}
			b.StopTimer()
			var got int64
			for _, s := range sinks {
				got += s.n.Load() - 2 // WELCOME, SUBSCRIBED
			}
			if got != int64(b.N)*int64(n) {
				b.Fatalf("delivered %d, want %d", got, int64(b.N)*int64(n))
			}
			b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

func BenchmarkCallRoundTrip(b *testing.B) {
	r := newRouter(b, core.Config{})
	batch := core.AcquireBatch()
	defer batch.Release()
	callee, _ := sinkSession(b, r, batch, "")
	callee.Receive(batch, []byte(`[64,1,{},"com.echo"]`))
	caller, cs := sinkSession(b, r, batch, "")
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		buf = jsonCall(buf[:0], uint64(i), "com.echo")
		caller.Receive(batch, buf)
		buf = jsonYield(buf[:0], uint64(i)) // INVOCATION ids are sequential from 1
		callee.Receive(batch, buf)
	}
	b.StopTimer()
	if got := cs.n.Load() - 1; got != int64(b.N) {
		b.Fatalf("%d results for %d calls", got, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

func BenchmarkJoin(b *testing.B) {
	r := newRouter(b, core.Config{})
	batch := core.AcquireBatch()
	defer batch.Release()
	conns := make([]*core.Conn, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, _ := sinkSession(b, r, batch, "")
		conns = append(conns, c)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
	for _, c := range conns {
		c.Detach()
	}
}

// BenchmarkMillionSessions holds 1M in-process sessions, each subscribed
// to one topic, reports the router memory per session, and times one event
// reaching all of them.
func BenchmarkMillionSessions(b *testing.B) {
	const n = 1_000_000
	r := newRouter(b, core.Config{})
	batch := core.AcquireBatch()
	defer batch.Release()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := make([]*core.Conn, n)
	start := time.Now()
	for i := range conns {
		conns[i], _ = sinkSession(b, r, batch, "com.myapp.all")
	}
	joinTime := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSession := float64(after.HeapAlloc-before.HeapAlloc-uint64(n*8)) / n // minus our own conns slice
	pub, _ := sinkSession(b, r, batch, "")
	buf := make([]byte, 0, 128)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		buf = jsonPublish(buf[:0], uint64(i), "com.myapp.all", "x")
		pub.Receive(batch, buf)
	}
	b.StopTimer()
	b.ReportMetric(perSession, "B/session")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/event")
	b.ReportMetric(float64(n)/joinTime.Seconds(), "joins/s")
	fmt.Fprintf(discard{}, "%d", len(conns))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
