package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/cluster"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// startClusterRouters starts n clustered routers in this process (the
// real stack: core.Router behind a netpoll listener, attached to an
// embedded NATS node; node 0 accepts the routes, the others route to it;
// one registry replica, which two nodes cannot outvote) and returns their
// addresses and routers.
func startClusterRouters(tb testing.TB, n int) ([]string, []*core.Router) {
	tb.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	route := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	engines := make([]*cluster.Engine, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		listen := "127.0.0.1:0"
		if i == 0 {
			listen = route
		}
		cfg := cluster.Config{
			Name: "benchtest", Node: fmt.Sprintf("n%d", i), Listen: listen,
			Routes: []string{"nats-route://" + route}, KVReplicas: 1,
			JetStreamDir: filepath.Join(tb.TempDir(), "js"),
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			engines[i], errs[i] = cluster.Start(ctx, cfg, log)
		}()
	}
	wg.Wait()
	for i, e := range engines {
		if e != nil {
			tb.Cleanup(e.Close)
		}
		if errs[i] != nil {
			tb.Fatalf("cluster node %d: %v", i, errs[i])
		}
	}
	addrs := make([]string, n)
	routers := make([]*core.Router, n)
	for i, e := range engines {
		r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, Logger: log})
		if err != nil {
			tb.Fatal(err)
		}
		nd, err := cluster.Attach(r, e, log)
		if err != nil {
			tb.Fatal(err)
		}
		s, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}, Logger: log})
		if err != nil {
			tb.Fatal(err)
		}
		if err := s.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
			nd.Close()
		})
		addrs[i] = s.Addrs()[0].String()
		routers[i] = r
	}
	return addrs, routers
}

// sessionCheck waits until no router has a session left from an earlier
// run and returns an onStart hook that records, when the measured interval
// begins (every session of the run joined), how many each router has, and
// a check that they are want.
func sessionCheck(t *testing.T, routers []*core.Router, want ...int64) (onStart func(), check func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < len(routers); {
		if routers[i].Stats().Sessions == 0 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("router %d still has %d sessions of an earlier run", i, routers[i].Stats().Sessions)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := make([]int64, len(routers))
	onStart = func() {
		for i, r := range routers {
			got[i] = r.Stats().Sessions
		}
	}
	check = func() {
		t.Helper()
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("sessions per node when the load started: %v, want %v", got, want)
				return
			}
		}
	}
	return onStart, check
}

// TestCrossNode runs the load tool's cross-node scenarios (--sub-url) on a
// two-node cluster, small counts, and checks that every message was
// counted: publishers on node 0 and subscribers spread over both nodes,
// callers on node 0 and callees on node 1, and a holder process's share
// of a conns run (--hold) timed against the publishing run's send times.
func TestCrossNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-node cluster")
	}
	addrs, routers := startClusterRouters(t, 2)
	a, b := urlFor("ws", addrs[0]), urlFor("rs", addrs[1])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("pubsub", func(t *testing.T) {
		const pubs, subs, count = 2, 5, 3000
		// Subscribers 0, 2, 4 on node 1, 1 and 3 on node 0 with the
		// publishers.
		onStart, check := sessionCheck(t, routers, pubs+2, 3)
		res, err := RunPubSub(ctx, Config{
			onStart: onStart,
			URL:     a, SubURLs: []string{urlFor("rs", addrs[1]), urlFor("ws", addrs[0])},
			Publishers: pubs, Subscribers: subs, Window: 200, Count: count,
			Duration: 2 * time.Minute, Drain: 20 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Complete || res.TotalPublishes != count || res.TotalDelivered != count*subs ||
			res.Lost != 0 || res.Gaps != 0 || res.Duplicates != 0 || res.OutOfOrder != 0 || res.Corrupt != 0 {
			t.Fatalf("cross-node pubsub: complete %v, %d published (want %d), %d delivered (want %d), lost %d, gaps %d, dups %d, ooo %d, corrupt %d, notes %q",
				res.Complete, res.TotalPublishes, count, res.TotalDelivered, count*subs, res.Lost, res.Gaps, res.Duplicates, res.OutOfOrder, res.Corrupt, res.Notes)
		}
		if res.Latency == nil || res.Latency.Count == 0 {
			t.Fatal("no latency recorded")
		}
		check()
	})

	t.Run("rpc", func(t *testing.T) {
		const count = 2000
		onStart, check := sessionCheck(t, routers, 4, 3) // callers on node 0, callees on node 1
		res, err := RunRPC(ctx, Config{
			onStart: onStart,
			URL:     a, SubURLs: []string{b},
			Callees: 3, Callers: 4, InFlight: 4, Count: count,
			Duration: 2 * time.Minute, Drain: 20 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Complete || res.TotalCalls != count || res.Errors != 0 || res.Unanswered != 0 || res.Unexpected != 0 || res.Corrupt != 0 {
			t.Fatalf("cross-node rpc: complete %v, %d calls (want %d), %d errors, %d unanswered, %d unexpected, %d corrupt, notes %q",
				res.Complete, res.TotalCalls, count, res.Errors, res.Unanswered, res.Unexpected, res.Corrupt, res.Notes)
		}
		check()
	})

	t.Run("conns-hold", func(t *testing.T) {
		const sessions, events = 30, 3
		topic := "zwamp.bench.holdtest"
		ready := filepath.Join(t.TempDir(), "ready")
		type out struct {
			res *Result
			err error
		}
		held := make(chan out, 1)
		go func() {
			res, err := RunConns(ctx, Config{
				URL: a, SubURLs: []string{b}, Topic: topic, Sessions: sessions, Events: events,
				Hold: time.Minute, ReadyFile: ready,
			})
			held <- out{res, err}
		}()
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			select {
			case o := <-held:
				t.Fatalf("holder ended before it was ready: %v %+v", o.err, o.res)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("holder not ready after a minute")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The holder's subscriptions are on node 1; the publisher's run
		// (its own sessions on node 0) publishes on node 0. Interest
		// reaches node 0 asynchronously and the publishing run retries
		// nothing, so probe first: unstamped events, which the holder's
		// sessions ignore, from node 0 until a subscriber on node 1 has one.
		waitRouted(t, ctx, "ws://"+addrs[0]+"/ws", "ws://"+addrs[1]+"/ws", topic)
		pres, err := RunConns(ctx, Config{URL: a, Topic: topic, Sessions: sessions, Events: events, EventGap: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		o := <-held
		if o.err != nil {
			t.Fatal(o.err)
		}
		hc, pc := o.res.Conns, pres.Conns
		if !o.res.Complete || !pres.Complete {
			t.Fatalf("holder complete %v (notes %q, got %v), publisher complete %v (notes %q, missed %v)",
				o.res.Complete, o.res.Notes, hc.Got, pres.Complete, pres.Notes, pc.Missed)
		}
		if len(hc.Got) != events || len(pc.SendUnix) != events || len(hc.LastRxUnix) != events {
			t.Fatalf("holder got %v, last rx %v; publisher send times %v", hc.Got, hc.LastRxUnix, pc.SendUnix)
		}
		for e := 0; e < events; e++ {
			if hc.Got[e] != sessions {
				t.Errorf("event %d reached %d of the holder's %d sessions", e, hc.Got[e], sessions)
			}
			if d := hc.LastRxUnix[e] - pc.SendUnix[e]; d <= 0 || d > int64(30*time.Second) {
				t.Errorf("event %d: holder's last receipt %d ns after the send", e, d)
			}
		}
	})
}

// waitRouted publishes unstamped probes on topic at from until a
// subscriber at to receives one.
func waitRouted(t *testing.T, ctx context.Context, from, to, topic string) {
	t.Helper()
	sub, err := client.Connect(ctx, to, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan struct{}, 1)
	if _, err := sub.Subscribe(topic, func(*client.Event) {
		select {
		case got <- struct{}{}:
		default:
		}
	}, nil); err != nil {
		t.Fatal(err)
	}
	pub, err := client.Connect(ctx, from, client.Config{Realm: "realm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		if err := pub.Publish(topic, []any{"probe"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event from %s reached %s within a minute", from, to)
		}
	}
}
