package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// clusterOptions configures startCluster.
type clusterOptions struct {
	// Name is the cluster name ("zwtest" if empty).
	Name string
	// Proxies routes every directed link i→j through its own TCP proxy
	// (and turns route gossip off, so nodes cannot bypass them), so that
	// a test can partition with testCluster.Cut and heal with Heal.
	// Without it nodes 1..n-1 route to node 0 and gossip forms the mesh.
	Proxies bool
	// KVReplicas (0 = min(3, n)).
	KVReplicas int
	// Heartbeat, DeadAfter, OpTimeout as in Config (0 = defaults).
	Heartbeat time.Duration
	DeadAfter int
	OpTimeout time.Duration
	// Config, if set, adjusts node i's configuration last.
	Config func(i int, c *Config)
	// StartTimeout bounds the whole start (0 = 60 s).
	StartTimeout time.Duration
	// Log, if set, receives every node's log (default: warnings and errors
	// to t.Log).
	Log *slog.Logger
	// Secret is every node's Config.Secret ("" = a random one).
	Secret string
}

// testCluster is n engines in one process on loopback.
type testCluster struct {
	t       testing.TB
	opts    clusterOptions
	Nodes   []*Engine
	cfgs    []Config
	proxies map[[2]int]*tcpProxy // [from, to]
}

// startNodes starts an n-node cluster with default options.
func startNodes(t testing.TB, n int) []*Engine {
	return startCluster(t, n, clusterOptions{}).Nodes
}

// startCluster starts n nodes (all at once: each Start waits for the
// JetStream quorum, which needs the others), waits until the cluster works
// functionally — a message published on any node reaches a subscriber on
// every other node, every node sees every other alive — and registers
// their shutdown with t.Cleanup.
func startCluster(t testing.TB, n int, o clusterOptions) *testCluster {
	t.Helper()
	if o.Name == "" {
		o.Name = "zwtest"
	}
	if o.KVReplicas == 0 {
		o.KVReplicas = min(3, n)
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.Secret == "" {
		o.Secret = fmt.Sprintf("s%x", time.Now().UnixNano())
	}
	log := o.Log
	if log == nil {
		log = testLogger(t)
	}
	tc := &testCluster{t: t, opts: o, Nodes: make([]*Engine, n), cfgs: make([]Config, n), proxies: map[[2]int]*tcpProxy{}}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()

	// addrs[i] is node i's route address, known once its server runs.
	addrs := make([]chan string, n)
	for i := range addrs {
		addrs[i] = make(chan string, 1)
	}
	if o.Proxies {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if i != j {
					tc.proxies[[2]int{i, j}] = newTCPProxy(t, addrs[j])
				}
			}
		}
	}
	for i := 0; i < n; i++ {
		listen := "127.0.0.1:0"
		if n == 1 && !o.Proxies {
			listen = ""
		}
		c := Config{
			Name:       o.Name,
			Node:       fmt.Sprintf("n%d", i),
			Listen:     listen,
			KVReplicas: o.KVReplicas,
			Heartbeat:  o.Heartbeat,
			DeadAfter:  o.DeadAfter,
			OpTimeout:  o.OpTimeout,
			Secret:     o.Secret,
			// t.TempDir, not "": the test framework then checks nothing
			// is left open in it and removes it.
			JetStreamDir: t.TempDir(),
		}
		addr := addrs[i]
		c.onServer = func(s *server.Server) { addr <- s.ClusterAddr().String() }
		if o.Proxies {
			for j := 0; j < n; j++ {
				if j != i {
					c.Routes = append(c.Routes, "nats-route://"+tc.proxies[[2]int{i, j}].Addr())
				}
			}
			c.serverOptions = func(so *server.Options) {
				// Nodes tell each other their route address and connect to
				// it directly ("implicit routes"), which would bypass the
				// proxies: advertise a port where nothing listens.
				so.Cluster.Advertise = "127.0.0.1:1"
				so.Cluster.NoAdvertise = true
			}
		}
		if o.Config != nil {
			o.Config(i, &c)
		}
		tc.cfgs[i] = c
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := func(i int) {
		defer wg.Done()
		tc.Nodes[i], errs[i] = Start(ctx, tc.cfgs[i], log.With("test_node", i))
	}
	if o.Proxies {
		wg.Add(n)
		for i := 0; i < n; i++ {
			go start(i)
		}
	} else {
		// Node 0 first, on a port chosen here (clustered JetStream wants a
		// route even on the first node: it routes to itself, which NATS
		// ignores), then the rest, routing to it, once it listens.
		a0 := tc.startFirst(ctx, &wg, start, addrs[0], errs)
		for i := 1; i < n; i++ {
			if o.Config == nil || len(tc.cfgs[i].Routes) == 0 {
				tc.cfgs[i].Routes = []string{"nats-route://" + a0}
			}
			wg.Add(1)
			go start(i)
		}
	}
	wg.Wait()
	for i, e := range tc.Nodes {
		if e != nil {
			t.Cleanup(e.Close)
		}
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
	}
	tc.waitFormed(ctx)
	return tc
}

// startFirst starts node 0 on a free port, trying another if that one was
// taken meanwhile, and returns its route address.
func (tc *testCluster) startFirst(ctx context.Context, wg *sync.WaitGroup, start func(int), addr chan string, errs []error) string {
	tc.t.Helper()
	if tc.cfgs[0].Listen == "" {
		wg.Add(1)
		start(0)
		return ""
	}
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tc.t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		tc.cfgs[0].Listen = a
		if len(tc.cfgs[0].Routes) == 0 || try > 0 {
			tc.cfgs[0].Routes = []string{"nats-route://" + a}
		}
		done := make(chan struct{})
		wg.Add(1)
		go func() { start(0); close(done) }()
		select {
		case a := <-addr:
			return a
		case <-done:
			if try < 3 {
				tc.t.Logf("node 0 on %s: %v; trying another port", a, errs[0])
				continue
			}
			tc.t.Fatalf("node 0: %v", errs[0])
		case <-ctx.Done():
			tc.t.Fatalf("node 0's server did not start")
		}
	}
}

// waitFormed waits until a probe published on every node reaches a
// subscriber on every other node and every node sees all others alive.
func (tc *testCluster) waitFormed(ctx context.Context) {
	tc.t.Helper()
	n := len(tc.Nodes)
	for j, dst := range tc.Nodes {
		got := make(chan string, 64)
		subj := "zwtest.probe." + dst.Instance()
		sub, err := dst.Conn().Subscribe(subj, func(m *nats.Msg) {
			select {
			case got <- string(m.Data):
			default:
			}
		})
		if err != nil {
			tc.t.Fatal(err)
		}
		for i, src := range tc.Nodes {
			if i == j {
				continue
			}
			from := src.Instance()
			for ok := false; !ok; {
				if err := src.Conn().Publish(subj, []byte(from)); err != nil {
					tc.t.Fatal(err)
				}
				tick := time.After(50 * time.Millisecond)
			wait:
				for {
					select {
					case s := <-got:
						if s == from {
							ok = true
							break wait
						}
					case <-tick:
						break wait
					case <-ctx.Done():
						tc.t.Fatalf("no probe from node %d to node %d: %v", i, j, ctx.Err())
					}
				}
			}
		}
		_ = sub.Unsubscribe()
	}
	for i, e := range tc.Nodes {
		for len(e.Liveness().Peers()) < n-1 {
			select {
			case <-ctx.Done():
				tc.t.Fatalf("node %d sees peers %v of %d", i, e.Liveness().Peers(), n-1)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// Cut partitions node a from node b: both directed links' proxies close
// their connections and refuse new ones (blackhole: keep the connections
// and drop the bytes instead).
func (tc *testCluster) Cut(a, b int, blackhole bool) {
	mode := proxyRefuse
	if blackhole {
		mode = proxyBlackhole
	}
	tc.proxies[[2]int{a, b}].set(mode)
	tc.proxies[[2]int{b, a}].set(mode)
}

// Isolate cuts node a from every other node.
func (tc *testCluster) Isolate(a int, blackhole bool) {
	for b := range tc.Nodes {
		if b != a {
			tc.Cut(a, b, blackhole)
		}
	}
}

// HealAll lets every link through again (NATS reconnects its routes within
// about a second).
func (tc *testCluster) HealAll() {
	for _, p := range tc.proxies {
		p.set(proxyPass)
	}
}

// Kill stops node i as a crash would look to the others: no goodbye, no
// drain; its server shuts down and its route connections close.
func (tc *testCluster) Kill(i int) { tc.Nodes[i].shutdown(false) }

// Restart starts node i again after Kill or Close: same node name, route
// address, routes and JetStream directory, a new instance. It waits until
// the node exchanges messages with every other running node and sees them
// alive. Nodes not running (killed, closed) are skipped.
func (tc *testCluster) Restart(i int, running []int) *Engine {
	tc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), tc.opts.StartTimeout)
	defer cancel()
	c := tc.cfgs[i]
	if a := tc.Nodes[i].ClusterAddr(); a != "" {
		c.Listen = a
	}
	c.onServer = nil
	log := tc.opts.Log
	if log == nil {
		log = testLogger(tc.t)
	}
	var e *Engine
	var err error
	for try := 0; ; try++ {
		// The old server's port may take a moment to be free again.
		if e, err = Start(ctx, c, log.With("test_node", i)); err == nil || try == 20 || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		tc.t.Fatalf("restart node %d: %v", i, err)
	}
	tc.t.Cleanup(e.Close)
	tc.Nodes[i] = e
	sub := &testCluster{t: tc.t, opts: tc.opts}
	for _, j := range running {
		sub.Nodes = append(sub.Nodes, tc.Nodes[j])
	}
	sub.Nodes = append(sub.Nodes, e)
	sub.waitFormed(ctx)
	return e
}

// testLogger logs warnings and errors (with ZWAMP_CLUSTER_LOG=info, info
// too) to t.Log until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	level := slog.LevelWarn
	if os.Getenv("ZWAMP_CLUSTER_LOG") == "info" {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

const (
	proxyPass int32 = iota
	proxyBlackhole
	proxyRefuse
)

// tcpProxy forwards connections from its loopback listener to a target
// address, which it learns from a channel (the target's port is known only
// once its server runs). It can drop bytes (blackhole) or close and refuse
// connections, to partition a cluster without privileges.
type tcpProxy struct {
	ln     net.Listener
	target chan string
	addr   atomic.Value // string
	mode   atomic.Int32
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newTCPProxy(t testing.TB, target chan string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) targetAddr() string {
	if a, ok := p.addr.Load().(string); ok {
		return a
	}
	select {
	case a := <-p.target:
		p.addr.Store(a)
		// Put it back for the other proxies to the same node.
		select {
		case p.target <- a:
		default:
		}
		return a
	case <-time.After(30 * time.Second):
		return ""
	}
}

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *tcpProxy) serve(c net.Conn) {
	defer p.wg.Done()
	if p.mode.Load() == proxyRefuse || !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	a := p.targetAddr()
	if a == "" {
		return
	}
	d, err := net.DialTimeout("tcp", a, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(d) {
		d.Close()
		return
	}
	defer p.untrack(d)
	done := make(chan struct{}, 2)
	go func() { p.pipe(d, c); done <- struct{}{} }()
	go func() { p.pipe(c, d); done <- struct{}{} }()
	<-done
	c.Close()
	d.Close()
	<-done
}

// pipe copies src to dst, dropping what it reads while blackholed.
func (p *tcpProxy) pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && p.mode.Load() == proxyPass {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// set changes the mode; refusing closes the current connections.
func (p *tcpProxy) set(mode int32) {
	p.mode.Store(mode)
	if mode == proxyRefuse {
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	}
}

func (p *tcpProxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

func TestHarnessStarts(t *testing.T) {
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			start := time.Now()
			nodes := startNodes(t, n)
			t.Logf("%d nodes formed in %v", n, time.Since(start).Round(time.Millisecond))
			for i, e := range nodes {
				if len(e.Liveness().Peers()) != n-1 {
					t.Errorf("node %d peers %v", i, e.Liveness().Peers())
				}
			}
		})
	}
}
