//go:build !race

package cluster

import (
	"testing"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// TestAllocClusteredLocalPublish: on a router that is a cluster node, a
// 1→1 publish whose subscriber is local (and that no other node wants)
// allocates nothing: the remote-interest check is a trie lookup.
func TestAllocClusteredLocalPublish(t *testing.T) {
	r, _ := laxNode(t, startNodes(t, 1)[0])
	sub := &discard{}
	joinRaw(t, r, sub, hello, `[32,1,{},"com.bench.topic"]`)
	pub := joinRaw(t, r, &discard{}, hello)
	msg := []byte(`[16,2,{},"com.bench.topic",["hello"]]`)
	alloctest.Zero(t, "clustered local publish 1→1", func() {
		b := core.AcquireBatch()
		pub.Receive(b, msg)
		b.Release()
	})
	if sub.n == 0 {
		t.Fatal("the subscriber got nothing")
	}
}

// TestAllocClusteredForward: a publish that another node wants is
// forwarded (envelope, subject, NATS publish) without allocating on the
// publisher's node. The other node is a note in the remote-interest table
// (no NATS subscriber), so what is measured is the publishing side and the
// embedded server's drop of it — the receiving side, with a subscriber,
// allocates in nats.go (a Msg and its data per message).
func TestAllocClusteredForward(t *testing.T) {
	r, n := laxNode(t, startNodes(t, 1)[0])
	n.ev.rint.apply(interestNote{Origin: "elsewhere", Items: []interestItem{{Realm: "realm1", URI: "com.bench.far", On: true}}})
	pub := joinRaw(t, r, &discard{}, hello)
	msg := []byte(`[16,2,{},"com.bench.far",["hello"]]`)
	before := n.nc.Stats().OutMsgs
	alloctest.AtMost(t, "clustered publish forwarded to another node", 10000, 11000,
		"the embedded nats-server, not the publishing path (1 per message; nats.go's flush timers add a few): with no subscriber for the subject it matches "+
			"string(subject) without caching the empty result (server/client.go processInboundClientMsg)",
		func() {
			b := core.AcquireBatch()
			pub.Receive(b, msg)
			b.Release()
		})
	if n.nc.Stats().OutMsgs-before < 10000 {
		t.Fatalf("%d messages went out to NATS, want one per publish", n.nc.Stats().OutMsgs-before)
	}
}
