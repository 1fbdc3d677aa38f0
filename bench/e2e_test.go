package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// End-to-end benchmarks: the load tool's engine drives the real stack
// (core.Router behind netpoll.Server) over loopback, WebSocket and
// RawSocket, JSON and MessagePack.
//
// One op is one delivered event (pubsub) or one completed call (rpc), so
// ns/op compares across scenarios; the run is b.N ops (1->100: b.N/100
// publishes), capped at e2eCap. Setup (dialing, joining, subscribing) is
// outside the timer.
//
// BenchmarkE2E runs the router in this process: B/op and allocs/msg (heap
// allocations per op, unrounded) count router and load tool together, and
// `-cpuprofile` / `-memprofile` see both. Its proc-cpu-ns/msg is this whole
// process's CPU (router + tool) per op.
//
// BenchmarkE2EDaemon builds cmd/zwamp, starts it in its own process and
// drives that, which is what gives an honest router-cpu-ns/msg (the
// daemon's utime+stime from /proc/PID/stat, 10 ms resolution, per op);
// there B/op and allocs/msg are the load tool's alone.
// With ZWAMP_BENCH_ROUTER_CPUS=0 the daemon runs under `taskset -c 0`; run
// the test binary itself under `taskset -c 1` to give each its own core:
//
//	ZWAMP_BENCH_ROUTER_CPUS=0 taskset -c 1 go test ./bench -run '^$' -bench E2EDaemon -count 5

const e2eCap = 60 * time.Second

type e2eScenario struct {
	name              string
	pubs, subs        int // pubsub
	callers, inflight int // rpc
	rpc               bool
}

var e2eScenarios = []e2eScenario{
	{name: "pubsub-1x1", pubs: 1, subs: 1},
	{name: "pubsub-1x100", pubs: 1, subs: 100},
	{name: "pubsub-100x1", pubs: 100, subs: 1},
	{name: "rpc-1x16", rpc: true, callers: 1, inflight: 16},
	{name: "rpc-16x16", rpc: true, callers: 16, inflight: 16},
}

func BenchmarkE2E(b *testing.B) {
	addr := startRouter(b)
	e2eAll(b, addr, 0)
}

func BenchmarkE2EDaemon(b *testing.B) {
	pid, addr := startDaemon(b)
	e2eAll(b, addr, pid)
}

func e2eAll(b *testing.B, addr string, pid int) {
	for _, tr := range []string{"ws", "rs"} {
		for _, ser := range []string{"json", "msgpack"} {
			for _, sc := range e2eScenarios {
				b.Run(tr+"/"+ser+"/"+sc.name, func(b *testing.B) {
					e2eRun(b, urlFor(tr, addr), ser, sc, pid)
				})
			}
		}
	}
}

func e2eRun(b *testing.B, url, ser string, sc e2eScenario, pid int) {
	b.ReportAllocs()
	// allocs/op is printed as an integer, which hides a fraction of an
	// allocation per message; count heap allocations over the measured
	// interval ourselves.
	var m0, m1 runtime.MemStats
	cfg := Config{
		URL: url, Serializer: ser, Duration: e2eCap, Drain: 10 * time.Second, Payload: 32, PID: pid,
		Window: 1000, Batch: 64, Concurrency: 16,
		onStart: func() { runtime.ReadMemStats(&m0); b.ResetTimer() },
		onStop:  func() { b.StopTimer(); runtime.ReadMemStats(&m1) },
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eCap+30*time.Second)
	defer cancel()
	var res *Result
	var err error
	var rate float64
	if sc.rpc {
		cfg.Callers, cfg.InFlight, cfg.Count = sc.callers, sc.inflight, int64(b.N)
		res, err = RunRPC(ctx, cfg)
		if err == nil {
			rate = res.CallRate
			if res.TotalCalls != int64(b.N) {
				err = fmt.Errorf("%d calls done, want %d", res.TotalCalls, b.N)
			}
		}
	} else {
		cfg.Publishers, cfg.Subscribers = sc.pubs, sc.subs
		cfg.Count = int64((b.N + sc.subs - 1) / sc.subs)
		res, err = RunPubSub(ctx, cfg)
		if err == nil {
			rate = res.DeliveryRate
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	if !res.Complete {
		b.Fatalf("incomplete run: %v (lost %d, errors %d)", res.Notes, res.Lost, res.Errors)
	}
	name := "deliveries/s"
	if sc.rpc {
		name = "calls/s"
	}
	b.ReportMetric(rate, name)
	if l := res.Latency; l != nil {
		b.ReportMetric(l.P50, "p50-µs")
		b.ReportMetric(l.P99, "p99-µs")
	}
	if res.RouterCPU != nil {
		b.ReportMetric(res.RouterCPU.NsPerMsg, "router-cpu-ns/msg")
	}
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/msg")
	if res.ToolCPU != nil {
		label := "tool-cpu-ns/msg"
		if pid == 0 {
			label = "proc-cpu-ns/msg" // router and tool share this process
		}
		b.ReportMetric(res.ToolCPU.NsPerMsg, label)
	}
}

var (
	daemonOnce sync.Once
	daemonBin  string
	daemonErr  error
)

// buildDaemon builds cmd/zwamp once per test binary.
func buildDaemon() (string, error) {
	daemonOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zwamp-bench-")
		if err != nil {
			daemonErr = err
			return
		}
		daemonBin = filepath.Join(dir, "zwamp")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(goTool, "build", "-o", daemonBin, "github.com/zwamp/zwamp/cmd/zwamp")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			daemonErr = fmt.Errorf("go build cmd/zwamp: %v\n%s", err, out)
		}
	})
	return daemonBin, daemonErr
}

var listenLine = regexp.MustCompile(`msg=listening .*addr=(127\.0\.0\.1:[0-9]+)`)

// startDaemon starts `zwamp serve --listen 127.0.0.1:0` (under taskset when
// ZWAMP_BENCH_ROUTER_CPUS is set) and returns its pid and address.
func startDaemon(tb testing.TB) (int, string) {
	tb.Helper()
	bin, err := buildDaemon()
	if err != nil {
		tb.Fatal(err)
	}
	args := []string{bin, "serve", "--listen", "127.0.0.1:0"}
	if cpus := os.Getenv("ZWAMP_BENCH_ROUTER_CPUS"); cpus != "" {
		args = append([]string{"taskset", "-c", cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	addrCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addrCh <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		if !found {
			close(addrCh)
		}
	}()
	select {
	case addr, ok := <-addrCh:
		if !ok {
			tb.Fatal("zwamp serve exited without listening")
		}
		// With taskset in front, the router is taskset's child after exec:
		// same pid, since taskset execs the command.
		return cmd.Process.Pid, addr
	case <-time.After(20 * time.Second):
		tb.Fatal("zwamp serve did not report its address")
	}
	return 0, ""
}

// TestDaemonStarts checks the daemon plumbing of BenchmarkE2EDaemon once:
// build, start, drive, CPU reading.
func TestDaemonStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/zwamp")
	}
	pid, addr := startDaemon(t)
	res, err := RunRPC(testCtx(t), Config{URL: urlFor("rs", addr), Count: 2000, Duration: 30 * time.Second, InFlight: 8, PID: pid})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.RouterCPU == nil || res.TotalCalls != 2000 {
		t.Fatalf("%+v", res)
	}
	if !strings.HasPrefix(res.Params.URL, "rs://127.0.0.1:") {
		t.Fatal(res.Params.URL)
	}
}
