package client_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

const realm = "realm1"

// TestMain silences the default logger: several tests make handlers panic
// on purpose, and the client logs each panic with its stack.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// waitLong bounds waits for things that must happen; it is a safety net
// against hanging tests, never a measure of speed.
const waitLong = 10 * time.Second

func newRouter(t testing.TB) *core.Router {
	t.Helper()
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: realm}}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// join connects a client to r speaking f and closes it at the end of the test.
func join(t testing.TB, r *core.Router, f codec.Format) *client.Client {
	t.Helper()
	c, err := client.ConnectLocal(r, client.Config{Realm: realm, Serializer: f})
	if err != nil {
		t.Fatalf("join (%v): %v", f, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recvT waits for a value on ch or fails the test.
func recvT[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLong):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// wampError asserts err is an *client.Error with uri.
func wampError(t testing.TB, err error, uri string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *client.Error %s, got %T %v", uri, err, err)
	}
	if e.URI != uri {
		t.Fatalf("want error %s, got %s (%v)", uri, e.URI, e)
	}
	return e
}

func must(t testing.TB, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf(format, args...)
	}
}

func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds, failing after waitLong.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkNoLeak records the goroutine count and, at cleanup, waits until it
// is back to it. Cleanups run last-in first-out, so call it before creating
// anything that has cleanups of its own.
func checkNoLeak(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLong)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutines: %d, baseline %d\n%s", runtime.NumGoroutine(), base, buf[:n])
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// pipe is a scripted router: the test reads what the client sends and
// writes what a router would answer, as Go values.
type pipe struct {
	t        testing.TB
	f        codec.Format
	toRouter chan []byte
	toClient chan []byte
	closed   chan struct{}
	once     sync.Once
}

func newPipe(t testing.TB, f codec.Format) *pipe {
	return &pipe{t: t, f: f, toRouter: make(chan []byte, 64), toClient: make(chan []byte, 64), closed: make(chan struct{})}
}

func (p *pipe) Send(msg []byte) error {
	b := append([]byte(nil), msg...)
	select {
	case p.toRouter <- b:
		return nil
	case <-p.closed:
		return net.ErrClosed
	}
}

func (p *pipe) Recv() ([]byte, error) {
	select {
	case b := <-p.toClient:
		return b, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipe) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// joined is the outcome of a client.New run by startNew.
type joined struct {
	c   *client.Client
	err error
}

// startNew runs client.New over p in a goroutine, so that the test can
// play the router's side of the join; the outcome arrives on the channel.
func (p *pipe) startNew(cfg client.Config) <-chan joined {
	done := make(chan joined, 1)
	go func() {
		c, err := client.New(p, cfg)
		done <- joined{c, err}
	}()
	return done
}

// send writes one message from the "router".
func (p *pipe) send(v ...any) {
	p.t.Helper()
	b, err := codec.AppendGo(nil, p.f, v)
	if err != nil {
		p.t.Fatalf("encode %v: %v", v, err)
	}
	p.toClient <- b
}

// expect reads the next message from the client and checks its type.
func (p *pipe) expect(typ codec.Type) []any {
	p.t.Helper()
	select {
	case b := <-p.toRouter:
		v, err := codec.ToGo(codec.Raw{Format: p.f, Bytes: b})
		if err != nil {
			p.t.Fatalf("client sent undecodable %q: %v", b, err)
		}
		l := v.([]any)
		if got := codec.Type(asInt(p.t, l[0])); got != typ {
			p.t.Fatalf("want %v from the client, got %v", typ, l)
		}
		return l
	case <-time.After(waitLong):
		p.t.Fatalf("client sent no %v", typ)
	}
	return nil
}

// welcome answers HELLO with WELCOME announcing the given dealer features.
func (p *pipe) welcome(id uint64, dealerFeatures map[string]any) {
	p.send(codec.WELCOME, id, map[string]any{
		"roles": map[string]any{
			"broker": map[string]any{},
			"dealer": map[string]any{"features": dealerFeatures},
		},
	})
}

func asInt(t testing.TB, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case int64:
		return x
	case uint64:
		return int64(x)
	}
	t.Fatalf("not an integer: %#v", v)
	return 0
}

var formats = []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR}

func eachFormat(t *testing.T, fn func(t *testing.T, f codec.Format)) {
	for _, f := range formats {
		t.Run(f.String(), func(t *testing.T) { fn(t, f) })
	}
}
