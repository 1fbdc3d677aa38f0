package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RegKey identifies one WAMP registration cluster-wide.
type RegKey struct {
	Realm string
	URI   string
	// Match is the registration's match policy: "exact", "prefix" or
	// "wildcard".
	Match string
}

// Callee is one session registered for a RegKey.
type Callee struct {
	// Instance is the node instance the session is connected to
	// (Engine.Instance).
	Instance string `json:"i"`
	// Session is the WAMP session id.
	Session uint64 `json:"s"`
	// Features is an opaque bit set of the callee's features for the
	// router layer (e.g. progressive results, call canceling).
	Features uint64 `json:"f,omitempty"`
	// DiscloseCaller is the registration's disclose_caller option.
	DiscloseCaller bool `json:"dc,omitempty"`
	// ForwardTimeout is the registration's forward_timeout option.
	ForwardTimeout bool `json:"ft,omitempty"`
}

// RegValue is the state of one registration: its invocation policy and its
// callees in the order they registered (first = earliest).
type RegValue struct {
	// Invoke is "single", "roundrobin", "random", "first" or "last".
	Invoke  string
	Callees []Callee
}

var (
	// ErrExists: the registration exists and admits no such callee (its
	// policy is "single", or this callee is already registered).
	ErrExists = errors.New("cluster: registration exists")
	// ErrPolicyMismatch: the registration exists with a different
	// invocation policy.
	ErrPolicyMismatch = errors.New("cluster: registration exists with a different invocation policy")
	// ErrNotRegistered: Unregister found no such callee.
	ErrNotRegistered = errors.New("cluster: no such callee registered")
	// ErrUnavailable: the registry could not complete the operation in
	// time: no JetStream quorum, no leader, the connection is closed. The
	// cause is wrapped.
	ErrUnavailable = errors.New("cluster: registry unavailable")
	// ErrTooLarge: the registration's value would exceed the NATS maximum
	// payload (about 15,000 callees of one shared registration at the
	// default 1 MiB).
	ErrTooLarge = errors.New("cluster: registration value too large")
	// ErrInvalid: a bad argument (empty realm or URI, unknown match or
	// invocation policy).
	ErrInvalid = errors.New("cluster: invalid registration")
)

// regDoc is the JSON stored under a key. It carries the RegKey too, so a
// hashed key (see kvKey) can be decoded from its value.
type regDoc struct {
	Realm   string   `json:"realm"`
	URI     string   `json:"uri"`
	Match   string   `json:"match"`
	Invoke  string   `json:"invoke"`
	Callees []Callee `json:"callees"`
}

// maxPlainKey bounds a readable key's length. The KV key becomes the
// subject $KV.<bucket>.<key> of a client publish, whose protocol line NATS
// limits to 4 KiB by default and answers by closing the connection; a
// longer key is replaced by its hash (see kvKey).
const maxPlainKey = 1024

var b64 = base64.RawURLEncoding

// kvKey maps k to its KV key: "r.<m>.<realm>.<uri>" with realm and URI in
// unpadded base64url ([-_A-Za-z0-9], injective, no dots) and <m> the match
// policy's initial; or "h.<m>.<SHA-256 of realm NUL uri, base64url>" when
// that would exceed maxPlainKey bytes. Both forms are legal KV keys of any
// content and never collide with each other ("r." / "h.").
func kvKey(k RegKey) string {
	m := k.Match[:1]
	n := 5 + b64.EncodedLen(len(k.Realm)) + b64.EncodedLen(len(k.URI))
	if n <= maxPlainKey {
		b := make([]byte, 0, n)
		b = append(b, 'r', '.', m[0], '.')
		b = b64.AppendEncode(b, []byte(k.Realm))
		b = append(b, '.')
		b = b64.AppendEncode(b, []byte(k.URI))
		return string(b)
	}
	h := sha256.New()
	h.Write([]byte(k.Realm))
	h.Write([]byte{0})
	h.Write([]byte(k.URI))
	return "h." + m + "." + b64.EncodeToString(h.Sum(nil))
}

func validKey(k RegKey) error {
	if k.Realm == "" || k.URI == "" {
		return fmt.Errorf("%w: empty realm or URI", ErrInvalid)
	}
	switch k.Match {
	case "exact", "prefix", "wildcard":
		return nil
	}
	return fmt.Errorf("%w: match policy %q", ErrInvalid, k.Match)
}

func validInvoke(s string) bool {
	switch s {
	case "single", "roundrobin", "random", "first", "last":
		return true
	}
	return false
}

// Registry is the cluster-wide registration table: a JetStream KV bucket
// with one key per registration, and a local replica of it kept current by
// a watcher.
//
// Values change only by compare-and-set: Create for the first callee,
// Update with the revision read for a change, Delete with LastRevision
// when the last callee goes, so concurrent writers from any node never
// lose each other's changes and an exclusive registration has exactly one
// winner. Reads for decisions start from the replica (no round trip); a
// refused compare-and-set, or a refusal decided on the replica, is
// re-checked against the stream leader (the bucket's stream has direct
// gets off, so Get is answered by the leader, not a possibly lagging
// follower).
type Registry struct {
	self      string // this instance
	kv        jetstream.KeyValue
	nc        *nats.Conn
	opTimeout time.Duration
	log       *slog.Logger

	mu      sync.RWMutex
	replica map[string]*regEntry // by KV key
	deleted map[string]uint64    // revision of each deleted key's marker

	// dmu serialises deliveries to watchers (the snapshot of a new watcher
	// and the changes), so each watcher sees a consistent order.
	dmu      sync.Mutex
	wmu      sync.Mutex
	watchers []*regWatcher        // copy on write under wmu
	watch    jetstream.KeyWatcher // the current KV watcher, under wmu

	loops  sync.WaitGroup // watcher loops and reconcilers
	closed atomic.Bool

	// This instance's wanted callees (own.go), under omu.
	omu    sync.Mutex
	own    map[string]map[uint64]*ownEntry // by KV key, session
	fixing map[string]bool                 // keys being reconciled: true = go round again
	onLost []func(RegKey, Callee)
}

type regEntry struct {
	key RegKey
	val *RegValue
	rev uint64
}

type regWatcher struct {
	fn      func(RegKey, *RegValue)
	stopped atomic.Bool
}

func newRegistry(kv jetstream.KeyValue, nc *nats.Conn, self string, opTimeout time.Duration, log *slog.Logger) *Registry {
	return &Registry{
		self:      self,
		own:       make(map[string]map[uint64]*ownEntry),
		fixing:    make(map[string]bool),
		kv:        kv,
		nc:        nc,
		opTimeout: opTimeout,
		log:       log,
		replica:   make(map[string]*regEntry),
		deleted:   make(map[string]uint64),
	}
}

// start starts the watcher and waits until the replica holds the bucket's
// current content.
func (r *Registry) start(ctx context.Context) error {
	w, err := r.kv.WatchAll(context.Background())
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	r.wmu.Lock()
	r.watch = w
	r.wmu.Unlock()
	r.loops.Add(1)
	go r.loop(w, ready)
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resync replaces the watcher by a new one: a fresh snapshot of the bucket,
// then its changes. The engine calls it when a peer dies or comes back:
// the watcher is a JetStream ordered consumer placed on one of the
// stream's servers, and when that server dies nats.go notices only after
// missed idle heartbeats (measured: the replica stalled 18 s). Entries
// apply per key in revision order whichever watcher delivers them, so the
// old watcher, stopped once the new one's snapshot is in, cannot undo a
// newer state.
func (r *Registry) resync(ctx context.Context) error {
	if r.closed.Load() {
		return nil
	}
	w, err := r.kv.WatchAll(context.Background())
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	r.loops.Add(1)
	go r.loop(w, ready)
	select {
	case <-ready:
	case <-ctx.Done():
		_ = w.Stop()
		return ctx.Err()
	}
	r.wmu.Lock()
	old := r.watch
	r.watch = w
	closed := r.closed.Load()
	r.wmu.Unlock()
	go func() { // Stop may wait for a JetStream API answer (see close)
		if old != nil {
			_ = old.Stop()
		}
		if closed {
			_ = w.Stop()
		}
	}()
	return nil
}

// loop applies what watcher w delivers; ready is closed at the end of its
// initial snapshot.
func (r *Registry) loop(w jetstream.KeyWatcher, ready chan struct{}) {
	defer r.loops.Done()
	for e := range w.Updates() {
		if e == nil {
			if ready != nil {
				close(ready)
				ready = nil
			}
			continue
		}
		r.apply(e)
	}
	if ready != nil {
		close(ready)
	}
}

// apply updates the replica with one watched entry, unless the replica
// already holds that key at the same or a later revision, and tells the
// watchers.
func (r *Registry) apply(e jetstream.KeyValueEntry) {
	kk, rev := e.Key(), e.Revision()
	var ent *regEntry
	if e.Operation() == jetstream.KeyValuePut {
		var d regDoc
		if err := json.Unmarshal(e.Value(), &d); err != nil {
			r.log.Warn("cluster: undecodable registry value ignored", "key", kk, "err", err)
			return
		}
		ent = &regEntry{key: RegKey{d.Realm, d.URI, d.Match}, val: &RegValue{d.Invoke, d.Callees}, rev: rev}
	}
	r.dmu.Lock()
	defer r.dmu.Unlock()
	r.mu.Lock()
	old := r.replica[kk]
	cur := r.deleted[kk]
	if old != nil {
		cur = old.rev
	}
	if rev <= cur {
		r.mu.Unlock()
		return
	}
	if ent != nil {
		r.replica[kk] = ent
		delete(r.deleted, kk)
	} else {
		delete(r.replica, kk)
		r.deleted[kk] = rev
	}
	r.mu.Unlock()
	var v *RegValue
	if ent != nil {
		v = ent.val
	}
	r.checkOwn(kk, v, rev)
	if ent == nil && old == nil {
		return // a delete marker of a key this replica never held
	}
	k := old.keyOr(ent)
	r.wmu.Lock()
	ws := r.watchers
	r.wmu.Unlock()
	for _, w := range ws {
		if !w.stopped.Load() {
			w.fn(k, v)
		}
	}
}

func (e *regEntry) keyOr(o *regEntry) RegKey {
	if e != nil {
		return e.key
	}
	return o.key
}

// Watch calls fn with every registration in the local replica (the
// snapshot, synchronously, before Watch returns), then with every change
// in the order the bucket saw them, v nil meaning the registration is
// gone. Calls are serialised (never concurrent, each one
// happens-before the next) and come from the registry's watcher
// goroutines after the snapshot, so fn must not block for long and must
// not call Watch. A key's changes arrive in revision order; a watcher
// renewal (see resync) delivers only what changed meanwhile. The values
// passed are shared and must not be modified. stop may be called from
// anywhere, including fn; no call starts after it returns.
func (r *Registry) Watch(fn func(k RegKey, v *RegValue)) (stop func()) {
	w := &regWatcher{fn: fn}
	r.dmu.Lock()
	r.mu.RLock()
	snap := make([]*regEntry, 0, len(r.replica))
	for _, e := range r.replica {
		snap = append(snap, e)
	}
	r.mu.RUnlock()
	for _, e := range snap {
		fn(e.key, e.val)
	}
	r.wmu.Lock()
	r.watchers = append(slices.Clip(r.watchers), w)
	r.wmu.Unlock()
	r.dmu.Unlock()
	return func() {
		w.stopped.Store(true)
		r.wmu.Lock()
		r.watchers = slices.DeleteFunc(slices.Clone(r.watchers), func(x *regWatcher) bool { return x == w })
		r.wmu.Unlock()
	}
}

// Get returns the registration k from the local replica (no round trip;
// it may lag the bucket by the propagation delay). The value is shared
// and must not be modified. It builds the key's KV name, so it allocates:
// the router's CALL path should resolve from its own index fed by Watch
// (which also gives prefix and wildcard matching).
func (r *Registry) Get(k RegKey) (*RegValue, bool) {
	if validKey(k) != nil {
		return nil, false
	}
	kk := kvKey(k)
	r.mu.RLock()
	e := r.replica[kk]
	r.mu.RUnlock()
	if e == nil || e.key != k {
		return nil, false
	}
	return e.val, true
}

// Len returns the number of registrations in the local replica.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.replica)
}

// state is one read of a key: its value (nil = absent) and revision.
type state struct {
	val *RegValue
	rev uint64
}

// local reads kk from the replica.
func (r *Registry) local(kk string, k RegKey) (state, error) {
	r.mu.RLock()
	e := r.replica[kk]
	r.mu.RUnlock()
	if e == nil {
		return state{}, nil
	}
	if e.key != k {
		return state{}, fmt.Errorf("%w: key hash collision between %q and %q", ErrInvalid, short(e.key.URI), short(k.URI))
	}
	return state{e.val, e.rev}, nil
}

// leader reads kk from the stream leader.
func (r *Registry) leader(ctx context.Context, kk string, k RegKey) (state, error) {
	e, err := r.kv.Get(ctx, kk)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return state{}, nil
	}
	if err != nil {
		return state{}, unavailable(err)
	}
	var d regDoc
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		return state{}, fmt.Errorf("cluster: registry value of %q: %w", kk, err)
	}
	if (RegKey{d.Realm, d.URI, d.Match}) != k {
		return state{}, fmt.Errorf("%w: key hash collision between %q and %q", ErrInvalid, short(d.URI), short(k.URI))
	}
	return state{&RegValue{d.Invoke, d.Callees}, e.Revision()}, nil
}

// errRetry asks update to re-read from the leader and try again.
var errRetry = errors.New("retry")

// update runs one compare-and-set transaction on key k: change computes
// the new value from the current one (nil = absent); it returns nil to
// delete the key, the same pointer to leave it unchanged, or an error to
// stop. A refusal computed from the replica is re-checked against the
// leader, and a lost compare-and-set is retried, until ctx or OpTimeout
// ends.
func (r *Registry) update(ctx context.Context, k RegKey, change func(cur *RegValue) (*RegValue, error)) error {
	_, err := r.updateRev(ctx, k, change)
	return err
}

// updateRev is update, also returning the revision of the state it left
// (0 after a delete).
func (r *Registry) updateRev(ctx context.Context, k RegKey, change func(cur *RegValue) (*RegValue, error)) (uint64, error) {
	if err := validKey(k); err != nil {
		return 0, err
	}
	if r.closed.Load() {
		return 0, fmt.Errorf("%w: engine closed", ErrUnavailable)
	}
	ctx, cancel := context.WithTimeout(ctx, r.opTimeout)
	defer cancel()
	kk := kvKey(k)
	st, err := r.local(kk, k)
	fromLeader := false
	for attempt := 0; ; attempt++ {
		if err != nil {
			return 0, err
		}
		next, cerr := change(st.val)
		if cerr != nil {
			if !fromLeader {
				st, err = r.leader(ctx, kk, k)
				fromLeader = true
				continue
			}
			return 0, cerr
		}
		var rev uint64
		rev, err = r.write(ctx, kk, k, st, next)
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, errRetry) {
			return 0, err
		}
		if attempt > 0 {
			// Contention: back off a random while, growing, so the
			// competitors' writes land instead of all retrying at once.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(min(attempt, 10)) * int64(2*time.Millisecond)))):
			case <-ctx.Done():
				return 0, unavailable(ctx.Err())
			}
		}
		st, err = r.leader(ctx, kk, k)
		fromLeader = true
	}
}

// write applies next over st with compare-and-set and returns the new
// revision (0 after a delete); errRetry means the revision moved.
func (r *Registry) write(ctx context.Context, kk string, k RegKey, st state, next *RegValue) (uint64, error) {
	switch {
	case next == st.val:
		return st.rev, nil
	case next == nil:
		if st.val == nil {
			return 0, nil
		}
		err := r.kv.Delete(ctx, kk, jetstream.LastRevision(st.rev))
		if casConflict(err) {
			return 0, errRetry
		}
		return 0, unavailable(err)
	}
	b, err := json.Marshal(regDoc{k.Realm, k.URI, k.Match, next.Invoke, next.Callees})
	if err != nil {
		return 0, err
	}
	if mp := r.nc.MaxPayload(); mp > 0 && int64(len(b)) > mp-int64(len(kk))-256 {
		return 0, fmt.Errorf("%w: %d bytes for %d callees of %q, the NATS limit is %d", ErrTooLarge, len(b), len(next.Callees), short(k.URI), mp)
	}
	var rev uint64
	if st.val == nil {
		rev, err = r.kv.Create(ctx, kk, b)
	} else {
		rev, err = r.kv.Update(ctx, kk, b, st.rev)
	}
	if casConflict(err) {
		return 0, errRetry
	}
	return rev, unavailable(err)
}

// casConflict reports whether err is a lost compare-and-set. nats.go maps
// most of them to ErrKeyExists or ErrKeyRevisionMismatch, but not all:
// Create over a deleted key retries as an update at the delete marker's
// revision and returns that update's raw "wrong last sequence" API error
// (code 10071, or 10164 on a replicated stream) when another writer got
// there first.
func casConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) &&
		(api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// unavailable wraps a transport or server error in ErrUnavailable.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Register adds callee c to registration k with invocation policy invoke.
// The first callee creates the registration; later ones are admitted if
// invoke equals the registration's policy and it is not "single"
// (ErrExists otherwise, or ErrPolicyMismatch for a different policy). A
// callee (Instance, Session) already present gets ErrExists. Exactly one
// of any number of concurrent Registers of a "single" registration, from
// any nodes, succeeds. ErrUnavailable wraps the cause when the bucket
// cannot be written within OpTimeout (no quorum).
func (r *Registry) Register(ctx context.Context, k RegKey, invoke string, c Callee) error {
	if !validInvoke(invoke) {
		return fmt.Errorf("%w: invocation policy %q", ErrInvalid, invoke)
	}
	if err := validKey(k); err != nil {
		return err
	}
	if c.Instance != r.self {
		_, err := r.register(ctx, k, invoke, c)
		return err
	}
	ref := ownRef{kvKey(k), c.Session}
	ent := &ownEntry{k: k, invoke: invoke, c: c, pending: true}
	r.omu.Lock()
	prev := r.own[ref.kk][ref.session]
	if prev == nil {
		r.wantLocked(ref, ent)
	}
	r.omu.Unlock()
	rev, err := r.register(ctx, k, invoke, c)
	if prev != nil {
		return err // already wanted: the bucket decides (ErrExists)
	}
	if !r.settle(ref, ent, err == nil, rev) || errors.Is(err, ErrUnavailable) {
		// Unregistered while registering, or a write that timed out and
		// may still land: the reconciler removes what is not wanted.
		r.reconcileSoon(ref.kk)
	}
	return err
}

func (r *Registry) register(ctx context.Context, k RegKey, invoke string, c Callee) (uint64, error) {
	return r.updateRev(ctx, k, func(cur *RegValue) (*RegValue, error) {
		if cur == nil {
			return &RegValue{invoke, []Callee{c}}, nil
		}
		if cur.Invoke != invoke {
			return nil, fmt.Errorf("%w: %q is registered with %q, not %q", ErrPolicyMismatch, short(k.URI), cur.Invoke, invoke)
		}
		if invoke == "single" {
			return nil, fmt.Errorf("%w: %q", ErrExists, short(k.URI))
		}
		for _, o := range cur.Callees {
			if o.Instance == c.Instance && o.Session == c.Session {
				return nil, fmt.Errorf("%w: %q already has session %d of %s", ErrExists, short(k.URI), c.Session, c.Instance)
			}
		}
		cs := make([]Callee, len(cur.Callees), len(cur.Callees)+1)
		copy(cs, cur.Callees)
		return &RegValue{invoke, append(cs, c)}, nil
	})
}

// Unregister removes the callee (instance, session) from registration k,
// deleting the key with its last callee. ErrNotRegistered if it is not
// there. Only the callee's own instance should unregister it: a live
// instance registers its wanted callees again (see OnLost), so removing
// another node's session is that node's business.
func (r *Registry) Unregister(ctx context.Context, k RegKey, instance string, session uint64) error {
	if err := validKey(k); err != nil {
		return err
	}
	if instance != r.self {
		return r.unregister(ctx, k, instance, session)
	}
	// Pending while the write is in flight, so the reconciler neither
	// restores nor removes it meanwhile; then forgotten, and if the write
	// failed the reconciler removes it later.
	ref := ownRef{kvKey(k), session}
	r.omu.Lock()
	prev := r.own[ref.kk][ref.session]
	var leaving *ownEntry
	if prev != nil {
		leaving = &ownEntry{k: prev.k, invoke: prev.invoke, c: prev.c, pending: true}
		r.wantLocked(ref, leaving)
	}
	r.omu.Unlock()
	err := r.unregister(ctx, k, instance, session)
	if leaving != nil {
		r.settle(ref, leaving, false, 0)
		if errors.Is(err, ErrNotRegistered) {
			// Wanted, so registered as far as the session knows: another
			// node reaped it (this node was taken for dead) before the
			// reconciler restored it. The session's wish is met.
			err = nil
		}
	}
	if errors.Is(err, ErrUnavailable) {
		r.reconcileSoon(ref.kk)
	}
	return err
}

func (r *Registry) unregister(ctx context.Context, k RegKey, instance string, session uint64) error {
	return r.update(ctx, k, func(cur *RegValue) (*RegValue, error) {
		if cur == nil {
			return nil, fmt.Errorf("%w: %q", ErrNotRegistered, short(k.URI))
		}
		cs := slices.DeleteFunc(slices.Clone(cur.Callees), func(o Callee) bool {
			return o.Instance == instance && o.Session == session
		})
		if len(cs) == len(cur.Callees) {
			return nil, fmt.Errorf("%w: %q has no session %d of %s", ErrNotRegistered, short(k.URI), session, instance)
		}
		if len(cs) == 0 {
			return nil, nil
		}
		return &RegValue{cur.Invoke, cs}, nil
	})
}

// Reap removes every callee of deadInstance from every registration,
// deleting the registrations left without callees, one compare-and-set per
// key (OpTimeout each), so several nodes may reap the same instance at
// once without losing other callees. It returns how many callees this call
// removed; an error means some keys may still hold the instance (call it
// again).
func (r *Registry) Reap(ctx context.Context, deadInstance string) (removed int, err error) {
	var keys []RegKey
	r.mu.RLock()
	for _, e := range r.replica {
		for _, c := range e.val.Callees {
			if c.Instance == deadInstance {
				keys = append(keys, e.key)
				break
			}
		}
	}
	r.mu.RUnlock()
	var firstErr error
	for _, k := range keys {
		n := 0
		err := r.update(ctx, k, func(cur *RegValue) (*RegValue, error) {
			n = 0
			if cur == nil {
				return nil, nil
			}
			cs := slices.DeleteFunc(slices.Clone(cur.Callees), func(o Callee) bool { return o.Instance == deadInstance })
			n = len(cur.Callees) - len(cs)
			switch {
			case n == 0:
				return cur, nil
			case len(cs) == 0:
				return nil, nil
			}
			return &RegValue{cur.Invoke, cs}, nil
		})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		removed += n
	}
	return removed, firstErr
}

// instances returns every instance that has a callee in the replica.
func (r *Registry) instances() map[string]struct{} {
	out := make(map[string]struct{})
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.replica {
		for _, c := range e.val.Callees {
			out[c.Instance] = struct{}{}
		}
	}
	return out
}

// close stops the watcher.
func (r *Registry) close() {
	if r.closed.Swap(true) {
		return
	}
	r.wmu.Lock()
	w := r.watch
	r.wmu.Unlock()
	// Stop deletes the watcher's consumer with a JetStream API request,
	// which waits up to 5 s for an answer when the cluster has no quorum
	// (the last node closing): do not wait for it beyond a moment, closing
	// the connection ends it.
	done := make(chan struct{})
	go func() {
		if w != nil {
			_ = w.Stop()
		}
		r.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(500 * time.Millisecond):
	}
}

// String is for logs and errors (long realms and URIs shortened).
func (k RegKey) String() string {
	return strings.Join([]string{short(k.Realm), short(k.URI), k.Match}, " ")
}

// short shortens s to at most 100 bytes for messages.
func short(s string) string {
	if len(s) <= 100 {
		return s
	}
	return s[:97] + "..."
}
