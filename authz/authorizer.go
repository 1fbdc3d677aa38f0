package authz

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/trie"
)

// ServiceRole is the authrole of the router's own session that calls
// dynamic authorizers; it is allowed everything and is never authorized
// dynamically (which would recurse).
const ServiceRole = "zwamp.authorizer"

// permission is one compiled PermissionConfig: the Decision for each action.
type permission struct {
	uri    string
	policy trie.Policy
	dec    [core.ActionRegister + 1]core.Decision
}

func (p *permission) set(pc *PermissionConfig) {
	var forbid core.Decision
	if pc.Disclose.DenyRequest {
		forbid = core.DiscloseForbid
	}
	if pc.Allow.Publish {
		p.dec[core.ActionPublish] = core.Allow | forbid
		if pc.Disclose.Publisher {
			p.dec[core.ActionPublish] |= core.DiscloseForce
		}
	}
	if pc.Allow.Call {
		p.dec[core.ActionCall] = core.Allow | forbid
		if pc.Disclose.Caller {
			p.dec[core.ActionCall] |= core.DiscloseForce
		}
	}
	if pc.Allow.Subscribe {
		p.dec[core.ActionSubscribe] = core.Allow
	}
	if pc.Allow.Register {
		p.dec[core.ActionRegister] = core.Allow
	}
}

// role is one compiled RoleConfig.
type role struct {
	name  string
	perms *trie.Index[*permission] // exact, prefix and wildcard permissions
	all   *permission              // uri "" match prefix, if any
	dyn   *dynamic                 // set for a dynamic-authorizer role
}

type cacheScope uint8

const (
	scopeSession cacheScope = iota
	scopeRole
)

// dynamic is a role's dynamic authorizer.
type dynamic struct {
	procedure string
	scope     cacheScope
	size      int
	ttl       time.Duration
	shared    *decisionCache // scopeRole
}

// policy is one generation of a realm's roles; a reload publishes a new one.
type policy struct {
	gen   uint64
	roles map[string]*role
}

// sessState is what an Authorizer keeps on each session: its role in the
// current policy generation and its decision cache. The fields every
// decision reads come first, with the memo table's tags, so that a lookup
// in the table touches this line and the one slot whose tag matches.
type sessState struct {
	gen    uint64
	role   *role
	memos  *[memoSlots]memo
	misses uint32
	svc    bool // the authorizer's own service session
	static bool // a static role, not svc: decided by memo and trie
	// tags[i] is a byte of the hash of memos[i]'s key and URI (never 0),
	// 0 for an empty slot: a bucket is searched by comparing bytes, and a
	// URI is compared only in the slot whose tag matches.
	tags [memoSlots]uint8
	// The last decision, until memoUpgrade misses (a session that
	// alternates between URIs) switch the session to the table.
	memo  memo
	cache *decisionCache // scopeSession, created on first use
}

// The per-session memo table: 32 slots in 8 buckets of 4 (2 KB, allocated
// once for a session that has missed its one-entry memo memoUpgrade times).
const (
	memoSlots   = 32
	memoWays    = 4
	memoUpgrade = 8
	// memoBucketBits is log2(memoSlots/memoWays).
	memoBucketBits = 3
)

// memoFor returns the memo slot holding (act, uri), or nil.
func (st *sessState) memoFor(act core.Action, uri []byte) *memo {
	t := st.memos
	if t == nil {
		if st.memo.is(act, uri) {
			return &st.memo
		}
		return nil
	}
	n := len(uri)
	if n < 9 || n > memoLen {
		return st.memoForOther(act, uri)
	}
	// memoHash and memo.is, written out: this runs on every action of a
	// session that alternates between URIs, and the calls cost as much
	// as the work (TestMemoForMatchesHash checks it against memoHash).
	x := binary.LittleEndian.Uint64(uri[n-9:]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(uri[(n-9)/2:]), 31)
	b, tag := memoMix(act, x, n, uri[n-1])
slots:
	for i := b; i < b+memoWays; i++ {
		if st.tags[i%memoSlots] != tag {
			continue
		}
		m := &t[i%memoSlots]
		if m.act != act || int(m.n) != n {
			continue
		}
		// 8 bytes at a time, the last word overlapping the one before.
		for j := 0; j < n-8; j += 8 {
			if binary.LittleEndian.Uint64(m.uri[j:]) != binary.LittleEndian.Uint64(uri[j:]) {
				continue slots
			}
		}
		if binary.LittleEndian.Uint64(m.uri[n-8:]) == binary.LittleEndian.Uint64(uri[n-8:]) {
			return m
		}
	}
	return nil
}

// memoForOther is memoFor in the table for URIs shorter than 9 bytes
// (longer than memoLen: never remembered).
func (st *sessState) memoForOther(act core.Action, uri []byte) *memo {
	if len(uri) > memoLen {
		return nil
	}
	b, tag := memoHash(act, uri)
	for i := b; i < b+memoWays; i++ {
		if st.tags[i] == tag {
			if m := &st.memos[i]; m.is(act, uri) {
				return m
			}
		}
	}
	return nil
}

// memoBucket returns the first slot of uri's bucket in the memo table.
func memoBucket(uri []byte) int {
	b, _ := memoHash(0, uri)
	return b
}

// memoHash returns the first slot of uri's bucket and the tag of (act,
// uri). It runs on every action of a session past its one-entry memo, so
// instead of hashing the whole URI through maphash (which was most of the
// memo's cost) it mixes the length and two 8-byte words of the URI
// without its last byte (the end, where the URIs of one application differ
// most, and the middle) with one 128-bit multiply, and adds the last byte:
// URIs numbered in sequence (com.app.echo0…echo15) land in consecutive
// buckets, at most 3 of 16 in one, so none is evicted. The tag is another
// byte of the product with the action mixed in. A poor spread only costs
// misses, which the trie answers identically, and a tag shared by two
// entries only costs a URI comparison; and only the session's own URIs
// share its table, so a client that chooses colliding URIs slows only its
// own decisions, to the trie's speed.
func memoHash(act core.Action, uri []byte) (bucket int, tag uint8) {
	n := len(uri)
	if n < 9 {
		return memoHashShort(act, uri)
	}
	// The 8 bytes before the last one and 8 from the middle.
	x := binary.LittleEndian.Uint64(uri[n-9:]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(uri[(n-9)/2:]), 31)
	return memoMix(act, x, n, uri[n-1])
}

// memoHashShort is memoHash for URIs shorter than 9 bytes, which cannot
// load the two words.
func memoHashShort(act core.Action, uri []byte) (int, uint8) {
	n := len(uri)
	if n == 0 {
		return 0, uint8(act) | 1
	}
	var x uint64
	for _, c := range uri[:n-1] {
		x = x<<8 | uint64(c)
	}
	return memoMix(act, x, n, uri[n-1])
}

// memoMix is wyhash's mix (a 128-bit product folded, so every input bit
// reaches the bucket bits) of x and the length; the bucket adds the last
// byte, the tag mixes in the action and is never 0.
func memoMix(act core.Action, x uint64, n int, last byte) (int, uint8) {
	hi, lo := bits.Mul64(x^uint64(n)^0xa0761d6478bd642f, 0xe7037ed1a0b428db)
	h := hi ^ lo
	b := h>>(64-memoBucketBits) + uint64(last)
	return int(b&(memoSlots/memoWays-1)) * memoWays, (uint8(h) ^ uint8(act)<<1) | 1
}

// remember stores a decision just computed for (act, uri), counting the
// miss that led to it.
func (st *sessState) remember(act core.Action, uri []byte, dec core.Decision, exp int64) {
	st.misses++
	if st.memos == nil && st.misses > memoUpgrade {
		st.memos = new([memoSlots]memo)
	}
	if st.memos == nil {
		st.memo.set(act, uri, dec, exp)
		return
	}
	// An empty slot of the bucket, else one in turn.
	b, tag := memoHash(act, uri)
	i := b + int(st.misses%memoWays)
	for j := b; j < b+memoWays; j++ {
		if st.tags[j] == 0 {
			i = j
			break
		}
	}
	if !st.memos[i].set(act, uri, dec, exp) {
		tag = 0
	}
	st.tags[i] = tag
}

// memoLen bounds the URIs the memo remembers (a memo is 64 bytes).
const memoLen = 48

// memo is a session's last decision: a publisher or caller repeating an
// action on one URI skips the trie (or the dynamic cache) with one byte
// comparison. It belongs to one policy generation (it lives in sessState)
// and is only touched by Decide, which core calls under the session's
// connection lock, so it needs no synchronisation.
type memo struct {
	exp int64 // clock() expiry for dynamic decisions; 0: none
	act core.Action
	dec core.Decision
	n   uint8
	uri [memoLen]byte
}

func (m *memo) is(act core.Action, uri []byte) bool {
	n := len(uri)
	if m.act != act || int(m.n) != n {
		return false
	}
	if n < 8 {
		return string(m.uri[:n]) == string(uri)
	}
	// 8 bytes at a time, the last word overlapping the one before: a
	// memo's URI is short, and memequal's call costs more than this.
	for i := 0; i < n-8; i += 8 {
		if binary.LittleEndian.Uint64(m.uri[i:]) != binary.LittleEndian.Uint64(uri[i:]) {
			return false
		}
	}
	return binary.LittleEndian.Uint64(m.uri[n-8:]) == binary.LittleEndian.Uint64(uri[n-8:])
}

// set remembers a decision, or forgets the slot's for a URI too long to
// remember (reporting false).
func (m *memo) set(act core.Action, uri []byte, dec core.Decision, exp int64) bool {
	if len(uri) > memoLen {
		m.act = 0
		return false
	}
	m.act, m.dec, m.exp, m.n = act, dec, exp, uint8(len(uri))
	copy(m.uri[:], uri)
	return true
}

// Options tune an Authorizer's dynamic authorizer calls.
type Options struct {
	// Workers call dynamic authorizers (default 4). They only wait on the
	// authorizer's answer; the router's pollers never do.
	Workers int
	// Queue bounds the decisions waiting for a worker (default 4096); past
	// it an action is refused with wamp.error.authorization_failed.
	Queue int
	// Timeout bounds one authorizer call (default 10s); past it the
	// action is refused with wamp.error.authorization_failed.
	Timeout time.Duration
	// Logger receives failures of authorizer calls (nil: slog.Default()).
	Logger *slog.Logger
}

// Authorizer enforces one realm's roles. It implements core.Authorizer,
// core.Decider and core.RoleChecker; install it with
// core.RealmConfig.Authorizer or core.Realm.SetAuthorizer, then call Start
// with the router if any role uses a dynamic authorizer.
type Authorizer struct {
	realm string
	opts  Options
	log   *slog.Logger
	pol   atomic.Pointer[policy]
	gen   atomic.Uint64
	now   atomic.Int64 // coarse clock (nanotime), ticked while started

	jobs chan *job

	mu      sync.Mutex // guards the fields below
	router  *core.Router
	svc     *client.Client
	svcID   atomic.Uint64
	started bool
	closed  bool
	quit    chan struct{}
	wg      sync.WaitGroup
}

// New compiles a realm's roles. Errors name the offending field.
func New(realm string, roles []RoleConfig, opts Options) (*Authorizer, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Queue <= 0 {
		opts.Queue = 4096
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	a := &Authorizer{realm: realm, opts: opts, log: opts.Logger, jobs: make(chan *job, opts.Queue), quit: make(chan struct{})}
	if a.log == nil {
		a.log = slog.Default()
	}
	if err := a.Reload(roles); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload replaces the roles. The next action of every session is decided
// by the new roles, every cached decision is dropped; actions already
// waiting for a dynamic authorizer finish under the old ones. A bad config
// is refused and the old one stays.
func (a *Authorizer) Reload(roles []RoleConfig) error {
	compiled, err := compile("", roles)
	if err != nil {
		return err
	}
	a.pol.Store(&policy{gen: a.gen.Add(1), roles: compiled})
	return nil
}

// Roles returns the names of the configured roles.
func (a *Authorizer) Roles() []string {
	p := a.pol.Load()
	out := make([]string, 0, len(p.roles))
	for n := range p.roles {
		out = append(out, n)
	}
	return out
}

// HasRole implements core.RoleChecker.
func (a *Authorizer) HasRole(name string) bool {
	_, ok := a.pol.Load().roles[name]
	return ok
}

// Authorize implements core.Authorizer for callers that cannot wait (core
// calls Decide instead): a dynamic role answers from its cache only, and
// an answer not cached counts as a refusal. Like Decide, it must be called
// with the session's connection lock held (inside core's handlers).
func (a *Authorizer) Authorize(s *core.Session, act core.Action, uri []byte) bool {
	return a.Decide(s, act, uri, nil)&core.Allow != 0
}

// Decide implements core.Decider. Static roles are one trie lookup; a
// dynamic role answers from its cache or goes Pending while a worker asks
// the authorizer. With a warm cache nothing allocates. With d nil (from
// Authorize) a dynamic role never goes Pending.
//
// It runs on every action, so the common case (a static role, a decision
// the session's memo holds) is kept to this function and memoFor: the
// service session, a removed role and dynamic roles go through decideOther.
func (a *Authorizer) Decide(s *core.Session, act core.Action, uri []byte, d *codec.Details) core.Decision {
	pol := a.pol.Load()
	st, _ := s.AuthorizerState().(*sessState)
	if st == nil || st.gen != pol.gen {
		// First action, or the first since a reload: the memo and the
		// caches of the old policy go with the old state.
		st = a.newState(s, pol)
	}
	// A SUBSCRIBE or REGISTER may name a pattern: its match policy is part
	// of what is decided (and of the memo and cache keys).
	key := act
	if d != nil && d.Match != codec.MatchExact && (act == core.ActionSubscribe || act == core.ActionRegister) {
		key |= core.Action(d.Match) << 4
	}
	if st.static {
		if m := st.memoFor(key, uri); m != nil {
			return m.dec
		}
		return st.decideStatic(act, key, uri)
	}
	return a.decideOther(st, s, act, key, uri, d)
}

// newState makes s's state for policy generation pol. Once per session
// and reload: kept out of Decide.
//
//go:noinline
func (a *Authorizer) newState(s *core.Session, pol *policy) *sessState {
	st := &sessState{gen: pol.gen, role: pol.roles[s.AuthRole()]}
	st.svc = s.AuthRole() == ServiceRole && a.svcID.Load() == s.ID()
	st.static = !st.svc && st.role != nil && st.role.dyn == nil
	s.SetAuthorizerState(st)
	return st
}

// decideStatic looks up a decision the memo does not hold in the static
// role's permissions and remembers it. key is act with the match policy of
// a pattern in bits 4-5.
func (st *sessState) decideStatic(act, key core.Action, uri []byte) core.Decision {
	r := st.role
	var dec core.Decision
	if p, ok := patternPermission(r, uri, trie.Policy(key>>4)); ok {
		dec = p.dec[act]
	} else if p, _, ok := r.perms.Best(uri); ok {
		dec = p.dec[act]
	} else if r.all != nil && !meta(uri) {
		dec = r.all.dec[act]
	}
	st.remember(key, uri, dec, 0)
	return dec
}

// decideOther decides for a session that is not in a static role: the
// authorizer's service session (allowed everything), a session whose role
// a reload removed (refused), a dynamic role.
func (a *Authorizer) decideOther(st *sessState, s *core.Session, act, key core.Action, uri []byte, d *codec.Details) core.Decision {
	switch {
	case st.svc:
		return core.Allow
	case st.role == nil:
		// The role was removed by a reload after the session joined.
		return 0
	}
	return a.decideDynamic(st, s, act, key, uri, d)
}

// patternPermission finds the permission stated for exactly the pattern a
// SUBSCRIBE or REGISTER names (uri with a prefix or wildcard policy); the
// pattern is otherwise decided as a URI, by best match.
func patternPermission(r *role, uri []byte, policy trie.Policy) (*permission, bool) {
	if policy == trie.Exact {
		return nil, false
	}
	return r.perms.Lookup(uri, policy)
}

// meta reports whether uri is under wamp., which the catch-all permission
// (uri "", match prefix) does not reach: the meta API (listing sessions
// and, where the router has them, killing or removing them) needs a
// permission that names wamp. explicitly.
func meta(uri []byte) bool { return len(uri) >= 5 && string(uri[:5]) == "wamp." }

// decideDynamic answers from the cache or hands the question to a worker.
// key is act with the match policy of a pattern in bits 4-5.
func (a *Authorizer) decideDynamic(st *sessState, s *core.Session, act, key core.Action, uri []byte, d *codec.Details) core.Decision {
	dyn := st.role.dyn
	c, scope := dyn.shared, uint64(0)
	if dyn.scope == scopeSession {
		if st.cache == nil {
			st.cache = newDecisionCache(dyn.size)
		}
		c, scope = st.cache, s.ID()
	}
	now := a.clock()
	if m := st.memoFor(key, uri); m != nil && m.exp > now {
		return m.dec
	}
	if dec, exp, ok := c.get(scope, key, uri, now); ok {
		st.remember(key, uri, dec, exp)
		return dec
	}
	if d == nil {
		return 0 // Authorize: nobody would hold the action
	}
	// Everything the worker needs is copied here, on the session's
	// goroutine (cold path: it allocates).
	j := &job{s: s, info: s.Info(), act: act, key: key, uri: string(uri), opts: optionsMap(d), dyn: dyn, cache: c, scope: scope}
	select {
	case a.jobs <- j:
		return core.Pending
	default:
		a.log.Warn("authorizer queue full: refusing", "realm", a.realm, "procedure", dyn.procedure)
		return core.Failed
	}
}

// job is one question for a dynamic authorizer.
type job struct {
	s     *core.Session
	info  core.Info
	act   core.Action
	key   core.Action // the cache key's action: act and the match policy
	uri   string
	opts  map[string]any
	dyn   *dynamic
	cache *decisionCache
	scope uint64
}

// Start connects the service session that calls dynamic authorizers and
// starts the workers. Decisions asked before Start fail
// (wamp.error.authorization_failed) — they wait in the queue until then.
func (a *Authorizer) Start(r *core.Router) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started || a.closed {
		return errors.New("authz: already started or closed")
	}
	a.started = true
	a.router = r
	a.now.Store(nanotime())
	a.wg.Add(1)
	go a.tick()
	for i := 0; i < a.opts.Workers; i++ {
		a.wg.Add(1)
		go a.work()
	}
	return nil
}

// Close stops the workers, refuses the questions still queued
// (wamp.error.authorization_failed) and leaves the service session.
func (a *Authorizer) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	close(a.quit)
	svc := a.svc
	a.svc = nil
	a.mu.Unlock()
	a.wg.Wait()
	// Nobody will answer the questions still queued: refuse them, so
	// their sessions are not held for ever.
	for {
		select {
		case j := <-a.jobs:
			j.s.Resume(core.Failed)
			continue
		default:
		}
		break
	}
	if svc != nil {
		svc.Close()
	}
}

// service returns a joined service session, (re)connecting if needed.
func (a *Authorizer) service() (*client.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.svc != nil {
		select {
		case <-a.svc.Done():
			a.svc = nil
		default:
			return a.svc, nil
		}
	}
	if a.router == nil {
		return nil, errors.New("authz: not started")
	}
	c, err := client.ConnectLocalAs(a.router, core.Identity{AuthID: ServiceRole, AuthRole: ServiceRole, AuthMethod: "trusted", AuthProvider: "zwamp"},
		client.Config{Realm: a.realm, Logger: a.log})
	if err != nil {
		return nil, err
	}
	a.svcID.Store(c.ID())
	a.svc = c
	return c, nil
}

// clockTick is the coarse clock's resolution: cached decisions live up to
// this much longer than their TTL.
const clockTick = 20 * time.Millisecond

// clock is a monotonic nanosecond clock read with one atomic load on the
// hot path (nanotime before Start).
func (a *Authorizer) clock() int64 {
	if t := a.now.Load(); t != 0 {
		return t
	}
	return nanotime()
}

func (a *Authorizer) tick() {
	defer a.wg.Done()
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for {
		select {
		case <-a.quit:
			a.now.Store(0)
			return
		case <-t.C:
			a.now.Store(nanotime())
		}
	}
}

func (a *Authorizer) work() {
	defer a.wg.Done()
	for {
		select {
		case <-a.quit:
			return
		case j := <-a.jobs:
			dec, cache := a.ask(j)
			if cache {
				j.cache.put(j.scope, j.key, j.uri, dec, a.clock()+int64(j.dyn.ttl))
			}
			j.s.Resume(dec)
		}
	}
}
