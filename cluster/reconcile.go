package cluster

import (
	"time"

	"github.com/zwamp/zwamp/core"
)

// After a partition heals, the registry re-registers this node's callees
// that the majority reaped while it was cut off (own.go). One it cannot
// re-register — the registry gave the procedure to another node meanwhile,
// or another policy — is lost: the node revokes it here (UNREGISTERED with
// ReasonClusterConflict to a callee that announced registration_revocation)
// so that an exclusive registration has exactly one owner, the one the
// registry chose, and then registers the proxies that waited for the local
// callee to go.

// ReasonClusterConflict is the reason in the UNREGISTERED sent to a callee
// that lost its registration to another node when a partition healed.
const ReasonClusterConflict = "wamp.error.procedure_already_exists"

// resyncEvery is how often proxies that waited for a local conflict are
// tried again.
const resyncEvery = time.Second

// calleeLost revokes a local callee the registry could not keep.
func (n *Node) calleeLost(k RegKey, c Callee) {
	r := n.router.Realm(k.Realm)
	p, ok := policyOf(k.Match)
	if r == nil || !ok {
		return
	}
	var s *core.Session
	r.LocalCallees(func(lc core.LocalCallee) {
		if lc.URI == k.URI && lc.Policy == p && lc.Session.ID() == c.Session {
			s = lc.Session
		}
	})
	if s != nil && r.RevokeCallee(s, k.URI, p, ReasonClusterConflict) {
		n.log.Warn("cluster: callee revoked: another node owns the registration since a partition", "uri", k.URI, "session", c.Session)
	}
	if !n.resync(k) {
		n.rpc.mu.Lock()
		n.rpc.conflicts[k] = true
		n.rpc.mu.Unlock()
	}
}

// resyncLoop retries the proxies that waited for a local conflict.
func (n *Node) resyncLoop() {
	defer n.wg.Done()
	t := time.NewTicker(resyncEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.rpc.mu.Lock()
		var keys []RegKey
		for k := range n.rpc.conflicts {
			keys = append(keys, k)
		}
		n.rpc.mu.Unlock()
		for _, k := range keys {
			if n.resync(k) {
				n.rpc.mu.Lock()
				delete(n.rpc.conflicts, k)
				n.rpc.mu.Unlock()
			}
		}
	}
}
