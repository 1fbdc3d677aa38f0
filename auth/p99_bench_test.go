package auth_test

import (
	"context"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// BenchmarkPubSubUnderLogins measures an established 1→1 pubsub stream over
// WebSocket (one event per millisecond for 3 s, latency from publish to
// handler) idle, then while 200 logins/s of the slowest method in the
// login benchmark (ticket with an argon2id13 hash, 1 iteration × 8 MiB)
// run against the same router over WebSocket. Run it once:
//
//	go test -run XXX -bench PubSubUnderLogins -benchtime 1x ./auth/
//
// Variables: ZWAMP_LOGIN (below) picks the logins, ZWAMP_AUTH_WORKERS the
// pool size, ZWAMP_LOGIN_PROC=1 runs the login load in another process.
// Besides the latencies it reports, over the loaded phase, GC cycles, GC
// CPU, the longest GC pause and the Go scheduler's latency p99.
func BenchmarkPubSubUnderLogins(b *testing.B) {
	// All logins come from 127.0.0.1: lift the per-address bounds.
	// ZWAMP_AUTH_WORKERS sets the pool size (default GOMAXPROCS-1, at least 1).
	workers, _ := strconv.Atoi(os.Getenv("ZWAMP_AUTH_WORKERS"))
	// ZWAMP_LOGIN=alice logs in with alice's pbkdf2 ticket (4096
	// iterations) instead of bob's argon2id one; ZWAMP_LOGIN=scram with
	// alice's wamp-scram password (argon2id, 1 iteration x 8 MiB), where the
	// router never runs the KDF and the clients, one per login in flight,
	// cache their salted password as the spec allows; ZWAMP_LOGIN=carol with a
	// pbkdf2 ticket of ZWAMP_PBKDF2_ITER iterations (default 24,000: about
	// the CPU time of bob's argon2id check without its 8 MiB), which tells
	// the cost of the CPU from the cost of the memory.
	realm, who, ticket := "secure", "bob", "bob-ticket"
	var extra map[string]*auth.RealmConfig
	var scram chan *auth.SCRAMClient
	switch os.Getenv("ZWAMP_LOGIN") {
	case "alice":
		who, ticket = "alice", "alice-ticket"
	case "scram":
		who = "alice"
		scram = make(chan *auth.SCRAMClient, 32)
		for range cap(scram) {
			scram <- auth.NewSCRAMClient("alice", "alice-pw")
		}
	case "carol":
		iter, _ := strconv.Atoi(os.Getenv("ZWAMP_PBKDF2_ITER"))
		if iter == 0 {
			iter = 24000
		}
		h, err := auth.HashTicket("carol-ticket", auth.KDFParams{KDF: auth.KDFPBKDF2, Iterations: iter})
		if err != nil {
			b.Fatal(err)
		}
		realm, who, ticket = "heavy", "carol", "carol-ticket"
		extra = map[string]*auth.RealmConfig{"heavy": {Methods: []string{"ticket"},
			Principals: map[string]auth.PrincipalConfig{"carol": {Role: "user", Ticket: h}}}}
	}
	tr := start(b, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1, MaxPendingPerAddr: 1 << 20, Workers: workers}, extra)
	sub, err := tr.connect(b, client.Config{Realm: "realm1"})
	if err != nil {
		b.Fatal(err)
	}
	pub, err := tr.connect(b, client.Config{Realm: "realm1"})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	if _, err := sub.Subscribe("bench.p99", func(ev *client.Event) {
		sent, _ := ev.Args[0].(int64)
		d := time.Duration(time.Now().UnixNano() - sent)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	}, nil); err != nil {
		b.Fatal(err)
	}
	phase := func(n int) (p50, p99 time.Duration) {
		mu.Lock()
		lat = lat[:0]
		mu.Unlock()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; i++ {
			<-tick.C
			if err := pub.Publish("bench.p99", []any{time.Now().UnixNano()}, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := len(lat)
			mu.Unlock()
			if got >= n || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		s := slices.Clone(lat)
		slices.Sort(s)
		if len(s) < n {
			b.Fatalf("%d of %d events arrived", len(s), n)
		}
		return s[len(s)/2], s[len(s)*99/100]
	}
	const events = 3000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idle50, idle99 := phase(events)

		// ZWAMP_LOGIN_PROC=1 runs the login load in another process (this
		// test binary, TestLoginLoadHelper), so that the router's process
		// pays only the router's side of the logins.
		stop := make(chan struct{})
		var logins, failures atomic.Int64
		var wg sync.WaitGroup
		var helper *exec.Cmd
		var helperIn io.WriteCloser
		if os.Getenv("ZWAMP_LOGIN_PROC") == "1" {
			helper = exec.Command(os.Args[0], "-test.run", "^TestLoginLoadHelper$")
			helper.Env = append(os.Environ(), "ZWAMP_HELPER_URL="+tr.url, "ZWAMP_HELPER_REALM="+realm,
				"ZWAMP_HELPER_WHO="+who, "ZWAMP_HELPER_TICKET="+ticket, "ZWAMP_HELPER_SCRAM="+strconv.FormatBool(scram != nil))
			helper.Stderr = os.Stderr
			var err error
			if helperIn, err = helper.StdinPipe(); err != nil {
				b.Fatal(err)
			}
			if err := helper.Start(); err != nil {
				b.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the helper's start
		} else {
			wg.Add(1)
			go func() {
				defer wg.Done()
				loginLoad(tr.url, realm, who, ticket, scram, stop, &logins, &failures)
			}()
		}
		time.Sleep(200 * time.Millisecond) // let the login load settle
		startLogins := tr.r.AuthStats().Successes
		t0 := time.Now()
		gc0 := readGC()
		load50, load99 := phase(events)
		gc := readGC().sub(gc0)
		rate := float64(tr.r.AuthStats().Successes-startLogins) / time.Since(t0).Seconds()
		close(stop)
		wg.Wait()
		if helper != nil {
			_ = helperIn.Close() // the helper stops at EOF
			_ = helper.Wait()
		}
		b.ReportMetric(float64(idle50.Microseconds()), "idle-p50-µs")
		b.ReportMetric(float64(idle99.Microseconds()), "idle-p99-µs")
		b.ReportMetric(float64(load50.Microseconds()), "load-p50-µs")
		b.ReportMetric(float64(load99.Microseconds()), "load-p99-µs")
		b.ReportMetric(rate, "logins/s")
		b.ReportMetric(float64(failures.Load()), "skipped-logins") // in-process load only
		b.ReportMetric(gc.cycles, "gc-cycles")
		b.ReportMetric(gc.cpu*1000, "gc-cpu-ms")
		b.ReportMetric(gc.pauseMax*1e6, "gc-pause-max-µs")
		b.ReportMetric(gc.schedP99*1e6, "sched-p99-µs")
		b.Logf("auth stats %+v", tr.r.AuthStats())
	}
}

// gcStats are runtime/metrics read over the loaded phase: GC cycles, GC
// CPU time (assists, workers, pauses), the longest stop-the-world pause
// and the p99 of the time runnable goroutines waited for a P.
type gcStats struct {
	cycles, cpu, pauseMax, schedP99 float64
	pauses, sched                   *metrics.Float64Histogram
}

var gcSamples = []metrics.Sample{
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/cpu/classes/gc/total:cpu-seconds"},
	{Name: "/sched/pauses/total/gc:seconds"},
	{Name: "/sched/latencies:seconds"},
}

func readGC() gcStats {
	s := slices.Clone(gcSamples)
	metrics.Read(s)
	return gcStats{cycles: float64(s[0].Value.Uint64()), cpu: s[1].Value.Float64(),
		pauses: s[2].Value.Float64Histogram(), sched: s[3].Value.Float64Histogram()}
}

// sub returns the counts since old, with the histograms' maximum and p99.
func (g gcStats) sub(old gcStats) gcStats {
	g.cycles -= old.cycles
	g.cpu -= old.cpu
	g.pauseMax = quantile(g.pauses, old.pauses, 1)
	g.schedP99 = quantile(g.sched, old.sched, 0.99)
	return g
}

// quantile is the q quantile of the difference of two readings of one
// histogram (the upper bound of its bucket).
func quantile(h, old *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	d := make([]uint64, len(h.Counts))
	for i := range h.Counts {
		d[i] = h.Counts[i] - old.Counts[i]
		total += d[i]
	}
	if total == 0 {
		return 0
	}
	want := uint64(math.Ceil(q * float64(total)))
	var n uint64
	for i, c := range d {
		n += c
		if n >= want {
			if math.IsInf(h.Buckets[i+1], 1) {
				return h.Buckets[i]
			}
			return h.Buckets[i+1]
		}
	}
	return 0
}

// loginLoad opens logins at 200/s to url until stop closes, at most 32 in
// flight (a tick that finds 32 is skipped and counted in failures, as is
// a refused login): tickets for who, or wamp-scram logins with the
// clients in scram (each caches its salted password).
func loginLoad(url, realm, who, ticket string, scram chan *auth.SCRAMClient, stop <-chan struct{}, logins, failures *atomic.Int64) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 32)
	tick := time.NewTicker(5 * time.Millisecond) // 200/s
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			failures.Add(1) // the router is behind: count, do not pile up
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cfg := client.Config{Realm: realm, AuthID: who, AuthMethods: []string{"ticket"}, Authenticate: client.TicketAuth(ticket)}
			if scram != nil {
				sc := <-scram
				defer func() { scram <- sc }()
				sc.Renew()
				cfg = sc.Config(client.Config{Realm: realm})
			}
			c, err := client.Connect(ctx, url, cfg)
			if err != nil {
				failures.Add(1)
				return
			}
			logins.Add(1)
			_ = c.Close()
		}()
	}
}

// TestLoginLoadHelper is BenchmarkPubSubUnderLogins's login load in a
// process of its own (ZWAMP_LOGIN_PROC=1): it runs loginLoad against
// ZWAMP_HELPER_URL until its standard input ends. Without that variable it
// does nothing.
func TestLoginLoadHelper(t *testing.T) {
	url := os.Getenv("ZWAMP_HELPER_URL")
	if url == "" {
		return
	}
	var scram chan *auth.SCRAMClient
	if os.Getenv("ZWAMP_HELPER_SCRAM") == "true" {
		scram = make(chan *auth.SCRAMClient, 32)
		for range cap(scram) {
			scram <- auth.NewSCRAMClient(os.Getenv("ZWAMP_HELPER_WHO"), "alice-pw")
		}
	}
	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var logins, failures atomic.Int64
	loginLoad(url, os.Getenv("ZWAMP_HELPER_REALM"), os.Getenv("ZWAMP_HELPER_WHO"), os.Getenv("ZWAMP_HELPER_TICKET"), scram, stop, &logins, &failures)
	t.Logf("helper: %d logins, %d skipped or refused", logins.Load(), failures.Load())
}
