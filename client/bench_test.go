package client_test

import (
	"sync/atomic"
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

// BenchmarkCall measures one Call round trip over ConnectLocal: caller →
// router → callee goroutine → router → caller, payload ["ping", 42].
func BenchmarkCall(b *testing.B) {
	for _, f := range formats {
		b.Run(f.String(), func(b *testing.B) {
			r := newRouter(b)
			callee := join(b, r, f)
			caller := join(b, r, f)
			_, err := callee.Register("com.example.echo", echo, nil)
			noErr(b, err)
			args := []any{"ping", 42}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := caller.Call(bg, "com.example.echo", args, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallParallel measures Call throughput with many concurrent
// callers on one client.
func BenchmarkCallParallel(b *testing.B) {
	r := newRouter(b)
	callee := join(b, r, codec.MsgPack)
	caller := join(b, r, codec.MsgPack)
	_, err := callee.Register("com.example.echo", echo, nil)
	noErr(b, err)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		args := []any{"ping", 42}
		for pb.Next() {
			if _, err := caller.Call(bg, "com.example.echo", args, nil, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPublish measures Publish over ConnectLocal, payload ["hello",
// 42]: with nobody subscribed (the client's and the router's cost only),
// acknowledged, and with one subscriber whose handler counts the events
// (the benchmark waits for the last one, so delivery and decoding on the
// subscriber's goroutines are included in the time, not in allocs/op of
// the publisher alone).
func BenchmarkPublish(b *testing.B) {
	args := []any{"hello", 42}
	for _, f := range formats {
		b.Run(f.String()+"/nosub", func(b *testing.B) {
			b.SetBytes(int64(len("hello") + 8))
			publishN(b, join(b, newRouter(b), f), args, nil)
		})
		b.Run(f.String()+"/ack", func(b *testing.B) {
			publishN(b, join(b, newRouter(b), f), args, &client.PublishOptions{Acknowledge: true})
		})
		b.Run(f.String()+"/1sub", func(b *testing.B) {
			r := newRouter(b)
			pub := join(b, r, f)
			sub := join(b, r, f)
			var n atomic.Int64
			done := make(chan struct{})
			target := int64(b.N)
			_, err := sub.Subscribe("com.example.topic", func(*client.Event) {
				if n.Add(1) == target {
					close(done)
				}
			}, nil)
			noErr(b, err)
			publishN(b, pub, args, nil)
			<-done
		})
	}
}

// publishN publishes args to com.example.topic b.N times, timed.
func publishN(b *testing.B, c *client.Client, args []any, opts *client.PublishOptions) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Publish("com.example.topic", args, nil, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodePayload publishes a richer payload to nobody: the router
// matches nothing, so this is mostly the client's encode and write path.
func BenchmarkEncodePayload(b *testing.B) {
	args := []any{"hello", 42, 1.5, true, nil, []byte{1, 2, 3}, map[string]any{"a": []any{1, 2}}}
	publishN(b, join(b, newRouter(b), codec.JSON), args, nil)
}
