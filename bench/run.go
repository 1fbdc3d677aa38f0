package bench

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// run is what every mode shares: the target, the clock, the source
// addresses and the stop signal.
type run struct {
	cfg    Config
	mode   string
	t      *Target
	subT   []*Target // Config.SubURLs parsed; nil: the receivers use t
	clk    clock
	srcs   []*net.TCPAddr
	next   atomic.Uint32
	nofile uint64

	stopping atomic.Bool
	stopCh   chan struct{}
	stopOnce sync.Once
}

func newRun(mode string, cfg Config) (*run, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t, err := ParseTarget(cfg.URL, cfg.Serializer, cfg.AllowRemote)
	if err != nil {
		return nil, err
	}
	srcs, err := sourceAddrs(cfg.Sources, t)
	if err != nil {
		return nil, err
	}
	var subT []*Target
	for _, u := range cfg.SubURLs {
		st, err := ParseTarget(u, cfg.Serializer, cfg.AllowRemote)
		if err != nil {
			return nil, fmt.Errorf("--sub-url: %w", err)
		}
		if cfg.Sources > 1 && !st.Loopback {
			return nil, fmt.Errorf("bench: --sources applies to loopback targets only")
		}
		subT = append(subT, st)
	}
	nofile, err := RaiseNoFile()
	if err != nil {
		return nil, err
	}
	return &run{cfg: cfg, mode: mode, t: t, subT: subT, clk: clock{time.Now()}, srcs: srcs, nofile: nofile, stopCh: make(chan struct{})}, nil
}

func (r *run) result() *Result {
	return &Result{
		Mode:    r.mode,
		Params:  r.cfg.params(r.mode, runtime.GOMAXPROCS(0), r.nofile),
		Started: r.clk.epoch.UTC(),
	}
}

// stop tells every load loop to stop issuing new messages.
func (r *run) stop() {
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		close(r.stopCh)
	})
}

// connect dials the router at --url from the next source address and
// joins the realm.
func (r *run) connect(ctx context.Context, rbuf int) (*conn, error) {
	return r.connectTo(ctx, r.t, rbuf)
}

// connectSub connects receiver i (subscriber, callee, held session): to
// the i-th of --sub-url in turn, or to --url without it.
func (r *run) connectSub(ctx context.Context, i, rbuf int) (*conn, error) {
	if len(r.subT) == 0 {
		return r.connect(ctx, rbuf)
	}
	return r.connectTo(ctx, r.subT[i%len(r.subT)], rbuf)
}

func (r *run) connectTo(ctx context.Context, t *Target, rbuf int) (*conn, error) {
	src := r.srcs[int(r.next.Add(1)-1)%len(r.srcs)]
	c, err := dial(ctx, t, src, &r.clk, rbuf)
	if err != nil {
		return nil, err
	}
	if err := c.join(r.cfg.Realm); err != nil {
		c.nc.Close()
		return nil, fmt.Errorf("bench: join %q at %s: %w", r.cfg.Realm, t.Addr, err)
	}
	return c, nil
}

// parallel calls f(0) … f(n-1) on at most conc goroutines and returns the
// first error (after every started call has returned).
func parallel(n, conc int, f func(i int) error) error {
	if conc > n {
		conc = n
	}
	var (
		next     atomic.Int64
		firstErr error
		mu       sync.Mutex
		wg       sync.WaitGroup
		failed   atomic.Bool
	)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// sample is a snapshot of the counters at one instant.
type sample struct {
	at        int64           // clk.now()
	sent      int64           // publishes or calls issued
	done      int64           // deliveries or calls completed
	routerCPU time.Duration   // PID's and PIDs' together
	each      []time.Duration // with PIDs: PID's, then each of PIDs
	toolCPU   time.Duration
	cpuErr    error
}

func (r *run) sample(sent, done int64) sample {
	s := sample{at: r.clk.now(), sent: sent, done: done, toolCPU: selfCPU()}
	if r.cfg.PID > 0 {
		s.routerCPU, s.cpuErr = ProcCPU(r.cfg.PID)
		if len(r.cfg.PIDs) > 0 {
			s.each = append(s.each, s.routerCPU)
		}
		for _, pid := range r.cfg.PIDs {
			d, err := ProcCPU(pid)
			if err != nil && s.cpuErr == nil {
				s.cpuErr = err
			}
			s.routerCPU += d
			s.each = append(s.each, d)
		}
	}
	return s
}

// begin takes the sample that starts the measured interval.
func (r *run) begin(sent, done int64) sample {
	if r.cfg.onStart != nil {
		r.cfg.onStart()
	}
	return r.sample(sent, done)
}

// end takes the sample that ends the measured interval.
func (r *run) end(sent, done int64) sample {
	s := r.sample(sent, done)
	if r.cfg.onStop != nil {
		r.cfg.onStop()
	}
	return s
}

// measure waits out the measured interval of a pubsub or rpc load that
// started at t0; counts reads what the load has sent (publishes, calls)
// and done (deliveries, completed calls) so far. In a duration run it waits
// for the warmup, takes the interval's first sample, waits cfg.Duration
// and takes its last. In a count run, whose first sample a the caller took
// before starting the load and whose last the caller takes once the load
// has drained, it waits for done to close, within cfg.Duration (the time
// cap). Once a second it hands tick the run's age and the rates of the
// last second; tick prints progress and may return a reason to cut the run
// short, as may ctx ending. measure returns both samples (b is zero in a
// count run) and that reason, "" when the run was not cut short; noun
// names what the load sends, for the time cap's reason.
func (r *run) measure(ctx context.Context, t0 int64, a sample, done <-chan struct{}, counts func() (sent, done int64),
	noun string, tick func(age, sentRate, doneRate float64) string) (_, b sample, cut string) {
	from := t0 + int64(r.cfg.Warmup)
	end := from + int64(r.cfg.Duration)
	if r.cfg.Count == 0 && r.sleepUntil(ctx, from) {
		a = r.begin(counts())
	}
	t := time.NewTicker(time.Second)
	lastSent, lastDone := counts()
	lastAt := r.clk.now()
wait:
	for r.clk.now() < end {
		select {
		case <-ctx.Done():
			cut = "context ended: " + ctx.Err().Error()
			break wait
		case <-done:
			break wait
		case <-t.C:
			sent, n := counts()
			now := r.clk.now()
			secs := float64(now-lastAt) / 1e9
			if cut = tick(float64(now-t0)/1e9, float64(sent-lastSent)/secs, float64(n-lastDone)/secs); cut != "" {
				break wait
			}
			lastSent, lastDone, lastAt = sent, n, now
		}
	}
	t.Stop()
	if r.cfg.Count == 0 {
		b = r.end(counts())
	} else if r.clk.now() >= end {
		cut = fmt.Sprintf("time cap of %v reached before %d %s", r.cfg.Duration, r.cfg.Count, noun)
	}
	return a, b, cut
}

// cpuFigures fills the CPU part of a result from two samples.
func (r *run) cpuFigures(res *Result, a, b sample) {
	secs := float64(b.at-a.at) / 1e9
	msgs := float64(b.done - a.done)
	if secs <= 0 {
		return
	}
	fig := func(d time.Duration) *CPU {
		c := &CPU{Seconds: round3(d.Seconds()), Percent: round3(d.Seconds() / secs * 100)}
		if msgs > 0 {
			c.NsPerMsg = round3(float64(d.Nanoseconds()) / msgs)
		}
		return c
	}
	res.ToolCPU = fig(b.toolCPU - a.toolCPU)
	if r.cfg.PID > 0 {
		if a.cpuErr != nil || b.cpuErr != nil {
			res.note("router cpu unavailable: %v", firstErr(a.cpuErr, b.cpuErr))
		} else {
			res.RouterCPU = fig(b.routerCPU - a.routerCPU)
			for i := range b.each {
				res.RouterCPUEach = append(res.RouterCPUEach, fig(b.each[i]-a.each[i]))
			}
		}
	}
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// sleepUntil waits until clk.now() >= at, the context ends or the run is
// stopped; it reports whether the time was reached.
func (r *run) sleepUntil(ctx context.Context, at int64) bool {
	d := time.Duration(at - r.clk.now())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-r.stopCh:
		return false
	}
}

// progressf writes one progress line if the run has a progress writer.
func (r *run) progressf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "zwamp bench %s: "+format+"\n", append([]any{r.mode}, args...)...)
	}
}

// paddedCounter keeps one goroutine's counter on its own cache line, since
// another goroutine reads it often (flow control).
type paddedCounter struct {
	_ [64]byte
	v atomic.Int64
	_ [56]byte
}
