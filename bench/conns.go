package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// fanout records, per timed event, how many sessions saw it and when the
// last one did.
type fanout struct {
	got      []atomic.Int64
	lastMono []atomic.Int64 // clk.now() of the latest receipt
	lastRx   []atomic.Int64 // kernel receive time (unix ns) of the latest receipt
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// idleSession is one held session of a conns run.
type idleSession struct {
	c   *conn
	fo  *fanout
	err error
}

func (s *idleSession) onMessage(c *conn, msg []byte) error {
	t, _, decoded, err := c.kind(msg)
	if err != nil {
		return err
	}
	switch t {
	case codec.EVENT:
		_, seq, _, err := c.readStamp(msg, decoded)
		if err != nil || seq >= uint64(len(s.fo.got)) {
			return nil
		}
		s.fo.got[seq].Add(1)
		storeMax(&s.fo.lastMono[seq], c.now)
		storeMax(&s.fo.lastRx[seq], c.rxTS)
	case codec.ABORT, codec.GOODBYE:
		return errClosed
	}
	return nil
}

// RunConns runs the conns mode: cfg.Sessions sessions join and subscribe
// to one topic and are held idle. It reports how long establishing them
// took, the router's RSS per session (with cfg.PID), and, cfg.Events
// times, how long one event takes to reach all of them.
func RunConns(ctx context.Context, cfg Config) (*Result, error) {
	r, err := newRun("conns", cfg)
	if err != nil {
		return nil, err
	}
	cfg = r.cfg
	if uint64(cfg.Sessions)+64 > r.nofile {
		return nil, fmt.Errorf("bench: %d sessions need more open files than this process may have (%d)", cfg.Sessions, r.nofile)
	}
	pt, err := newTemplate(r.t.Format, codec.Message{Type: codec.PUBLISH, URI: []byte(cfg.Topic)}, cfg.Payload)
	if err != nil {
		return nil, err
	}
	res := r.result()
	cr := &ConnsResult{}
	res.Conns = cr
	if cfg.PID > 0 {
		if cr.RSSBefore, err = ProcRSS(cfg.PID); err != nil {
			return nil, err
		}
	}
	fo := &fanout{
		got:      make([]atomic.Int64, cfg.Events),
		lastMono: make([]atomic.Int64, cfg.Events),
		lastRx:   make([]atomic.Int64, cfg.Events),
	}
	sess := make([]*idleSession, cfg.Sessions)
	setup := make([]int64, cfg.Sessions) // per-session setup time, ns
	var established, failed atomic.Int64
	var firstErr atomic.Value
	cpu0 := r.sample(0, 0)
	start := r.clk.now()
	stopProgress := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				r.progressf("%5.1fs  %d sessions established, %d failed", float64(r.clk.now()-start)/1e9, established.Load(), failed.Load())
			}
		}
	}()
	var tsOff atomic.Bool // kernel timestamps unavailable on some socket
	_ = parallel(cfg.Sessions, cfg.Concurrency, func(i int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := r.clk.now()
		c, err := r.connectSub(ctx, i, idleReadBuffer)
		if err == nil {
			if _, err = c.subscribe(cfg.Topic); err != nil {
				c.nc.Close()
			}
		}
		if err != nil {
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err)
			// Keep going: the point is how many this machine holds.
			return nil
		}
		setup[i] = r.clk.now() - t
		if err := c.enableRxTimestamps(); err != nil {
			tsOff.Store(true)
		}
		sess[i] = &idleSession{c: c, fo: fo}
		established.Add(1)
		return nil
	})
	close(stopProgress)
	estEnd := r.clk.now()
	cpu1 := r.sample(0, 0)
	cr.Sessions = int(established.Load())
	cr.Failed = int(failed.Load())
	cr.EstablishS = round3(float64(estEnd-start) / 1e9)
	if estEnd > start {
		cr.EstablishPS = round3(float64(cr.Sessions) / (float64(estEnd-start) / 1e9))
	}
	var sh Histogram
	for i, s := range sess {
		if s != nil {
			sh.Record(setup[i])
		}
	}
	cr.SetupLatency = summarize(&sh)
	if e, _ := firstErr.Load().(error); e != nil {
		res.note("%d sessions failed; first error: %v", cr.Failed, e)
	}
	if cfg.PID > 0 && cpu0.cpuErr == nil && cpu1.cpuErr == nil && cr.Sessions > 0 {
		cr.RouterCPUPerSession = round3(float64((cpu1.routerCPU - cpu0.routerCPU).Nanoseconds()) / float64(cr.Sessions) / 1e3)
	}

	live := sess[:0:0]
	for _, s := range sess {
		if s != nil {
			live = append(live, s)
		}
	}
	closeAll := func() {
		r.stop()
		_ = parallel(len(live), 64, func(i int) error {
			live[i].c.close()
			return nil
		})
	}
	// Let the router settle (sessions it has not finished setting up,
	// garbage from establishment) before reading its RSS.
	time.Sleep(500 * time.Millisecond)
	if cfg.PID > 0 && cr.Sessions > 0 {
		if cr.RSSAfter, err = ProcRSS(cfg.PID); err != nil {
			res.note("%v", err)
		} else {
			cr.RSSPerSess = round3(float64(cr.RSSAfter-cr.RSSBefore) / float64(cr.Sessions))
		}
	}
	var wg sync.WaitGroup
	for _, s := range live {
		if err := s.c.setSink(s); err != nil {
			s.err = err
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.c.readLoop(&r.stopping, &s.err, nil) }()
	}
	if tsOff.Load() {
		res.note("kernel receive timestamps (SO_TIMESTAMPNS) unavailable on some sockets; fanout_kernel_us omitted")
	}
	if cfg.ReadyFile != "" {
		if err := writeReady(cfg.ReadyFile, len(live)); err != nil {
			closeAll()
			wg.Wait()
			return nil, err
		}
	}
	if cfg.Hold > 0 {
		hold(ctx, r, cr, fo, int64(len(live)))
		closeAll()
		wg.Wait()
		return res, holdDone(res, cr, live, tsOff.Load())
	}

	// Time single events.
	pub, err := r.connect(ctx, idleReadBuffer)
	if err != nil {
		closeAll()
		wg.Wait()
		return nil, err
	}
	n := int64(len(live))
	for e := 0; e < cfg.Events && ctx.Err() == nil; e++ {
		sendMono, sendWall := r.clk.now(), time.Now().UnixNano()
		cr.SendUnix = append(cr.SendUnix, sendWall)
		pub.appendTemplate(pt, 0, uint64(e), sendMono)
		if err := pub.flush(); err != nil {
			res.note("publish: %v", err)
			break
		}
		deadline := time.Now().Add(30 * time.Second)
		for fo.got[e].Load() < n && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(200 * time.Microsecond)
		}
		cr.Missed = append(cr.Missed, int(n-fo.got[e].Load()))
		cr.Fanout = append(cr.Fanout, round3(float64(fo.lastMono[e].Load()-sendMono)/1e3))
		if !tsOff.Load() {
			cr.FanoutKernel = append(cr.FanoutKernel, round3(float64(fo.lastRx[e].Load()-sendWall)/1e3))
			cr.LastRxUnix = append(cr.LastRxUnix, fo.lastRx[e].Load())
		}
		// Let the tool's goroutines go back to sleep before the next event
		// (and, with holders elsewhere, let them receive it).
		time.Sleep(cfg.EventGap)
	}
	pub.close()
	pub.release()
	closeAll()
	wg.Wait()
	for i, s := range live {
		if s.err != nil {
			res.note("session %d: %v", i, describe(s.err))
			break
		}
	}
	missed := 0
	for _, m := range cr.Missed {
		missed += m
	}
	res.Complete = cr.Failed == 0 && missed == 0 && len(cr.Missed) == cfg.Events && ctx.Err() == nil
	return res, nil
}

// median returns the median of v (0 when empty).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
