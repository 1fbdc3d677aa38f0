package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// Cross-node runs (--sub-url): the publishers or callers on one router,
// the subscribers or callees on others, typically nodes of one cluster. A
// cluster learns of a subscription or a registration on another node
// asynchronously, so a run that started at once could lose its first
// events or see its first calls fail for a reason that is no part of what
// is measured. Before the load starts, probes go from the sending side
// until every receiver has one: a publication (or call) stamped with
// source probeSrc, which no publisher or caller of a run uses, and which
// every receiver ignores, also when a late one arrives during the run.

// probeSrc is the stamp source of probes.
const probeSrc = MaxSources - 1

// probeTimeout bounds the wait for a cluster to route the probes.
const probeTimeout = 30 * time.Second

// probeSink is a subscriber's sink while probes are awaited: it notes a
// probe and drops anything else (nothing else is published yet).
type probeSink struct{ seen atomic.Bool }

func (p *probeSink) onMessage(c *conn, msg []byte) error {
	t, _, decoded, err := c.kind(msg)
	if err != nil {
		return err
	}
	switch t {
	case codec.EVENT:
		if src, _, _, err := c.readStamp(msg, decoded); err == nil && src == probeSrc {
			p.seen.Store(true)
		}
	case codec.ABORT, codec.GOODBYE:
		return errClosed
	}
	return nil
}

// probePubSub publishes probes from pub every 20 ms until every subscriber
// has seen one. It runs before the load loops: it reads the subscribers'
// connections itself and hands them back with no read deadline.
func probePubSub(ctx context.Context, r *run, pub *conn, pt *template, subs []*subscriber) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	sinks := make([]*probeSink, len(subs))
	var left atomic.Int64
	left.Store(int64(len(subs)))
	done := make(chan error, len(subs))
	for i, s := range subs {
		sinks[i] = &probeSink{}
		if err := s.c.setSink(sinks[i]); err != nil {
			return err
		}
		go func() {
			defer func() { _ = s.c.nc.SetReadDeadline(time.Time{}) }()
			for !sinks[i].seen.Load() {
				if ctx.Err() != nil {
					done <- ctx.Err()
					return
				}
				_ = s.c.nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if err := s.c.readOnce(); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					done <- fmt.Errorf("subscriber %d: %w", i, err)
					return
				}
			}
			left.Add(-1)
			done <- nil
		}()
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var firstErr error
	for pending, seq := len(subs), uint64(0); pending > 0; {
		if left.Load() > 0 && firstErr == nil {
			pub.appendTemplate(pt, probeSrc, seq, r.clk.now())
			seq++
			if err := pub.flush(); err != nil {
				firstErr = fmt.Errorf("publish probe: %w", err)
				cancel()
			}
		}
		select {
		case err := <-done:
			pending--
			if err != nil && firstErr == nil {
				firstErr = err
				cancel()
			}
		case <-tick.C:
		}
	}
	if firstErr != nil {
		return fmt.Errorf("bench: waiting for the subscribers on --sub-url to receive from --url: %w", firstErr)
	}
	return nil
}

// probeRPC calls the procedure from k's connection, before its load loop,
// until a call is answered with a RESULT (the callees' loops must be
// running); ERRORs (no such procedure yet) are retried every 20 ms.
func probeRPC(ctx context.Context, r *run, k *caller) error {
	deadline := time.Now().Add(probeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c := k.c
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	for seq := uint64(0); ; seq++ {
		c.appendTemplate(k.t, probeSrc, seq, r.clk.now())
		id := c.req
		if err := c.flush(); err != nil {
			return fmt.Errorf("bench: probe call: %w", err)
		}
		_ = c.nc.SetReadDeadline(deadline)
		for {
			m, err := c.next()
			if err != nil {
				return fmt.Errorf("bench: waiting for the callees on --callee-url to answer a call from --url: %w", err)
			}
			if m.Type == codec.RESULT && m.Request == id {
				return nil
			}
			if m.Type == codec.ERROR && m.Request == id {
				break
			}
			if m.Type == codec.ABORT || m.Type == codec.GOODBYE {
				return fmt.Errorf("bench: probe call: router sent %v %s", m.Type, m.URI)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeReady creates path holding n, for a script waiting for holders.
func writeReady(path string, n int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)+"\n"), 0o644); err != nil {
		return fmt.Errorf("bench: --ready-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bench: --ready-file: %w", err)
	}
	return nil
}

// hold waits, in a holder run (--hold), until every one of the n sessions
// has seen each of the --events events, or --hold passes.
func hold(ctx context.Context, r *run, cr *ConnsResult, fo *fanout, n int64) {
	deadline := time.Now().Add(r.cfg.Hold)
	all := func() bool {
		for e := range fo.got {
			if fo.got[e].Load() < n {
				return false
			}
		}
		return true
	}
	last := time.Now()
	for !all() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			got := make([]int64, len(fo.got))
			for e := range got {
				got[e] = fo.got[e].Load()
			}
			r.progressf("holding %d sessions; per event seen by %v", n, got)
		}
	}
	for e := range fo.got {
		g := fo.got[e].Load()
		cr.Got = append(cr.Got, g)
		cr.Missed = append(cr.Missed, int(n-g))
		cr.LastRxUnix = append(cr.LastRxUnix, fo.lastRx[e].Load())
	}
}

// holdDone completes a holder's result.
func holdDone(res *Result, cr *ConnsResult, live []*idleSession, tsOff bool) error {
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
	if tsOff {
		res.note("kernel receive timestamps unavailable on some sockets: last_rx_unix_ns is incomplete")
	}
	res.Complete = cr.Failed == 0 && missed == 0 && !tsOff
	return nil
}
