package bench

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestMeasureNATSCrossNode measures the cluster engine's own ceiling for
// cross-node events: two embedded nats-server nodes routed together in
// this process (as package cluster embeds them), a publisher connected
// in-process to node A and a subscriber connected in-process to node B,
// one subject, under a window of messages published and not yet received
// (the load tool's lossless flow control), for each message size. It
// prints one JSON line per size: messages/s and the publish→receive
// latency percentiles (µs). A measurement, not a check: it runs only with
// ZWAMP_MEASURE=1.
//
//	ZWAMP_MEASURE=1 go test -run TestMeasureNATSCrossNode -count=1 -v ./bench
//
// ZWAMP_NATS_SIZES (default "64,160": 160 B is about what a node sends
// for a 32-byte-payload JSON PUBLISH, envelope included),
// ZWAMP_NATS_WINDOW (1000, the load tool's default) and
// ZWAMP_NATS_DURATION (5s, after 1 s of warm-up) change the run.
func TestMeasureNATSCrossNode(t *testing.T) {
	if os.Getenv("ZWAMP_MEASURE") == "" {
		t.Skip("set ZWAMP_MEASURE=1 to measure")
	}
	sizes := []int{64, 160}
	if s := os.Getenv("ZWAMP_NATS_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 16 {
				t.Fatalf("ZWAMP_NATS_SIZES: %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	window := envInt(t, "ZWAMP_NATS_WINDOW", 1000)
	dur := 5 * time.Second
	if s := os.Getenv("ZWAMP_NATS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	a, b := startNATSPair(t)
	pc, err := nats.Connect("", nats.InProcessServer(a))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sc, err := nats.Connect("", nats.InProcessServer(b))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	for _, size := range sizes {
		r := measureNATS(t, pc, sc, size, window, time.Second, dur)
		line, _ := json.Marshal(r)
		fmt.Println(string(line))
		t.Logf("size %d B, window %d: %.0f msg/s, p50 %.1f µs, p99 %.1f µs", size, window, r.Rate, r.Latency.P50, r.Latency.P99)
	}
}

func envInt(t *testing.T, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("%s: %q", name, s)
		}
		return n
	}
	return def
}

// natsResult is one size's figures.
type natsResult struct {
	Mode     string   `json:"mode"`
	Size     int      `json:"size"`
	Window   int      `json:"window"`
	Seconds  float64  `json:"seconds"`
	Messages int64    `json:"messages"`
	Rate     float64  `json:"messages_per_sec"`
	Latency  *Latency `json:"latency_us"`
	Lost     int64    `json:"lost"`
}

// startNATSPair starts two nats-server nodes routed together on loopback
// (with JetStream off: the event path does not use it) and waits until a
// message published on A reaches a subscriber on B.
func startNATSPair(t *testing.T) (a, b *server.Server) {
	t.Helper()
	opts := func(name string) *server.Options {
		return &server.Options{
			ServerName: name, Host: "127.0.0.1", Port: server.RANDOM_PORT,
			NoLog: true, NoSigs: true, MaxPayload: 17 << 20,
			Cluster: server.ClusterOpts{Name: "natsceiling", Host: "127.0.0.1", Port: server.RANDOM_PORT},
		}
	}
	start := func(o *server.Options) *server.Server {
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		t.Cleanup(s.Shutdown)
		return s
	}
	a = start(opts("A"))
	ob := opts("B")
	ob.Routes = server.RoutesFromStr("nats-route://" + a.ClusterAddr().String())
	b = start(ob)
	pc, err := nats.Connect("", nats.InProcessServer(a))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	sc, err := nats.Connect("", nats.InProcessServer(b))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	got := make(chan struct{}, 1)
	sub, err := sc.Subscribe("probe", func(*nats.Msg) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = pc.Publish("probe", []byte("x"))
		select {
		case <-got:
			return a, b
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the two nats-server nodes did not route within 30 s")
		}
	}
}

// measureNATS publishes size-byte messages from pc to a subscriber on sc
// under the window, for warm + dur, and returns the measured interval's
// rate and latencies (each message carries its send time).
func measureNATS(t *testing.T, pc, sc *nats.Conn, size, window int, warm, dur time.Duration) natsResult {
	t.Helper()
	subj := fmt.Sprintf("w.realm1.e.zwamp.bench.nats%d", size)
	epoch := time.Now()
	var recv atomic.Int64
	var waiting atomic.Bool
	wake := make(chan struct{}, 1)
	var measuring atomic.Bool
	var h Histogram
	sub, err := sc.Subscribe(subj, func(m *nats.Msg) {
		if measuring.Load() && len(m.Data) >= 8 {
			h.Record(int64(time.Since(epoch)) - int64(binary.LittleEndian.Uint64(m.Data)))
		}
		recv.Add(1)
		if waiting.Load() {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)
	if err := sc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Interest must reach node A before the first publish counts.
	time.Sleep(200 * time.Millisecond)
	msg := make([]byte, size)
	var sent int64
	var a0, a1 time.Time
	var s0, s1 int64
	end := time.Now().Add(warm + dur)
	startAt := time.Now().Add(warm)
	for time.Now().Before(end) {
		if !measuring.Load() && time.Now().After(startAt) {
			a0, s0 = time.Now(), recv.Load()
			measuring.Store(true)
		}
		if sent-recv.Load() >= int64(window) {
			waiting.Store(true)
			if sent-recv.Load() >= int64(window) {
				select {
				case <-wake:
				case <-time.After(5 * time.Millisecond):
				}
			}
			waiting.Store(false)
			continue
		}
		binary.LittleEndian.PutUint64(msg, uint64(time.Since(epoch)))
		if err := pc.Publish(subj, msg); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	a1, s1 = time.Now(), recv.Load()
	measuring.Store(false)
	_ = pc.Flush()
	deadline := time.Now().Add(10 * time.Second)
	for recv.Load() < sent && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	secs := a1.Sub(a0).Seconds()
	// The handler may still be recording when measuring turns off.
	time.Sleep(50 * time.Millisecond)
	return natsResult{
		Mode: "nats-cross-node", Size: size, Window: window, Seconds: round3(secs),
		Messages: s1 - s0, Rate: round3(float64(s1-s0) / secs), Latency: summarize(&h),
		Lost: sent - recv.Load(),
	}
}
