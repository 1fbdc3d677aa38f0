package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// caller is one calling session with up to InFlight calls outstanding.
type caller struct {
	c           *conn
	idx         int
	t           *template
	pc          *payloadCheck // nil: stamps only
	pending     *pendingCalls // request id → stamp sequence number
	seq         uint64
	from        int64
	outstanding int64
	finished    int64 // calls answered in the current read
	completed   paddedCounter
	n           int64 // calls completed: RESULT for an outstanding id, with its payload
	errs        int64 // calls answered with ERROR
	corrupt     int64 // calls answered with a RESULT whose payload is not theirs
	unexpected  int64 // RESULTs or ERRORs for no outstanding call
	foreign     int64
	hist        Histogram
	err         error
}

func (k *caller) onMessage(c *conn, msg []byte) error {
	t, id, decoded, err := c.kind(msg)
	if err != nil {
		return err
	}
	switch t {
	case codec.RESULT:
		want, ok := k.pending.take(id)
		if !ok {
			k.unexpected++
			return nil
		}
		k.finished++
		src, seq, ts, err := c.checkStamp(msg, decoded, k.pc)
		switch {
		case err == errNoStamp:
			k.foreign++
		case err != nil || src != k.idx || seq != want:
			k.corrupt++
		default:
			k.n++
			if ts >= k.from {
				k.hist.Record(c.now - ts)
			}
		}
	case codec.ERROR:
		// peek read the ERROR's first element, the request type; the
		// request id needs the decoder (an ERROR is no hot path).
		if !decoded {
			if err := c.decode(msg); err != nil {
				return err
			}
		}
		if _, ok := k.pending.take(c.m.Request); !ok || c.m.ErrorType != codec.CALL {
			k.unexpected++
			return nil
		}
		k.finished++
		k.errs++
	case codec.ABORT, codec.GOODBYE:
		return errClosed
	}
	return nil
}

// issue sends up to want new calls, as the flow allows, in one write.
func (k *caller) issue(r *run, f *flow, want int64) error {
	if want <= 0 || r.stopping.Load() {
		return nil
	}
	g := f.reserve(want)
	if g == 0 {
		return nil
	}
	ts := r.clk.now()
	for i := int64(0); i < g; i++ {
		k.c.appendTemplate(k.t, k.idx, k.seq, ts)
		k.pending.add(k.c.req, k.seq)
		k.seq++
	}
	k.outstanding += g
	return k.c.flush()
}

func (k *caller) loop(r *run, f *flow) {
	defer k.c.release()
	inflight := int64(r.cfg.InFlight)
	if err := k.issue(r, f, inflight); err != nil {
		k.err = err
		return
	}
	for k.outstanding > 0 {
		k.finished = 0
		err := k.c.readOnce()
		k.outstanding -= k.finished
		k.completed.v.Store(k.n)
		if err != nil {
			if !r.stopping.Load() {
				k.err = err
			}
			return
		}
		if err := k.issue(r, f, inflight-k.outstanding); err != nil {
			if !r.stopping.Load() {
				k.err = err
			}
			return
		}
	}
}

// callee is one session registered for the procedure; it answers every
// INVOCATION with a YIELD carrying the caller's stamp.
type callee struct {
	c       *conn
	t       *template
	n       atomic.Int64
	foreign int64
	err     error
}

func (e *callee) onMessage(c *conn, msg []byte) error {
	t, id, decoded, err := c.kind(msg)
	if err != nil {
		return err
	}
	switch t {
	case codec.INVOCATION:
		var buf [stampLen]byte
		st, err := c.stamp(msg, decoded, &buf)
		if err != nil {
			// Not one of ours: answer anyway, with a zero stamp.
			e.foreign++
			putStamp(buf[:], 0, 0, 0)
			st = buf[:]
		}
		c.appendReply(e.t, id, st)
		e.n.Add(1)
	case codec.ABORT, codec.GOODBYE:
		return errClosed
	}
	return nil
}

// loop answers until the connection ends, with one write per read.
func (e *callee) loop(stopping *atomic.Bool) {
	e.c.readLoop(stopping, &e.err, func(err error) error {
		if ferr := e.c.flush(); err == nil {
			err = ferr
		}
		return err
	})
}

// RunRPC runs the rpc mode: cfg.Callees register one procedure (a shared
// round-robin registration when there are several), cfg.Callers call it
// with cfg.InFlight calls outstanding each, and the callees echo the
// payload back.
func RunRPC(ctx context.Context, cfg Config) (*Result, error) {
	r, err := newRun("rpc", cfg)
	if err != nil {
		return nil, err
	}
	cfg = r.cfg
	ct, err := newTemplate(r.t.Format, codec.Message{Type: codec.CALL, URI: []byte(cfg.Procedure)}, cfg.Payload)
	if err != nil {
		return nil, err
	}
	yt, err := newTemplate(r.t.Format, codec.Message{Type: codec.YIELD}, cfg.Payload)
	if err != nil {
		return nil, err
	}
	pc, err := newPayloadCheck(r.t.Format, cfg.Payload)
	if err != nil {
		return nil, err
	}
	rbuf := readBufferFor(cfg.Callers + cfg.Callees)
	callees := make([]*callee, cfg.Callees)
	callers := make([]*caller, cfg.Callers)
	closeAll := func() {
		for _, e := range callees {
			if e != nil {
				e.c.close()
			}
		}
		for _, k := range callers {
			if k != nil {
				k.c.close()
			}
		}
	}
	// One at a time: the first registration creates the procedure.
	err = parallel(cfg.Callees, 1, func(i int) error {
		c, err := r.connectSub(ctx, i, rbuf)
		if err != nil {
			return err
		}
		if _, err := c.register(cfg.Procedure, cfg.Callees > 1); err != nil {
			c.nc.Close()
			return err
		}
		callees[i] = &callee{c: c, t: yt}
		return nil
	})
	if err == nil {
		err = parallel(cfg.Callers, cfg.Concurrency, func(i int) error {
			c, err := r.connect(ctx, rbuf)
			if err != nil {
				return err
			}
			callers[i] = &caller{c: c, idx: i, t: ct, pc: pc, pending: newPendingCalls(cfg.InFlight)}
			return nil
		})
	}
	if err != nil {
		closeAll()
		return nil, err
	}

	res := r.result()
	f := &flow{limit: cfg.Count}
	var eWG, kWG sync.WaitGroup
	for _, e := range callees {
		if err := e.c.setSink(e); err != nil {
			e.err = err
		}
		eWG.Add(1)
		go func() { defer eWG.Done(); e.loop(&r.stopping) }()
	}
	if len(r.subT) > 0 {
		if err := probeRPC(ctx, r, callers[0]); err != nil {
			r.stop()
			closeAll()
			eWG.Wait()
			return nil, err
		}
	}
	t0 := r.clk.now()
	measureFrom := t0 + int64(cfg.Warmup)
	counts := func() (issued, completed int64) {
		for _, k := range callers {
			completed += k.completed.v.Load()
		}
		return f.issued.Load(), completed
	}
	var a sample
	if cfg.Count > 0 {
		a = r.begin(0, 0)
	}
	for _, k := range callers {
		k.from = measureFrom
		if err := k.c.setSink(k); err != nil {
			k.err = err
		}
		kWG.Add(1)
		go func() { defer kWG.Done(); k.loop(r, f) }()
	}
	done := make(chan struct{})
	go func() { kWG.Wait(); close(done) }()

	a, b, cut := r.measure(ctx, t0, a, done, counts, "calls", func(age, _, rate float64) string {
		r.progressf("%5.1fs  %s calls/s", age, human(rate))
		return ""
	})
	r.stop()
	// Callers finish the calls they have outstanding, within the drain.
	for _, k := range callers {
		_ = k.c.nc.SetReadDeadline(time.Now().Add(cfg.Drain))
	}
	<-done
	if cfg.Count > 0 {
		b = r.end(counts())
	}
	closeAll()
	eWG.Wait()

	res.Seconds = round3(float64(b.at-a.at) / 1e9)
	res.Calls = b.done - a.done
	if b.at > a.at {
		res.CallRate = round3(float64(res.Calls) / (float64(b.at-a.at) / 1e9))
	}
	var h Histogram
	var foreign int64
	for _, k := range callers {
		res.TotalCalls += k.n
		res.Errors += k.errs
		res.Corrupt += k.corrupt
		res.Unexpected += k.unexpected
		res.Unanswered += int64(k.pending.n)
		foreign += k.foreign
		h.Merge(&k.hist)
		if k.err != nil {
			res.note("caller %d: %v", k.idx, describe(k.err))
		}
	}
	for i, e := range callees {
		foreign += e.foreign
		if e.err != nil {
			res.note("callee %d: %v", i, describe(e.err))
		}
	}
	if foreign > 0 {
		res.note("%d results or invocations without the tool's stamp", foreign)
	}
	res.Latency = summarize(&h)
	r.cpuFigures(res, a, b)
	if cut != "" {
		res.note("%s", cut)
	}
	res.Complete = len(res.Notes) == 0 && res.Errors == 0 && res.Unanswered == 0 &&
		res.Unexpected == 0 && res.Corrupt == 0
	return res, nil
}
