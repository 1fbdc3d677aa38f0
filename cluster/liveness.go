package cluster

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Liveness tracks which node instances are alive.
//
// Every instance publishes a heartbeat on zw.hb every Config.Heartbeat. A
// peer is alive from its first heartbeat on; it is dead once it has been
// silent for DeadAfter heartbeat intervals (1.5 s with the defaults; NATS's
// own route pings would take a minute to notice a silent death), or at once
// when its heartbeat says it is leaving (Engine.Close). A dead peer that
// is heard again (a healed partition, a stalled process) is alive again;
// one that left never is. While this process itself is stalled — its
// checks run late or its own heartbeats stop coming back — no peer is
// declared dead (see expire).
type Liveness struct {
	self      string
	nc        *nats.Conn
	log       *slog.Logger
	every     time.Duration
	deadAfter time.Duration

	mu        sync.Mutex
	peers     map[string]*peer
	selfSeen  time.Time                           // when this instance's own last heartbeat came back
	lastCheck time.Time                           // when expire last ran
	stalled   bool                                // the last check saw a local stall
	fns       []func(instance string, alive bool) // copy on write
	queue     []liveEvent
	wake      chan struct{}

	// pausedUntil (UnixNano) suppresses heartbeats, for tests of a node
	// falsely declared dead.
	pausedUntil atomic.Int64

	sub     *nats.Subscription
	stop    chan struct{}
	stopped bool
	wg      sync.WaitGroup
}

type peer struct {
	last  time.Time
	alive bool
	left  bool
}

// liveEvent is one OnChange delivery: (instance, alive) for each of fns,
// which is the list of callbacks registered when the change happened.
type liveEvent struct {
	instance string
	alive    bool
	fns      []func(string, bool)
}

// forgetAfter is how long a dead peer's entry is kept (so a late heartbeat
// of an instance that left is not taken for a new one).
const forgetAfter = 10 * time.Minute

func newLiveness(nc *nats.Conn, self string, every time.Duration, deadAfter int, log *slog.Logger) *Liveness {
	return &Liveness{
		self:      self,
		nc:        nc,
		log:       log,
		every:     every,
		deadAfter: every * time.Duration(deadAfter),
		peers:     make(map[string]*peer),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
		selfSeen:  time.Now(),
	}
}

// start subscribes to heartbeats, publishes the first one and starts the
// heartbeat and dispatch goroutines.
func (l *Liveness) start() error {
	sub, err := l.nc.Subscribe(subjHeartbeat, l.onHeartbeat)
	if err != nil {
		return err
	}
	l.sub = sub
	l.beat('a')
	l.wg.Add(2)
	go l.run()
	go l.dispatch()
	return nil
}

// beat publishes one heartbeat: 'a' (alive) or 'l' (leaving), then the
// instance.
func (l *Liveness) beat(kind byte) {
	b := make([]byte, 0, 2+len(l.self))
	b = append(b, kind, ' ')
	b = append(b, l.self...)
	if err := l.nc.Publish(subjHeartbeat, b); err != nil && kind == 'a' {
		l.log.Debug("cluster: heartbeat not sent", "err", err)
	}
}

// run publishes heartbeats and declares silent peers dead. It checks four
// times per interval, so a death is noticed at most a quarter interval
// late.
func (l *Liveness) run() {
	defer l.wg.Done()
	beat := time.NewTicker(l.every)
	defer beat.Stop()
	check := time.NewTicker(max(l.every/4, time.Millisecond))
	defer check.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-beat.C:
			if now.UnixNano() >= l.pausedUntil.Load() {
				l.beat('a')
			}
		case now := <-check.C:
			l.expire(now)
		}
	}
}

func (l *Liveness) expire(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A silent peer proves nothing while this process itself was stalled
	// (GC, CPU starvation, a stopped VM): its heartbeats may be waiting
	// to be read. Signs of a stall: this check ran late, or this
	// instance's own heartbeats (echoed by NATS) stopped arriving. Then
	// every alive peer gets a fresh DeadAfter from now instead of being
	// declared dead; a peer that really died is declared so that much
	// later. (Measured: under -race with the machine loaded, a whole-
	// process stall let a node declare its peer dead and reap a live
	// exclusive registration.)
	lateCheck := !l.lastCheck.IsZero() && now.Sub(l.lastCheck) > l.deadAfter/2
	deaf := now.Sub(l.selfSeen) > l.deadAfter
	l.lastCheck = now
	if lateCheck || deaf {
		if !l.stalled {
			l.log.Info("cluster: local stall, peers' silence ignored", "late_check", lateCheck, "own_heartbeat_age", now.Sub(l.selfSeen).Round(time.Millisecond))
		}
		l.stalled = true
		for _, p := range l.peers {
			if p.alive {
				p.last = now
			}
		}
		return
	}
	l.stalled = false
	for inst, p := range l.peers {
		silent := now.Sub(p.last)
		if p.alive && silent > l.deadAfter {
			p.alive = false
			l.log.Info("cluster: node instance dead (heartbeats stopped)", "instance", inst, "silent", silent.Round(time.Millisecond))
			l.enqueue(inst, false)
		} else if !p.alive && silent > forgetAfter {
			delete(l.peers, inst)
		}
	}
}

// onHeartbeat runs on the subscription's goroutine.
func (l *Liveness) onHeartbeat(m *nats.Msg) {
	d := m.Data
	if len(d) < 3 || d[1] != ' ' {
		return
	}
	inst := string(d[2:])
	now := time.Now()
	if inst == l.self {
		l.mu.Lock()
		l.selfSeen = now
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[inst]
	if p == nil {
		p = &peer{}
		l.peers[inst] = p
	}
	if p.left {
		return
	}
	p.last = now
	switch d[0] {
	case 'a':
		if !p.alive {
			p.alive = true
			l.enqueue(inst, true)
		}
	case 'l':
		p.left = true
		if p.alive {
			p.alive = false
			l.log.Info("cluster: node instance left", "instance", inst)
			l.enqueue(inst, false)
		}
	}
}

// enqueue queues a change for the dispatcher; l.mu is held.
func (l *Liveness) enqueue(inst string, alive bool) {
	if len(l.fns) == 0 {
		return
	}
	l.queue = append(l.queue, liveEvent{inst, alive, l.fns})
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// dispatch calls the OnChange callbacks, one event at a time, in order.
func (l *Liveness) dispatch() {
	defer l.wg.Done()
	for {
		select {
		case <-l.stop:
			return
		case <-l.wake:
		}
		for {
			l.mu.Lock()
			if len(l.queue) == 0 {
				l.queue = nil
				l.mu.Unlock()
				break
			}
			ev := l.queue[0]
			l.queue = l.queue[1:]
			l.mu.Unlock()
			for _, fn := range ev.fns {
				fn(ev.instance, ev.alive)
			}
		}
	}
}

// OnChange registers fn to be called when a peer instance becomes alive or
// dead. fn is first called (instance, true) for every peer alive at the
// time of registration, then once per change. Calls to every fn are made
// from one goroutine, in the order the changes happened; fn must not block
// for long (it delays the other callbacks, not the heartbeats). Only peers
// are reported, never this instance itself.
func (l *Liveness) OnChange(fn func(instance string, alive bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fns = append(slices.Clip(l.fns), fn)
	one := []func(string, bool){fn}
	for inst, p := range l.peers {
		if p.alive {
			l.queue = append(l.queue, liveEvent{inst, true, one})
		}
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Alive reports whether instance is alive: this instance, or a peer whose
// heartbeats arrive.
func (l *Liveness) Alive(instance string) bool {
	if instance == l.self {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[instance]
	return p != nil && p.alive
}

// Peers returns the alive instances other than this one, sorted.
func (l *Liveness) Peers() []string {
	l.mu.Lock()
	var out []string
	for inst, p := range l.peers {
		if p.alive {
			out = append(out, inst)
		}
	}
	l.mu.Unlock()
	slices.Sort(out)
	return out
}

// Self returns this process's instance.
func (l *Liveness) Self() string { return l.self }

// close stops heartbeats; if leave, it first tells the peers this
// instance is leaving, so they declare it dead at once.
func (l *Liveness) close(leave bool) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	l.mu.Unlock()
	if leave {
		l.beat('l')
		_ = l.nc.FlushTimeout(500 * time.Millisecond)
	}
	close(l.stop)
	l.wg.Wait()
	if l.sub != nil {
		_ = l.sub.Unsubscribe()
	}
}

// state reports whether instance has been heard of (and not forgotten),
// and whether it is alive.
func (l *Liveness) state(instance string) (known, alive bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[instance]
	return p != nil, p != nil && p.alive
}
