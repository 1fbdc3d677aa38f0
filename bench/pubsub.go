package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// flow is the flow control shared by the publishers of a run: a bound on
// the total count, and a window of events published but not yet seen by
// every subscriber.
type flow struct {
	window int64 // 0: no window
	limit  int64 // 0: no count bound
	issued atomic.Int64
	seen   []*paddedCounter // per subscriber: events seen

	waiters atomic.Int32
	wakes   []chan struct{}

	// While the run drains, subscribers also wake the coordinator, which
	// waits for the last event without polling.
	draining atomic.Bool
	drained  chan struct{}
}

// minSeen returns the number of events the slowest subscriber has seen.
func (f *flow) minSeen() int64 {
	m := int64(-1)
	for _, s := range f.seen {
		if v := s.v.Load(); m < 0 || v < m {
			m = v
		}
	}
	if m < 0 {
		return 0
	}
	return m
}

// reserve grants up to k messages under the window and the count bound.
func (f *flow) reserve(k int64) int64 {
	for {
		cur := f.issued.Load()
		g := k
		if f.limit > 0 && f.limit-cur < g {
			g = f.limit - cur
		}
		if f.window > 0 {
			if avail := f.window - (cur - f.minSeen()); avail < g {
				g = avail
			}
		}
		if g <= 0 {
			return 0
		}
		if f.issued.CompareAndSwap(cur, cur+g) {
			return g
		}
	}
}

// exhausted reports whether the count bound has been reached.
func (f *flow) exhausted() bool { return f.limit > 0 && f.issued.Load() >= f.limit }

// wait blocks publisher i until a subscriber may have freed room in the
// window, the run stops, or a short timeout passes (a safety net: the
// sequentially consistent waiters counter already rules out a lost
// wake-up).
func (f *flow) wait(i int, t *time.Timer, stop <-chan struct{}) {
	f.waiters.Add(1)
	if f.window-(f.issued.Load()-f.minSeen()) <= 0 {
		t.Reset(20 * time.Millisecond)
		select {
		case <-f.wakes[i]:
		case <-stop:
		case <-t.C:
		}
		t.Stop()
	}
	f.waiters.Add(-1)
}

// kick wakes waiting publishers; subscribers call it after each read.
func (f *flow) kick() {
	if f.draining.Load() {
		select {
		case f.drained <- struct{}{}:
		default:
		}
	}
	if f.waiters.Load() == 0 {
		return
	}
	for _, w := range f.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// subscriber is one subscribing session.
type subscriber struct {
	c       *conn
	f       *flow
	pc      *payloadCheck // nil: stamps only
	seen    *paddedCounter
	from    int64    // record latencies of events sent at or after this time
	expect  []uint64 // next sequence number per publisher
	missing []missingSeqs
	n       int64 // distinct events seen (duplicates excluded)
	gaps    int64 // sequence numbers skipped and not seen since
	ooo     int64 // events that arrived after a later one of their publisher
	dups    int64 // events seen before
	corrupt int64 // events whose payload is not the one sent
	errs    int64
	foreign int64 // events without a stamp, or from no publisher of the run
	hist    Histogram
	err     error       // why the loop ended, published by dead
	dead    atomic.Bool // the loop has ended
}

func (s *subscriber) onMessage(c *conn, msg []byte) error {
	t, _, decoded, err := c.kind(msg)
	if err != nil {
		return err
	}
	switch t {
	case codec.EVENT:
		src, seq, ts, err := c.checkStamp(msg, decoded, s.pc)
		if err == errCorrupt {
			s.corrupt++
		} else if err != nil {
			s.foreign++
			return nil
		}
		if src == probeSrc && len(s.expect) < probeSrc {
			return nil // a late probe of a cross-node run (cross.go)
		}
		if src >= len(s.expect) {
			s.foreign++
			return nil
		}
		fresh, late, skipped := see(&s.expect[src], &s.missing, src, len(s.expect), seq)
		if !fresh {
			s.dups++
			return nil
		}
		s.n++
		s.gaps += int64(skipped)
		if late {
			s.ooo++
			s.gaps--
		}
		if ts >= s.from {
			s.hist.Record(c.now - ts)
		}
	case codec.ERROR:
		s.errs++
	case codec.ABORT, codec.GOODBYE:
		return errClosed
	}
	return nil
}

func (s *subscriber) loop(stopping *atomic.Bool) {
	s.c.readLoop(stopping, &s.err, func(err error) error {
		s.seen.v.Store(s.n)
		s.f.kick()
		return err
	})
	s.dead.Store(true)
	s.f.kick()
}

// publisher is one publishing session. Its loop writes; a second goroutine
// reads whatever the router sends it (errors, pings).
type publisher struct {
	c       *conn
	idx     int
	t       *template
	seq     uint64
	written atomic.Int64
	errs    atomic.Int64
	err     error
	rerr    error
}

func (p *publisher) loop(r *run, f *flow, t0 int64) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := int64(r.cfg.Batch)
	perPub := r.cfg.Rate / float64(r.cfg.Publishers)
	for !r.stopping.Load() {
		k := batch
		if perPub > 0 {
			due := int64(float64(r.clk.now()-t0)*perPub/1e9) - int64(p.seq)
			if due <= 0 {
				next := t0 + int64(float64(p.seq+1)*1e9/perPub)
				r.sleepUntil(context.Background(), next)
				continue
			}
			if due < k {
				k = due
			}
		}
		g := f.reserve(k)
		if g == 0 {
			if f.exhausted() {
				return
			}
			f.wait(p.idx, timer, r.stopCh)
			continue
		}
		ts := r.clk.now()
		for i := int64(0); i < g; i++ {
			p.c.appendTemplate(p.t, p.idx, p.seq, ts)
			p.seq++
		}
		if err := p.c.flush(); err != nil {
			if !r.stopping.Load() {
				p.err = fmt.Errorf("publisher %d: %w", p.idx, err)
			}
			return
		}
		p.written.Add(g)
	}
}

// onMessage handles what a publisher receives: nothing, normally.
func (p *publisher) onMessage(c *conn, msg []byte) error {
	t, _, _, err := c.kind(msg)
	if err != nil {
		return err
	}
	switch t {
	case codec.ERROR:
		p.errs.Add(1)
	case codec.ABORT, codec.GOODBYE:
		return errClosed
	}
	return nil
}

// readBufferFor sizes read buffers: big when there are few connections.
func readBufferFor(conns int) int {
	if conns <= 64 {
		return hotReadBuffer
	}
	return 64 << 10
}

// RunPubSub runs the pubsub mode: cfg.Publishers publish to one topic that
// cfg.Subscribers subscribe to, under the window flow control (lossless)
// or flat out, and reports rates, losses and latencies.
func RunPubSub(ctx context.Context, cfg Config) (*Result, error) {
	r, err := newRun("pubsub", cfg)
	if err != nil {
		return nil, err
	}
	cfg = r.cfg
	pt, err := newTemplate(r.t.Format, codec.Message{Type: codec.PUBLISH, URI: []byte(cfg.Topic)}, cfg.Payload)
	if err != nil {
		return nil, err
	}
	pc, err := newPayloadCheck(r.t.Format, cfg.Payload)
	if err != nil {
		return nil, err
	}
	rbuf := readBufferFor(cfg.Publishers + cfg.Subscribers)
	f := &flow{window: int64(cfg.Window), limit: cfg.Count, drained: make(chan struct{}, 1)}

	subs := make([]*subscriber, cfg.Subscribers)
	pubs := make([]*publisher, cfg.Publishers)
	closeAll := func() {
		for _, s := range subs {
			if s != nil {
				s.c.close()
			}
		}
		for _, p := range pubs {
			if p != nil {
				p.c.close()
			}
		}
	}
	// Subscribers first, so that no event is published before every
	// subscription exists.
	err = parallel(cfg.Subscribers, cfg.Concurrency, func(i int) error {
		c, err := r.connectSub(ctx, i, rbuf)
		if err != nil {
			return err
		}
		if _, err := c.subscribe(cfg.Topic); err != nil {
			c.nc.Close()
			return err
		}
		subs[i] = &subscriber{c: c, f: f, pc: pc, seen: new(paddedCounter), expect: make([]uint64, cfg.Publishers)}
		return nil
	})
	if err == nil {
		err = parallel(cfg.Publishers, cfg.Concurrency, func(i int) error {
			c, err := r.connect(ctx, rbuf)
			if err != nil {
				return err
			}
			pubs[i] = &publisher{c: c, idx: i, t: pt}
			return nil
		})
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	f.seen = make([]*paddedCounter, len(subs))
	for i, s := range subs {
		f.seen[i] = s.seen
	}
	f.wakes = make([]chan struct{}, len(pubs))
	for i := range f.wakes {
		f.wakes[i] = make(chan struct{}, 1)
	}
	if len(r.subT) > 0 {
		if err := probePubSub(ctx, r, pubs[0].c, pt, subs); err != nil {
			closeAll()
			return nil, err
		}
	}

	res := r.result()
	t0 := r.clk.now()
	measureFrom := t0 + int64(cfg.Warmup)
	var subWG, pubWG, readWG sync.WaitGroup
	for _, s := range subs {
		s.from = measureFrom
		if err := s.c.setSink(s); err != nil {
			s.err = err
		}
		subWG.Add(1)
		go func() { defer subWG.Done(); s.loop(&r.stopping) }()
	}
	for _, p := range pubs {
		if err := p.c.setSink(p); err != nil {
			p.rerr = err
		}
		readWG.Add(1)
		go func() { defer readWG.Done(); p.c.readLoop(&r.stopping, &p.rerr, nil) }()
	}
	written := func() (n int64) {
		for _, p := range pubs {
			n += p.written.Load()
		}
		return n
	}
	delivered := func() (n int64) {
		for _, s := range subs {
			n += s.seen.v.Load()
		}
		return n
	}
	failed := func() error {
		for _, s := range subs {
			if s.dead.Load() && s.err != nil {
				return s.err
			}
		}
		return nil
	}
	// drained reports whether every subscriber still reading has seen
	// total events.
	drained := func(total int64) bool {
		for _, s := range subs {
			if !s.dead.Load() && s.seen.v.Load() < total {
				return false
			}
		}
		return true
	}

	var a sample
	if cfg.Count > 0 {
		a = r.begin(0, 0)
	}
	for _, p := range pubs {
		pubWG.Add(1)
		go func() { defer pubWG.Done(); p.loop(r, f, t0) }()
	}
	pubsDone := make(chan struct{})
	go func() { pubWG.Wait(); close(pubsDone) }()

	counts := func() (int64, int64) { return written(), delivered() }
	a, b, cut := r.measure(ctx, t0, a, pubsDone, counts, "publishes", func(age, pubRate, delRate float64) string {
		r.progressf("%5.1fs  %s publishes/s  %s deliveries/s", age, human(pubRate), human(delRate))
		if err := failed(); err != nil && cfg.Window > 0 {
			// With flow control a dead subscriber stalls everyone.
			return "a subscriber failed: " + err.Error()
		}
		return ""
	})
	r.stop()
	for _, p := range pubs {
		// A publisher blocked in Write (flat out, router not reading) must
		// notice the stop; one that is merely slow finishes its batch, so
		// that every publish counted was written whole.
		_ = p.c.nc.SetWriteDeadline(time.Now().Add(cfg.Drain))
	}
	<-pubsDone

	// Drain: wait until every subscriber has seen every published event.
	total := written()
	f.draining.Store(true)
	drainTimer := time.NewTimer(cfg.Drain)
drain:
	for !drained(total) {
		select {
		case <-f.drained:
		case <-drainTimer.C:
			break drain
		case <-ctx.Done():
			break drain
		}
	}
	drainTimer.Stop()
	if cfg.Count > 0 {
		b = r.end(total, delivered())
	}
	closeAll()
	subWG.Wait()
	readWG.Wait()

	// Figures.
	res.Seconds = round3(float64(b.at-a.at) / 1e9)
	res.Publishes, res.Deliveries = b.sent-a.sent, b.done-a.done
	if res.Seconds > 0 {
		res.PublishRate = round3(float64(res.Publishes) / (float64(b.at-a.at) / 1e9))
		res.DeliveryRate = round3(float64(res.Deliveries) / (float64(b.at-a.at) / 1e9))
	}
	res.TotalPublishes = total
	var h Histogram
	var foreign int64
	for i, s := range subs {
		res.TotalDelivered += s.n
		res.Gaps += s.gaps
		res.OutOfOrder += s.ooo
		res.Duplicates += s.dups
		res.Corrupt += s.corrupt
		res.Errors += s.errs
		foreign += s.foreign
		h.Merge(&s.hist)
		if s.err != nil {
			res.note("subscriber %d: %v", i, describe(s.err))
		}
	}
	for _, p := range pubs {
		res.Errors += p.errs.Load()
		if p.err != nil {
			res.note("%v", describe(p.err))
		}
		if p.rerr != nil {
			res.note("publisher %d read: %v", p.idx, describe(p.rerr))
		}
	}
	if foreign > 0 {
		res.note("%d events without the tool's stamp or from no publisher of the run", foreign)
	}
	res.Lost = total*int64(len(subs)) - res.TotalDelivered
	if res.Lost < 0 {
		res.note("subscribers saw %d events more than were fully written (a partial write at stop)", -res.Lost)
		res.Lost = 0
	}
	res.Latency = summarize(&h)
	r.cpuFigures(res, a, b)
	if cut != "" {
		res.note("%s", cut)
	}
	// Flat out, a router may drop events for a slow consumer: losses and
	// gaps are figures then, not failures. Duplicates, reordering and
	// altered payloads always are.
	res.Complete = cut == "" && len(res.Notes) == 0 && res.Errors == 0 &&
		res.Duplicates == 0 && res.OutOfOrder == 0 && res.Corrupt == 0 &&
		(cfg.Window == 0 || (res.Lost == 0 && res.Gaps == 0))
	if cfg.Window == 0 && res.Lost > 0 {
		res.note("flat out (--window 0): %d deliveries lost", res.Lost)
	}
	return res, nil
}

// describe shortens the errors a run commonly ends with.
func describe(err error) error {
	switch {
	case errors.Is(err, errClosed):
		return errors.New("the router closed the session")
	case errors.Is(err, io.EOF):
		return errors.New("the router closed the connection (EOF; a router may do that to a slow consumer)")
	}
	return err
}
