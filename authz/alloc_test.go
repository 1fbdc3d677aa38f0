package authz

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// rawPeer is a WAMP peer on an in-process connection that writes encoded
// messages itself, so a test measures the router and nothing else.
type rawPeer struct {
	t  testing.TB
	l  *core.Local
	rq uint64
}

func rawJoin(t testing.TB, r *core.Router, role string) *rawPeer {
	t.Helper()
	p := &rawPeer{t: t, l: r.ConnectLocalAs(codec.JSON, core.Identity{AuthID: role, AuthRole: role, AuthMethod: "test", AuthProvider: "test"})}
	p.send(codec.HELLO, testRealm, map[string]any{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}, "caller": map[string]any{}, "callee": map[string]any{}}})
	p.expect(codec.WELCOME)
	return p
}

func (p *rawPeer) req() uint64 { p.rq++; return p.rq }

func (p *rawPeer) send(v ...any) {
	p.t.Helper()
	msg, err := codec.AppendGo(nil, codec.JSON, v)
	if err != nil {
		p.t.Fatal(err)
	}
	_ = p.l.Write(msg)
}

// expect reads messages (waiting up to wait) until one of type want.
func (p *rawPeer) expect(want codec.Type) *codec.Message {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		b, ok := p.l.TryRead()
		if !ok {
			time.Sleep(time.Millisecond)
			continue
		}
		var m codec.Message
		if err := codec.ByFormat(codec.JSON).Decode(&m, b); err != nil {
			p.t.Fatal(err)
		}
		if m.Type == want {
			return &m
		}
		if m.Type == codec.ERROR || m.Type == codec.ABORT {
			p.t.Fatalf("got %s %s while waiting for %s", m.Type, m.URI, want)
		}
	}
	p.t.Fatalf("no %s within %v", want, wait)
	return nil
}

// hundredPermissions is a role of 100 permissions of all three policies,
// whose best match for com.app.<x> is the prefix com.app.
func hundredPermissions() []PermissionConfig {
	all := AllowConfig{Call: true, Register: true, Publish: true, Subscribe: true}
	var ps []PermissionConfig
	for i := 0; i < 40; i++ {
		ps = append(ps, PermissionConfig{URI: fmt.Sprintf("com.app.exact%d", i), Allow: all})
	}
	for i := 0; i < 39; i++ {
		ps = append(ps, PermissionConfig{URI: fmt.Sprintf("com.app.group%d.", i), Match: "prefix", Allow: all})
	}
	for i := 0; i < 20; i++ {
		ps = append(ps, PermissionConfig{URI: fmt.Sprintf("com.app..w%d", i), Match: "wildcard", Allow: all})
	}
	return append(ps, PermissionConfig{URI: "com.app.", Match: "prefix", Allow: all})
}

func allocRouter(t testing.TB) *core.Router {
	roles := []RoleConfig{
		{Name: "static100", Permissions: hundredPermissions()},
		{Name: "dynamic", Authorizer: "test.authorize", AuthorizerCache: &CacheConfig{TTL: "1h"}},
		{Name: "backend", Permissions: []PermissionConfig{everything}},
	}
	az, err := New(testRealm, roles, Options{Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: testRealm, Authorizer: az}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := az.Start(r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(az.Close)
	return r
}

// registerAllowAll registers test.authorize answering {allow, cache: true}
// from a raw peer served by a goroutine until the test ends.
func registerAllowAll(t testing.TB, r *core.Router) {
	t.Helper()
	p := rawJoin(t, r, "backend")
	p.send(codec.REGISTER, p.req(), map[string]any{}, "test.authorize")
	p.expect(codec.REGISTERED)
	t.Cleanup(p.l.Close)
	go func() {
		// Blocks in Read (no polling: the benchmarks count this
		// process's CPU time) until the cleanup closes the connection.
		jc := codec.ByFormat(codec.JSON)
		var m codec.Message
		for {
			b, err := p.l.Read()
			if err != nil {
				return
			}
			if jc.Decode(&m, b) == nil && m.Type == codec.INVOCATION {
				out, _ := codec.AppendGo(nil, codec.JSON, []any{codec.YIELD, m.Request, map[string]any{}, []any{map[string]any{"allow": true, "cache": true}}})
				_ = p.l.Write(out)
			}
		}
	}()
}

func jsonPublish(dst []byte, req uint64, topic string) []byte {
	dst = append(dst, "[16,"...)
	dst = strconv.AppendUint(dst, req, 10)
	dst = append(dst, `,{},"`...)
	dst = append(dst, topic...)
	return append(dst, `",["Hello, world!"]]`...)
}

func jsonCall(dst []byte, req uint64, proc string) []byte {
	dst = append(dst, "[48,"...)
	dst = strconv.AppendUint(dst, req, 10)
	dst = append(dst, `,{},"`...)
	dst = append(dst, proc...)
	return append(dst, `",["ping"]]`...)
}

func jsonYield(dst []byte, req uint64) []byte {
	dst = append(dst, "[70,"...)
	dst = strconv.AppendUint(dst, req, 10)
	return append(dst, `,{},["pong"]]`...)
}

// TestAllocsAuthorized: PUBLISH → EVENT and the CALL round trip allocate
// nothing with a 100-permission static role and with a dynamic role whose
// cache is warm.
func TestAllocsAuthorized(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := allocRouter(t)
	registerAllowAll(t, r)
	for _, role := range []string{"static100", "dynamic"} {
		t.Run(role, func(t *testing.T) {
			sub := rawJoin(t, r, role)
			sub.send(codec.SUBSCRIBE, sub.req(), map[string]any{}, "com.app.topic_"+role)
			sub.expect(codec.SUBSCRIBED)
			pub := rawJoin(t, r, role)
			// Warm up (the dynamic role's first publish is decided by the
			// authorizer, asynchronously).
			buf := make([]byte, 0, 128)
			buf = jsonPublish(buf[:0], pub.req(), "com.app.topic_"+role)
			_ = pub.l.Write(buf)
			sub.expect(codec.EVENT)
			publish := func() {
				buf = jsonPublish(buf[:0], pub.req(), "com.app.topic_"+role)
				_ = pub.l.Write(buf)
				if _, ok := sub.l.TryRead(); !ok {
					t.Fatal("subscriber got no event (decision not cached?)")
				}
			}
			alloctest.Zero(t, "PUBLISH → EVENT as "+role, publish)

			callee := rawJoin(t, r, role)
			callee.send(codec.REGISTER, callee.req(), map[string]any{}, "com.app.echo_"+role)
			callee.expect(codec.REGISTERED)
			caller := rawJoin(t, r, role)
			jc := codec.ByFormat(codec.JSON)
			var m codec.Message
			buf = jsonCall(buf[:0], caller.req(), "com.app.echo_"+role)
			_ = caller.l.Write(buf)
			inv := callee.expect(codec.INVOCATION)
			_ = callee.l.Write(jsonYield(nil, inv.Request))
			caller.expect(codec.RESULT)
			call := func() {
				buf = jsonCall(buf[:0], caller.req(), "com.app.echo_"+role)
				_ = caller.l.Write(buf)
				b, ok := callee.l.TryRead()
				if !ok || jc.Decode(&m, b) != nil || m.Type != codec.INVOCATION {
					t.Fatal("no INVOCATION (decision not cached?)")
				}
				buf = jsonYield(buf[:0], m.Request)
				_ = callee.l.Write(buf)
				b, ok = caller.l.TryRead()
				if !ok || jc.Decode(&m, b) != nil || m.Type != codec.RESULT {
					t.Fatal("no RESULT")
				}
			}
			alloctest.Zero(t, "CALL round trip as "+role, call)
		})
	}
}
