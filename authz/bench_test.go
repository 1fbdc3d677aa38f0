package authz

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// sink is the cheapest Transport: it counts deliveries, so the benchmarks
// measure the router's own work (decode, authorize, route, encode).
type sink struct{ n atomic.Int64 }

func (s *sink) Format() codec.Format     { return codec.JSON }
func (s *sink) Send([]byte) bool         { s.n.Add(1); return false }
func (s *sink) Flush()                   {}
func (s *sink) Close()                   {}
func (s *sink) Info() core.TransportInfo { return core.TransportInfo{Kind: "sink"} }

var helloJSON = []byte(`[1,"realm1",{"roles":{"publisher":{},"subscriber":{},"caller":{},"callee":{}}}]`)

// benchRouter returns a router for one authorization setup; sessions
// joining with a plain HELLO are anonymous, so the role under test is
// named "anonymous".
//   - none: no authorizer (the default configuration);
//   - roles100: a static role of 100 permissions (hundredPermissions);
//   - dynamic: a dynamic authorizer, whose cache the caller warms up.
func benchRouter(b *testing.B, setup string) *core.Router {
	var roles []RoleConfig
	switch setup {
	case "none":
		r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: testRealm}}})
		if err != nil {
			b.Fatal(err)
		}
		return r
	case "roles100":
		roles = []RoleConfig{{Name: "anonymous", Permissions: hundredPermissions()}}
	case "dynamic":
		roles = []RoleConfig{
			{Name: "anonymous", Authorizer: "test.authorize", AuthorizerCache: &CacheConfig{TTL: "1h"}},
			{Name: "backend", Permissions: []PermissionConfig{everything}},
		}
	}
	az, err := New(testRealm, roles, Options{Timeout: wait})
	if err != nil {
		b.Fatal(err)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: testRealm, Authorizer: az}}})
	if err != nil {
		b.Fatal(err)
	}
	if err := az.Start(r); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(az.Close)
	if setup == "dynamic" {
		registerAllowAll(b, r)
	}
	return r
}

// sinkSession joins a session on a sink transport.
func sinkSession(b *testing.B, r *core.Router, batch *core.Batch) (*core.Conn, *sink) {
	s := &sink{}
	c := r.Attach(s)
	c.Receive(batch, helloJSON)
	if c.Session() == nil {
		b.Fatal("join failed")
	}
	return c, s
}

// waitCount waits until s has received n messages (a pending decision is
// resumed by an authorizer worker).
func waitCount(b *testing.B, s *sink, n int64) {
	deadline := time.Now().Add(wait)
	for s.n.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("sink has %d messages, want %d", s.n.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

var setups = []string{"none", "roles100", "dynamic"}

// cpuNanos is the process's user+system CPU time: on a machine shared with
// other work it measures the router's cost better than wall time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuTimer reports CPU ns per op between start and stop.
type cpuTimer struct{ t0 int64 }

func startCPU(b *testing.B) *cpuTimer {
	b.ReportAllocs()
	b.ResetTimer()
	return &cpuTimer{t0: cpuNanos()}
}

func (c *cpuTimer) stop(b *testing.B) {
	d := cpuNanos() - c.t0
	b.StopTimer()
	b.ReportMetric(float64(d)/float64(b.N), "cpu-ns/op")
}

// pubsubWorkload sets up one publisher and n subscribers on r and returns
// a step that publishes one event (and checks nothing: done checks the
// deliveries).
func pubsubWorkload(b *testing.B, r *core.Router, n int) (step func(), done func(steps int)) {
	batch := core.AcquireBatch()
	b.Cleanup(batch.Release)
	const topic = "com.app.topic1"
	sinks := make([]*sink, n)
	for i := range sinks {
		var c *core.Conn
		c, sinks[i] = sinkSession(b, r, batch)
		c.Receive(batch, []byte(`[32,1,{},"`+topic+`"]`))
		waitCount(b, sinks[i], 2) // WELCOME, SUBSCRIBED
	}
	pub, _ := sinkSession(b, r, batch)
	buf := make([]byte, 0, 128)
	req := uint64(1)
	buf = jsonPublish(buf[:0], req, topic)
	pub.Receive(batch, buf) // warms a dynamic cache
	waitCount(b, sinks[0], 3)
	step = func() {
		req++
		buf = jsonPublish(buf[:0], req, topic)
		pub.Receive(batch, buf)
	}
	done = func(steps int) {
		var got int64
		for _, s := range sinks {
			got += s.n.Load() - 3
		}
		if got != int64(steps)*int64(n) {
			b.Fatalf("delivered %d, want %d", got, int64(steps)*int64(n))
		}
	}
	return step, done
}

// rpcWorkload sets up 16 callees, each registering its own procedure, and
// 16 callers; a step is one CALL round trip (CALL, INVOCATION, YIELD,
// RESULT), caller k%16 calling procedure (k/16)%16.
func rpcWorkload(b *testing.B, r *core.Router) (step func(), done func(steps int)) {
	const n = 16
	batch := core.AcquireBatch()
	b.Cleanup(batch.Release)
	callees := make([]*core.Conn, n)
	calleeSinks := make([]*sink, n)
	procs := make([]string, n)
	for i := range callees {
		callees[i], calleeSinks[i] = sinkSession(b, r, batch)
		procs[i] = "com.app.echo" + strconv.Itoa(i)
		callees[i].Receive(batch, []byte(`[64,1,{},"`+procs[i]+`"]`))
		waitCount(b, calleeSinks[i], 2) // WELCOME, REGISTERED
	}
	callers := make([]*core.Conn, n)
	results := make([]*sink, n)
	reqs := make([]uint64, n)
	invs := make([]uint64, n)
	buf := make([]byte, 0, 128)
	for i := range callers {
		callers[i], results[i] = sinkSession(b, r, batch)
		// Warm up: every caller calls every procedure once (a dynamic
		// decision is resumed by a worker: wait for the INVOCATION
		// before answering it).
		for j := 0; j < n; j++ {
			reqs[i]++
			buf = jsonCall(buf[:0], reqs[i], procs[j])
			callers[i].Receive(batch, buf)
			invs[j]++
			waitCount(b, calleeSinks[j], 2+int64(invs[j]))
			buf = jsonYield(buf[:0], invs[j])
			callees[j].Receive(batch, buf)
			waitCount(b, results[i], 2+int64(j)) // WELCOME + j+1 RESULTs
		}
	}
	k := 0
	step = func() {
		i, j := k%n, (k/n)%n
		k++
		reqs[i]++
		buf = jsonCall(buf[:0], reqs[i], procs[j])
		callers[i].Receive(batch, buf)
		invs[j]++
		buf = jsonYield(buf[:0], invs[j])
		callees[j].Receive(batch, buf)
	}
	done = func(steps int) {
		var got int64
		for _, s := range results {
			got += s.n.Load() - 1 - n
		}
		if got != int64(steps) {
			b.Fatalf("%d results for %d calls", got, steps)
		}
	}
	return step, done
}

type workload struct {
	name  string
	build func(b *testing.B, r *core.Router) (step func(), done func(int))
}

var workloads = []workload{
	{"pubsub1to1", func(b *testing.B, r *core.Router) (func(), func(int)) { return pubsubWorkload(b, r, 1) }},
	{"pubsub1to100", func(b *testing.B, r *core.Router) (func(), func(int)) { return pubsubWorkload(b, r, 100) }},
	{"rpc16x16", rpcWorkload},
}

// BenchmarkAuthorized: router CPU per message (publication or call round
// trip) per workload and authorization setup.
func BenchmarkAuthorized(b *testing.B) {
	for _, w := range workloads {
		for _, setup := range setups {
			b.Run(w.name+"/"+setup, func(b *testing.B) {
				step, done := w.build(b, benchRouter(b, setup))
				cpu := startCPU(b)
				for i := 0; i < b.N; i++ {
					step()
				}
				cpu.stop(b)
				done(b.N)
			})
		}
	}
}

// threadCPU is the calling thread's CPU time (the benchmark locks its
// goroutine to the thread; the routing runs on it, synchronously).
func threadCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkAuthorizedPaired compares each setup with no authorizer in the
// same run, interleaved in chunks of 20,000 steps so that a machine
// shared with other work loads both sides alike: it reports the ratio of
// the thread CPU time per step (setup / none) and both figures.
func BenchmarkAuthorizedPaired(b *testing.B) {
	const chunk = 20000
	for _, w := range workloads {
		// "none" against "none" is the control: it shows what ratio the
		// method itself reports for two identical routers.
		for _, setup := range setups {
			b.Run(w.name+"/"+setup, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				base, baseDone := w.build(b, benchRouter(b, "none"))
				test, testDone := w.build(b, benchRouter(b, setup))
				var cpuBase, cpuTest int64
				steps := 0
				b.ResetTimer()
				for steps < b.N {
					t0 := threadCPU()
					for i := 0; i < chunk; i++ {
						base()
					}
					t1 := threadCPU()
					for i := 0; i < chunk; i++ {
						test()
					}
					t2 := threadCPU()
					cpuBase += t1 - t0
					cpuTest += t2 - t1
					steps += chunk
				}
				b.StopTimer()
				baseDone(steps)
				testDone(steps)
				b.ReportMetric(float64(cpuTest)/float64(cpuBase), "ratio")
				b.ReportMetric(float64(cpuBase)/float64(steps), "none-cpu-ns/op")
				b.ReportMetric(float64(cpuTest)/float64(steps), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkDecide: one authorization decision alone (what the setups add
// per action), for a 100-permission role and a warm dynamic cache.
func BenchmarkDecide(b *testing.B) {
	for _, setup := range []string{"roles100", "dynamic"} {
		b.Run(setup, func(b *testing.B) {
			r := benchRouter(b, setup)
			batch := core.AcquireBatch()
			defer batch.Release()
			c, s := sinkSession(b, r, batch)
			c.Receive(batch, []byte(`[16,1,{"acknowledge":true},"com.app.topic1",[]]`))
			waitCount(b, s, 2) // PUBLISHED: the decision is cached
			sess := c.Session()
			az := r.Realm(testRealm).Authorizer().(*Authorizer)
			var d codec.Details
			// One URI (the memo answers) and 16 in turn (the trie or the
			// decision cache does), as the 16x16 RPC benchmark's callers.
			for _, n := range []int{1, 16} {
				uris := make([][]byte, n)
				for i := range uris {
					uris[i] = []byte("com.app.topic" + strconv.Itoa(i))
					// Warm the dynamic cache for each.
					for az.Decide(sess, core.ActionPublish, uris[i], &d)&core.Allow == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				b.Run(strconv.Itoa(n)+"uri", func(b *testing.B) {
					cpu := startCPU(b)
					for i := 0; i < b.N; i++ {
						if az.Decide(sess, core.ActionPublish, uris[i%n], &d)&core.Allow == 0 {
							b.Fatal("refused")
						}
					}
					cpu.stop(b)
				})
			}
		})
	}
}
