package cluster

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/json"
	"github.com/zwamp/zwamp/core"
)

// discard is a Transport that drops what it is sent and counts it.
type discard struct{ n int }

func (d *discard) Format() codec.Format     { return codec.JSON }
func (d *discard) Send([]byte) bool         { d.n++; return false }
func (d *discard) Flush()                   {}
func (d *discard) Close()                   {}
func (d *discard) Info() core.TransportInfo { return core.TransportInfo{Kind: "bench"} }

func joinRaw(b testing.TB, r *core.Router, t core.Transport, msgs ...string) *core.Conn {
	c := r.Attach(t)
	for _, m := range msgs {
		bt := core.AcquireBatch()
		c.Receive(bt, []byte(m))
		bt.Release()
	}
	return c
}

const hello = `[1,"realm1",{"roles":{"publisher":{},"subscriber":{}}}]`

// laxNode attaches a router with realm1 and lax request ids (the same
// PUBLISH is sent again and again) to e; the node closes with the test.
func laxNode(tb testing.TB, e *Engine) (*core.Router, *Node) {
	tb.Helper()
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, LaxRequestIDs: true})
	if err != nil {
		tb.Fatal(err)
	}
	n, err := Attach(r, e, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Close)
	return r, n
}

// BenchmarkLocalPublish is a 1→1 publish on one node, the subscriber on
// the same node: the router alone, and the router as a node of a
// (one-node) cluster, where every publication is also offered to NATS
// for the other nodes.
func BenchmarkLocalPublish(b *testing.B) {
	run := func(b *testing.B, r *core.Router) {
		sub := &discard{}
		joinRaw(b, r, sub, hello, `[32,1,{},"com.bench.topic"]`)
		pub := joinRaw(b, r, &discard{}, hello)
		msg := []byte(`[16,2,{},"com.bench.topic",["hello"]]`)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			bt := core.AcquireBatch()
			pub.Receive(bt, msg)
			bt.Release()
		}
		b.StopTimer()
		if sub.n < b.N {
			b.Fatalf("subscriber got %d of %d events", sub.n, b.N)
		}
	}
	b.Run("single", func(b *testing.B) {
		r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, LaxRequestIDs: true})
		if err != nil {
			b.Fatal(err)
		}
		run(b, r)
	})
	b.Run("clustered", func(b *testing.B) {
		r, _ := laxNode(b, startNodes(b, 1)[0])
		run(b, r)
	})
}
