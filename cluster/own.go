package cluster

import (
	"context"
	"errors"
	"slices"
	"time"
)

// This instance's own callees: the registry keeps what this instance
// wants registered (its desired state) and reconciles the bucket towards
// it for this instance's callees only.
//
// Why: peers reap an instance they declare dead, and a live instance can be
// declared dead — a partition, a stall longer than DeadAfter heartbeats.
// When its heartbeats come back its sessions still believe they are
// registered. So when the watcher shows one of its wanted callees missing,
// the registry registers it again; when that is impossible (an exclusive
// registration taken meanwhile by another callee, a different policy) it
// gives the callee up and tells OnLost. Conversely a callee of this
// instance in the bucket that it does not want — a Register that failed
// with ErrUnavailable but was committed after all, an Unregister that
// failed — is removed.

// ownRef identifies one wanted callee: KV key and session.
type ownRef struct {
	kk      string
	session uint64
}

type ownEntry struct {
	k      RegKey
	invoke string
	c      Callee
	// pending: the Register is in flight. A pending callee found in the
	// bucket is kept, a missing one is not added (the Register decides).
	pending bool
	// rev is the revision the Register wrote: an older state of the key
	// (the watcher lags the writer) does not show this callee yet, and
	// that is no reason to reconcile.
	rev uint64
}

// want records (or, with ent nil, forgets) a wanted callee and returns the
// previous entry.
func (r *Registry) want(ref ownRef, ent *ownEntry) (prev *ownEntry) {
	r.omu.Lock()
	defer r.omu.Unlock()
	return r.wantLocked(ref, ent)
}

// settle ends a Register of ref whose pending entry is ent: confirmed if
// ok, else forgotten. It reports false if ent is no longer the entry (an
// Unregister came in between).
func (r *Registry) settle(ref ownRef, ent *ownEntry, ok bool, rev uint64) bool {
	r.omu.Lock()
	defer r.omu.Unlock()
	if r.own[ref.kk][ref.session] != ent {
		return false
	}
	if ok {
		ent.pending = false
		ent.rev = rev
	} else {
		r.wantLocked(ref, nil)
	}
	return true
}

func (r *Registry) wantLocked(ref ownRef, ent *ownEntry) (prev *ownEntry) {
	m := r.own[ref.kk]
	prev = m[ref.session]
	if ent == nil {
		if m != nil {
			delete(m, ref.session)
			if len(m) == 0 {
				delete(r.own, ref.kk)
			}
		}
		return prev
	}
	if m == nil {
		m = make(map[uint64]*ownEntry)
		r.own[ref.kk] = m
	}
	m[ref.session] = ent
	return prev
}

// OnLost registers fn to be called when one of this instance's callees,
// registered with Register and not unregistered, was removed from the
// bucket by another node (which declared this instance dead) and could not
// be registered again: an exclusive registration now held by another
// callee, or a registration now with another invocation policy. fn is
// called from a reconciling goroutine and must not block for long.
func (r *Registry) OnLost(fn func(k RegKey, c Callee)) {
	r.omu.Lock()
	defer r.omu.Unlock()
	r.onLost = append(slices.Clip(r.onLost), fn)
}

// checkOwn is called by apply (dmu held) after key kk changed to v (nil =
// deleted) at revision rev: if this instance's callees there differ from
// the wanted ones, the key is reconciled.
func (r *Registry) checkOwn(kk string, v *RegValue, rev uint64) {
	r.omu.Lock()
	m := r.own[kk]
	mismatch := false
	missing := 0 // wanted, written at or before rev, not in v
	for _, e := range m {
		if !e.pending && e.rev <= rev {
			missing++
		}
	}
	if v != nil {
		for _, c := range v.Callees {
			if c.Instance != r.self {
				continue
			}
			switch e := m[c.Session]; {
			case e == nil:
				mismatch = true // in the bucket, not wanted
			case !e.pending && e.rev <= rev:
				missing--
			}
		}
	}
	if missing > 0 {
		mismatch = true
	}
	r.omu.Unlock()
	if mismatch {
		r.reconcileSoon(kk)
	}
}

// reconcileSoon starts reconciling kk unless that is under way, in which
// case the running reconciler goes round once more.
func (r *Registry) reconcileSoon(kk string) {
	r.omu.Lock()
	defer r.omu.Unlock()
	if r.closed.Load() {
		return
	}
	if _, running := r.fixing[kk]; running {
		r.fixing[kk] = true
		return
	}
	r.fixing[kk] = false
	r.loops.Add(1)
	go r.reconcile(kk)
}

// reconcile brings this instance's callees under kk to the wanted state,
// retrying while the bucket is unavailable, until done or closed.
func (r *Registry) reconcile(kk string) {
	defer r.loops.Done()
	delay := 100 * time.Millisecond
	for {
		err := r.reconcileOnce(kk)
		r.omu.Lock()
		again := r.fixing[kk]
		if (err == nil && !again) || r.closed.Load() {
			delete(r.fixing, kk)
			r.omu.Unlock()
			return
		}
		r.fixing[kk] = false
		r.omu.Unlock()
		if err != nil {
			r.log.Debug("cluster: reconciling own registration failed, retrying", "key", kk, "err", err)
			time.Sleep(delay)
			delay = min(2*delay, 2*time.Second)
		}
	}
}

func (r *Registry) reconcileOnce(kk string) error {
	// The RegKey: from a wanted entry, else from the replica.
	var k RegKey
	found := false
	r.omu.Lock()
	for _, e := range r.own[kk] {
		k, found = e.k, true
		break
	}
	r.omu.Unlock()
	if !found {
		r.mu.RLock()
		if e := r.replica[kk]; e != nil {
			k, found = e.key, true
		}
		r.mu.RUnlock()
	}
	if !found {
		return nil
	}
	var lost []*ownEntry
	err := r.update(context.Background(), k, func(cur *RegValue) (*RegValue, error) {
		lost = lost[:0]
		r.omu.Lock()
		want := make(map[uint64]*ownEntry, len(r.own[kk]))
		keep := make(map[uint64]bool, len(r.own[kk]))
		for s, e := range r.own[kk] {
			keep[s] = true
			if !e.pending {
				want[s] = e
			}
		}
		r.omu.Unlock()
		var cs []Callee
		invoke := ""
		if cur != nil {
			invoke = cur.Invoke
			for _, c := range cur.Callees {
				if c.Instance == r.self {
					if !keep[c.Session] {
						continue // not wanted: drop
					}
					delete(want, c.Session) // wanted and there
				}
				cs = append(cs, c)
			}
		}
		if len(cs) == 0 {
			invoke = "" // nothing left of the old registration
		}
		for _, e := range sortedOwn(want) {
			switch {
			case invoke == "":
				invoke = e.invoke
			case invoke != e.invoke, invoke == "single" && len(cs) > 0:
				lost = append(lost, e)
				continue
			}
			cs = append(cs, e.c)
		}
		switch {
		case len(cs) == 0:
			return nil, nil
		case cur != nil && slices.Equal(cs, cur.Callees):
			return cur, nil
		}
		return &RegValue{invoke, cs}, nil
	})
	if err != nil {
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) {
			r.log.Warn("cluster: own registration cannot be restored", "key", k.String(), "err", err)
			return nil
		}
		return err
	}
	for _, e := range lost {
		r.omu.Lock()
		still := r.own[kk][e.c.Session] == e
		if still {
			r.wantLocked(ownRef{kk, e.c.Session}, nil)
		}
		r.omu.Unlock()
		if !still {
			continue // unregistered meanwhile: nothing lost
		}
		r.log.Warn("cluster: registration lost while this node was considered dead", "key", k.String(), "session", e.c.Session)
		r.omu.Lock()
		fns := r.onLost
		r.omu.Unlock()
		for _, fn := range fns {
			fn(e.k, e.c)
		}
	}
	return nil
}

// sortedOwn returns the entries in session order, so re-registration order
// is deterministic.
func sortedOwn(m map[uint64]*ownEntry) []*ownEntry {
	out := make([]*ownEntry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *ownEntry) int {
		switch {
		case a.c.Session < b.c.Session:
			return -1
		case a.c.Session > b.c.Session:
			return 1
		}
		return 0
	})
	return out
}
