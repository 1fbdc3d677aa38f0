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
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			res, err := RunPubSub(testCtx(t), Config{
				URL: urlFor("ws", addr), Serializer: ser, Count: 3000, Duration: 30 * time.Second,
				Publishers: 2, Subscribers: 3, Window: 100,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Complete || res.TotalDelivered != 3*3000 || res.Lost != 0 || res.Gaps != 0 || res.OutOfOrder != 0 {
				t.Fatalf("pubsub: %+v", res)
			}
			rpc, err := RunRPC(testCtx(t), Config{
				URL: urlFor("ws", addr), Serializer: ser, Count: 3000, Duration: 30 * time.Second,
				Callers: 3, InFlight: 8,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !rpc.Complete || rpc.TotalCalls != 3000 || rpc.Errors != 0 || rpc.Latency.Count != 3000 {
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
