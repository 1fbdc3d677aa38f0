package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/zwamp/zwamp/core"
)

// Reconciliation keeps the registry and this node's dealer in agreement
// about this node's own callees, which a partition can break:
//
//   - while this node was cut off, the majority declared it dead and reaped
//     its callees from the registry, though they are still registered here
//     and still serve local callers. Once the registry is reachable again
//     such a callee is registered again; if the registry has meanwhile
//     given the procedure to another node (or to another policy), the local
//     callee is revoked — UNREGISTERED with the reason below — so that an
//     exclusive registration has exactly one owner after the partition
//     heals, and the registry decides which.
//   - an entry naming this node whose callee is gone (its withdrawal failed
//     for want of a quorum) is removed, so no other node keeps routing to it.
//
// The replica trails the registry by a few milliseconds, so a difference
// is acted on only when two passes in a row see it.

// reconcileEvery is the pass interval.
const reconcileEvery = time.Second

// ReasonClusterConflict is the reason in the UNREGISTERED sent to a callee
// that lost its registration to another node when a partition healed.
const ReasonClusterConflict = "wamp.error.procedure_already_exists"

type calleeRef struct {
	k       RegKey
	session uint64
}

func (n *Node) reconcileLoop() {
	defer n.wg.Done()
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	var seenMissing, seenStale map[calleeRef]bool
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		seenMissing, seenStale = n.reconcile(seenMissing, seenStale)
	}
}

// reconcile runs one pass; it returns the differences seen, for the next.
func (n *Node) reconcile(prevMissing, prevStale map[calleeRef]bool) (missing, stale map[calleeRef]bool) {
	missing, stale = map[calleeRef]bool{}, map[calleeRef]bool{}
	reg := n.e.Registry()
	local := map[calleeRef]core.LocalCallee{}
	localRealm := map[calleeRef]*core.Realm{}
	for _, r := range n.router.Realms() {
		r.LocalCallees(func(lc core.LocalCallee) {
			ref := calleeRef{RegKey{Realm: r.Name(), URI: lc.URI, Match: matchName(lc.Policy)}, lc.Session.ID()}
			local[ref] = lc
			localRealm[ref] = r
			if v, ok := reg.Get(ref.k); !ok || !listsCallee(v, n.self, ref.session) {
				missing[ref] = true
			}
		})
	}
	reg.mu.RLock()
	for _, e := range reg.replica {
		for _, c := range e.val.Callees {
			if c.Instance != n.self {
				continue
			}
			ref := calleeRef{e.key, c.Session}
			if _, ok := local[ref]; !ok {
				stale[ref] = true
			}
		}
	}
	reg.mu.RUnlock()

	for ref := range missing {
		if !prevMissing[ref] {
			continue
		}
		lc := local[ref]
		err := n.kvDo(ref.k, func(ctx context.Context) error {
			return reg.Register(ctx, ref.k, lc.Invoke.String(), Callee{Instance: n.self, Session: ref.session,
				Features: uint64(lc.Session.Features(3)), DiscloseCaller: lc.DiscloseCaller, ForwardTimeout: lc.ForwardTimeout})
		})
		switch {
		case err == nil:
			n.log.Info("cluster: callee registered again after a partition", "uri", ref.k.URI, "session", ref.session)
		case errors.Is(err, ErrExists) || errors.Is(err, ErrPolicyMismatch):
			if v, ok := reg.Get(ref.k); ok && listsCallee(v, n.self, ref.session) {
				continue // it was there after all
			}
			if localRealm[ref].RevokeCallee(lc.Session, lc.URI, lc.Policy, ReasonClusterConflict) {
				n.log.Warn("cluster: callee revoked: another node owns the registration since a partition", "uri", ref.k.URI, "session", ref.session)
			}
			n.resync(ref.k)
		}
		// ErrUnavailable: still cut off; the next pass tries again.
	}
	for ref := range stale {
		if !prevStale[ref] {
			continue
		}
		if err := n.kvDo(ref.k, func(ctx context.Context) error {
			return reg.Unregister(ctx, ref.k, n.self, ref.session)
		}); err == nil {
			n.log.Info("cluster: stale callee withdrawn", "uri", ref.k.URI, "session", ref.session)
		}
	}
	// Proxies that waited for a local conflict: resolved by now if the
	// local callee was revoked above (or left).
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
	return missing, stale
}

// kvDo runs fn on the registry queue of k (in order with the node's other
// operations on k) and waits for its result.
func (n *Node) kvDo(k RegKey, fn func(context.Context) error) error {
	done := make(chan error, 1)
	n.kv.do(k, func(ctx context.Context) { done <- fn(ctx) })
	select {
	case err := <-done:
		return err
	case <-n.ctx.Done():
		return n.ctx.Err()
	}
}

func listsCallee(v *RegValue, instance string, session uint64) bool {
	for _, c := range v.Callees {
		if c.Instance == instance && c.Session == session {
			return true
		}
	}
	return false
}
