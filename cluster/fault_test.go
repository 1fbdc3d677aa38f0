package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// liveLog records a node's OnChange calls.
type liveLog struct {
	mu     sync.Mutex
	events []liveCall
}

type liveCall struct {
	inst  string
	alive bool
	at    time.Time
}

func recordLiveness(e *Engine) *liveLog {
	l := &liveLog{}
	e.Liveness().OnChange(func(inst string, alive bool) {
		l.mu.Lock()
		l.events = append(l.events, liveCall{inst, alive, time.Now()})
		l.mu.Unlock()
	})
	return l
}

// calls returns the recorded calls about inst.
func (l *liveLog) calls(inst string) []liveCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []liveCall
	for _, c := range l.events {
		if c.inst == inst {
			out = append(out, c)
		}
	}
	return out
}

func (l *liveLog) deadAt(inst string) (time.Time, bool) {
	for _, c := range l.calls(inst) {
		if !c.alive {
			return c.at, true
		}
	}
	return time.Time{}, false
}

// TestNodeKilled: a node that dies without a goodbye is declared dead by
// every survivor once, within DeadAfter heartbeats (plus slack for a
// loaded machine), and its callees are reaped from the registry while the
// survivors' callees on the same registrations stay.
func TestNodeKilled(t *testing.T) {
	tc := startCluster(t, 3, clusterOptions{OpTimeout: 10 * time.Second})
	nodes := tc.Nodes
	ctx := context.Background()
	logs := []*liveLog{recordLiveness(nodes[0]), recordLiveness(nodes[1])}
	victim := nodes[2].Instance()
	for i, l := range logs {
		waitFor(t, 5*time.Second, "OnChange replays the alive peers", func() bool {
			c := l.calls(victim)
			return len(c) == 1 && c[0].alive
		})
		if c := l.calls(nodes[1-i].Instance()); len(c) != 1 || !c[0].alive {
			t.Fatalf("node %d replay for node %d: %v", i, 1-i, c)
		}
	}
	// The victim owns 10 exclusive registrations and shares 10 with the
	// survivors.
	for i := 0; i < 10; i++ {
		if err := nodes[2].Registry().Register(ctx, RegKey{"r", fmt.Sprintf("own.%d", i), "exact"}, "single", Callee{Instance: victim, Session: 1}); err != nil {
			t.Fatal(err)
		}
		k := RegKey{"r", fmt.Sprintf("shared.%d", i), "exact"}
		for j, e := range nodes {
			if err := e.Registry().Register(ctx, k, "roundrobin", Callee{Instance: e.Instance(), Session: uint64(j + 1)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range nodes[:2] {
		waitFor(t, 10*time.Second, "registrations replicated", func() bool {
			v, ok := e.Registry().Get(RegKey{"r", "shared.9", "exact"})
			return ok && len(v.Callees) == 3
		})
	}

	killed := time.Now()
	tc.Kill(2)
	hb := nodes[0].Config().Heartbeat
	limit := time.Duration(nodes[0].Config().DeadAfter)*hb + 3*time.Second
	for i, l := range logs {
		waitFor(t, limit, fmt.Sprintf("node %d declares the victim dead", i), func() bool {
			_, ok := l.deadAt(victim)
			return ok
		})
		at, _ := l.deadAt(victim)
		t.Logf("node %d: victim dead after %v", i, at.Sub(killed).Round(time.Millisecond))
		if nodes[i].Liveness().Alive(victim) {
			t.Errorf("node %d: Alive(victim) after OnChange", i)
		}
		if p := nodes[i].Liveness().Peers(); len(p) != 1 || p[0] != nodes[1-i].Instance() {
			t.Errorf("node %d peers %v", i, p)
		}
	}
	for i, e := range nodes[:2] {
		d := waitFor(t, 60*time.Second, fmt.Sprintf("node %d's replica without the victim", i), func() bool {
			r := e.Registry()
			for j := 0; j < 10; j++ {
				if _, ok := r.Get(RegKey{"r", fmt.Sprintf("own.%d", j), "exact"}); ok {
					return false
				}
				v, ok := r.Get(RegKey{"r", fmt.Sprintf("shared.%d", j), "exact"})
				if !ok || len(v.Callees) != 2 {
					return false
				}
			}
			return true
		})
		t.Logf("node %d: victim's callees reaped %v after the kill", i, (time.Since(killed) - 0*d).Round(time.Millisecond))
	}
	for _, k := range []string{"shared.0", "shared.9"} {
		v, _ := nodes[0].Registry().Get(RegKey{"r", k, "exact"})
		if v.Callees[0].Instance != nodes[0].Instance() || v.Callees[1].Instance != nodes[1].Instance() {
			t.Errorf("%s: survivors' callees changed: %v", k, v.Callees)
		}
	}
	// Exactly one OnChange(dead) per survivor, and no other change.
	time.Sleep(2 * hb)
	for i, l := range logs {
		if c := l.calls(victim); len(c) != 2 {
			t.Errorf("node %d: calls about the victim %v, want alive then dead", i, c)
		}
		if c := l.calls(nodes[1-i].Instance()); len(c) != 1 {
			t.Errorf("node %d: calls about its fellow survivor %v", i, c)
		}
	}
	// With its peer gone the survivors still register (2 of 3 is quorum).
	if err := nodes[1].Registry().Register(ctx, RegKey{"r", "own.0", "exact"}, "single", Callee{Instance: nodes[1].Instance(), Session: 9}); err != nil {
		t.Fatalf("register after a peer died: %v", err)
	}
}

// TestNodeLeaves: Close tells the peers at once.
func TestNodeLeaves(t *testing.T) {
	tc := startCluster(t, 2, clusterOptions{Heartbeat: time.Second, DeadAfter: 10})
	l := recordLiveness(tc.Nodes[0])
	inst := tc.Nodes[1].Instance()
	waitFor(t, 5*time.Second, "replay", func() bool { return len(l.calls(inst)) == 1 })
	start := time.Now()
	tc.Nodes[1].Close()
	// Silence would take 10 s to notice; the goodbye is immediate.
	waitFor(t, 5*time.Second, "dead after Close", func() bool { _, ok := l.deadAt(inst); return ok })
	t.Logf("declared dead %v after Close began", time.Since(start).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond)
	if c := l.calls(inst); len(c) != 2 {
		t.Errorf("calls %v, want alive then dead", c)
	}
}

// TestQuorumLost: with 2 of 3 nodes killed, Register on the survivor fails
// with ErrUnavailable within OpTimeout, not later.
func TestQuorumLost(t *testing.T) {
	tc := startCluster(t, 3, clusterOptions{OpTimeout: 2 * time.Second})
	tc.Kill(1)
	tc.Kill(2)
	r := tc.Nodes[0].Registry()
	for i := 0; i < 3; i++ {
		start := time.Now()
		err := r.Register(context.Background(), RegKey{"r", fmt.Sprintf("p%d", i), "exact"}, "single", Callee{Instance: tc.Nodes[0].Instance(), Session: 1})
		took := time.Since(start)
		t.Logf("Register without quorum: %v after %v", err, took.Round(time.Millisecond))
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err %v, want ErrUnavailable", err)
		}
		if took > 2*time.Second+3*time.Second {
			t.Fatalf("took %v, OpTimeout is 2s", took)
		}
	}
}

// registerEventually retries Register while the registry is unavailable
// (a healed cluster elects leaders again within seconds).
func registerEventually(t *testing.T, e *Engine, k RegKey, invoke string, c Callee, within time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := e.Registry().Register(context.Background(), k, invoke, c)
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPartition: node 0 is cut off from the two others through the route
// proxies. On its side Register fails with ErrUnavailable within
// OpTimeout; the majority declares it dead, reaps its exclusive
// registration and gives it to a callee of its own; after healing the
// cluster registers again and every node agrees on one owner.
func TestPartition(t *testing.T) {
	for _, blackhole := range []bool{false, true} {
		t.Run(fmt.Sprintf("blackhole=%v", blackhole), func(t *testing.T) {
			testPartition(t, blackhole)
		})
	}
}

func testPartition(t *testing.T, blackhole bool) {
	tc := startCluster(t, 3, clusterOptions{Proxies: true, OpTimeout: 2 * time.Second})
	n0, n1, n2 := tc.Nodes[0], tc.Nodes[1], tc.Nodes[2]
	ctx := context.Background()
	lost := make(chan RegKey, 10)
	n0.Registry().OnLost(func(k RegKey, c Callee) { lost <- k })
	a := RegKey{"r", "com.owned", "exact"}
	if err := n0.Registry().Register(ctx, a, "single", Callee{Instance: n0.Instance(), Session: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "replicated", func() bool {
		_, ok1 := n1.Registry().Get(a)
		_, ok2 := n2.Registry().Get(a)
		return ok1 && ok2
	})

	cut := time.Now()
	tc.Isolate(0, blackhole)
	// Minority side: no quorum, a clean error in time.
	start := time.Now()
	err := n0.Registry().Register(ctx, RegKey{"r", "com.minority", "exact"}, "single", Callee{Instance: n0.Instance(), Session: 2})
	took := time.Since(start)
	t.Logf("minority Register: %v after %v", err, took.Round(time.Millisecond))
	if !errors.Is(err, ErrUnavailable) || took > 5*time.Second {
		t.Fatalf("minority Register: %v after %v, want ErrUnavailable within OpTimeout", err, took)
	}
	// Majority side: node 0 is dead to it, its registration is reaped and
	// a majority callee takes the exclusive procedure.
	waitFor(t, 10*time.Second, "majority declares node 0 dead", func() bool {
		return !n1.Liveness().Alive(n0.Instance()) && !n2.Liveness().Alive(n0.Instance())
	})
	d := waitFor(t, 60*time.Second, "node 0's registration reaped on the majority", func() bool {
		_, ok := n1.Registry().Get(a)
		return !ok
	})
	t.Logf("reaped on the majority %v after the cut", (time.Since(cut) - 0*d).Round(time.Millisecond))
	if err := registerEventually(t, n1, a, "single", Callee{Instance: n1.Instance(), Session: 3}, 30*time.Second); err != nil {
		t.Fatalf("majority Register: %v", err)
	}

	tc.HealAll()
	healed := time.Now()
	waitFor(t, 30*time.Second, "node 0 alive again everywhere", func() bool {
		return n1.Liveness().Alive(n0.Instance()) && n2.Liveness().Alive(n0.Instance()) &&
			n0.Liveness().Alive(n1.Instance()) && n0.Liveness().Alive(n2.Instance())
	})
	if err := registerEventually(t, n0, RegKey{"r", "com.after", "exact"}, "single", Callee{Instance: n0.Instance(), Session: 4}, 60*time.Second); err != nil {
		t.Fatalf("Register after healing: %v", err)
	}
	t.Logf("node 0 registers again %v after healing", time.Since(healed).Round(time.Millisecond))
	// One owner of the exclusive registration, the same on every node.
	for i, e := range tc.Nodes {
		waitFor(t, 30*time.Second, fmt.Sprintf("node %d sees the majority's owner", i), func() bool {
			v, ok := e.Registry().Get(a)
			return ok && len(v.Callees) == 1 && v.Callees[0].Instance == n1.Instance()
		})
	}
	// Right after a heal JetStream may still answer "temporarily
	// unavailable" (ErrUnavailable) for a while: the answer that counts is
	// the first one that is not.
	if err := registerEventually(t, n0, a, "single", Callee{Instance: n0.Instance(), Session: 5}, 30*time.Second); !errors.Is(err, ErrExists) {
		t.Fatalf("node 0 registering the taken procedure: %v, want ErrExists", err)
	}
	// Node 0 learns that its session lost the procedure.
	select {
	case k := <-lost:
		if k != a {
			t.Fatalf("OnLost(%v)", k)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node 0 was not told its registration was lost")
	}
}

// TestFalseDeath: a node whose heartbeats stop for a while (a stall, not a
// death) is declared dead and reaped; once it notices, it registers its
// callees again — except an exclusive one another callee took meanwhile,
// which it reports through OnLost. Every exclusive registration ends with
// exactly one owner.
func TestFalseDeath(t *testing.T) {
	tc := startCluster(t, 3, clusterOptions{OpTimeout: 10 * time.Second})
	n0, n1, n2 := tc.Nodes[0], tc.Nodes[1], tc.Nodes[2]
	ctx := context.Background()
	var lostMu sync.Mutex
	var lostKeys []RegKey
	n2.Registry().OnLost(func(k RegKey, c Callee) {
		lostMu.Lock()
		lostKeys = append(lostKeys, k)
		lostMu.Unlock()
	})
	shared := RegKey{"r", "com.shared", "exact"}
	keep := RegKey{"r", "com.keep", "exact"}
	taken := RegKey{"r", "com.taken", "exact"}
	for _, e := range []*Engine{n0, n2} {
		if err := e.Registry().Register(ctx, shared, "roundrobin", Callee{Instance: e.Instance(), Session: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []RegKey{keep, taken} {
		if err := n2.Registry().Register(ctx, k, "single", Callee{Instance: n2.Instance(), Session: 2}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "replicated", func() bool { _, ok := n1.Registry().Get(taken); return ok })

	n2.Liveness().pausedUntil.Store(time.Now().Add(4 * time.Second).UnixNano())
	waitFor(t, 10*time.Second, "node 2 declared dead", func() bool { return !n0.Liveness().Alive(n2.Instance()) })
	// Node 1 tries to take the exclusive procedure while node 2 is "dead";
	// node 2 re-registers it as soon as it sees it reaped: one of them wins.
	var n1Won bool
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		err := n1.Registry().Register(ctx, taken, "single", Callee{Instance: n1.Instance(), Session: 3})
		if err == nil {
			n1Won = true
			break
		}
		if !errors.Is(err, ErrExists) {
			t.Fatal(err)
		}
		if !n0.Liveness().Alive(n2.Instance()) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		break
	}
	waitFor(t, 20*time.Second, "node 2 alive again", func() bool { return n0.Liveness().Alive(n2.Instance()) })
	for i, e := range tc.Nodes {
		waitFor(t, 30*time.Second, fmt.Sprintf("node %d: node 2's callees restored", i), func() bool {
			v, ok := e.Registry().Get(shared)
			if !ok || len(v.Callees) != 2 {
				return false
			}
			v, ok = e.Registry().Get(keep)
			if !ok || v.Callees[0].Instance != n2.Instance() {
				return false
			}
			v, ok = e.Registry().Get(taken)
			owner := n2.Instance()
			if n1Won {
				owner = n1.Instance()
			}
			return ok && len(v.Callees) == 1 && v.Callees[0].Instance == owner
		})
	}
	lostMu.Lock()
	defer lostMu.Unlock()
	t.Logf("node 1 took the exclusive procedure: %v; node 2 lost %v", n1Won, lostKeys)
	if n1Won != (len(lostKeys) == 1 && lostKeys[0] == taken) || len(lostKeys) > 1 {
		t.Fatalf("node 1 won %v, node 2 lost %v", n1Won, lostKeys)
	}
}

// TestRestart: a killed node restarted with the same name and store
// rejoins as a new instance: the others see it alive, its old instance's
// callees are reaped, and it registers and sees the registry.
func TestRestart(t *testing.T) {
	tc := startCluster(t, 3, clusterOptions{OpTimeout: 10 * time.Second})
	ctx := context.Background()
	old := tc.Nodes[2].Instance()
	k := RegKey{"r", "com.restart", "exact"}
	if err := tc.Nodes[2].Registry().Register(ctx, k, "single", Callee{Instance: old, Session: 1}); err != nil {
		t.Fatal(err)
	}
	tc.Kill(2)
	e := tc.Restart(2, []int{0, 1})
	if e.Instance() == old {
		t.Fatal("same instance after restart")
	}
	waitFor(t, 60*time.Second, "old instance's callee reaped everywhere", func() bool {
		for _, n := range tc.Nodes {
			if _, ok := n.Registry().Get(k); ok {
				return false
			}
		}
		return true
	})
	if err := registerEventually(t, e, k, "single", Callee{Instance: e.Instance(), Session: 1}, 30*time.Second); err != nil {
		t.Fatalf("register on the restarted node: %v", err)
	}
	for i, n := range tc.Nodes {
		waitFor(t, 10*time.Second, fmt.Sprintf("node %d sees the new owner", i), func() bool {
			v, ok := n.Registry().Get(k)
			return ok && v.Callees[0].Instance == e.Instance()
		})
		if n != e {
			waitFor(t, 10*time.Second, fmt.Sprintf("node %d: old instance dead", i), func() bool { return !n.Liveness().Alive(old) })
			if !n.Liveness().Alive(e.Instance()) {
				t.Errorf("node %d: new instance not alive", i)
			}
		}
	}
}
