package authz

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

const (
	testRealm = "realm1"
	wait      = 20 * time.Second // generous: -race on a loaded machine
)

// everything is a permission allowing every action on every URI.
var everything = PermissionConfig{URI: "", Match: "prefix", Allow: AllowConfig{Call: true, Register: true, Publish: true, Subscribe: true}}

// newRouter starts a router whose realm1 is guarded by an Authorizer with
// roles; the Authorizer is started (workers, service session).
func newRouter(t *testing.T, roles []RoleConfig) (*core.Router, *Authorizer) {
	t.Helper()
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
	return r, az
}

// join opens a session with the given role (a trusted local connection:
// authentication is the auth package's business, not these tests').
func join(t *testing.T, r *core.Router, role string) *client.Client {
	t.Helper()
	c, err := client.ConnectLocalAs(r, core.Identity{AuthID: role + "-user", AuthRole: role, AuthMethod: "test", AuthProvider: "test"},
		client.Config{Realm: testRealm, RequestTimeout: wait})
	if err != nil {
		t.Fatalf("join as %s: %v", role, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// errURI returns the WAMP error URI of err ("" for nil).
func errURI(err error) string {
	if err == nil {
		return ""
	}
	var e *client.Error
	if errors.As(err, &e) {
		return e.URI
	}
	return "non-WAMP error: " + err.Error()
}

// events collects events of one subscription.
type events struct {
	mu  sync.Mutex
	got []*client.Event
	ch  chan struct{}
}

func newEvents() *events { return &events{ch: make(chan struct{}, 1024)} }

func (e *events) handler(ev *client.Event) {
	e.mu.Lock()
	e.got = append(e.got, ev)
	e.mu.Unlock()
	e.ch <- struct{}{}
}

func (e *events) wait(t *testing.T, n int) []*client.Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		e.mu.Lock()
		if len(e.got) >= n {
			out := append([]*client.Event(nil), e.got...)
			e.mu.Unlock()
			return out
		}
		e.mu.Unlock()
		select {
		case <-e.ch:
		case <-deadline:
			t.Fatalf("waited %v for %d events, have %d", wait, n, len(e.got))
		}
	}
}

// authorizerBackend registers a dynamic authorizer that answers with
// answer(uri, action) and counts its invocations.
type authorizerBackend struct {
	calls  atomic.Int64
	mu     sync.Mutex
	asked  []string // "action uri"
	answer func(sess map[string]any, uri, action string, opts map[string]any) any
}

func (ab *authorizerBackend) register(t *testing.T, c *client.Client, proc string) {
	t.Helper()
	_, err := c.Register(proc, func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		ab.calls.Add(1)
		if len(inv.Args) != 4 {
			return nil, &client.Error{URI: "test.error.args"}
		}
		sess, _ := inv.Args[0].(map[string]any)
		uri, _ := inv.Args[1].(string)
		action, _ := inv.Args[2].(string)
		opts, _ := inv.Args[3].(map[string]any)
		ab.mu.Lock()
		ab.asked = append(ab.asked, action+" "+uri)
		ab.mu.Unlock()
		return &client.Result{Args: []any{ab.answer(sess, uri, action, opts)}}, nil
	}, nil)
	if err != nil {
		t.Fatalf("register authorizer: %v", err)
	}
}

func ctxWait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), wait)
}
