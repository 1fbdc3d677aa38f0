package core_test

import (
	"strconv"
	"testing"

	"github.com/zwamp/zwamp/core"
)

// BenchmarkURICounters is a 1→1 publish and a call round trip with the
// opt-in per-URI list empty (the default), and with 10 patterns of each
// kind that the URIs match or not: the cost an operator pays per
// message for the list. The publisher alternates two topics, so the
// Batch's one-URI memo misses every time (the worst case for matching).
func BenchmarkURICounters(b *testing.B) {
	lists := map[string][]core.URIPattern{"none": nil, "30patterns": nil}
	for i := 0; i < 10; i++ {
		n := strconv.Itoa(i)
		lists["30patterns"] = append(lists["30patterns"],
			core.URIPattern{URI: "com.other" + n + ".topic"},
			core.URIPattern{URI: "com.myapp" + n + ".", Match: "prefix"},
			core.URIPattern{URI: "com..topic" + n, Match: "wildcard"})
	}
	for _, name := range []string{"none", "30patterns"} {
		b.Run("publish/"+name, func(b *testing.B) {
			if err := core.SetURICounters(lists[name]); err != nil {
				b.Fatal(err)
			}
			defer core.SetURICounters(nil)
			r := newRouter(b, core.Config{})
			batch := core.AcquireBatch()
			defer batch.Release()
			sinkSession(b, r, batch, "com.myapp1.topic1")
			sinkSession(b, r, batch, "com.myapp2.topic2")
			pub, _ := sinkSession(b, r, batch, "")
			topics := []string{"com.myapp1.topic1", "com.myapp2.topic2"}
			buf := make([]byte, 0, 128)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				buf = jsonPublish(buf[:0], uint64(i+1), topics[i&1], "Hello, world! 0123456789abcdef")
				pub.Receive(batch, buf)
				if i&63 == 63 {
					batch.Flush()
				}
			}
		})
		b.Run("call/"+name, func(b *testing.B) {
			if err := core.SetURICounters(lists[name]); err != nil {
				b.Fatal(err)
			}
			defer core.SetURICounters(nil)
			r := newRouter(b, core.Config{})
			batch := core.AcquireBatch()
			defer batch.Release()
			callee, _ := sinkSession(b, r, batch, "")
			callee.Receive(batch, []byte(`[64,1,{},"com.myapp3.echo"]`))
			caller, _ := sinkSession(b, r, batch, "")
			buf := make([]byte, 0, 128)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				buf = jsonCall(buf[:0], uint64(i), "com.myapp3.echo")
				caller.Receive(batch, buf)
				buf = jsonYield(buf[:0], uint64(i))
				callee.Receive(batch, buf)
				if i&63 == 0 {
					batch.Flush()
				}
			}
		})
	}
}
