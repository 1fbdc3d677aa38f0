package core

import (
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// Realm is a routing namespace: its own Broker (subscriptions), Dealer
// (registrations) and sessions.
type Realm struct {
	name           string
	router         *Router
	subs           *trie.Index[*subscription]
	regs           *trie.Index[*registration]
	subByID        sync.Map // uint64 → *subscription
	regByID        sync.Map // uint64 → *registration
	sessions       sessionTable
	authz          atomic.Pointer[authzHook] // nil: everything allowed
	authenticators []Authenticator
	denyAnonymous  bool
	meta           metaAPI
	store          eventStore // event history and retained events
}

func newRealm(r *Router, rc RealmConfig) *Realm {
	o := trie.Options{Shards: r.cfg.Shards}
	realm := &Realm{
		name:           rc.Name,
		router:         r,
		subs:           trie.New[*subscription](o),
		regs:           trie.New[*registration](o),
		authenticators: rc.Authenticators,
		denyAnonymous:  rc.DenyAnonymous,
	}
	realm.SetAuthorizer(rc.Authorizer)
	realm.sessions.init()
	realm.meta.realm = realm
	realm.store.init(r.cfg.EventStoreMaxBytes)
	return realm
}

// Name returns the realm's URI.
func (r *Realm) Name() string { return r.name }

// SessionCount returns the number of sessions joined to the realm.
func (r *Realm) SessionCount() int { return r.sessions.count() }

// SessionInfos describes up to max of the realm's sessions (all of them
// when max ≤ 0), in no order: for status pages, not for the hot path.
func (r *Realm) SessionInfos(max int) []Info {
	var out []Info
	r.sessions.each(func(s *Session) {
		if max <= 0 || len(out) < max {
			out = append(out, s.Info())
		}
	})
	return out
}

// sessionTable maps session ids to sessions, sharded so joins and leaves
// on different pollers rarely meet on a lock.
type sessionTable struct {
	shards [64]sessionShard
	n      atomic.Int64 // sessions in the table, for the per-realm limit
}

type sessionShard struct {
	mu sync.Mutex
	m  map[uint64]*Session
	// Pad the shard to a whole cache line so that joins and leaves on two
	// pollers do not bounce one line between cores (false sharing).
	_ [cacheLine - unsafe.Sizeof(sync.Mutex{}) - unsafe.Sizeof(map[uint64]*Session(nil))]byte
}

// cacheLine is the x86-64 and arm64 L1 line size.
const cacheLine = 64

// A sessionShard is exactly one cache line.
var _ [0]struct{} = [unsafe.Sizeof(sessionShard{}) - cacheLine]struct{}{}

func (t *sessionTable) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]*Session)
	}
}

// add assigns s a fresh random global id and stores it, unless the table
// already holds max sessions (then ok is false and s is not stored).
func (t *sessionTable) add(s *Session, b *Batch, max int) (id uint64, ok bool) {
	if !t.reserve(max) {
		return 0, false
	}
	for {
		if id := b.globalID(); t.store(s, id) {
			return id, true
		}
	}
}

// addPreferred adds s under id when id is free, else under a fresh one;
// like add, it refuses past max sessions.
func (t *sessionTable) addPreferred(s *Session, b *Batch, id uint64, max int) (uint64, bool) {
	if id == 0 || id > codec.MaxID {
		return t.add(s, b, max)
	}
	if !t.reserve(max) {
		return 0, false
	}
	if t.store(s, id) {
		return id, true
	}
	t.n.Add(-1)
	return t.add(s, b, max)
}

// reserve counts one more session unless the table holds max already.
func (t *sessionTable) reserve(max int) bool {
	if t.n.Add(1) > int64(max) {
		t.n.Add(-1)
		return false
	}
	return true
}

// store puts s under id if no session has it.
func (t *sessionTable) store(s *Session, id uint64) bool {
	sh := &t.shards[id%uint64(len(t.shards))]
	sh.mu.Lock()
	_, taken := sh.m[id]
	if !taken {
		s.id = id
		sh.m[id] = s
	}
	sh.mu.Unlock()
	return !taken
}

func (t *sessionTable) remove(s *Session) {
	sh := &t.shards[s.id%uint64(len(t.shards))]
	sh.mu.Lock()
	if sh.m[s.id] == s {
		delete(sh.m, s.id)
		t.n.Add(-1)
	}
	sh.mu.Unlock()
}

func (t *sessionTable) get(id uint64) *Session {
	sh := &t.shards[id%uint64(len(t.shards))]
	sh.mu.Lock()
	s := sh.m[id]
	sh.mu.Unlock()
	return s
}

func (t *sessionTable) count() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// each calls fn for every session; fn runs under a shard lock and must not
// call back into the table.
func (t *sessionTable) each(fn func(*Session)) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, s := range sh.m {
			fn(s)
		}
		sh.mu.Unlock()
	}
}

// Action is what an authorizer is asked to allow.
type Action uint8

// Actions.
const (
	ActionPublish Action = iota + 1
	ActionSubscribe
	ActionCall
	ActionRegister
)

func (a Action) String() string {
	switch a {
	case ActionPublish:
		return "publish"
	case ActionSubscribe:
		return "subscribe"
	case ActionCall:
		return "call"
	case ActionRegister:
		return "register"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Authorizer decides whether a session may perform an action on a URI. It
// runs inline on the hot path (every PUBLISH and CALL), so implementations
// must be fast and must not block; uri is only valid during the call. An
// Authorizer that also implements Decider is asked through Decide instead
// (options, disclosure, answers that come later); one that implements
// RoleChecker also refuses unknown roles at join.
type Authorizer interface {
	Authorize(s *Session, a Action, uri []byte) bool
}

// Identity is what authentication establishes for a session.
type Identity struct {
	AuthID, AuthRole, AuthMethod, AuthProvider string
	// AuthExtra, when not nil, is sent as WELCOME.Details.authextra
	// (wamp-scram's verifier, a principal's configured extra).
	AuthExtra map[string]any
}

// Hello is what an authenticator sees of a HELLO.
type Hello struct {
	Realm       string
	AuthID      string
	AuthMethods []string
	AuthExtra   map[string]any
	Transport   TransportInfo
	// AuthRole is the role the client asked for (HELLO.Details.authrole).
	AuthRole string
	// Session is the session id the router will assign if the handshake
	// succeeds (wampcra puts it in its challenge); set for Challengers.
	Session uint64
}

// Authenticator implements one authmethod. Authenticate decides a HELLO
// without a challenge round (anonymous, trust by transport); it runs on
// the driver goroutine and must be cheap and must not block. Methods that
// need CHALLENGE/AUTHENTICATE, or whose check is expensive, also implement
// Challenger (handshake.go): core then runs them on its worker pool and
// never calls their Authenticate.
type Authenticator interface {
	Method() string
	Authenticate(h *Hello) (Identity, *AuthError)
}

// AuthError refuses a session with an ABORT reason and message.
type AuthError struct {
	URI     string
	Message string
}

// authenticate picks the first of the client's authmethods the realm
// supports and runs it; with no authenticators configured, sessions are
// anonymous.
func (r *Realm) authenticate(b *Batch, c *Conn, m *codec.Message) (Identity, *AuthError) {
	d := &m.Details
	methods := d.AuthMethods
	if len(r.authenticators) > 0 {
		h := &Hello{Realm: r.name, AuthID: string(d.Str[codec.KeyAuthID]), Transport: c.t.Info()}
		for _, mm := range methods {
			h.AuthMethods = append(h.AuthMethods, string(mm))
		}
		if d.AuthExtra.Present() {
			h.AuthExtra, _ = codec.ToDict(d.AuthExtra)
		}
		for _, mm := range methods {
			for _, a := range r.authenticators {
				if a.Method() == string(mm) {
					return a.Authenticate(h)
				}
			}
		}
	}
	anonymousOK := !r.denyAnonymous && len(r.authenticators) == 0
	if !anonymousOK {
		return Identity{}, &AuthError{ErrNoAuthMethod, "no acceptable authmethod offered"}
	}
	if len(methods) > 0 {
		offered := false
		for _, mm := range methods {
			if string(mm) == "anonymous" {
				offered = true
			}
		}
		if !offered {
			return Identity{}, &AuthError{ErrNoAuthMethod, "this realm only allows anonymous sessions"}
		}
	}
	authID := string(d.Str[codec.KeyAuthID])
	if authID == "" {
		authID = "anonymous-" + strconv.FormatUint(b.globalID(), 36)
	}
	return Identity{AuthID: authID, AuthRole: "anonymous", AuthMethod: "anonymous", AuthProvider: "static"}, nil
}
