package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/trie"
)

// Node joins a core.Router to the cluster an Engine belongs to: it is the
// router's core.Cluster. Events go to the nodes with interest and are
// fanned out there by each node's own trie (pubsub.go); registrations live
// in the replicated registry and every node mirrors the others' callees as
// proxy sessions in its own dealer, so a CALL is routed by the local dealer
// and forwarded to the callee's node only when it picks a proxy (rpc.go).
type Node struct {
	e      *Engine
	nc     *nats.Conn
	router *core.Router
	self   string
	log    *slog.Logger
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	ev  events
	rpc rpcState
	kv  kvQueue

	stopWatch func()
	metaSub   *nats.Subscription
}

// Attach makes router a node of e's cluster. Call it before the router
// accepts sessions; Close detaches (the Engine is closed by its owner).
func Attach(router *core.Router, e *Engine, log *slog.Logger) (*Node, error) {
	if log == nil {
		log = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	n := &Node{e: e, nc: e.Conn(), router: router, self: e.Instance(), log: log.With("node", e.Instance()), ctx: ctx, stop: stop}
	// Router-scope ids (subscriptions, registrations) from a random
	// 12-bit base per node: ids stay below 2^53 and two nodes' ids collide
	// only if their bases do (1 in 4096 per pair), which matters only for
	// meta-API lookups across nodes.
	var rb [8]byte
	_, _ = rand.Read(rb[:])
	router.SetIDBase((binary.LittleEndian.Uint64(rb[:]) % (1 << 12)) << 40)
	if err := n.ev.start(n); err != nil {
		stop()
		return nil, err
	}
	if err := n.rpc.start(n); err != nil {
		n.ev.close()
		stop()
		return nil, err
	}
	n.kv.start(n)
	var err error
	if n.metaSub, err = n.startMeta(); err != nil {
		n.ev.close()
		n.rpc.close()
		stop()
		return nil, err
	}
	n.e.Liveness().OnChange(n.nodeChanged)
	n.stopWatch = e.Registry().Watch(n.registryChanged)
	e.Registry().OnLost(n.calleeLost)
	n.wg.Add(1)
	go n.resyncLoop()
	router.SetCluster(n)
	return n, nil
}

// Close stops forwarding; proxies for other nodes' callees leave (their
// pending calls fail with wamp.error.canceled).
func (n *Node) Close() {
	n.kv.flush(2 * n.e.Config().OpTimeout)
	if n.stopWatch != nil {
		n.stopWatch()
	}
	n.stop()
	if n.metaSub != nil {
		_ = n.metaSub.Unsubscribe()
	}
	n.ev.close()
	n.rpc.close()
	n.wg.Wait()
}

// Instance is this node's instance id in the cluster.
func (n *Node) Instance() string { return n.self }

// nodeChanged reacts to a node joining or dying: a dead node's proxies
// leave at once (its callees' calls fail with wamp.error.canceled) and the
// calls it made here are interrupted. The Engine reaps its registrations
// from the registry; the watch then confirms what was dropped here.
func (n *Node) nodeChanged(instance string, alive bool) {
	if instance == n.self {
		return
	}
	if alive {
		n.ev.queue(interestChange{snapshotTo: instance})
		n.rpc.revive(instance)
		return
	}
	n.log.Info("cluster node down", "peer", instance)
	n.ev.rint.drop(instance)
	n.rpc.dropNode(instance)
}

// matchName and policyOf convert between trie policies and the registry's
// match strings.
func matchName(p trie.Policy) string { return codec.Match(p).String() }

func policyOf(match string) (trie.Policy, bool) {
	switch match {
	case "exact", "":
		return trie.Exact, true
	case "prefix":
		return trie.Prefix, true
	case "wildcard":
		return trie.Wildcard, true
	}
	return 0, false
}

func invokeOf(s string) (codec.Invoke, error) {
	for _, iv := range []codec.Invoke{codec.InvokeSingle, codec.InvokeRoundRobin, codec.InvokeRandom, codec.InvokeFirst, codec.InvokeLast} {
		if iv.String() == s {
			return iv, nil
		}
	}
	return codec.InvokeInvalid, fmt.Errorf("cluster: unknown invocation policy %q", s)
}
