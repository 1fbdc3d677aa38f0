package authz

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// The URI every matrix action uses, and the permission patterns that match
// it under each policy, each with a less specific rival that says the
// opposite (so the test also checks that the best match decides: exact
// beats prefix, the longer prefix wins, the wildcard with the literal
// component earlier wins).
const matrixURI = "com.ex.topic"

type patterns struct{ best, rival PermissionConfig }

func matrixPatterns(match string) patterns {
	switch match {
	case "exact":
		return patterns{PermissionConfig{URI: matrixURI, Match: "exact"}, PermissionConfig{URI: "com.", Match: "prefix"}}
	case "prefix":
		return patterns{PermissionConfig{URI: "com.ex.", Match: "prefix"}, PermissionConfig{URI: "com.", Match: "prefix"}}
	default:
		return patterns{PermissionConfig{URI: "com..topic", Match: "wildcard"}, PermissionConfig{URI: "com..", Match: "wildcard"}}
	}
}

// allowOnly sets the action's flag to v and every other action's to !v, so
// a test that passes cannot be explained by the wrong flag.
func allowOnly(action string, v bool) AllowConfig {
	a := AllowConfig{Call: !v, Register: !v, Publish: !v, Subscribe: !v}
	switch action {
	case "call":
		a.Call = v
	case "register":
		a.Register = v
	case "publish":
		a.Publish = v
	case "subscribe":
		a.Subscribe = v
	}
	return a
}

// TestPermissionMatrix: each action × allow/deny × exact/prefix/wildcard ×
// static / dynamic authorizer (cache on and off), asserting what the actor
// and its peer receive. The peer's role may do everything; "marker" URIs
// prove that nothing was delivered before them.
func TestPermissionMatrix(t *testing.T) {
	for _, kind := range []string{"static", "dynamic-cache", "dynamic-nocache"} {
		for _, action := range []string{"publish", "subscribe", "call", "register"} {
			for _, allow := range []bool{true, false} {
				for _, match := range []string{"exact", "prefix", "wildcard"} {
					if kind != "static" && match != "exact" && (action == "publish" || action == "call") {
						// PUBLISH and CALL name a URI, not a pattern: for
						// the dynamic authorizer one policy covers them.
						continue
					}
					name := fmt.Sprintf("%s/%s/allow=%v/%s", kind, action, allow, match)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						runMatrixCell(t, kind, action, allow, match)
					})
				}
			}
		}
	}
}

func runMatrixCell(t *testing.T, kind, action string, allow bool, match string) {
	marker := PermissionConfig{URI: "com.marker", Match: "exact", Allow: AllowConfig{Call: true, Register: true, Publish: true, Subscribe: true}}
	roles := []RoleConfig{
		{Name: "peer", Permissions: []PermissionConfig{everything}},
		{Name: "backend", Permissions: []PermissionConfig{everything}},
	}
	var ab *authorizerBackend
	if kind == "static" {
		p := matrixPatterns(match)
		p.best.Allow = allowOnly(action, allow)
		p.rival.Allow = allowOnly(action, !allow)
		roles = append(roles, RoleConfig{Name: "actor", Permissions: []PermissionConfig{p.best, p.rival, marker}})
	} else {
		roles = append(roles, RoleConfig{Name: "actor", Authorizer: "test.authorize"})
		cache := kind == "dynamic-cache"
		want := matrixURI
		if action == "subscribe" || action == "register" {
			// The actor subscribes or registers the pattern itself.
			want = matrixPatterns(match).best.URI
		}
		ab = &authorizerBackend{answer: func(_ map[string]any, uri, act string, opts map[string]any) any {
			m, _ := opts["match"].(string)
			if m == "" {
				m = "exact"
			}
			ok := uri == "com.marker" || (uri == want && (m == match || act == "publish" || act == "call") && (act == action) == allow)
			return map[string]any{"allow": ok, "cache": cache}
		}}
	}
	r, _ := newRouter(t, roles)
	if ab != nil {
		ab.register(t, join(t, r, "backend"), "test.authorize")
	}
	actor := join(t, r, "actor")
	peer := join(t, r, "peer")
	wantErr := ""
	if !allow {
		wantErr = core.ErrNotAuthorized
	}
	// The static actor subscribes and registers the URI itself, decided by
	// best match among its permissions; the dynamic actor the pattern, with
	// its match policy, which the authorizer sees.
	actorURI, actorMatch := matrixURI, "exact"
	if kind != "static" {
		actorURI, actorMatch = matrixPatterns(match).best.URI, match
	}
	actorOpts := &client.SubscribeOptions{Match: actorMatch}
	// Each action is done twice: the second time comes from the cache
	// when the dynamic authorizer allows caching.
	const rounds = 2
	switch action {
	case "publish":
		ev := newEvents()
		if _, err := peer.Subscribe(matrixURI, ev.handler, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := peer.Subscribe("com.marker", ev.handler, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < rounds; i++ {
			err := actor.Publish(matrixURI, []any{i}, nil, &client.PublishOptions{Acknowledge: true})
			if got := errURI(err); got != wantErr {
				t.Fatalf("publish %d: error %q, want %q", i, got, wantErr)
			}
		}
		if err := actor.Publish("com.marker", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatalf("publish marker: %v", err)
		}
		n := 0
		if allow {
			n = rounds
		}
		got := ev.wait(t, n+1)
		for i, e := range got[:n] {
			if e.Topic != matrixURI || fmt.Sprint(e.Args) != fmt.Sprintf("[%d]", i) {
				t.Fatalf("event %d: %s %v", i, e.Topic, e.Args)
			}
		}
		if got[n].Topic != "com.marker" || len(got) != n+1 {
			t.Fatalf("peer received %d events before the marker, want %d", len(got)-1, n)
		}
	case "subscribe":
		ev := newEvents()
		for i := 0; i < rounds; i++ {
			h := ev.handler
			if i > 0 {
				h = func(*client.Event) {} // the client hands each event to every Subscribe
			}
			_, err := actor.Subscribe(actorURI, h, actorOpts)
			if got := errURI(err); got != wantErr {
				t.Fatalf("subscribe %d: error %q, want %q", i, got, wantErr)
			}
		}
		if _, err := actor.Subscribe("com.marker", ev.handler, nil); err != nil {
			t.Fatal(err)
		}
		if err := peer.Publish(matrixURI, []any{"x"}, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
		if err := peer.Publish("com.marker", nil, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
			t.Fatal(err)
		}
		n := 0
		if allow {
			n = 1
		}
		got := ev.wait(t, n+1)
		if len(got) != n+1 || got[n].Topic != "com.marker" || (n == 1 && got[0].Topic != matrixURI) {
			t.Fatalf("actor received %d events before the marker, want %d", len(got)-1, n)
		}
	case "call":
		var invs atomic.Int64
		if _, err := peer.Register(matrixURI, func(context.Context, *client.Invocation) (*client.Result, error) {
			invs.Add(1)
			return &client.Result{Args: []any{"done"}}, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < rounds; i++ {
			ctx, cancel := ctxWait()
			res, err := actor.Call(ctx, matrixURI, nil, nil, nil)
			cancel()
			if got := errURI(err); got != wantErr {
				t.Fatalf("call %d: error %q, want %q", i, got, wantErr)
			}
			if allow && fmt.Sprint(res.Args) != "[done]" {
				t.Fatalf("call %d: result %v", i, res.Args)
			}
		}
		ctx, cancel := ctxWait()
		_, err := peer.Call(ctx, "com.marker", nil, nil, nil) // no callee: a round trip after the calls
		cancel()
		if errURI(err) != core.ErrNoSuchProcedure {
			t.Fatalf("marker call: %v", err)
		}
		want := int64(0)
		if allow {
			want = rounds
		}
		if got := invs.Load(); got != want {
			t.Fatalf("callee saw %d invocations, want %d", got, want)
		}
	case "register":
		var regErr [rounds]string
		for i := 0; i < rounds; i++ {
			_, err := actor.Register(actorURI, func(context.Context, *client.Invocation) (*client.Result, error) {
				return &client.Result{Args: []any{"actor"}}, nil
			}, &client.RegisterOptions{Match: actorMatch})
			regErr[i] = errURI(err)
		}
		if allow {
			// The second REGISTER of the same URI is refused by the dealer,
			// after authorization.
			if regErr[0] != "" || regErr[1] != core.ErrProcedureAlreadyExists {
				t.Fatalf("register errors %q, want \"\" then %s", regErr, core.ErrProcedureAlreadyExists)
			}
		} else if regErr[0] != wantErr || regErr[1] != wantErr {
			t.Fatalf("register errors %q, want %s twice", regErr, wantErr)
		}
		ctx, cancel := ctxWait()
		res, err := peer.Call(ctx, matrixURI, nil, nil, nil)
		cancel()
		if allow {
			if err != nil || fmt.Sprint(res.Args) != "[actor]" {
				t.Fatalf("call to the actor's procedure: %v %v", res, err)
			}
		} else if errURI(err) != core.ErrNoSuchProcedure {
			t.Fatalf("call after refused register: %v, want %s", err, core.ErrNoSuchProcedure)
		}
	}
	if ab != nil {
		// Without the cache every action is asked; with it, the first.
		want := int64(1)
		if kind == "dynamic-nocache" {
			want = rounds
		}
		if action == "publish" || action == "subscribe" {
			want++ // the actor's marker action, asked once
		}
		if got := ab.calls.Load(); got != want {
			ab.mu.Lock()
			t.Fatalf("authorizer invoked %d times (%v), want %d", got, ab.asked, want)
		}
	}
}
