package bench

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/bench/ceiling"
)

// TestCoalescingCeiling: the load tool drives the coalescing ceiling in
// every mode, with complete runs whose counts add up.
func TestCoalescingCeiling(t *testing.T) {
	s := ceiling.NewCoalescing(ceiling.Config{Addr: "127.0.0.1:0"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	addr := s.Addr().String()
	runEveryMode(t, addr, 3000, 3, 8)
}

// runEveryMode drives the load tool against a server at addr (a ceiling)
// in pubsub, rpc and conns mode, for JSON and MessagePack, and checks that
// every run is complete and its counts add up: count publications from 2
// publishers to 3 subscribers, count calls from callers with inFlight each.
func runEveryMode(t *testing.T, addr string, count int64, callers, inFlight int) {
	t.Helper()
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			res, err := RunPubSub(testCtx(t), Config{
				URL: urlFor("ws", addr), Serializer: ser, Count: count, Duration: 30 * time.Second,
				Publishers: 2, Subscribers: 3, Window: 100,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Complete || res.TotalDelivered != 3*count || res.Lost != 0 || res.Gaps != 0 || res.OutOfOrder != 0 {
				t.Fatalf("pubsub: %+v", res)
			}
			rpc, err := RunRPC(testCtx(t), Config{
				URL: urlFor("ws", addr), Serializer: ser, Count: count, Duration: 30 * time.Second,
				Callers: callers, InFlight: inFlight,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !rpc.Complete || rpc.TotalCalls != count || rpc.Errors != 0 || rpc.Latency.Count != uint64(count) {
				t.Fatalf("rpc: %+v", rpc)
			}
			cr, err := RunConns(testCtx(t), Config{URL: urlFor("ws", addr), Serializer: ser, Sessions: 50, Events: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !cr.Complete || cr.Conns.Sessions != 50 {
				t.Fatalf("conns: %+v %+v", cr, cr.Conns)
			}
		})
	}
}
