package core

// TableSizes counts what a realm holds: the router's tables, for tests,
// fuzzers and soak runs that check nothing leaks. Every field is a count of
// live entries, so a realm every session has left reads all zero.
type TableSizes struct {
	Sessions      int // joined sessions
	Subscriptions int // router-scope subscriptions (one per topic and match policy)
	Subscribers   int // (subscription, session) pairs
	Registrations int // router-scope registrations (one per procedure and match policy)
	Callees       int // (registration, session) pairs
	PendingCalls  int // calls awaiting their final result, counted at the caller
	PendingInvs   int // invocations awaiting YIELD or ERROR, counted at the callee
	TrieSubs      int // entries in the subscription trie
	TrieRegs      int // entries in the registration trie
}

// Add returns the field-wise sum of t and u.
func (t TableSizes) Add(u TableSizes) TableSizes {
	t.Sessions += u.Sessions
	t.Subscriptions += u.Subscriptions
	t.Subscribers += u.Subscribers
	t.Registrations += u.Registrations
	t.Callees += u.Callees
	t.PendingCalls += u.PendingCalls
	t.PendingInvs += u.PendingInvs
	t.TrieSubs += u.TrieSubs
	t.TrieRegs += u.TrieRegs
	return t
}

// Tables counts the realm's tables. It walks them (O(sessions +
// subscriptions + registrations)) taking each lock briefly, one at a time,
// so it is for inspection, never for the message path. Counts taken while
// sessions change are each consistent but not a single snapshot.
func (r *Realm) Tables() TableSizes {
	var t TableSizes
	var sessions []*Session // one shard's at a time
	for i := range r.sessions.shards {
		sh := &r.sessions.shards[i]
		sh.mu.Lock()
		sessions = sessions[:0]
		for _, s := range sh.m {
			sessions = append(sessions, s)
		}
		sh.mu.Unlock()
		t.Sessions += len(sessions)
		// Session.mu comes before the shard locks in the lock order, so
		// it is taken only once the shard's lock is released.
		for _, s := range sessions {
			s.mu.Lock()
			t.PendingCalls += len(s.calls)
			t.PendingInvs += len(s.invs)
			s.mu.Unlock()
		}
	}
	r.subByID.Range(func(_, v any) bool {
		t.Subscriptions++
		t.Subscribers += v.(*subscription).count()
		return true
	})
	r.regByID.Range(func(_, v any) bool {
		t.Registrations++
		t.Callees += len(v.(*registration).calleeList())
		return true
	})
	t.TrieSubs = r.subs.Len()
	t.TrieRegs = r.regs.Len()
	return t
}

// Tables sums Realm.Tables over every realm of the router.
func (r *Router) Tables() TableSizes {
	var t TableSizes
	r.realms.Range(func(_, v any) bool {
		t = t.Add(v.(*Realm).Tables())
		return true
	})
	return t
}
