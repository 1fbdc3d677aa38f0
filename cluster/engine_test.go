package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Name: "c1", Node: "n-1", Listen: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6222", "nats-route://10.0.0.2:6222"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, c := range []struct {
		mut   func(*Config)
		field string
	}{
		{func(c *Config) { c.Name = "" }, "cluster.name"},
		{func(c *Config) { c.Name = "a b" }, "cluster.name"},
		{func(c *Config) { c.Node = "" }, "cluster.node"},
		{func(c *Config) { c.Node = "n.1" }, "cluster.node"},
		{func(c *Config) { c.Node = strings.Repeat("n", 65) }, "cluster.node"},
		{func(c *Config) { c.Listen = "6222" }, "cluster.listen"},
		{func(c *Config) { c.Listen = "" }, "cluster.listen"},
		{func(c *Config) { c.Routes = nil }, "cluster.routes"},
		{func(c *Config) { c.Routes = []string{"127.0.0.1:6222"} }, "cluster.routes[0]"},
		{func(c *Config) { c.ExternalNATS = "::" }, "cluster.external_nats"},
		{func(c *Config) { c.KVReplicas = 7 }, "cluster.kv_replicas"},
		{func(c *Config) { c.Listen, c.Routes, c.KVReplicas = "", nil, 3 }, "cluster.kv_replicas"},
		{func(c *Config) { c.Heartbeat = time.Millisecond }, "cluster.heartbeat"},
		{func(c *Config) { c.DeadAfter = -1 }, "cluster.dead_after"},
		{func(c *Config) { c.OpTimeout = -1 }, "cluster.op_timeout"},
	} {
		cfg := ok
		cfg.Routes = append([]string(nil), ok.Routes...)
		c.mut(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.field+":") {
			t.Errorf("%+v: error %v, want one naming %s", cfg, err, c.field)
		}
	}
	if _, err := Start(context.Background(), Config{Name: "x"}, nil); err == nil || !strings.Contains(err.Error(), "cluster.node") {
		t.Errorf("Start with a bad config: %v", err)
	}
}

// externalNATS starts a standalone nats-server with JetStream on a
// loopback port, as an operator's NATS would be.
func externalNATS(t *testing.T, maxPayload int32) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, MaxPayload: maxPayload,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("external nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

// TestExternalNATS: two nodes on one external NATS server form a cluster:
// they see each other, share the registry (one winner of an exclusive
// race), and a registration growing past the server's max payload fails
// with ErrTooLarge without harming the connection.
func TestExternalNATS(t *testing.T) {
	url := externalNATS(t, 4096)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*Engine
	for i := 0; i < 2; i++ {
		e, err := Start(ctx, Config{Name: "ext", Node: fmt.Sprintf("x%d", i), ExternalNATS: url}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		nodes = append(nodes, e)
	}
	if nodes[0].ClusterAddr() != "" {
		t.Errorf("ClusterAddr with external NATS: %q", nodes[0].ClusterAddr())
	}
	waitFor(t, 10*time.Second, "nodes see each other", func() bool {
		return nodes[0].Liveness().Alive(nodes[1].Instance()) && nodes[1].Liveness().Alive(nodes[0].Instance())
	})
	k := RegKey{"r", "com.ext", "exact"}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for _, e := range nodes {
		for s := 0; s < 50; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := e.Registry().Register(ctx, k, "single", Callee{Instance: e.Instance(), Session: uint64(s)})
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, ErrExists) {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners", wins.Load())
	}

	big := RegKey{"r", "com.big", "exact"}
	var err error
	n := 0
	for ; n < 1000; n++ {
		if err = nodes[0].Registry().Register(ctx, big, "random", Callee{Instance: nodes[0].Instance(), Session: uint64(n + 1), Features: 1 << 40}); err != nil {
			break
		}
	}
	t.Logf("%d callees fit in a 4 KiB payload; then: %v", n, err)
	if !errors.Is(err, ErrTooLarge) || n < 30 {
		t.Fatalf("after %d callees: %v, want ErrTooLarge", n, err)
	}
	if err := nodes[1].Registry().Register(ctx, RegKey{"r", "com.after", "exact"}, "single", Callee{Instance: nodes[1].Instance(), Session: 1}); err != nil {
		t.Fatalf("register after ErrTooLarge: %v", err)
	}
	if !nodes[0].Conn().IsConnected() {
		t.Fatal("connection lost")
	}
}

// TestSweepUnknownInstance: callees of an instance no node has ever heard
// of (it died while no one watched) are removed by the periodic sweep.
func TestSweepUnknownInstance(t *testing.T) {
	url := externalNATS(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Start(ctx, Config{Name: "sw", Node: "s0", ExternalNATS: url, Heartbeat: 100 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	ghost := RegKey{"r", "com.ghost", "exact"}
	mine := RegKey{"r", "com.mine", "exact"}
	if err := e.Registry().Register(ctx, ghost, "single", Callee{Instance: "gone-0000000000000000", Session: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.Registry().Register(ctx, mine, "single", Callee{Instance: e.Instance(), Session: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "both registrations in the replica", func() bool {
		_, g := e.Registry().Get(ghost)
		_, m := e.Registry().Get(mine)
		return g && m
	})
	d := waitFor(t, 3*e.sweepEvery()+5*time.Second, "ghost swept", func() bool {
		_, ok := e.Registry().Get(ghost)
		return !ok
	})
	t.Logf("swept after %v", d.Round(time.Millisecond))
	if _, ok := e.Registry().Get(mine); !ok {
		t.Fatal("own registration swept")
	}
}

// TestOrphanRemoved: a callee of this instance in the bucket that it does
// not want (a Register that timed out but was committed after all) is
// removed by the reconciler; a wanted one stays.
func TestOrphanRemoved(t *testing.T) {
	url := externalNATS(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Start(ctx, Config{Name: "or", Node: "o0", ExternalNATS: url}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	k := RegKey{"r", "com.orphan", "exact"}
	var sawOrphan atomic.Bool
	stop := e.Registry().Watch(func(k RegKey, v *RegValue) {
		if v != nil && len(v.Callees) == 2 {
			sawOrphan.Store(true)
		}
	})
	defer stop()
	if err := e.Registry().Register(ctx, k, "random", Callee{Instance: e.Instance(), Session: 1}); err != nil {
		t.Fatal(err)
	}
	// Written behind the Registry's back, as a late commit would be.
	if _, err := e.reg.register(ctx, k, "random", Callee{Instance: e.Instance(), Session: 2}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "orphan seen, then removed", func() bool {
		v, ok := e.Registry().Get(k)
		return sawOrphan.Load() && ok && len(v.Callees) == 1 && v.Callees[0].Session == 1
	})
	time.Sleep(300 * time.Millisecond)
	if v, ok := e.Registry().Get(k); !ok || len(v.Callees) != 1 || v.Callees[0].Session != 1 {
		t.Fatalf("after reconciling: %v %v", v, ok)
	}
}

func TestConfigJSON(t *testing.T) {
	var c Config
	err := json.Unmarshal([]byte(`{"name":"c1","node":"a","listen":"127.0.0.1:6222","routes":["nats-route://127.0.0.1:6222"],
		"jetstream_dir":"/tmp/js","kv_replicas":3,"heartbeat":"250ms","dead_after":4,"op_timeout":"3s"}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "c1", Node: "a", Listen: "127.0.0.1:6222", Routes: []string{"nats-route://127.0.0.1:6222"},
		JetStreamDir: "/tmp/js", KVReplicas: 3, Heartbeat: 250 * time.Millisecond, DeadAfter: 4, OpTimeout: 3 * time.Second}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	for _, bad := range []string{`{"name":"c","heartbeat":500}`, `{"name":"c","heartbeat":"fast"}`, `{"name":"c","listen_addr":"x"}`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestCloseBounded: Close returns promptly even for the last node of a
// cluster (no quorum left for JetStream's goodbyes), and leaves no
// goroutines behind.
func TestCloseBounded(t *testing.T) {
	base := runtime.NumGoroutine()
	tc := startCluster(t, 3, clusterOptions{})
	for i := 2; i >= 0; i-- {
		start := time.Now()
		tc.Nodes[i].Close()
		took := time.Since(start)
		t.Logf("Close node %d: %v", i, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("Close of node %d took %v", i, took)
		}
	}
	var n int
	waitFor(t, 20*time.Second, "goroutines back to the baseline", func() bool {
		n = runtime.NumGoroutine()
		return n <= base+2
	})
	t.Logf("goroutines: %d before, %d after", base, n)
}

// TestRouteSecret: a node with another secret cannot join the cluster.
func TestRouteSecret(t *testing.T) {
	tc := startCluster(t, 2, clusterOptions{Secret: "right"})
	addr := tc.Nodes[0].ClusterAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	e, err := Start(ctx, Config{Name: "zwtest", Node: "intruder", Listen: "127.0.0.1:0", Routes: []string{"nats-route://" + addr},
		Secret: "wrong", KVReplicas: 1, JetStreamDir: t.TempDir()}, testLogger(t))
	if err == nil {
		e.Close()
		t.Fatal("a node with the wrong secret joined")
	}
	if p := tc.Nodes[0].Liveness().Peers(); len(p) != 1 {
		t.Fatalf("peers %v", p)
	}
	t.Logf("wrong secret: %v", err)
}
