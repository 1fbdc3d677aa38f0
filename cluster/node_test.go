package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// wampNode is one cluster node with its router, for the WAMP-level tests.
type wampNode struct {
	e      *Engine
	router *core.Router
	node   *Node
}

// startRouters starts n clustered routers (realm "realm1") on the
// harness's embedded NATS nodes.
func startRouters(t *testing.T, n int) []*wampNode {
	t.Helper()
	_, nodes := startRoutersWith(t, n, clusterOptions{})
	return nodes
}

// startRoutersWith is startRouters on a cluster started with o.
func startRoutersWith(t *testing.T, n int, o clusterOptions) (*testCluster, []*wampNode) {
	t.Helper()
	tc := startCluster(t, n, o)
	nodes := make([]*wampNode, n)
	for i, e := range tc.Nodes {
		r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, AllowMetaKill: true})
		if err != nil {
			t.Fatal(err)
		}
		nd, err := Attach(r, e, nil)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &wampNode{e: e, router: r, node: nd}
		t.Cleanup(func() {
			nd.Close()
			r.Shutdown()
		})
	}
	return tc, nodes
}

// TestClusterWAMP runs the WAMP-level behaviours that need no fault on one
// 3-node cluster (each subtest uses its own URIs).
func TestClusterWAMP(t *testing.T) {
	defer func(d time.Duration) { proxyIdle = d }(proxyIdle)
	proxyIdle = 300 * time.Millisecond // ProxyGone
	nodes := startRouters(t, 3)
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, []*wampNode)
	}{
		{"PubSubExactlyOnce", clusterPubSubExactlyOnce},
		{"PublishOptions", clusterPublishOptions},
		{"RPC", clusterRPC},
		{"ProgressAndCancel", clusterProgressAndCancel},
		{"ExclusiveRace", clusterExclusiveRace},
		{"SharedRoundRobin", clusterSharedRoundRobin},
		{"SharedFirstLast", clusterSharedFirstLast},
		{"MetaEvents", clusterMetaEvents},
		{"MetaSessions", clusterMetaSessions},
		{"MetaKill", clusterMetaKill},
		{"Retained", clusterRetained},
		{"Flood", clusterFlood},
		{"ProxyGone", clusterProxyGone},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, nodes) })
	}
}

func (w *wampNode) join(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	if cfg.Realm == "" {
		cfg.Realm = "realm1"
	}
	c, err := client.ConnectLocal(w.router, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually retries fn until it succeeds or d passes.
func eventually(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// seqRecorder records the "seq" payloads of the events one subscription
// gets, ignoring the probes published until every subscription is reached.
type seqRecorder struct {
	mu     sync.Mutex
	probed bool
	seqs   []int
	topics []string
}

func (r *seqRecorder) handler(ev *client.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(ev.Args) == 1 && ev.Args[0] == "probe" {
		r.probed = true
		return
	}
	if len(ev.Args) == 1 {
		if f, ok := ev.Args[0].(float64); ok {
			r.seqs = append(r.seqs, int(f))
		} else if i, ok := ev.Args[0].(int64); ok {
			r.seqs = append(r.seqs, int(i))
		} else if u, ok := ev.Args[0].(uint64); ok {
			r.seqs = append(r.seqs, int(u))
		}
		r.topics = append(r.topics, ev.Topic)
	}
}

func (r *seqRecorder) state() (bool, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.probed, append([]int(nil), r.seqs...)
}

// clusterPubSubExactlyOnce: a publisher on node 0 reaches exact,
// prefix and wildcard subscriptions on nodes 1 and 2 (and node 0) exactly
// once each, in publication order, even where one node's subscriptions
// overlap (several NATS subjects match one event there).
func clusterPubSubExactlyOnce(t *testing.T, nodes []*wampNode) {
	type subSpec struct {
		node         int
		topic, match string
	}
	specs := []subSpec{
		{0, "com.example.topic", ""},
		{1, "com.example.topic", ""},
		{1, "com.example.", "prefix"},
		{1, "com..topic", "wildcard"},
		{2, "com.ex", "prefix"},
		{2, "com.example.topic", ""},
	}
	recs := make([]*seqRecorder, len(specs))
	for i, sp := range specs {
		c := nodes[sp.node].join(t, client.Config{})
		recs[i] = &seqRecorder{}
		if _, err := c.Subscribe(sp.topic, recs[i].handler, &client.SubscribeOptions{Match: sp.match}); err != nil {
			t.Fatal(err)
		}
	}
	pub := nodes[0].join(t, client.Config{})
	eventually(t, 20*time.Second, "every subscription to get a probe", func() bool {
		if err := pub.Publish("com.example.topic", []any{"probe"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		for _, r := range recs {
			if ok, _ := r.state(); !ok {
				return false
			}
		}
		return true
	})
	const n = 300
	for i := 0; i < n; i++ {
		if err := pub.Publish("com.example.topic", []any{i}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// An acknowledged publish after the run: once it is back, node 0 has
	// sent everything; the other nodes get it in order behind the rest.
	if _, err := pub.PublishAck("com.example.other", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		eventually(t, 20*time.Second, fmt.Sprintf("subscription %d (%+v) to get %d events", i, specs[i], n), func() bool {
			_, s := r.state()
			return len(s) >= n
		})
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	for i, r := range recs {
		_, s := r.state()
		if len(s) != n {
			t.Fatalf("subscription %d (%+v): %d events, want exactly %d", i, specs[i], len(s), n)
		}
		for j, v := range s {
			if v != j {
				t.Fatalf("subscription %d (%+v): event %d carries seq %d: out of order or duplicated", i, specs[i], j, v)
			}
		}
	}
}

// clusterPublishOptions: eligible/exclude by session and authid and
// publisher disclosure work for subscribers on another node.
func clusterPublishOptions(t *testing.T, nodes []*wampNode) {
	type got struct {
		mu  sync.Mutex
		evs []*client.Event
	}
	subscribe := func(c *client.Client) *got {
		g := &got{}
		if _, err := c.Subscribe("com.opts", func(ev *client.Event) {
			g.mu.Lock()
			g.evs = append(g.evs, ev)
			g.mu.Unlock()
		}, nil); err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := nodes[1].join(t, client.Config{})
	b := nodes[1].join(t, client.Config{})
	ga, gb := subscribe(a), subscribe(b)
	pub := nodes[0].join(t, client.Config{})
	count := func(g *got) int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.evs) }
	eventually(t, 20*time.Second, "interest to reach node 0", func() bool {
		_ = pub.Publish("com.opts", []any{"probe"}, nil, nil)
		time.Sleep(20 * time.Millisecond)
		return count(ga) > 0 && count(gb) > 0
	})
	ga.mu.Lock()
	ga.evs = nil
	ga.mu.Unlock()
	gb.mu.Lock()
	gb.evs = nil
	gb.mu.Unlock()
	if _, err := pub.PublishAck("com.opts", []any{"only-a"}, nil, &client.PublishOptions{Eligible: []uint64{a.ID()}, DiscloseMe: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.PublishAck("com.opts", []any{"not-a"}, nil, &client.PublishOptions{Exclude: []uint64{a.ID()}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "both filtered events", func() bool { return count(ga) == 1 && count(gb) == 1 })
	time.Sleep(100 * time.Millisecond)
	if count(ga) != 1 || count(gb) != 1 {
		t.Fatalf("a got %d, b got %d events; want 1 each", count(ga), count(gb))
	}
	ea, eb := ga.evs[0], gb.evs[0]
	if ea.Args[0] != "only-a" || eb.Args[0] != "not-a" {
		t.Fatalf("a got %v, b got %v", ea.Args, eb.Args)
	}
	if p := fmt.Sprint(ea.Details["publisher"]); p != fmt.Sprint(pub.ID()) {
		t.Fatalf("disclosed publisher %v, want %d", p, pub.ID())
	}
	if _, ok := eb.Details["publisher"]; ok {
		t.Fatalf("publisher disclosed without disclose_me: %v", eb.Details)
	}
}

// clusterRPC: a caller on node 0 reaches a callee on node 2: results,
// errors, progressive results, caller disclosure, pattern registrations.
func clusterRPC(t *testing.T, nodes []*wampNode) {
	callee := nodes[2].join(t, client.Config{AuthID: ""})
	if _, err := callee.Register("com.math.add", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		sum := 0.0
		for _, a := range inv.Args {
			switch v := a.(type) {
			case float64:
				sum += v
			case int64:
				sum += float64(v)
			case uint64:
				sum += float64(v)
			}
		}
		return &client.Result{Args: []any{sum}, Kwargs: map[string]any{"caller": inv.Details["caller"]}}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register("com.math.fail", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return nil, &client.Error{URI: "com.math.error.bad", Args: []any{"no"}}
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := callee.Register("com.stream.", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: []any{inv.Procedure}}, nil
	}, &client.RegisterOptions{Match: "prefix"}); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].join(t, client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res *client.Result
	// Each registration reaches node 0 on its own (one registry key each).
	eventually(t, 20*time.Second, "the registrations to reach node 0", func() bool {
		for _, p := range []string{"com.math.fail", "com.stream.x"} {
			_, err := caller.Call(ctx, p, nil, nil, nil)
			var werr *client.Error
			if errors.As(err, &werr) && werr.URI == core.ErrNoSuchProcedure {
				return false
			}
		}
		var err error
		res, err = caller.Call(ctx, "com.math.add", []any{2, 3}, nil, &client.CallOptions{DiscloseMe: true})
		return err == nil
	})
	if fmt.Sprint(res.Args[0]) != "5" {
		t.Fatalf("result %v, want 5", res.Args)
	}
	if fmt.Sprint(res.Kwargs["caller"]) != fmt.Sprint(caller.ID()) {
		t.Fatalf("callee saw caller %v, want %d", res.Kwargs["caller"], caller.ID())
	}
	_, err := caller.Call(ctx, "com.math.fail", nil, nil, nil)
	var werr *client.Error
	if !errors.As(err, &werr) || werr.URI != "com.math.error.bad" || len(werr.Args) != 1 || werr.Args[0] != "no" {
		t.Fatalf("error call: %v", err)
	}
	res, err = caller.Call(ctx, "com.stream.one", nil, nil, nil)
	if err != nil || res.Args[0] != "com.stream.one" {
		t.Fatalf("pattern call: %v %v", res, err)
	}
	// Many concurrent calls: every one answered with its own result.
	var wg sync.WaitGroup
	var bad atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := caller.Call(ctx, "com.math.add", []any{i, 1000}, nil, nil)
			if err != nil || fmt.Sprint(r.Args[0]) != fmt.Sprint(i+1000) {
				bad.Add(1)
			}
		}(i)
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of 50 concurrent calls failed or got another call's result", bad.Load())
	}
}

// clusterProgressAndCancel: progressive results come back in order
// across nodes, and a cancelled call interrupts the callee on its node.
func clusterProgressAndCancel(t *testing.T, nodes []*wampNode) {
	callee := nodes[1].join(t, client.Config{})
	interrupted := make(chan struct{}, 1)
	if _, err := callee.Register("com.slow", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case <-ctx.Done():
			interrupted <- struct{}{}
			return nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return &client.Result{}, nil
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].join(t, client.Config{})
	// The registration reaches node 0 asynchronously: wait for it with a
	// call that is cancelled at once.
	eventually(t, 20*time.Second, "the registration to reach node 0", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := caller.Call(ctx, "com.slow", nil, nil, nil)
		var werr *client.Error
		return !errors.As(err, &werr) || werr.URI != core.ErrNoSuchProcedure
	})
	select {
	case <-interrupted:
	case <-time.After(20 * time.Second):
		t.Fatal("the callee on node 1 was not interrupted when the caller on node 0 cancelled")
	}
}

// clusterExclusiveRace: sessions on two nodes race to register the
// same procedure: exactly one wins, cluster-wide.
func clusterExclusiveRace(t *testing.T, nodes []*wampNode) {
	const per = 10
	var wins, exists atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 2*per; i++ {
		c := nodes[i%2].join(t, client.Config{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Register("com.race", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
			var werr *client.Error
			switch {
			case err == nil:
				wins.Add(1)
			case errors.As(err, &werr) && werr.URI == core.ErrProcedureAlreadyExists:
				exists.Add(1)
			default:
				t.Errorf("register: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || exists.Load() != 2*per-1 {
		t.Fatalf("%d winners and %d procedure_already_exists, want 1 and %d", wins.Load(), exists.Load(), 2*per-1)
	}
}

// clusterSharedRoundRobin: callees on two nodes share a registration;
// a caller on a third node alternates between them; a registration with
// another policy is refused.
func clusterSharedRoundRobin(t *testing.T, nodes []*wampNode) {
	var hits [2]atomic.Int32
	for i := 0; i < 2; i++ {
		c := nodes[i+1].join(t, client.Config{})
		if _, err := c.Register("com.shared", func(context.Context, *client.Invocation) (*client.Result, error) {
			hits[i].Add(1)
			return &client.Result{Args: []any{i}}, nil
		}, &client.RegisterOptions{Invoke: "roundrobin"}); err != nil {
			t.Fatal(err)
		}
	}
	other := nodes[0].join(t, client.Config{})
	_, err := other.Register("com.shared", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, &client.RegisterOptions{Invoke: "random"})
	var werr *client.Error
	if !errors.As(err, &werr) || werr.URI != core.ErrProcedureAlreadyExists {
		t.Fatalf("register with another policy: %v, want procedure_already_exists", err)
	}
	caller := nodes[0].join(t, client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(t, 20*time.Second, "both callees to reach node 0", func() bool {
		_, err := caller.Call(ctx, "com.shared", nil, nil, nil)
		return err == nil && hits[0].Load() > 0 && hits[1].Load() > 0
	})
	h0, h1 := hits[0].Load(), hits[1].Load()
	for i := 0; i < 20; i++ {
		if _, err := caller.Call(ctx, "com.shared", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if d0, d1 := hits[0].Load()-h0, hits[1].Load()-h1; d0 != 10 || d1 != 10 {
		t.Fatalf("roundrobin over two nodes: %d and %d of 20 calls, want 10 and 10", d0, d1)
	}
}

// clusterMetaEvents: a session joining node 0 is seen by an on_join
// subscriber on node 1.
func clusterMetaEvents(t *testing.T, nodes []*wampNode) {
	watcher := nodes[1].join(t, client.Config{})
	joined := make(chan uint64, 16)
	if _, err := watcher.Subscribe("wamp.session.on_join", func(ev *client.Event) {
		if d, ok := ev.Args[0].(map[string]any); ok {
			if f, ok := d["session"].(float64); ok {
				joined <- uint64(f)
			} else if u, ok := d["session"].(uint64); ok {
				joined <- u
			} else if i, ok := d["session"].(int64); ok {
				joined <- uint64(i)
			}
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		c := nodes[0].join(t, client.Config{})
		select {
		case id := <-joined:
			for id != c.ID() {
				select {
				case id = <-joined:
				case <-time.After(2 * time.Second):
					t.Fatalf("on_join for %d never came", c.ID())
				}
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no on_join from node 0 reached node 1")
		}
	}
}

// TestClusterNodeKilled: the callee's node dies (its NATS server stops
// without a goodbye). A call in flight to it fails with
// wamp.error.canceled once the death is detected, the procedure is gone
// everywhere, its exclusive registration can be taken on another node,
// and routing between the survivors carries on.
func TestClusterNodeKilled(t *testing.T) {
	tc, nodes := startRoutersWith(t, 3, clusterOptions{})
	callee := nodes[2].join(t, client.Config{})
	for _, p := range []string{"com.death.slow", "com.death.ping"} {
		slow := p == "com.death.slow"
		if _, err := callee.Register(p, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
			if slow {
				<-ctx.Done()
			}
			return &client.Result{}, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	caller := nodes[0].join(t, client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	eventually(t, 20*time.Second, "the registrations to reach node 0", func() bool {
		_, err := caller.Call(ctx, "com.death.ping", nil, nil, nil)
		return err == nil
	})
	// A caller on the node that dies, calling a callee on node 1: the
	// callee is interrupted when node 2's death is detected.
	interrupted := make(chan struct{}, 1)
	started := make(chan struct{}, 1)
	waiter := nodes[1].join(t, client.Config{})
	if _, err := waiter.Register("com.death.wait", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		interrupted <- struct{}{}
		return nil, ctx.Err()
	}, nil); err != nil {
		t.Fatal(err)
	}
	doomed := nodes[2].join(t, client.Config{})
	go func() {
		for ctx.Err() == nil {
			_, err := doomed.Call(ctx, "com.death.wait", nil, nil, nil)
			var werr *client.Error
			if !errors.As(err, &werr) || werr.URI != core.ErrNoSuchProcedure {
				return
			}
			time.Sleep(20 * time.Millisecond) // not on node 2 yet
		}
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the call from node 2 never reached the callee on node 1")
	}
	type answer struct {
		err error
		at  time.Time
	}
	done := make(chan answer, 1)
	go func() {
		_, err := caller.Call(ctx, "com.death.slow", nil, nil, nil)
		done <- answer{err, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond) // the INVOCATION is on node 2 by now
	killed := time.Now()
	tc.Kill(2)
	var a answer
	select {
	case a = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the call in flight to the dead node was never answered")
	}
	var werr *client.Error
	if !errors.As(a.err, &werr) || werr.URI != core.ErrCanceled {
		t.Fatalf("call in flight to the dead node: %v, want %s", a.err, core.ErrCanceled)
	}
	t.Logf("call in flight failed %v after the kill", a.at.Sub(killed).Round(time.Millisecond))
	select {
	case <-interrupted:
		t.Logf("callee of the dead node's caller interrupted %v after the kill", time.Since(killed).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the callee on node 1 of a caller on the dead node was never interrupted")
	}
	_, err := caller.Call(ctx, "com.death.ping", nil, nil, nil)
	if !errors.As(err, &werr) || werr.URI != core.ErrNoSuchProcedure {
		t.Fatalf("call after the death: %v, want %s", err, core.ErrNoSuchProcedure)
	}
	// The registry is reaped: the exclusive procedure can be had elsewhere.
	other := nodes[1].join(t, client.Config{})
	eventually(t, 20*time.Second, "com.death.slow to be free again", func() bool {
		_, err := other.Register("com.death.slow", func(context.Context, *client.Invocation) (*client.Result, error) {
			return &client.Result{Args: []any{"node1"}}, nil
		}, nil)
		return err == nil
	})
	eventually(t, 20*time.Second, "node 0 to route to the new callee", func() bool {
		r, err := caller.Call(ctx, "com.death.slow", nil, nil, nil)
		return err == nil && len(r.Args) == 1 && r.Args[0] == "node1"
	})
	// Pubsub between the survivors.
	got := make(chan struct{}, 1)
	if _, err := other.Subscribe("com.death.after", func(*client.Event) {
		select {
		case got <- struct{}{}:
		default:
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "an event from node 0 on node 1 after the death", func() bool {
		_ = caller.Publish("com.death.after", nil, nil, nil)
		select {
		case <-got:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})

	// Drain node 1 (a rolling restart): its callee is told GOODBYE and no
	// registration is left pointing at the node, before it leaves.
	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	nodes[1].router.Drain(dctx, 0)
	dcancel()
	select {
	case <-other.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the drained node's session was not ended")
	}
	nodes[1].node.Close()
	// Node 1's engine stays up (no goodbye, so nobody reaps it): the entry
	// is gone because the node withdrew it.
	k := RegKey{Realm: "realm1", URI: "com.death.slow", Match: "exact"}
	eventually(t, 5*time.Second, "the drained node's registration to leave the registry", func() bool {
		_, ok := nodes[0].e.Registry().Get(k)
		return !ok
	})
	eventually(t, 20*time.Second, "node 0 to drop the drained node's callee", func() bool {
		_, err := caller.Call(ctx, "com.death.slow", nil, nil, nil)
		var werr *client.Error
		return errors.As(err, &werr) && werr.URI == core.ErrNoSuchProcedure
	})
}

// clusterMetaSessions: wamp.session.count, list and get answer for the
// whole cluster, whichever node is asked.
func clusterMetaSessions(t *testing.T, nodes []*wampNode) {
	far := nodes[2].join(t, client.Config{AuthID: ""})
	asker := nodes[0].join(t, client.Config{})
	_ = nodes[1].join(t, client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := 0
	for _, n := range nodes {
		want += n.router.Realm("realm1").SessionCount()
	}
	r, err := asker.Call(ctx, "wamp.session.count", nil, nil, nil)
	if err != nil || fmt.Sprint(r.Args[0]) != fmt.Sprint(want) {
		t.Fatalf("wamp.session.count: %v %v, want %d (sessions on all nodes)", r, err, want)
	}
	r, err = asker.Call(ctx, "wamp.session.list", nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := r.Args[0].([]any)
	found := false
	for _, id := range ids {
		found = found || fmt.Sprint(id) == fmt.Sprint(far.ID())
	}
	if len(ids) != want || !found {
		t.Fatalf("wamp.session.list: %d ids (want %d), contains node 2's session %d: %v", len(ids), want, far.ID(), found)
	}
	r, err = asker.Call(ctx, "wamp.session.get", []any{far.ID()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Args[0].(map[string]any); fmt.Sprint(d["session"]) != fmt.Sprint(far.ID()) {
		t.Fatalf("wamp.session.get of node 2's session from node 0: %v", r.Args)
	}
	_, err = asker.Call(ctx, "wamp.session.get", []any{12345}, nil, nil)
	var werr *client.Error
	if !errors.As(err, &werr) || werr.URI != core.ErrNoSuchSession {
		t.Fatalf("wamp.session.get of an unknown id: %v, want %s", err, core.ErrNoSuchSession)
	}
}

// TestClusterPartitionHeal: node 2 is cut off. The majority declares it
// dead, its exclusive procedure is taken by a callee on node 0; node 2
// keeps routing its own callers to its own callee and cannot register
// anything new (no quorum). After the partition heals there is exactly one
// owner — the one the registry chose — and every node routes to it.
func TestClusterPartitionHeal(t *testing.T) {
	tc, nodes := startRoutersWith(t, 3, clusterOptions{Proxies: true})
	handler := func(who string, hits *atomic.Int32) client.InvocationHandler {
		return func(context.Context, *client.Invocation) (*client.Result, error) {
			hits.Add(1)
			return &client.Result{Args: []any{who}}, nil
		}
	}
	var xHits, yHits atomic.Int32
	x := nodes[2].join(t, client.Config{})
	if _, err := x.Register("com.part.p", handler("x", &xHits), nil); err != nil {
		t.Fatal(err)
	}
	c0 := nodes[0].join(t, client.Config{})
	c2 := nodes[2].join(t, client.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	callWho := func(c *client.Client) string {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		r, err := c.Call(cctx, "com.part.p", nil, nil, nil)
		if err != nil {
			var werr *client.Error
			if errors.As(err, &werr) {
				return werr.URI
			}
			return err.Error()
		}
		return fmt.Sprint(r.Args[0])
	}
	eventually(t, 20*time.Second, "node 0 to route to x", func() bool { return callWho(c0) == "x" })

	tc.Isolate(2, false)
	eventually(t, 30*time.Second, "node 0 to drop node 2's callee", func() bool { return callWho(c0) == core.ErrNoSuchProcedure })
	if got := callWho(c2); got != "x" {
		t.Fatalf("a caller on the cut-off node 2 got %q, want its local callee x", got)
	}
	start := time.Now()
	_, err := c2.Register("com.part.new", handler("new", new(atomic.Int32)), nil)
	var werr *client.Error
	if !errors.As(err, &werr) || werr.URI != ErrClusterUnavailable {
		t.Fatalf("REGISTER on the cut-off node: %v, want %s", err, ErrClusterUnavailable)
	}
	t.Logf("REGISTER without quorum refused after %v", time.Since(start).Round(time.Millisecond))

	y := nodes[0].join(t, client.Config{})
	eventually(t, 30*time.Second, "y on node 0 to get the reaped procedure", func() bool {
		_, err := y.Register("com.part.p", handler("y", &yHits), nil)
		return err == nil
	})

	tc.HealAll()
	healed := time.Now()
	last := ""
	eventually(t, 60*time.Second, "one owner (y) for every caller after the heal", func() bool {
		w2, w0 := callWho(c2), callWho(c0)
		if s := w2 + "/" + w0; s != last {
			t.Logf("%v after the heal: node 2's caller reaches %q, node 0's %q", time.Since(healed).Round(time.Millisecond), w2, w0)
			last = s
		}
		return w2 == "y" && w0 == "y"
	})
	before := xHits.Load()
	for i := 0; i < 10; i++ {
		for _, c := range []*client.Client{c0, c2} {
			if got := callWho(c); got != "y" {
				t.Fatalf("after the heal a call reached %q, want y", got)
			}
		}
	}
	if xHits.Load() != before {
		t.Fatalf("x, revoked after the heal, still got %d invocations", xHits.Load()-before)
	}
	if v, ok := nodes[1].e.Registry().Get(RegKey{Realm: "realm1", URI: "com.part.p", Match: "exact"}); !ok || len(v.Callees) != 1 || v.Callees[0].Session != y.ID() {
		t.Fatalf("registry entry after the heal: %+v, want y (%d) alone", v, y.ID())
	}
}

// clusterRetained: an event retained on node 0, where nobody subscribes, is
// handed to a subscriber that joins node 2 later with get_retained.
func clusterRetained(t *testing.T, nodes []*wampNode) {
	pub := nodes[0].join(t, client.Config{})
	if _, err := pub.PublishAck("com.ret.topic", []any{"kept"}, nil, &client.PublishOptions{Retain: true}); err != nil {
		t.Fatal(err)
	}
	got := make(chan *client.Event, 4)
	eventually(t, 20*time.Second, "the retained event on node 2", func() bool {
		c := nodes[2].join(t, client.Config{})
		sub, err := c.Subscribe("com.ret.topic", func(ev *client.Event) { got <- ev }, &client.SubscribeOptions{GetRetained: true})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		select {
		case ev := <-got:
			if len(ev.Args) != 1 || ev.Args[0] != "kept" {
				t.Fatalf("retained event on node 2: %v %v", ev.Args, ev.Details)
			}
			// Without the flag it was the copy for node 2's store arriving
			// after this subscription: a live delivery. Try a new session.
			return ev.Details["retained"] == true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
}

// clusterFlood: a publisher on node 0 publishes as fast as it can to a
// subscriber on node 1. Neither node's NATS connection is cut or
// reconnected, nothing is lost on the way, and the nodes route normally
// afterwards.
func clusterFlood(t *testing.T, nodes []*wampNode) {
	const n = 20000
	var got atomic.Int64
	sub := nodes[1].join(t, client.Config{})
	if _, err := sub.Subscribe("com.flood", func(ev *client.Event) {
		if len(ev.Args) == 1 && ev.Args[0] != "probe" {
			got.Add(1)
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	pub := nodes[0].join(t, client.Config{})
	probed := make(chan struct{})
	var once sync.Once
	probe, err := sub.Subscribe("com.flood.probe", func(*client.Event) { once.Do(func() { close(probed) }) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Unsubscribe()
	eventually(t, 20*time.Second, "interest in com.flood.probe on node 0", func() bool {
		_ = pub.Publish("com.flood.probe", nil, nil, nil)
		select {
		case <-probed:
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	payload := strings.Repeat("x", 100)
	before := [2]uint64{nodes[0].e.Conn().Stats().Reconnects, nodes[1].e.Conn().Stats().Reconnects}
	for i := 0; i < n; i++ {
		if err := pub.Publish("com.flood", []any{payload}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pub.PublishAck("com.flood.done", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, fmt.Sprintf("%d events on node 1", n), func() bool { return got.Load() >= n })
	for i, nd := range nodes[:2] {
		nc := nd.e.Conn()
		if !nc.IsConnected() || nc.Stats().Reconnects != before[i] {
			t.Fatalf("node %d's NATS connection: connected %v, reconnects %d → %d", i, nc.IsConnected(), before[i], nc.Stats().Reconnects)
		}
	}
	if d := nodes[1].node.ev.dropped.Load(); d != 0 {
		t.Fatalf("node 1 dropped %d envelopes", d)
	}
	if got.Load() != n {
		t.Fatalf("%d events on node 1, want %d", got.Load(), n)
	}
}

// clusterSharedFirstLast: with callees registered on node 1 and then node
// 2, "first" picks node 1's and "last" node 2's — from every node, since
// each orders the callees as the registry does.
func clusterSharedFirstLast(t *testing.T, nodes []*wampNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, policy := range []string{"first", "last"} {
		proc := "com.shared." + policy
		for i := 1; i <= 2; i++ {
			c := nodes[i].join(t, client.Config{})
			if _, err := c.Register(proc, func(context.Context, *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: []any{i}}, nil
			}, &client.RegisterOptions{Invoke: policy}); err != nil {
				t.Fatal(err)
			}
			// The second registers once the first is in every replica.
			eventually(t, 20*time.Second, "the registration in node 2's replica", func() bool {
				v, ok := nodes[2].e.Registry().Get(RegKey{Realm: "realm1", URI: proc, Match: "exact"})
				return ok && len(v.Callees) == i
			})
		}
		want := "1"
		if policy == "last" {
			want = "2"
		}
		for n, nd := range nodes {
			caller := nd.join(t, client.Config{})
			eventually(t, 20*time.Second, fmt.Sprintf("node %d to order the %s callees", n, policy), func() bool {
				r, err := caller.Call(ctx, proc, nil, nil, nil)
				return err == nil && fmt.Sprint(r.Args[0]) == want
			})
			for k := 0; k < 5; k++ {
				r, err := caller.Call(ctx, proc, nil, nil, nil)
				if err != nil || fmt.Sprint(r.Args[0]) != want {
					t.Fatalf("%s from node %d reached %v (%v), want node %s's callee", policy, n, r, err, want)
				}
			}
		}
	}
}

// clusterMetaKill: the kill procedures reach sessions on other nodes.
func clusterMetaKill(t *testing.T, nodes []*wampNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	killer := nodes[0].join(t, client.Config{})
	victim := nodes[2].join(t, client.Config{AuthID: "kv-victim"})
	if _, err := killer.Call(ctx, "wamp.session.kill", []any{victim.ID()}, nil, nil); err != nil {
		t.Fatalf("wamp.session.kill of a session on node 2: %v", err)
	}
	select {
	case <-victim.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session on node 2 was not killed")
	}
	b1 := nodes[1].join(t, client.Config{AuthID: "kv-bob"})
	b2 := nodes[2].join(t, client.Config{AuthID: "kv-bob"})
	r, err := killer.Call(ctx, "wamp.session.kill_by_authid", []any{"kv-bob"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := r.Args[0].([]any)
	got := map[string]bool{}
	for _, id := range ids {
		got[fmt.Sprint(id)] = true
	}
	if len(ids) != 2 || !got[fmt.Sprint(b1.ID())] || !got[fmt.Sprint(b2.ID())] {
		t.Fatalf("kill_by_authid killed %v, want %d and %d", ids, b1.ID(), b2.ID())
	}
	for _, c := range []*client.Client{b1, b2} {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("session %d survived kill_by_authid", c.ID())
		}
	}
	_, err = killer.Call(ctx, "wamp.session.kill", []any{424242}, nil, nil)
	var werr *client.Error
	if !errors.As(err, &werr) || werr.URI != core.ErrNoSuchSession {
		t.Fatalf("killing an unknown session: %v, want %s", err, core.ErrNoSuchSession)
	}
}

// clusterProxyGone: when a callee's last registration goes, the proxy that
// stood for it on the caller's node leaves after its idle time, and so
// does the peer caller that stood for that proxy on the callee's node.
func clusterProxyGone(t *testing.T, nodes []*wampNode) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	callee := nodes[2].join(t, client.Config{})
	reg, err := callee.Register("com.gone.p", func(context.Context, *client.Invocation) (*client.Result, error) {
		return &client.Result{}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	caller := nodes[0].join(t, client.Config{})
	eventually(t, 20*time.Second, "a call from node 0 to node 2", func() bool {
		_, err := caller.Call(ctx, "com.gone.p", nil, nil, nil)
		return err == nil
	})
	key := proxyKey{nodes[2].node.Instance(), "realm1", callee.ID()}
	p := nodes[0].node.rpc.lookup(key)
	if p == nil {
		t.Fatal("no proxy for node 2's callee on node 0")
	}
	ck := callerKey{nodes[0].node.Instance(), "realm1", p.id}
	hasCaller := func() bool {
		rs := &nodes[2].node.rpc
		rs.mu.Lock()
		defer rs.mu.Unlock()
		return rs.callers[ck] != nil
	}
	if !hasCaller() {
		t.Fatal("no peer caller on node 2 for node 0's proxy")
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the proxy on node 0 to leave", func() bool { return nodes[0].node.rpc.lookup(key) == nil })
	eventually(t, 10*time.Second, "its peer caller on node 2 to leave", func() bool { return !hasCaller() })
}
