package core_test

import (
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/trie"
)

// fakeCluster records what the router asks of its cluster layer.
type fakeCluster struct {
	mu        sync.Mutex
	registers []*core.Session
	unregs    int
}

func (c *fakeCluster) Published(*core.Realm, *core.Session, *codec.Message, codec.Format, []byte, uint64) {
}
func (c *fakeCluster) Interest(*core.Realm, string, trie.Policy, bool) {}
func (c *fakeCluster) Register(_ *core.Realm, s *core.Session, _ core.ClusterRegistration) {
	c.mu.Lock()
	c.registers = append(c.registers, s)
	c.mu.Unlock()
}
func (c *fakeCluster) Unregistered(*core.Realm, *core.Session, string, trie.Policy) {
	c.mu.Lock()
	c.unregs++
	c.mu.Unlock()
}
func (c *fakeCluster) MetaCall(*core.Realm, *core.Session, string, []any, map[string]any, uint64) bool {
	return false
}

func (c *fakeCluster) asked() []*core.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*core.Session(nil), c.registers...)
}

// alwaysPending answers every action Pending: each replay asks again.
type alwaysPending struct {
	mu   sync.Mutex
	sess *core.Session
}

func (a *alwaysPending) Authorize(*core.Session, core.Action, []byte) bool { return false }
func (a *alwaysPending) Decide(s *core.Session, _ core.Action, _ []byte, _ *codec.Details) core.Decision {
	a.mu.Lock()
	a.sess = s
	a.mu.Unlock()
	return core.Pending
}

// TestClusterRegisterHeld: a REGISTER waits for the cluster's answer with
// the session's later messages behind it; the answer survives a replay
// that a dynamic authorizer holds again, so the registry is asked once;
// a refusal is the ERROR the cluster names.
func TestClusterRegisterHeld(t *testing.T) {
	r := newRouter(t, core.Config{})
	cl := &fakeCluster{}
	r.SetCluster(cl)
	az := &alwaysPending{}
	r.Realm("realm1").SetAuthorizer(az)
	p := join(t, r, codec.JSON)
	req := p.req()
	p.send(codec.REGISTER, req, map[string]any{}, "com.held")
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	sess := func() *core.Session { az.mu.Lock(); defer az.mu.Unlock(); return az.sess }
	waitFor("the authorizer", func() bool { return sess() != nil })
	sess().Resume(core.Allow) // the authorizer's first answer
	waitFor("the cluster's Register", func() bool { return len(cl.asked()) == 1 })
	p.quiet()
	if !cl.asked()[0].ClusterRegistered("", "") {
		t.Fatal("ClusterRegistered found no held REGISTER")
	}
	// The replay asked the authorizer again (Pending): answer it.
	sess().Resume(core.Allow)
	reply := p.expect(codec.REGISTERED)
	must(t, asID(t, reply[1]) == req, "REGISTERED for request %v, want %d", reply[1], req)
	if n := len(cl.asked()); n != 1 {
		t.Fatalf("the cluster was asked %d times, want once", n)
	}

	// A refusal by the cluster.
	req = p.req()
	p.send(codec.REGISTER, req, map[string]any{}, "com.taken")
	sess().Resume(core.Allow)
	waitFor("the second Register", func() bool { return len(cl.asked()) == 2 })
	cl.asked()[1].ClusterRegistered(core.ErrProcedureAlreadyExists, "taken elsewhere")
	sess().Resume(core.Allow)
	p.expectError(codec.REGISTER, req, core.ErrProcedureAlreadyExists)
}
