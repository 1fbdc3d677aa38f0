package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestMeasureRegistry measures, on a 3-node R3 cluster in this process,
// the latency of Register (sequential, new "single" keys from node 0) and
// how long after Register began a watcher on node 1 sees the registration.
// It is a measurement, not a check: it runs only with ZWAMP_MEASURE=1
// (ZWAMP_MEASURE_N registrations, default 2000):
//
//	ZWAMP_MEASURE=1 go test -run TestMeasureRegistry -count=1 -v ./cluster/
func TestMeasureRegistry(t *testing.T) {
	if os.Getenv("ZWAMP_MEASURE") == "" {
		t.Skip("set ZWAMP_MEASURE=1 to measure")
	}
	n := 2000
	if s := os.Getenv("ZWAMP_MEASURE_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	tc := startCluster(t, 3, clusterOptions{})
	a, b := tc.Nodes[0], tc.Nodes[1]
	st, err := a.reg.kv.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	si := st.(interface{ StreamInfo() *jetstream.StreamInfo }).StreamInfo()
	t.Logf("registry stream: %d replicas, leader %s, %d followers", si.Config.Replicas, si.Cluster.Leader, len(si.Cluster.Replicas))
	var mu sync.Mutex
	seen := make(map[string]time.Time, n)
	stop := b.Registry().Watch(func(k RegKey, v *RegValue) {
		if v != nil {
			now := time.Now()
			mu.Lock()
			seen[k.URI] = now
			mu.Unlock()
		}
	})
	defer stop()
	ctx := context.Background()
	starts := make([]time.Time, n)
	reg := make([]time.Duration, n)
	for i := 0; i < n; i++ {
		k := RegKey{"realm1", fmt.Sprintf("com.measure.p%d", i), "exact"}
		starts[i] = time.Now()
		if err := a.Registry().Register(ctx, k, "single", Callee{Instance: a.Instance(), Session: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		reg[i] = time.Since(starts[i])
	}
	waitFor(t, 30*time.Second, "all seen on node 1", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	prop := make([]time.Duration, n)
	for i := range prop {
		prop[i] = seen[fmt.Sprintf("com.measure.p%d", i)].Sub(starts[i])
	}
	unreg := make([]time.Duration, n)
	for i := 0; i < n; i++ {
		k := RegKey{"realm1", fmt.Sprintf("com.measure.p%d", i), "exact"}
		s := time.Now()
		if err := a.Registry().Unregister(ctx, k, a.Instance(), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
		unreg[i] = time.Since(s)
	}
	// 16 concurrent registrants on node 0, shared keys.
	const workers = 16
	conc := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	begin := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				k := RegKey{"realm1", fmt.Sprintf("com.conc.p%d", i%50), "exact"}
				s := time.Now()
				if err := a.Registry().Register(ctx, k, "roundrobin", Callee{Instance: a.Instance(), Session: uint64(w*n + i + 1)}); err != nil {
					t.Error(err)
					return
				}
				conc[w] = append(conc[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	all := slices.Concat(conc...)
	t.Logf("3 nodes, R3, %d sequential Registers from node 0: p50 %v p99 %v", n, percentile(reg, .5), percentile(reg, .99))
	t.Logf("  seen by a watcher on node 1, from Register start: p50 %v p99 %v", percentile(prop, .5), percentile(prop, .99))
	t.Logf("  sequential Unregisters (key deleted): p50 %v p99 %v", percentile(unreg, .5), percentile(unreg, .99))
	t.Logf("  %d concurrent registrants on 50 shared keys, %d Registers: p50 %v p99 %v, %.0f/s", workers, len(all), percentile(all, .5), percentile(all, .99), float64(len(all))/elapsed.Seconds())
}
