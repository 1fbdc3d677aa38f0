package core_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/codectest"
)

// peer is a raw WAMP peer on an in-process connection: tests write
// messages as Go lists and read them back decoded, so they exercise the
// router exactly as a socket client would.
type peer struct {
	t  testing.TB
	l  *core.Local
	f  codec.Format
	id uint64 // session id after join
	rq uint64 // last request id used
}

func newRouter(t testing.TB, cfg core.Config) *core.Router {
	t.Helper()
	if len(cfg.Realms) == 0 {
		cfg.Realms = []core.RealmConfig{{Name: "realm1"}}
	}
	r, err := core.NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func connect(t testing.TB, r *core.Router, f codec.Format) *peer {
	return &peer{t: t, l: r.ConnectLocal(f), f: f}
}

// join connects and joins realm1 with all four client roles.
func join(t testing.TB, r *core.Router, f codec.Format) *peer {
	t.Helper()
	p := connect(t, r, f)
	p.hello("realm1", nil)
	w := p.expect(codec.WELCOME)
	p.id = asID(t, w[1])
	return p
}

var allRoles = map[string]any{
	"publisher": map[string]any{}, "subscriber": map[string]any{},
	"caller": map[string]any{"features": map[string]any{"progressive_call_results": true}},
	"callee": map[string]any{"features": map[string]any{"progressive_call_results": true}},
}

func (p *peer) hello(realm string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	if _, ok := details["roles"]; !ok {
		details["roles"] = allRoles
	}
	p.rq = 0
	p.send(codec.HELLO, realm, details)
}

// req returns the next sequential request id.
func (p *peer) req() uint64 { p.rq++; return p.rq }

// send writes one message built from Go values.
func (p *peer) send(v ...any) {
	p.t.Helper()
	msg, err := codec.AppendGo(nil, p.f, v)
	if err != nil {
		p.t.Fatalf("encode %v: %v", v, err)
	}
	_ = p.l.Write(msg)
}

// sendRaw writes bytes as they are.
func (p *peer) sendRaw(b []byte) { _ = p.l.Write(b) }

// recv returns the next message, waiting up to a second for asynchronous
// deliveries; ok is false when none arrived.
func (p *peer) recv() ([]any, bool) {
	p.t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		if msg, ok := p.l.TryRead(); ok {
			v, err := codec.ToGo(codec.Raw{Format: p.f, Bytes: msg})
			if err != nil {
				p.t.Fatalf("router sent undecodable %x: %v", msg, err)
			}
			return v.([]any), true
		}
		if time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(time.Millisecond)
	}
}

// expect reads the next message and checks its type.
func (p *peer) expect(t codec.Type) []any {
	p.t.Helper()
	m, ok := p.recv()
	if !ok {
		p.t.Fatalf("want %v, got nothing", t)
	}
	if got := codec.Type(asID(p.t, m[0])); got != t {
		p.t.Fatalf("want %v, got %v %v", t, got, m)
	}
	return m
}

// expectError reads an ERROR and checks request type, id and URI.
func (p *peer) expectError(reqType codec.Type, req uint64, uri string) []any {
	p.t.Helper()
	m := p.expect(codec.ERROR)
	if codec.Type(asID(p.t, m[1])) != reqType || asID(p.t, m[2]) != req || m[4] != uri {
		p.t.Fatalf("want ERROR %v %d %s, got %v", reqType, req, uri, m)
	}
	return m
}

// expectAbort reads an ABORT with reason.
func (p *peer) expectAbort(reason string) []any {
	p.t.Helper()
	m := p.expect(codec.ABORT)
	if m[2] != reason {
		p.t.Fatalf("want ABORT %s, got %v", reason, m)
	}
	return m
}

// quiet asserts nothing more arrives within a short while.
func (p *peer) quiet() {
	p.t.Helper()
	time.Sleep(5 * time.Millisecond)
	if msg, ok := p.l.TryRead(); ok {
		v, _ := codec.ToGo(codec.Raw{Format: p.f, Bytes: msg})
		p.t.Fatalf("unexpected message %v", v)
	}
}

// closed reports whether the router closed the connection.
func (p *peer) closed() bool { return p.l.Closed() }

func (p *peer) subscribe(topic string, opts map[string]any) uint64 {
	p.t.Helper()
	if opts == nil {
		opts = map[string]any{}
	}
	rq := p.req()
	p.send(codec.SUBSCRIBE, rq, opts, topic)
	m := p.expect(codec.SUBSCRIBED)
	if asID(p.t, m[1]) != rq {
		p.t.Fatalf("SUBSCRIBED for %v, want %d", m[1], rq)
	}
	return asID(p.t, m[2])
}

func (p *peer) register(proc string, opts map[string]any) uint64 {
	p.t.Helper()
	if opts == nil {
		opts = map[string]any{}
	}
	rq := p.req()
	p.send(codec.REGISTER, rq, opts, proc)
	m := p.expect(codec.REGISTERED)
	if asID(p.t, m[1]) != rq {
		p.t.Fatalf("REGISTERED for %v, want %d", m[1], rq)
	}
	return asID(p.t, m[2])
}

func asID(t testing.TB, v any) uint64 {
	t.Helper()
	switch x := v.(type) {
	case int64:
		return uint64(x)
	case uint64:
		return x
	}
	t.Fatalf("not an id: %#v", v)
	return 0
}

func dictOf(t testing.TB, v any) map[string]any {
	t.Helper()
	d, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not a dict: %#v", v)
	}
	return d
}

func must(t testing.TB, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf(format, args...)
	}
}

var formats = []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR}

func eachFormat(t *testing.T, fn func(t *testing.T, f codec.Format)) {
	for _, f := range formats {
		t.Run(fmt.Sprint(f), func(t *testing.T) { fn(t, f) })
	}
}

func equalValues(a, b any) bool { return codectest.EqualValues(a, b) }
