package authz

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// TestUnknownRoleAborts: a session whose role the realm does not know is
// refused at join with ABORT wamp.error.no_such_role; with the role
// configured it joins. (Anonymous sessions have the role "anonymous".)
func TestUnknownRoleAborts(t *testing.T) {
	r, az := newRouter(t, []RoleConfig{{Name: "frontend", Permissions: []PermissionConfig{everything}}})
	_, err := client.ConnectLocal(r, client.Config{Realm: testRealm, RequestTimeout: wait})
	if got := errURI(err); got != core.ErrNoSuchRole {
		t.Fatalf("anonymous join with no anonymous role: %q, want %s", got, core.ErrNoSuchRole)
	}
	if err := az.Reload([]RoleConfig{{Name: "anonymous", Permissions: []PermissionConfig{everything}}}); err != nil {
		t.Fatal(err)
	}
	c, err := client.ConnectLocal(r, client.Config{Realm: testRealm, RequestTimeout: wait})
	if err != nil {
		t.Fatalf("anonymous join with an anonymous role: %v", err)
	}
	c.Close()
	if !r.Realm(testRealm).HasRole("anonymous") || r.Realm(testRealm).HasRole("frontend") {
		t.Fatal("Realm.HasRole does not follow the reloaded roles")
	}
}

// TestDisclose: "disclose" forces the caller's and publisher's identity on
// INVOCATION and EVENT; deny_request refuses disclose_me.
func TestDisclose(t *testing.T) {
	all := everything
	forced := everything
	forced.Disclose = DiscloseConfig{Caller: true, Publisher: true}
	denied := everything
	denied.Disclose = DiscloseConfig{DenyRequest: true}
	r, _ := newRouter(t, []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{all}},
		{Name: "forced", Permissions: []PermissionConfig{forced}},
		{Name: "denied", Permissions: []PermissionConfig{denied}},
	})
	peer := join(t, r, "peer")
	ev := newEvents()
	if _, err := peer.Subscribe("com.t", ev.handler, nil); err != nil {
		t.Fatal(err)
	}
	var caller atomic.Uint64
	if _, err := peer.Register("com.p", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		caller.Store(inv.Caller)
		return nil, nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	f := join(t, r, "forced")
	if err := f.Publish("com.t", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatal(err)
	}
	if got := ev.wait(t, 1)[0]; got.Publisher != f.ID() || got.Details["publisher_authrole"] != "forced" {
		t.Fatalf("forced publisher disclosure: publisher %d (want %d), details %v", got.Publisher, f.ID(), got.Details)
	}
	ctx, cancel := ctxWait()
	defer cancel()
	if _, err := f.Call(ctx, "com.p", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if caller.Load() != f.ID() {
		t.Fatalf("forced caller disclosure: caller %d, want %d", caller.Load(), f.ID())
	}
	// The peer (no disclose settings) stays anonymous unless it asks.
	if _, err := peer.Call(ctx, "com.p", nil, nil, nil); err != nil || caller.Load() != 0 {
		t.Fatalf("undisclosed call: caller %d, err %v", caller.Load(), err)
	}
	d := join(t, r, "denied")
	err := d.Publish("com.t", nil, nil, &client.PublishOptions{Acknowledge: true, DiscloseMe: true})
	if errURI(err) != core.ErrDiscloseMeDisallowed {
		t.Fatalf("publish with disclose_me by a denied role: %v", err)
	}
	_, err = d.Call(ctx, "com.p", nil, nil, &client.CallOptions{DiscloseMe: true})
	if errURI(err) != core.ErrDiscloseMeDisallowed {
		t.Fatalf("call with disclose_me by a denied role: %v", err)
	}
	if err := d.Publish("com.t", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
		t.Fatalf("publish without disclose_me by a denied role: %v", err)
	}
	if got := ev.wait(t, 2); len(got) != 2 || got[1].Publisher != 0 {
		t.Fatalf("events %d, second publisher %d", len(got), got[len(got)-1].Publisher)
	}
}

// TestMetaAPIPermissions: the meta procedures and wamp.* topics follow the
// same permissions; a role not granted wamp. by name (not even one allowed
// everything else by the catch-all uri "") cannot use them.
func TestMetaAPIPermissions(t *testing.T) {
	app := PermissionConfig{URI: "com.", Match: "prefix", Allow: AllowConfig{Call: true, Register: true, Publish: true, Subscribe: true}}
	meta := PermissionConfig{URI: "wamp.", Match: "prefix", Allow: AllowConfig{Call: true, Subscribe: true}}
	r, _ := newRouter(t, []RoleConfig{
		{Name: "app", Permissions: []PermissionConfig{app}},
		{Name: "all", Permissions: []PermissionConfig{everything}},
		{Name: "admin", Permissions: []PermissionConfig{app, meta}},
	})
	ctx, cancel := ctxWait()
	defer cancel()
	// The catch-all permission does not reach wamp.*.
	all := join(t, r, "all")
	if _, err := all.Call(ctx, "wamp.session.count", nil, nil, nil); errURI(err) != core.ErrNotAuthorized {
		t.Fatalf("catch-all role calls wamp.session.count: %v", err)
	}
	a := join(t, r, "app")
	if _, err := a.Call(ctx, "wamp.session.count", nil, nil, nil); errURI(err) != core.ErrNotAuthorized {
		t.Fatalf("app calls wamp.session.count: %v", err)
	}
	if _, err := a.Subscribe("wamp.session.on_join", func(*client.Event) {}, nil); errURI(err) != core.ErrNotAuthorized {
		t.Fatalf("app subscribes to wamp.session.on_join: %v", err)
	}
	adm := join(t, r, "admin")
	res, err := adm.Call(ctx, "wamp.session.count", nil, nil, nil)
	if err != nil || len(res.Args) != 1 {
		t.Fatalf("admin calls wamp.session.count: %v %v", res, err)
	}
	ev := newEvents()
	if _, err := adm.Subscribe("wamp.session.on_join", ev.handler, nil); err != nil {
		t.Fatal(err)
	}
	join(t, r, "app")
	ev.wait(t, 1)
}

// gate is a dynamic authorizer that blocks until released.
type gate struct {
	ab      *authorizerBackend
	release chan struct{}
	entered chan struct{}
}

// TestPendingHoldsInOrder: while a dynamic authorizer has not answered, the
// session's action and its later messages are held, in order, while other
// sessions go on; then everything is routed in order.
func TestPendingHoldsInOrder(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{everything}},
		{Name: "actor", Authorizer: "test.authorize"},
	})
	g := &gate{release: make(chan struct{}), entered: make(chan struct{}, 16)}
	g.ab = &authorizerBackend{answer: func(_ map[string]any, uri, _ string, _ map[string]any) any {
		g.entered <- struct{}{}
		<-g.release
		return map[string]any{"allow": uri != "com.denied", "cache": false}
	}}
	backend := join(t, r, "peer")
	g.ab.register(t, backend, "test.authorize")
	peer := join(t, r, "peer")
	ev := newEvents()
	if _, err := peer.Subscribe("com.", ev.handler, &client.SubscribeOptions{Match: "prefix"}); err != nil {
		t.Fatal(err)
	}
	actor := join(t, r, "actor")
	for _, topic := range []string{"com.a", "com.denied", "com.b", "com.c"} {
		if err := actor.Publish(topic, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-g.entered:
	case <-time.After(wait):
		t.Fatal("the authorizer was not asked")
	}
	// The actor is held; the peer is not.
	if err := peer.Publish("com.peer", nil, nil, &client.PublishOptions{Acknowledge: true, ExcludeMe: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if got := ev.wait(t, 1); got[0].Topic != "com.peer" {
		t.Fatalf("first event %s, want com.peer (the actor's are held)", got[0].Topic)
	}
	go func() {
		for i := 0; i < 4; i++ {
			g.release <- struct{}{}
		}
	}()
	got := ev.wait(t, 4)
	var topics []string
	for _, e := range got {
		topics = append(topics, e.Topic)
	}
	if strings.Join(topics, " ") != "com.peer com.a com.b com.c" {
		t.Fatalf("events %v, want com.peer com.a com.b com.c", topics)
	}
	if g.ab.calls.Load() != 4 {
		t.Fatalf("authorizer asked %d times, want 4", g.ab.calls.Load())
	}
}

// TestAuthorizerFailure: an authorizer that fails, answers nonsense, or is
// not registered refuses with wamp.error.authorization_failed.
func TestAuthorizerFailure(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{everything}},
		{Name: "actor", Authorizer: "test.authorize"},
	})
	actor := join(t, r, "actor")
	pub := func() string {
		return errURI(actor.Publish("com.x", nil, nil, &client.PublishOptions{Acknowledge: true}))
	}
	if got := pub(); got != core.ErrAuthorizationFailed {
		t.Fatalf("unregistered authorizer: %q", got)
	}
	backend := join(t, r, "peer")
	mode := atomic.Int32{}
	_, err := backend.Register("test.authorize", func(context.Context, *client.Invocation) (*client.Result, error) {
		switch mode.Load() {
		case 0:
			return nil, errors.New("boom")
		case 1:
			return &client.Result{Args: []any{"yes"}}, nil
		}
		return &client.Result{Args: []any{true}}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for m, want := range []string{core.ErrAuthorizationFailed, core.ErrAuthorizationFailed, ""} {
		mode.Store(int32(m))
		if got := pub(); got != want {
			t.Fatalf("mode %d: %q, want %q", m, got, want)
		}
	}
}

// TestReload: new permissions apply to the next action of a live session,
// a bad config is refused and the old one kept, dynamic caches are flushed.
func TestReload(t *testing.T) {
	allowPub := PermissionConfig{URI: "com.", Match: "prefix", Allow: AllowConfig{Publish: true}}
	denyPub := PermissionConfig{URI: "com.", Match: "prefix", Allow: AllowConfig{Subscribe: true}}
	dyn := RoleConfig{Name: "dyn", Authorizer: "test.authorize"}
	roles := func(p PermissionConfig) []RoleConfig {
		return []RoleConfig{{Name: "peer", Permissions: []PermissionConfig{everything}}, {Name: "actor", Permissions: []PermissionConfig{p}}, dyn}
	}
	r, az := newRouter(t, roles(allowPub))
	ab := &authorizerBackend{answer: func(map[string]any, string, string, map[string]any) any {
		return map[string]any{"allow": true, "cache": true}
	}}
	ab.register(t, join(t, r, "peer"), "test.authorize")
	actor := join(t, r, "actor")
	d := join(t, r, "dyn")
	pub := func(c *client.Client) string {
		return errURI(c.Publish("com.x", nil, nil, &client.PublishOptions{Acknowledge: true}))
	}
	if got := pub(actor); got != "" {
		t.Fatalf("before reload: %q", got)
	}
	for i := 0; i < 3; i++ {
		if got := pub(d); got != "" {
			t.Fatalf("dynamic before reload: %q", got)
		}
	}
	if n := ab.calls.Load(); n != 1 {
		t.Fatalf("authorizer asked %d times before reload, want 1 (cached)", n)
	}
	bad := roles(PermissionConfig{URI: "com.", Match: "glob"})
	err := az.Reload(bad)
	if err == nil || !strings.Contains(err.Error(), "roles[1].permissions[0].match") {
		t.Fatalf("bad reload: %v, want an error naming roles[1].permissions[0].match", err)
	}
	if got := pub(actor); got != "" {
		t.Fatalf("after a refused reload: %q (the old roles must stay)", got)
	}
	if err := az.Reload(roles(denyPub)); err != nil {
		t.Fatal(err)
	}
	if got := pub(actor); got != core.ErrNotAuthorized {
		t.Fatalf("after reload: %q, want %s on the same session", got, core.ErrNotAuthorized)
	}
	if got := pub(d); got != "" || ab.calls.Load() != 2 {
		t.Fatalf("dynamic after reload: %q, asked %d times (want 2: the cache is flushed)", got, ab.calls.Load())
	}
	// The sessions survived.
	if _, err := actor.Subscribe("com.x", func(*client.Event) {}, nil); err != nil {
		t.Fatalf("subscribe after reload: %v", err)
	}
}

// TestRoleScopeCache: with scope "role" one answer serves every session of
// the role.
func TestRoleScopeCache(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{everything}},
		{Name: "dyn", Authorizer: "test.authorize", AuthorizerCache: &CacheConfig{Scope: "role", TTL: "1h"}},
	})
	ab := &authorizerBackend{answer: func(map[string]any, string, string, map[string]any) any {
		return map[string]any{"allow": true, "cache": true}
	}}
	ab.register(t, join(t, r, "peer"), "test.authorize")
	for i := 0; i < 3; i++ {
		c := join(t, r, "dyn")
		if err := c.Publish("com.x", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	if n := ab.calls.Load(); n != 1 {
		t.Fatalf("authorizer asked %d times for 3 sessions of one role, want 1", n)
	}
}

// TestAuthorizerArguments: the authorizer receives (session, uri, action,
// options) in Crossbar's shape.
func TestAuthorizerArguments(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{everything}},
		{Name: "dyn", Authorizer: "test.authorize"},
	})
	got := make(chan string, 1)
	ab := &authorizerBackend{answer: func(s map[string]any, uri, action string, opts map[string]any) any {
		got <- fmt.Sprintf("%v %v %s %s %v", s["authrole"], s["authid"], uri, action, opts["match"])
		return true
	}}
	ab.register(t, join(t, r, "peer"), "test.authorize")
	c := join(t, r, "dyn")
	if _, err := c.Subscribe("com.a.", func(*client.Event) {}, &client.SubscribeOptions{Match: "prefix"}); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "dyn dyn-user com.a. subscribe prefix" {
		t.Fatalf("authorizer got %q", g)
	}
}

// TestDecisionCache: the cache is bounded, entries expire, keys are
// distinct per scope, action and URI.
func TestDecisionCache(t *testing.T) {
	c := newDecisionCache(8)
	for i := 0; i < 100; i++ {
		c.put(1, core.ActionCall, fmt.Sprintf("com.p%d", i), core.Allow, 1000)
	}
	if n := c.len(0); n > 8 {
		t.Fatalf("%d entries in a cache of 8", n)
	}
	c.put(2, core.ActionPublish, "com.x", core.Allow, 50)
	if d, _, ok := c.get(2, core.ActionPublish, []byte("com.x"), 10); !ok || d != core.Allow {
		t.Fatal("fresh entry missing")
	}
	for _, k := range []struct {
		scope uint64
		act   core.Action
		uri   string
	}{{3, core.ActionPublish, "com.x"}, {2, core.ActionCall, "com.x"}, {2, core.ActionPublish, "com.y"}} {
		if _, _, ok := c.get(k.scope, k.act, []byte(k.uri), 10); ok {
			t.Fatalf("hit for a different key %v", k)
		}
	}
	if _, _, ok := c.get(2, core.ActionPublish, []byte("com.x"), 50); ok {
		t.Fatal("expired entry returned")
	}
}

// TestConfigErrors: bad roles are refused with the field named.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		roles string
		want  string
	}{
		{`[{"name": "a", "permissions": [{"uri": "com.", "match": "prefix", "allow": {"call": true, "cal": true}}]}]`, `unknown field "cal"`},
		{`[{"name": "a", "permision": []}]`, `unknown field "permision"`},
		{`[{"name": ""}]`, `roles[0].name: missing`},
		{`[{"name": "a"}, {"name": "a"}]`, `roles[1].name: role "a" is defined twice`},
		{`[{"name": "a", "permissions": [{"uri": "com.", "match": "glob"}]}]`, `roles[0].permissions[0].match`},
		{`[{"name": "a", "permissions": [{"uri": "com..x"}]}]`, `roles[0].permissions[0].uri`},
		{`[{"name": "a", "permissions": [{"uri": "com.x", "match": "wildcard"}]}]`, `roles[0].permissions[0].uri: "com.x" has no empty component`},
		{`[{"name": "a", "permissions": [{"uri": "com.x"}, {"uri": "com.x"}]}]`, `roles[0].permissions[1].uri: a second permission`},
		{`[{"name": "a", "permissions": [{"uri": "wamp.", "match": "prefix", "allow": {"register": true}}]}]`, `roles[0].permissions[0].allow`},
		{`[{"name": "a", "authorizer": "com.auth", "permissions": [{"uri": "com.x"}]}]`, `roles[0]: a role has either permissions or an authorizer`},
		{`[{"name": "a", "authorizer": "wamp.auth"}]`, `roles[0].authorizer`},
		{`[{"name": "a", "authorizer": "com.auth", "authorizer_cache": {"scope": "global"}}]`, `roles[0].authorizer_cache.scope`},
		{`[{"name": "a", "authorizer": "com.auth", "authorizer_cache": {"ttl": "0s"}}]`, `roles[0].authorizer_cache.ttl`},
		{`[{"name": "a", "authorizer": "com.auth", "authorizer_cache": {"size": -1}}]`, `roles[0].authorizer_cache.size`},
		{`[{"name": "a", "authorizer_cache": {}}]`, `roles[0].authorizer_cache: set without an authorizer`},
	} {
		roles, err := ParseRoles([]byte(tc.roles))
		if err == nil {
			err = Validate("", roles)
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.roles, err, tc.want)
		}
	}
}

// TestDecisionPerActionAndURI: one session alternating actions and URIs
// gets each decision right (the per-session memo of the last decision is
// keyed by action and URI).
func TestDecisionPerActionAndURI(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{{Name: "actor", Permissions: []PermissionConfig{
		{URI: "com.x", Allow: AllowConfig{Publish: true}},
		{URI: "com.", Match: "prefix", Allow: AllowConfig{Subscribe: true}},
	}}})
	c := join(t, r, "actor")
	for i := 0; i < 3; i++ {
		if err := c.Publish("com.x", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatalf("publish com.x: %v", err)
		}
		if _, err := c.Subscribe("com.x", func(*client.Event) {}, nil); errURI(err) != core.ErrNotAuthorized {
			t.Fatalf("subscribe com.x: %v", err)
		}
		if err := c.Publish("com.y", nil, nil, &client.PublishOptions{Acknowledge: true}); errURI(err) != core.ErrNotAuthorized {
			t.Fatalf("publish com.y: %v", err)
		}
		if _, err := c.Subscribe("com.y", func(*client.Event) {}, nil); err != nil {
			t.Fatalf("subscribe com.y: %v", err)
		}
	}
}

// TestMemoManyURIs: a session alternating between many URIs (past the
// one-entry memo, into the memo table and its evictions) gets every
// decision right: com.even<N> is allowed, com.odd<N> refused.
func TestMemoManyURIs(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{{Name: "actor", Permissions: []PermissionConfig{
		{URI: "com.even", Match: "prefix", Allow: AllowConfig{Publish: true}},
		{URI: "com.odd", Match: "prefix", Allow: AllowConfig{Subscribe: true}},
	}}})
	c := join(t, r, "actor")
	for round := 0; round < 3; round++ {
		for i := 0; i < 40; i++ {
			uri, want := fmt.Sprintf("com.even%d", i), ""
			if i%2 == 1 {
				uri, want = fmt.Sprintf("com.odd%d", i), core.ErrNotAuthorized
			}
			if got := errURI(c.Publish(uri, nil, nil, &client.PublishOptions{Acknowledge: true})); got != want {
				t.Fatalf("round %d publish %s: %q, want %q", round, uri, got, want)
			}
		}
	}
}

// TestPatternPermissions: a SUBSCRIBE or REGISTER of a pattern is decided
// by the permission stated for exactly that pattern, else as a URI by best
// match.
func TestPatternPermissions(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{{Name: "actor", Permissions: []PermissionConfig{
		{URI: "com.ex.", Match: "prefix", Allow: AllowConfig{Subscribe: true}},
		{URI: "com..topic", Match: "wildcard", Allow: AllowConfig{Register: true}},
		{URI: "com.", Match: "prefix", Allow: AllowConfig{}},
	}}})
	c := join(t, r, "actor")
	nop := func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }
	for _, tc := range []struct {
		action, uri, match, want string
	}{
		{"subscribe", "com.ex.", "prefix", ""},
		{"subscribe", "com.ex.a", "exact", ""},
		{"subscribe", "com..topic", "wildcard", core.ErrNotAuthorized},
		{"register", "com..topic", "wildcard", ""},
		{"register", "com..other", "wildcard", core.ErrNotAuthorized},
		{"register", "com.ex.", "prefix", core.ErrNotAuthorized},
	} {
		var err error
		if tc.action == "subscribe" {
			_, err = c.Subscribe(tc.uri, func(*client.Event) {}, &client.SubscribeOptions{Match: tc.match})
		} else {
			_, err = c.Register(tc.uri, nop, &client.RegisterOptions{Match: tc.match})
		}
		if got := errURI(err); got != tc.want {
			t.Errorf("%s %s (%s): %q, want %q", tc.action, tc.uri, tc.match, got, tc.want)
		}
	}
}

// TestCacheTTL: a cached answer is reused until its TTL, then asked again.
func TestCacheTTL(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{everything}},
		{Name: "dyn", Authorizer: "test.authorize", AuthorizerCache: &CacheConfig{TTL: "50ms"}},
	})
	ab := &authorizerBackend{answer: func(map[string]any, string, string, map[string]any) any {
		return map[string]any{"allow": true, "cache": true}
	}}
	ab.register(t, join(t, r, "peer"), "test.authorize")
	c := join(t, r, "dyn")
	pub := func() {
		t.Helper()
		if err := c.Publish("com.x", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
	}
	pub()
	pub()
	if n := ab.calls.Load(); n != 1 {
		t.Fatalf("asked %d times within the TTL, want 1", n)
	}
	time.Sleep(200 * time.Millisecond) // TTL plus the coarse clock's tick, with margin
	pub()
	if n := ab.calls.Load(); n != 2 {
		t.Fatalf("asked %d times after the TTL, want 2", n)
	}
}

// TestCloseRefusesQueued: questions still queued when the Authorizer
// closes are refused (authorization_failed), so their sessions are not
// held for ever.
func TestCloseRefusesQueued(t *testing.T) {
	az, err := New(testRealm, []RoleConfig{{Name: "dyn", Authorizer: "test.authorize"}}, Options{Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: testRealm, Authorizer: az}}})
	if err != nil {
		t.Fatal(err)
	}
	// Not started: the question waits in the queue.
	c := join(t, r, "dyn")
	done := make(chan error, 1)
	go func() { done <- c.Publish("com.x", nil, nil, &client.PublishOptions{Acknowledge: true}) }()
	deadline := time.Now().Add(wait)
	for r.Held() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if r.Held() == 0 {
		t.Fatal("the publication was not held")
	}
	az.Close() // never started: nobody took the question
	select {
	case err := <-done:
		if got := errURI(err); got != core.ErrAuthorizationFailed {
			t.Fatalf("publish: %q, want %s", got, core.ErrAuthorizationFailed)
		}
	case <-time.After(wait):
		t.Fatal("the held publication was never answered")
	}
}

// TestRemoveCalleeGuarded: wamp.registration.remove_callee (a meta
// procedure acting on another session) is callable by a role granted it by
// name, not by one allowed everything else through the catch-all.
func TestRemoveCalleeGuarded(t *testing.T) {
	r, _ := newRouter(t, []RoleConfig{
		{Name: "all", Permissions: []PermissionConfig{everything}},
		{Name: "admin", Permissions: []PermissionConfig{{URI: "wamp.registration.", Match: "prefix", Allow: AllowConfig{Call: true}}}},
	})
	callee := join(t, r, "all")
	reg, err := callee.Register("com.p", func(context.Context, *client.Invocation) (*client.Result, error) { return nil, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := ctxWait()
	defer cancel()
	args := []any{reg.ID(), callee.ID()}
	if _, err := join(t, r, "all").Call(ctx, "wamp.registration.remove_callee", args, nil, nil); errURI(err) != core.ErrNotAuthorized {
		t.Fatalf("catch-all role: %v, want %s", err, core.ErrNotAuthorized)
	}
	if _, err := join(t, r, "admin").Call(ctx, "wamp.registration.remove_callee", args, nil, nil); err != nil {
		t.Fatalf("role granted wamp.registration.: %v", err)
	}
	if _, err := join(t, r, "all").Call(ctx, "com.p", nil, nil, nil); errURI(err) != core.ErrNoSuchProcedure {
		t.Fatalf("call after remove_callee: %v, want %s", err, core.ErrNoSuchProcedure)
	}
}
