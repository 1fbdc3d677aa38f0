package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// The runs below drive the real router in-process over loopback with
// small counts, and check the figures add up.

func TestPubSubLossless(t *testing.T) {
	addr := startRouter(t)
	for _, tr := range []string{"ws", "rs"} {
		for _, ser := range []string{"json", "msgpack", "cbor"} {
			t.Run(tr+"/"+ser, func(t *testing.T) {
				res, err := RunPubSub(testCtx(t), Config{
					URL: urlFor(tr, addr), Serializer: ser, Count: 3000, Duration: 30 * time.Second,
					Publishers: 3, Subscribers: 4, Window: 100, Batch: 16,
				})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Complete || res.TotalPublishes != 3000 || res.TotalDelivered != 4*3000 ||
					res.Lost != 0 || res.Gaps != 0 || res.OutOfOrder != 0 || res.Errors != 0 {
					t.Fatalf("result: %+v", res)
				}
				if res.Latency == nil || res.Latency.Count != 4*3000 || res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 {
					t.Fatalf("latency: %+v", res.Latency)
				}
				if res.DeliveryRate <= 0 || res.PublishRate <= 0 || res.Seconds <= 0 {
					t.Fatalf("rates: %+v", res)
				}
			})
		}
	}
}

func TestPubSubDurationAndCPU(t *testing.T) {
	addr := startRouter(t)
	res, err := RunPubSub(testCtx(t), Config{
		URL: urlFor("ws", addr), Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Window: 50, PID: os.Getpid(), Rate: 20000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Lost != 0 || res.Publishes == 0 || res.Deliveries == 0 {
		t.Fatalf("result: %+v", res)
	}
	// The rate cap holds (±50% on a busy machine, but never far above).
	if res.PublishRate > 30000 {
		t.Fatalf("publish rate %.0f above the cap of 20000", res.PublishRate)
	}
	if res.RouterCPU == nil || res.ToolCPU == nil || res.ToolCPU.Seconds <= 0 {
		t.Fatalf("cpu: %+v %+v", res.RouterCPU, res.ToolCPU)
	}
	if res.Seconds < 0.25 || res.Seconds > 2 {
		t.Fatalf("measured %v s for a 300ms run", res.Seconds)
	}
}

func TestPubSubFlatOut(t *testing.T) {
	addr := startRouter(t)
	res, err := RunPubSub(testCtx(t), Config{
		URL: urlFor("rs", addr), Serializer: "msgpack", Count: 20000, Duration: 30 * time.Second,
		Subscribers: 2, Window: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The router may drop for slow consumers when flat out, but every
	// publish must be accounted for.
	if res.TotalPublishes != 20000 || res.TotalDelivered+res.Lost != 2*20000 {
		t.Fatalf("result: %+v", res)
	}
}

func TestRPC(t *testing.T) {
	addr := startRouter(t)
	for _, tr := range []string{"ws", "rs"} {
		for _, ser := range []string{"json", "msgpack"} {
			t.Run(tr+"/"+ser, func(t *testing.T) {
				res, err := RunRPC(testCtx(t), Config{
					URL: urlFor(tr, addr), Serializer: ser, Count: 5000, Duration: 30 * time.Second,
					Callees: 2, Callers: 3, InFlight: 8,
				})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Complete || res.TotalCalls != 5000 || res.Errors != 0 || res.Unanswered != 0 {
					t.Fatalf("result: %+v", res)
				}
				if res.Latency == nil || res.Latency.Count != 5000 || res.CallRate <= 0 {
					t.Fatalf("latency %+v rate %v", res.Latency, res.CallRate)
				}
			})
		}
	}
}

func TestRPCNoCallee(t *testing.T) {
	// Procedures unknown to the router: every call is an ERROR, counted,
	// and the run still ends.
	addr := startRouter(t)
	cfg := Config{URL: urlFor("ws", addr), Count: 100, Duration: 30 * time.Second, InFlight: 4}
	r, err := newRun("rpc", cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.connect(testCtx(t), 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ct, err := newTemplate(r.t.Format, codecMessageCall("no.such.procedure"), 32)
	if err != nil {
		t.Fatal(err)
	}
	k := &caller{c: c, t: ct, pending: newPendingCalls(4)}
	if err := c.setSink(k); err != nil {
		t.Fatal(err)
	}
	f := &flow{limit: 100}
	k.loop(r, f)
	// An ERROR answers its call (the run ends) but does not complete it.
	if k.err != nil || k.n != 0 || k.errs != 100 || k.outstanding != 0 || k.pending.n != 0 || k.unexpected != 0 {
		t.Fatalf("caller: err %v completed %d errors %d outstanding %d/%d unexpected %d", k.err, k.n, k.errs, k.outstanding, k.pending.n, k.unexpected)
	}
}

func TestConns(t *testing.T) {
	addr := startRouter(t)
	var progress bytes.Buffer
	res, err := RunConns(testCtx(t), Config{
		URL: urlFor("ws", addr), Sessions: 200, Concurrency: 16, Events: 3, Sources: 3,
		PID: os.Getpid(), Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Conns
	if !res.Complete || c.Sessions != 200 || c.Failed != 0 || len(c.Fanout) != 3 || len(c.Missed) != 3 {
		t.Fatalf("result: %+v %+v", res, c)
	}
	for i := range c.Fanout {
		if c.Missed[i] != 0 || c.Fanout[i] <= 0 {
			t.Fatalf("event %d: missed %d fan-out %v µs", i, c.Missed[i], c.Fanout[i])
		}
	}
	if len(c.FanoutKernel) != 3 || c.FanoutKernel[0] <= 0 || c.FanoutKernel[0] > c.Fanout[0]+1000 {
		t.Fatalf("kernel fan-out %v vs %v", c.FanoutKernel, c.Fanout)
	}
	if c.RSSBefore <= 0 || c.RSSAfter <= 0 || c.SetupLatency == nil || c.EstablishPS <= 0 {
		t.Fatalf("conns figures: %+v", c)
	}
}

func TestCeiling(t *testing.T) {
	if raceEnabled {
		// nbio's nbhttp hands a connection from its accept goroutine to a
		// poller through epoll, which the race detector cannot see, and
		// reports races inside nbhttp (whose functions are marked
		// //go:norace for that reason). The ceiling is nbio's code there,
		// not ours.
		t.Skip("nbio's nbhttp is not race-detector clean")
	}
	s, addr := startCeiling(t)
	runEveryMode(t, addr, 2000, 2, 4)
	if s.Delivered.Load() < 2*3*2000 {
		t.Fatalf("ceiling delivered %d events", s.Delivered.Load())
	}
}

func TestMainOutput(t *testing.T) {
	addr := startRouter(t)
	var out, errOut bytes.Buffer
	code := Main([]string{"pubsub", "--url", urlFor("rs", addr), "--serializer", "msgpack", "--count", "500",
		"--subscribers", "2", "--payload", "64", "--quiet"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out.String())
	}
	if res.Mode != "pubsub" || res.Params.Payload != 64 || res.Params.Subscribers != 2 || res.TotalDelivered != 1000 {
		t.Fatalf("JSON line: %+v", res)
	}
	if !strings.Contains(out.String(), "deliveries/s") {
		t.Fatalf("no table:\n%s", out.String())
	}
	if errOut.Len() != 0 {
		t.Fatalf("stderr with --quiet: %s", errOut.String())
	}
}

func TestMainUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, {"nope"}, {"pubsub", "--bogus"}, {"pubsub", "extra"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pubsub", "--url", "ws://192.0.2.1:8080/"}, "not a loopback"},
		{[]string{"rpc", "--url", "wss://192.0.2.1:8443/", "--allow-remote"}, "TLS targets must be loopback"},
		{[]string{"rpc", "--url", "ftp://127.0.0.1:1/"}, "scheme must be"},
		{[]string{"pubsub", "--url", "ws://127.0.0.1:1/", "--payload", "5"}, "payload"},
		{[]string{"conns", "--url", "ws://127.0.0.1:1/", "--serializer", "xml"}, "serializer"},
		{[]string{"pubsub", "--url", "ws://127.0.0.1:1/", "--window", "-1"}, "window"},
		{[]string{"pubsub", "--url", "ws://127.0.0.1:1/"}, "connection refused"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(c.args, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%q: exit %d, stderr %q, want %q", c.args, code, errOut.String(), c.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		url, ser string
		remote   bool
		ws       bool
		addr     string
		path     string
		err      string
	}{
		{"ws://127.0.0.1:8080/ws", "json", false, true, "127.0.0.1:8080", "/ws", ""},
		{"ws://localhost:9/a/b?x=1", "msgpack", false, true, "localhost:9", "/a/b?x=1", ""},
		{"ws://[::1]:9", "cbor", false, true, "[::1]:9", "/", ""},
		{"rs://127.0.0.1:7", "json", false, false, "127.0.0.1:7", "", ""},
		{"tcp://127.0.0.1", "json", false, false, "127.0.0.1:8080", "", ""},
		{"ws://192.0.2.1:1/", "json", false, false, "", "", "loopback"},
		{"ws://192.0.2.1:1/", "json", true, true, "192.0.2.1:1", "/", ""},
		{"http://127.0.0.1:1/", "json", false, false, "", "", "scheme"},
		{"ws://127.0.0.1:99999/", "json", false, false, "", "", "port"},
		{"ws://u:p@127.0.0.1:1/", "json", false, false, "", "", "credentials"},
		{"ws://127.0.0.1:1/", "yaml", false, false, "", "", "serializer"},
	} {
		tg, err := ParseTarget(c.url, c.ser, c.remote)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if tg.WebSocket != c.ws || tg.Addr != c.addr || (c.ws && tg.Path != c.path) {
			t.Errorf("%s: %+v", c.url, tg)
		}
	}
	if _, err := sourceAddrs(3, &Target{Loopback: false}); err == nil {
		t.Error("--sources accepted for a remote target")
	}
	srcs, err := sourceAddrs(3, &Target{Loopback: true})
	if err != nil || len(srcs) != 3 || srcs[2].IP.String() != "127.0.0.3" {
		t.Errorf("sources: %v %v", srcs, err)
	}
}

func TestProc(t *testing.T) {
	pid := os.Getpid()
	// Burn a little CPU so the 10 ms clock ticks see something.
	deadline := time.Now().Add(50 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	cpu, err := ProcCPU(pid)
	if err != nil || cpu <= 0 {
		t.Fatalf("ProcCPU: %v %v (%d)", cpu, err, x)
	}
	rss, err := ProcRSS(pid)
	if err != nil || rss < 1<<20 {
		t.Fatalf("ProcRSS: %v %v", rss, err)
	}
	if _, err := ProcCPU(1 << 30); err == nil {
		t.Fatal("ProcCPU of a missing process")
	}
	if n, err := RaiseNoFile(); err != nil || n < 1024 {
		t.Fatalf("RaiseNoFile: %d %v", n, err)
	}
}

func TestResultTable(t *testing.T) {
	w := 0
	r := &Result{Mode: "pubsub", Params: Params{Window: &w, Publishers: 1, Subscribers: 1}, Lost: 3,
		Latency: &Latency{P50: 1}, RouterCPU: &CPU{Percent: 50, NsPerMsg: 100}, ToolCPU: &CPU{Percent: 10}}
	r.note("x %d", 1)
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flat out", "lost", "100 ns/msg", "note", "x 1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func codecMessageCall(proc string) codec.Message {
	return codec.Message{Type: codec.CALL, URI: []byte(proc)}
}

func TestSourcesBind(t *testing.T) {
	addr := startRouter(t)
	r, err := newRun("conns", Config{URL: urlFor("rs", addr), Serializer: "msgpack", Sources: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		c, err := r.connect(testCtx(t), 4096)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("127.0.0.%d", i%3+1)
		if got := c.nc.LocalAddr().(*net.TCPAddr).IP.String(); got != want || c.session == 0 {
			t.Errorf("connection %d from %s (session %d), want %s", i, got, c.session, want)
		}
		c.close()
		c.release()
	}
}

func TestConnsRawSocket(t *testing.T) {
	addr := startRouter(t)
	res, err := RunConns(testCtx(t), Config{URL: urlFor("rs", addr), Serializer: "msgpack", Sessions: 100, Events: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Conns.Sessions != 100 || res.Conns.Missed[0] != 0 || res.Conns.Missed[1] != 0 {
		t.Fatalf("%+v %+v", res, res.Conns)
	}
}
