package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// watchedMap keeps a map from a Registry.Watch, for comparing replicas.
type watchedMap struct {
	mu sync.Mutex
	m  map[RegKey]RegValue
}

func watchMap(t testing.TB, r *Registry) *watchedMap {
	w := &watchedMap{m: map[RegKey]RegValue{}}
	stop := r.Watch(func(k RegKey, v *RegValue) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if v == nil {
			delete(w.m, k)
		} else {
			w.m[k] = *v
		}
	})
	t.Cleanup(stop)
	return w
}

func (w *watchedMap) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	for k, v := range w.m {
		lines = append(lines, fmt.Sprintf("%s=%s%v", k, v.Invoke, v.Callees))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// leaderState reads the whole bucket from its stream leader.
func leaderState(t testing.TB, e *Engine) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys, err := e.reg.kv.Keys(ctx)
	if err != nil && !strings.Contains(err.Error(), "no keys found") {
		t.Fatalf("keys: %v", err)
	}
	var lines []string
	for _, kk := range keys {
		var k RegKey
		e.reg.mu.RLock()
		if ent := e.reg.replica[kk]; ent != nil {
			k = ent.key
		}
		e.reg.mu.RUnlock()
		st, err := e.reg.leader(ctx, kk, k)
		if err != nil {
			t.Fatalf("leader get %s: %v", kk, err)
		}
		if st.val != nil {
			lines = append(lines, fmt.Sprintf("%s=%s%v", k, st.val.Invoke, st.val.Callees))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// registryCluster is shared by the tests that need a healthy 3-node
// cluster (starting one costs seconds).
func registryCluster(t *testing.T) *testCluster {
	return startCluster(t, 3, clusterOptions{
		// Generous: a loaded -race run must not turn a slow commit into
		// ErrUnavailable here; the timeout itself is tested separately.
		OpTimeout: 20 * time.Second,
		// Not about failure detection: a node falsely declared dead in a
		// stalled -race run would have its fresh registration reaped and
		// taken by a second winner (which is then reported via OnLost).
		DeadAfter: 10,
	})
}

func TestRegistry(t *testing.T) {
	tc := registryCluster(t)
	nodes := tc.Nodes
	ws := make([]*watchedMap, len(nodes))
	for i, e := range nodes {
		ws[i] = watchMap(t, e.Registry())
	}
	ctx := context.Background()

	t.Run("ExclusiveRace", func(t *testing.T) {
		const perNode = 200
		for round := 0; round < 3; round++ {
			k := RegKey{"realm1", fmt.Sprintf("com.race.proc%d", round), "exact"}
			var wins, exists atomic.Int32
			var winner atomic.Value
			var wg sync.WaitGroup
			startGun := make(chan struct{})
			for _, e := range nodes {
				for s := 1; s <= perNode; s++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-startGun
						c := Callee{Instance: e.Instance(), Session: uint64(s)}
						err := e.Registry().Register(ctx, k, "single", c)
						switch {
						case err == nil:
							wins.Add(1)
							winner.Store(c)
						case errors.Is(err, ErrExists):
							exists.Add(1)
						default:
							t.Errorf("register: %v", err)
						}
					}()
				}
			}
			close(startGun)
			wg.Wait()
			if wins.Load() != 1 || exists.Load() != int32(len(nodes)*perNode-1) {
				t.Fatalf("round %d: %d winners, %d ErrExists of %d", round, wins.Load(), exists.Load(), len(nodes)*perNode)
			}
			w := winner.Load().(Callee)
			for i, e := range nodes {
				waitFor(t, 10*time.Second, "replica shows the winner", func() bool {
					v, ok := e.Registry().Get(k)
					return ok && v.Invoke == "single" && len(v.Callees) == 1 && v.Callees[0] == w
				})
				_ = i
			}
		}
	})

	t.Run("RecreateRace", func(t *testing.T) {
		// Creating over a delete marker is an update at the marker's
		// revision inside nats.go, whose lost race has its own error.
		k := RegKey{"realm1", "com.recreate", "exact"}
		for round := 0; round < 5; round++ {
			var wins atomic.Int32
			var winner atomic.Pointer[Engine]
			var wg sync.WaitGroup
			for _, e := range nodes {
				for s := 1; s <= 20; s++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						err := e.Registry().Register(ctx, k, "single", Callee{Instance: e.Instance(), Session: uint64(s)})
						switch {
						case err == nil:
							wins.Add(1)
							winner.Store(e)
						case !errors.Is(err, ErrExists):
							t.Errorf("round %d: %v", round, err)
						}
					}()
				}
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("round %d: %d winners", round, wins.Load())
			}
			w := winner.Load()
			v, _ := w.Registry().Get(k)
			if v == nil {
				st, _ := w.reg.leader(ctx, kvKey(k), k)
				v = st.val
			}
			if err := w.Registry().Unregister(ctx, k, w.Instance(), v.Callees[0].Session); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("SharedPolicies", func(t *testing.T) {
		k := RegKey{"realm1", "com.shared.", "prefix"}
		const perNode = 20
		var wg sync.WaitGroup
		for _, e := range nodes {
			for s := 1; s <= perNode; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := Callee{Instance: e.Instance(), Session: uint64(s), Features: 3, DiscloseCaller: s%2 == 0}
					if err := e.Registry().Register(ctx, k, "roundrobin", c); err != nil {
						t.Errorf("register: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		for _, e := range nodes {
			waitFor(t, 10*time.Second, "60 callees everywhere", func() bool {
				v, ok := e.Registry().Get(k)
				return ok && len(v.Callees) == len(nodes)*perNode
			})
		}
		err := nodes[1].Registry().Register(ctx, k, "random", Callee{Instance: nodes[1].Instance(), Session: 999})
		if !errors.Is(err, ErrPolicyMismatch) {
			t.Fatalf("different policy: %v, want ErrPolicyMismatch", err)
		}
		err = nodes[2].Registry().Register(ctx, k, "roundrobin", Callee{Instance: nodes[0].Instance(), Session: 1})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("same callee twice: %v, want ErrExists", err)
		}
		// The same URI with another match policy is another registration.
		if err := nodes[0].Registry().Register(ctx, RegKey{"realm1", "com.shared.", "exact"}, "single", Callee{Instance: nodes[0].Instance(), Session: 1}); err != nil {
			t.Fatalf("other match policy: %v", err)
		}
		if err := nodes[0].Registry().Register(ctx, RegKey{"realm2", "com.shared.", "prefix"}, "first", Callee{Instance: nodes[0].Instance(), Session: 1}); err != nil {
			t.Fatalf("other realm: %v", err)
		}
		// Unregister everyone, concurrently from the callees' own nodes:
		// the last one deletes the key.
		for _, e := range nodes {
			for s := 1; s <= perNode; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := e.Registry().Unregister(ctx, k, e.Instance(), uint64(s)); err != nil {
						t.Errorf("unregister: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		if err := nodes[0].Registry().Unregister(ctx, k, nodes[0].Instance(), 1); !errors.Is(err, ErrNotRegistered) {
			t.Fatalf("unregister twice: %v, want ErrNotRegistered", err)
		}
		for _, e := range nodes {
			waitFor(t, 10*time.Second, "key gone everywhere", func() bool {
				_, ok := e.Registry().Get(k)
				return !ok
			})
		}
		st, err := nodes[2].reg.leader(ctx, kvKey(k), k)
		if err != nil || st.val != nil {
			t.Fatalf("leader still has %v (%v)", st.val, err)
		}
	})

	t.Run("UnregisterThenRegisterElsewhere", func(t *testing.T) {
		// A refusal is confirmed against the leader, so a Register right
		// after an Unregister on another node is not refused on a lagging
		// replica.
		for i := 0; i < 30; i++ {
			k := RegKey{"realm1", fmt.Sprintf("com.handover.%d", i), "exact"}
			a, b := nodes[i%3], nodes[(i+1)%3]
			if err := a.Registry().Register(ctx, k, "single", Callee{Instance: a.Instance(), Session: 1}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "b sees a's registration", func() bool { _, ok := b.Registry().Get(k); return ok })
			if err := a.Registry().Unregister(ctx, k, a.Instance(), 1); err != nil {
				t.Fatal(err)
			}
			if err := b.Registry().Register(ctx, k, "single", Callee{Instance: b.Instance(), Session: 2}); err != nil {
				t.Fatalf("register after unregister elsewhere: %v", err)
			}
		}
	})

	t.Run("LongURI", func(t *testing.T) {
		k := RegKey{strings.Repeat("realm.", 50), "com." + strings.Repeat("long", 5000), "wildcard"}
		if kk := kvKey(k); !strings.HasPrefix(kk, "h.w.") || len(kk) > 64 {
			t.Fatalf("long key %q", kk)
		}
		if err := nodes[0].Registry().Register(ctx, k, "last", Callee{Instance: nodes[0].Instance(), Session: 7}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "long registration on node 2", func() bool {
			v, ok := nodes[2].Registry().Get(k)
			return ok && v.Invoke == "last"
		})
		if err := nodes[1].Registry().Register(ctx, k, "last", Callee{Instance: nodes[1].Instance(), Session: 8}); err != nil {
			t.Fatal(err)
		}
		for i, s := range []uint64{7, 8} {
			if err := nodes[i].Registry().Unregister(ctx, k, nodes[i].Instance(), s); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("BadArguments", func(t *testing.T) {
		r := nodes[0].Registry()
		for _, c := range []struct {
			k      RegKey
			invoke string
		}{
			{RegKey{"", "a", "exact"}, "single"},
			{RegKey{"r", "", "exact"}, "single"},
			{RegKey{"r", "a", "glob"}, "single"},
			{RegKey{"r", "a", "exact"}, "fastest"},
		} {
			if err := r.Register(ctx, c.k, c.invoke, Callee{Instance: "x", Session: 1}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Register(%v, %q) = %v, want ErrInvalid", c.k, c.invoke, err)
			}
		}
	})

	t.Run("WatchConvergence", func(t *testing.T) {
		want := leaderState(t, nodes[0])
		if want == "" {
			t.Fatal("empty bucket")
		}
		for i := range nodes {
			waitFor(t, 10*time.Second, fmt.Sprintf("node %d's watcher equals the bucket", i), func() bool {
				return ws[i].String() == want
			})
		}
		// A watcher started now gets the same snapshot.
		late := watchMap(t, nodes[2].Registry())
		if late.String() != want {
			t.Fatalf("late watcher snapshot:\n%s\nwant:\n%s", late, want)
		}
	})
}

// TestReapConcurrent: several nodes reap the same instance at once while
// others register callees on the same keys; the instance's callees go,
// no one else's are lost, keys left empty are deleted.
func TestReapConcurrent(t *testing.T) {
	tc := registryCluster(t)
	nodes := tc.Nodes
	ctx := context.Background()
	const ghost = "ghost-0123456789abcdef"
	const nkeys = 30
	keys := make([]RegKey, nkeys)
	for i := range keys {
		keys[i] = RegKey{"realm1", fmt.Sprintf("com.reap.%d", i), "exact"}
		for s := 1; s <= 2; s++ {
			if err := nodes[i%3].Registry().Register(ctx, keys[i], "random", Callee{Instance: ghost, Session: uint64(s)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range nodes {
		waitFor(t, 10*time.Second, "ghost callees replicated", func() bool {
			v, ok := e.Registry().Get(keys[nkeys-1])
			return ok && len(v.Callees) == 2
		})
	}
	var wg sync.WaitGroup
	var reaped atomic.Int64
	for _, e := range nodes {
		wg.Add(2)
		go func() {
			defer wg.Done()
			n, err := e.Registry().Reap(ctx, ghost)
			if err != nil {
				t.Errorf("reap: %v", err)
			}
			reaped.Add(int64(n))
		}()
		// Meanwhile, living callees join the even keys.
		go func() {
			defer wg.Done()
			for i := 0; i < nkeys; i += 2 {
				if err := e.Registry().Register(ctx, keys[i], "random", Callee{Instance: e.Instance(), Session: 1}); err != nil {
					t.Errorf("register: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	// Every ghost callee was removed exactly once, by whichever reaper won.
	if got := reaped.Load(); got != 2*nkeys {
		t.Errorf("reapers removed %d callees in all, want %d", got, 2*nkeys)
	}
	for _, e := range nodes {
		waitFor(t, 10*time.Second, "replicas converge", func() bool {
			for i, k := range keys {
				v, ok := e.Registry().Get(k)
				if i%2 == 1 {
					if ok {
						return false
					}
					continue
				}
				if !ok || len(v.Callees) != len(nodes) {
					return false
				}
				for _, c := range v.Callees {
					if c.Instance == ghost {
						return false
					}
				}
			}
			return true
		})
	}
	if got := leaderState(t, nodes[0]); strings.Contains(got, ghost) || strings.Count(got, "\n")+1 != nkeys/2 {
		t.Fatalf("bucket after reaping:\n%s", got)
	}
}
