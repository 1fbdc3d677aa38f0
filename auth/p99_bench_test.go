package auth_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
func BenchmarkPubSubUnderLogins(b *testing.B) {
	// All logins come from 127.0.0.1: lift the per-address bounds.
	// ZWAMP_AUTH_WORKERS sets the pool size (default GOMAXPROCS-1, at least 1).
	workers, _ := strconv.Atoi(os.Getenv("ZWAMP_AUTH_WORKERS"))
	tr := start(b, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1, MaxPendingPerAddr: 1 << 20, Workers: workers}, nil)
	// ZWAMP_LOGIN=alice logs in with alice's pbkdf2 ticket instead of bob's
	// argon2id one.
	who, ticket := "bob", "bob-ticket"
	if os.Getenv("ZWAMP_LOGIN") == "alice" {
		who, ticket = "alice", "alice-ticket"
	}
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

		stop := make(chan struct{})
		var logins, failures atomic.Int64
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		wg.Add(1)
		go func() {
			defer wg.Done()
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
					c, err := client.Connect(ctx, tr.url, client.Config{Realm: "secure", AuthID: who,
						AuthMethods: []string{"ticket"}, Authenticate: client.TicketAuth(ticket)})
					if err != nil {
						failures.Add(1)
						return
					}
					logins.Add(1)
					_ = c.Close()
				}()
			}
		}()
		time.Sleep(200 * time.Millisecond) // let the login load settle
		startLogins := logins.Load()
		t0 := time.Now()
		load50, load99 := phase(events)
		rate := float64(logins.Load()-startLogins) / time.Since(t0).Seconds()
		close(stop)
		wg.Wait()
		b.ReportMetric(float64(idle50.Microseconds()), "idle-p50-µs")
		b.ReportMetric(float64(idle99.Microseconds()), "idle-p99-µs")
		b.ReportMetric(float64(load50.Microseconds()), "load-p50-µs")
		b.ReportMetric(float64(load99.Microseconds()), "load-p99-µs")
		b.ReportMetric(rate, "logins/s")
		b.ReportMetric(float64(failures.Load()), "skipped-logins")
		b.Logf("auth stats %+v", tr.r.AuthStats())
	}
}
