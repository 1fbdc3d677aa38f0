package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zwamp/zwamp/bench/ceiling"
)

// Usage is the help text of `zwamp bench`.
const Usage = `usage: zwamp bench <mode> [flags]

Load any WAMP router (ws:// WebSocket or rs:// RawSocket, JSON, MessagePack
or CBOR, anonymous) and report throughput, losses, latency percentiles and,
given the router's --pid, its CPU time and memory. Prints a table and then
one JSON line per run on stdout; progress on stderr.

modes:
  pubsub   P publishers -> S subscribers on one topic
  rpc      C callers x W calls in flight -> K callees
  conns    N idle subscribed sessions: setup time, RSS/session, fan-out time
  ceiling  run a reference ceiling server (no WAMP work): one write(2) per
           message, or with --coalesce one write per destination per read

common flags:
  --url URL            router: ws://127.0.0.1:8080/ws, rs://127.0.0.1:8080 (default ws://127.0.0.1:8080/ws);
                       wss://, rss:// for TLS (loopback only, certificate not verified)
  --serializer NAME    json | msgpack | cbor (default json)
  --realm NAME         realm to join (default realm1)
  --duration D         measured time after warmup (default 10s); with --count, a cap
  --warmup D           load before measuring (default 1s)
  --count N            stop after N publishes / calls instead of --duration
  --drain D            wait for in-flight messages after the load stops (default 5s)
  --payload N          bytes of the one string argument (default 32, min 27)
  --pid PID            router process: report its CPU (/proc/PID/stat) and RSS
  --sources N          spread connections over 127.0.0.1 ... 127.0.0.N (default 1)
  --allow-remote       allow a URL that is not a loopback address
  --sub-url URLS       comma-separated routers for the receiving side (subscribers, callees,
                       conns sessions), spread over them in turn; publishers/callers stay on --url
                       (nodes of a cluster: every message crosses nodes; probes wait for the cluster
                       to route before the load starts). --callee-url is the same flag
  --pids PIDS          comma-separated other router processes (a cluster's nodes): their CPU is
                       added to --pid's and reported one by one
  --quiet              no progress lines
  --cpuprofile FILE    write the load tool's own CPU profile (is the tool the bottleneck?)
pubsub:   --publishers P (1) --subscribers S (1) --window W (1000; 0 = flat out)
          --batch B (64 frames per write) --rate R (total publishes/s; 0 = no cap) --topic URI
rpc:      --callees K (1) --callers C (1) --inflight W (1) --procedure URI
conns:    --sessions N (1000) --concurrency C (64) --events E (5) --topic URI
          --event-gap D (100ms: pause after each timed event)
          --hold D (publish nothing: hold the sessions until another process's E events on
          --topic reached all of them, at most D; reports last_rx_unix_ns per event)
          --ready-file FILE (created once the sessions are subscribed)
ceiling:  --listen ADDR (127.0.0.1:8081) --pollers N (GOMAXPROCS) --coalesce
          --cpuprofile FILE (the server's CPU profile, written at Ctrl-C)
`

// Main runs `zwamp bench` with the arguments after "bench" and returns the
// process exit code: 0 when a run produced a result (its JSON line says
// whether it was complete), 1 on errors, 2 on bad usage.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return 2
	}
	mode := args[0]
	switch mode {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, Usage)
		return 0
	case "ceiling":
		return runCeiling(args[1:], stderr)
	case "pubsub", "rpc", "conns":
	default:
		fmt.Fprintf(stderr, "zwamp bench: unknown mode %q\n%s", mode, Usage)
		return 2
	}
	fs := flag.NewFlagSet("bench "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage) }
	var cfg Config
	var quiet bool
	var cpuprofile string
	fs.StringVar(&cfg.URL, "url", "ws://127.0.0.1:8080/ws", "")
	fs.StringVar(&cfg.Serializer, "serializer", "json", "")
	fs.StringVar(&cfg.Realm, "realm", "realm1", "")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "")
	fs.DurationVar(&cfg.Drain, "drain", 5*time.Second, "")
	fs.Int64Var(&cfg.Count, "count", 0, "")
	fs.IntVar(&cfg.Payload, "payload", 32, "")
	fs.IntVar(&cfg.PID, "pid", 0, "")
	fs.IntVar(&cfg.Sources, "sources", 1, "")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "")
	fs.BoolVar(&quiet, "quiet", false, "")
	fs.StringVar(&cpuprofile, "cpuprofile", "", "")
	fs.StringVar(&cfg.Topic, "topic", "", "")
	fs.StringVar(&cfg.Procedure, "procedure", "", "")
	fs.IntVar(&cfg.Publishers, "publishers", 1, "")
	fs.IntVar(&cfg.Subscribers, "subscribers", 1, "")
	fs.IntVar(&cfg.Window, "window", 1000, "")
	fs.IntVar(&cfg.Batch, "batch", 64, "")
	fs.Float64Var(&cfg.Rate, "rate", 0, "")
	fs.IntVar(&cfg.Callees, "callees", 1, "")
	fs.IntVar(&cfg.Callers, "callers", 1, "")
	fs.IntVar(&cfg.InFlight, "inflight", 1, "")
	fs.IntVar(&cfg.Sessions, "sessions", 1000, "")
	fs.IntVar(&cfg.Concurrency, "concurrency", 64, "")
	fs.IntVar(&cfg.Events, "events", 5, "")
	fs.DurationVar(&cfg.EventGap, "event-gap", 100*time.Millisecond, "")
	fs.DurationVar(&cfg.Hold, "hold", 0, "")
	fs.StringVar(&cfg.ReadyFile, "ready-file", "", "")
	var subURLs, pids string
	fs.StringVar(&subURLs, "sub-url", "", "")
	fs.StringVar(&subURLs, "callee-url", "", "")
	fs.StringVar(&pids, "pids", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg.SubURLs = splitList(subURLs)
	for _, p := range splitList(pids) {
		pid, err := strconv.Atoi(p)
		if err != nil || pid <= 0 {
			fmt.Fprintf(stderr, "zwamp bench: --pids: %q is not a process id\n", p)
			return 2
		}
		cfg.PIDs = append(cfg.PIDs, pid)
	}
	if len(cfg.PIDs) > 0 && cfg.PID == 0 {
		fmt.Fprintln(stderr, "zwamp bench: --pids needs --pid")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zwamp bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = -1 // explicit "no warmup"; 0 means the default in Config
	}
	if !quiet {
		cfg.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A hard cap on the whole run, whatever happens.
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+cfg.Drain+cfg.Hold+5*time.Minute)
	defer cancel()

	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "zwamp bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "zwamp bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var res *Result
	var err error
	switch mode {
	case "pubsub":
		res, err = RunPubSub(ctx, cfg)
	case "rpc":
		res, err = RunRPC(ctx, cfg)
	case "conns":
		res, err = RunConns(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "zwamp bench %s: %v\n", mode, err)
		return 1
	}
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "zwamp bench: %v\n", err)
		return 1
	}
	if err := res.WriteJSON(stdout); err != nil {
		fmt.Fprintf(stderr, "zwamp bench: %v\n", err)
		return 1
	}
	return 0
}

func runCeiling(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench ceiling", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage) }
	listen := fs.String("listen", "127.0.0.1:8081", "")
	pollers := fs.Int("pollers", 0, "")
	coalesce := fs.Bool("coalesce", false, "")
	cpuprofile := fs.String("cpuprofile", "", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "zwamp bench ceiling: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "zwamp bench ceiling: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zwamp bench ceiling: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := ceiling.Config{Addr: *listen, Pollers: *pollers}
	var s ceilingServer
	kind := "write per message"
	if *coalesce {
		s = ceiling.NewCoalescing(cfg)
		kind = "coalescing"
	} else {
		s = ceiling.New(cfg)
	}
	if err := s.Start(); err != nil {
		fmt.Fprintf(stderr, "zwamp bench ceiling: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "zwamp bench ceiling (%s): listening on ws://%v/ (wamp.2.json, wamp.2.msgpack); Ctrl-C to stop\n", kind, s.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	signal.Stop(sig)
	s.Stop()
	in, out := s.Counts()
	fmt.Fprintf(stderr, "zwamp bench ceiling: stopped after %d messages in, %d events out\n", in, out)
	return 0
}

// ceilingServer is either ceiling server.
type ceilingServer interface {
	Start() error
	Addr() net.Addr
	Stop()
	Counts() (received, delivered int64)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
