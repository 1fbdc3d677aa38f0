package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

// quietLog drops the clients' logs: the soak provokes closes on purpose.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// load runs the workloads; see the package comment.
type load struct {
	urls []string
	addr string
	wg   sync.WaitGroup

	mu         sync.Mutex
	persistent []*client.Client // closed by closeAll
	fan        []*fanSub
	next       atomic.Uint64 // rotates transports and serializers
}

// pick returns the next (url, serializer) pair: every transport with every
// serializer in turn.
func (l *load) pick() (string, codec.Format) {
	n := l.next.Add(1)
	return l.urls[n%uint64(len(l.urls))], formats[(n/uint64(len(l.urls)))%uint64(len(formats))]
}

func (l *load) keep(c *client.Client) {
	l.mu.Lock()
	l.persistent = append(l.persistent, c)
	l.mu.Unlock()
}

func (l *load) join(ctx context.Context) (*client.Client, error) {
	url, f := l.pick()
	c, err := connect(ctx, url, f)
	if err != nil {
		return nil, fmt.Errorf("join over %s (%s): %w", url, f.Subprotocol(), err)
	}
	return c, nil
}

func (l *load) start(ctx context.Context) error {
	if err := l.startFan(ctx); err != nil {
		return err
	}
	if err := l.startRPC(ctx); err != nil {
		return err
	}
	if err := l.startDying(ctx); err != nil {
		return err
	}
	for i := 0; i < *churners; i++ {
		l.spawn(func() { l.churn(ctx, i) })
	}
	l.startSlow(ctx)
	return nil
}

func (l *load) spawn(fn func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn()
	}()
}

func (l *load) wait() { l.wg.Wait() }

func (l *load) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.persistent {
		_ = c.Close()
	}
	l.persistent = nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pubsub 1→N.

type fanSub struct {
	mu   sync.Mutex
	last int64 // last sequence number seen
	bad  int64 // gaps, repeats, reorders, bad payloads
}

func (l *load) startFan(ctx context.Context) error {
	for i := 0; i < *fanSubs; i++ {
		c, err := l.join(ctx)
		if err != nil {
			return err
		}
		l.keep(c)
		fs := &fanSub{}
		l.fan = append(l.fan, fs)
		if _, err := c.Subscribe("soak.fan", func(ev *client.Event) {
			fs.mu.Lock()
			defer fs.mu.Unlock()
			seq, ok := int64(0), len(ev.Args) == 2
			if ok {
				seq, ok = toInt(ev.Args[0])
			}
			if ok {
				s, _ := ev.Args[1].(string)
				ok = s == fanPayload(seq)
			}
			if !ok || seq != fs.last+1 {
				fs.bad++
				if fs.bad <= 3 {
					fail.add("fan subscriber %d: event %v after %d", i, ev.Args, fs.last)
				}
			}
			if ok {
				fs.last = seq
			}
			fanDelivered.Add(1)
		}, nil); err != nil {
			return fmt.Errorf("fan subscribe: %w", err)
		}
	}
	pub, err := l.join(ctx)
	if err != nil {
		return err
	}
	l.keep(pub)
	l.spawn(func() {
		tick := time.NewTicker(time.Second / time.Duration(*fanRate))
		defer tick.Stop()
		for seq := int64(1); ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := pub.Publish("soak.fan", []any{seq, fanPayload(seq)}, nil, &client.PublishOptions{Acknowledge: true})
			if err != nil {
				fail.add("fan publish %d: %v", seq, err)
				return
			}
			published.Store(seq)
		}
	})
	return nil
}

func fanPayload(seq int64) string { return fmt.Sprintf("fan-%d", seq) }

// drainFan waits until every fan subscriber has seen every publication.
func (l *load) drainFan() {
	want := published.Load()
	deadline := time.Now().Add(60 * time.Second)
	for {
		behind := 0
		for _, fs := range l.fan {
			fs.mu.Lock()
			if fs.last != want {
				behind++
			}
			fs.mu.Unlock()
		}
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			fail.add("fan: %d of %d subscribers did not get all %d publications", behind, len(l.fan), want)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, fs := range l.fan {
		if fs.bad > 0 {
			fail.add("fan subscriber %d: %d events out of order, repeated or malformed", i, fs.bad)
		}
	}
}

// RPC with progressive results.

const progressParts = 5

func (l *load) startRPC(ctx context.Context) error {
	handler := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		if inv.Progress == nil || len(inv.Args) != 1 {
			return nil, &client.Error{URI: "soak.error.bad_call"}
		}
		for i := 0; i < progressParts; i++ {
			if err := inv.Progress([]any{i}, nil); err != nil {
				return nil, err
			}
		}
		return &client.Result{Args: []any{inv.Args[0]}}, nil
	}
	for i := 0; i < 2; i++ {
		c, err := l.join(ctx)
		if err != nil {
			return err
		}
		l.keep(c)
		if _, err := c.Register("soak.rpc", handler, &client.RegisterOptions{Invoke: "roundrobin"}); err != nil {
			return fmt.Errorf("register soak.rpc: %w", err)
		}
	}
	for i := 0; i < *rpcCallers; i++ {
		c, err := l.join(ctx)
		if err != nil {
			return err
		}
		l.keep(c)
		l.spawn(func() {
			for k := int64(0); sleepCtx(ctx, 20*time.Millisecond); k++ {
				var parts []int64
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res, err := c.Call(cctx, "soak.rpc", []any{k}, nil, &client.CallOptions{OnProgress: func(r *client.Result) {
					if len(r.Args) == 1 {
						if v, ok := toInt(r.Args[0]); ok {
							parts = append(parts, v)
						}
					}
				}})
				cancel()
				if err != nil {
					fail.add("rpc caller %d call %d: %v", i, k, err)
					continue
				}
				ok := len(parts) == progressParts && len(res.Args) == 1
				for j, v := range parts {
					ok = ok && v == int64(j)
				}
				if ok {
					v, _ := toInt(res.Args[0])
					ok = v == k
				}
				if !ok {
					fail.add("rpc caller %d call %d: progress %v, result %v", i, k, parts, res.Args)
				}
				rpcCalls.Add(1)
				rpcProgress.Add(int64(len(parts)))
			}
		})
	}
	return nil
}

// Joins and leaves churning.

func (l *load) churn(ctx context.Context, w int) {
	topic := fmt.Sprintf("soak.churn.%d", w)
	for n := 0; ctx.Err() == nil; n++ {
		url, f := l.pick()
		c, t, err := dial(ctx, url, f)
		if err != nil {
			if ctx.Err() == nil {
				fail.add("churn join over %s (%s): %v", url, f.Subprotocol(), err)
			}
			return
		}
		churnJoins.Add(1)
		if err := l.roundTrip(ctx, c, topic, fmt.Sprintf("%s.%d", topic, n)); err != nil && ctx.Err() == nil {
			fail.add("churn round trip: %v", err)
		}
		if n%4 == 3 {
			_ = t.Close() // dies: no GOODBYE, the socket just closes
			churnKills.Add(1)
		} else if err := c.Close(); err != nil && ctx.Err() == nil {
			fail.add("churn GOODBYE: %v", err)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return
		}
	}
}

// roundTrip subscribes, registers, publishes to itself and calls itself.
func (l *load) roundTrip(ctx context.Context, c *client.Client, topic, proc string) error {
	got := make(chan struct{}, 1)
	if _, err := c.Subscribe(topic, func(*client.Event) {
		select {
		case got <- struct{}{}:
		default:
		}
	}, nil); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if _, err := c.Register(proc, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	no := false
	if err := c.Publish(topic, []any{"self"}, nil, &client.PublishOptions{Acknowledge: true, ExcludeMe: &no}); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		return errors.New("own event lost")
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	res, err := c.Call(cctx, proc, []any{"x"}, nil, nil)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	if len(res.Args) != 1 || res.Args[0] != "x" {
		return fmt.Errorf("call result %v", res.Args)
	}
	churnRoundtps.Add(1)
	return nil
}

// Clients dying mid-call.

func (l *load) startDying(ctx context.Context) error {
	// A callee that takes its time, for callers that die while waiting.
	slow, err := l.join(ctx)
	if err != nil {
		return err
	}
	l.keep(slow)
	if _, err := slow.Register("soak.slow", func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
		return &client.Result{}, nil
	}, nil); err != nil {
		return fmt.Errorf("register soak.slow: %w", err)
	}
	for w := 0; w < 2; w++ {
		l.spawn(func() {
			for ctx.Err() == nil {
				url, f := l.pick()
				c, t, err := dial(ctx, url, f)
				if err != nil {
					if ctx.Err() == nil {
						fail.add("dying caller join: %v", err)
					}
					return
				}
				go func() { _, _ = c.Call(context.Background(), "soak.slow", nil, nil, nil) }()
				sleepCtx(ctx, 100*time.Millisecond)
				_ = t.Close()
				<-c.Done()
				dyingCallers.Add(1)
				sleepCtx(ctx, 100*time.Millisecond)
			}
		})
	}

	// Callees that die on INVOCATION: their callers must hear
	// wamp.error.canceled.
	caller, err := l.join(ctx)
	if err != nil {
		return err
	}
	l.keep(caller)
	for w := 0; w < 2; w++ {
		l.spawn(func() {
			for n := 0; ctx.Err() == nil; n++ {
				url, f := l.pick()
				c, t, err := dial(ctx, url, f)
				if err != nil {
					if ctx.Err() == nil {
						fail.add("dying callee join: %v", err)
					}
					return
				}
				proc := fmt.Sprintf("soak.dying.%d.%d", w, n)
				if _, err := c.Register(proc, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
					_ = t.Close()
					<-ctx.Done()
					return nil, ctx.Err()
				}, nil); err != nil {
					fail.add("dying callee register: %v", err)
					_ = t.Close()
					continue
				}
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err = caller.Call(cctx, proc, nil, nil, nil)
				cancel()
				var we *client.Error
				if errors.As(err, &we) && we.URI == "wamp.error.canceled" {
					canceledSeen.Add(1)
				} else {
					fail.add("call to a callee that died: got %v, want wamp.error.canceled", err)
				}
				<-c.Done()
				dyingCallees.Add(1)
				sleepCtx(ctx, 100*time.Millisecond)
			}
		})
	}
	return nil
}

// Slow consumers: raw RawSocket sessions (JSON) that subscribe to the flood
// topic and never read again. The router must close them once their pending
// output passes its limit; they give up after 20 s in any case and start over.

func (l *load) startSlow(ctx context.Context) {
	if *slowSubs == 0 {
		return
	}
	l.spawn(func() {
		url, f := l.pick()
		pub, err := connect(ctx, url, f)
		if err != nil {
			fail.add("flood publisher: %v", err)
			return
		}
		defer pub.Close()
		payload := strings.Repeat("x", 16<<10)
		tick := time.NewTicker(time.Second / time.Duration(*floodRate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := pub.Publish("soak.flood", []any{payload}, nil, nil); err != nil {
				fail.add("flood publish: %v", err)
				return
			}
			floodPublished.Add(1)
		}
	})
	for i := 0; i < *slowSubs; i++ {
		l.spawn(func() {
			for ctx.Err() == nil {
				if err := slowConsumer(ctx, l.addr); err != nil && ctx.Err() == nil {
					fail.add("slow consumer: %v", err)
					return
				}
				slowCycles.Add(1)
			}
		})
	}
}

func slowConsumer(ctx context.Context, addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	// RawSocket handshake: JSON (1), max length 2^24.
	if _, err := conn.Write([]byte{0x7f, 0xf1, 0, 0}); err != nil {
		return err
	}
	var hs [4]byte
	if _, err := io.ReadFull(conn, hs[:]); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	frame := func(msg string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
		return append(b, msg...)
	}
	hello := `[1,"realm1",{"roles":{"subscriber":{}}}]`
	sub := `[32,1,{},"soak.flood"]`
	if _, err := conn.Write(append(frame(hello), frame(sub)...)); err != nil {
		return err
	}
	// Read the WELCOME, then stop reading for good.
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(hdr[:])&0xffffff)); err != nil {
		return fmt.Errorf("welcome: %w", err)
	}
	sleepCtx(ctx, 20*time.Second)
	return nil
}
