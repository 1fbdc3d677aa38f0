package core

import (
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
)

// This file holds the CHALLENGE/AUTHENTICATE round of the session state
// chart (spec: session-state-machine.md, authentication.md):
//
//	idle ──HELLO──► authenticating ──(worker: Begin)──► challenging ──AUTHENTICATE──►
//	authenticating ──(worker: Verify)──► established (WELCOME) | closed (ABORT)
//
// Expensive work (password hashes, signatures, a dynamic authenticator's
// RPC) runs on the router's bounded worker pool, never on a driver
// goroutine. The worker finishes the handshake itself: it takes the Conn's
// lock, sends WELCOME or ABORT (or CHALLENGE) with its own Batch, unlocks
// and flushes, the way Router.Shutdown sends from outside a driver.
//
// Locks: Conn.mu → authLimits.mu (Conn.mu may be held while the limiter's
// lock is taken, never the reverse). The limiter's lock is a leaf.

// Challenger is an Authenticator whose method has a CHALLENGE/AUTHENTICATE
// round, or whose decision is too expensive for a driver goroutine. Core
// detects it with a type assertion, so a plain Authenticator keeps working
// unchanged: its Authenticate still runs inline and must be cheap.
//
// Begin and Verify run on the router's authentication worker pool; they
// may block (hash a password, call a dynamic authenticator) but should
// honour the handshake timeout: a result that arrives after it is dropped.
// They are called concurrently for different handshakes.
type Challenger interface {
	Authenticator
	// Begin starts a handshake for h. It returns either a Challenge to
	// send (ch != nil) or a final decision (an Identity, or an error).
	Begin(h *Hello) (ch *Challenge, id Identity, err *AuthError)
	// Verify checks the client's AUTHENTICATE against the Challenge that
	// Begin returned.
	Verify(h *Hello, ch *Challenge, a *Authenticate) (Identity, *AuthError)
}

// Challenge is what Begin hands back: the CHALLENGE.Extra to send, and
// state private to the authenticator that Verify gets back.
type Challenge struct {
	Extra map[string]any
	State any
}

// Authenticate is the client's AUTHENTICATE message, copied out of the
// read buffer.
type Authenticate struct {
	Signature string
	Extra     map[string]any
}

// AuthLimits bounds what authentication may cost the router. The zero
// value means the defaults below.
type AuthLimits struct {
	// HandshakeTimeout bounds HELLO → WELCOME for a handshake that goes
	// to the worker pool (default 10 s). On expiry: ABORT
	// wamp.error.authentication_failed, counted as a timeout.
	HandshakeTimeout time.Duration
	// Workers is the size of the worker pool (default GOMAXPROCS-1, at
	// least 1: a core is left to the pollers, so a burst of logins slows
	// logins, not established sessions' messages; measured in
	// bench/README.md).
	Workers int
	// Queue bounds the jobs waiting for a worker (default 1024); past
	// it a HELLO is refused and counted as busy.
	Queue int
	// MaxPending bounds handshakes in progress on the whole router
	// (default 4096) and MaxPendingPerAddr those from one source address
	// (default 16).
	MaxPending, MaxPendingPerAddr int
	// FailWindow is the window over which failed logins are counted
	// (default 1 min). A source address with MaxFailuresPerAddr failures
	// (default 20), or an authid with MaxFailuresPerAuthID failures
	// (default 10) in its realm, is refused without being checked until
	// its window ends. A negative maximum disables that limit.
	FailWindow                               time.Duration
	MaxFailuresPerAddr, MaxFailuresPerAuthID int
}

func (l AuthLimits) withDefaults() AuthLimits {
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = 10 * time.Second
	}
	if l.Workers <= 0 {
		l.Workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	if l.Queue <= 0 {
		l.Queue = 1024
	}
	if l.MaxPending <= 0 {
		l.MaxPending = 4096
	}
	if l.MaxPendingPerAddr <= 0 {
		l.MaxPendingPerAddr = 16
	}
	if l.FailWindow <= 0 {
		l.FailWindow = time.Minute
	}
	if l.MaxFailuresPerAddr == 0 {
		l.MaxFailuresPerAddr = 20
	}
	if l.MaxFailuresPerAuthID == 0 {
		l.MaxFailuresPerAuthID = 10
	}
	return l
}

// AuthStats counts authentication outcomes.
type AuthStats struct {
	Successes   int64 // sessions admitted by a Challenger
	Failures    int64 // handshakes refused by an authenticator
	RateLimited int64 // HELLOs refused because of earlier failures
	Timeouts    int64 // handshakes that passed the handshake timeout
	Busy        int64 // HELLOs refused: pool queue or pending-handshake bound full
}

type authStats struct {
	successes, failures, rateLimited, timeouts, busy counter
}

// AuthStats returns the router's authentication counters.
func (r *Router) AuthStats() AuthStats {
	s := &r.auth().stats
	return AuthStats{Successes: s.successes.Load(), Failures: s.failures.Load(),
		RateLimited: s.rateLimited.Load(), Timeouts: s.timeouts.Load(), Busy: s.busy.Load()}
}

// authState is the router's authentication machinery, started on first use.
type authState struct {
	lim     AuthLimits
	jobs    chan func()
	running atomic.Int32 // workers started and not yet exited
	stats   authStats

	mu        sync.Mutex // leaf lock: pending counts and failure windows
	pending   int
	perAddr   map[string]int
	failAddr  map[string]*failWindow
	failAuth  map[string]*failWindow
	lastSweep time.Time
}

type failWindow struct {
	start time.Time
	n     int
}

// maxTracked bounds each failure map; past it, expired windows are swept
// and, if that is not enough, arbitrary entries dropped (failing open for
// them rather than growing without bound under a distributed attack).
const maxTracked = 1 << 16

func (r *Router) auth() *authState {
	r.authOnce.Do(func() {
		lim := r.cfg.Auth.withDefaults()
		r.authSt = &authState{lim: lim, jobs: make(chan func(), lim.Queue),
			perAddr: map[string]int{}, failAddr: map[string]*failWindow{}, failAuth: map[string]*failWindow{}}
	})
	return r.authSt
}

// submit queues job without blocking (false when the queue is full) and
// makes sure a worker will run it. Workers are started on demand, up to
// lim.Workers, and exit when the queue is empty, so an idle router (or a
// test's) keeps no goroutines.
func (a *authState) submit(job func()) bool {
	select {
	case a.jobs <- job:
	default:
		return false
	}
	for {
		n := a.running.Load()
		if n >= int32(a.lim.Workers) {
			return true
		}
		if a.running.CompareAndSwap(n, n+1) {
			go a.work()
			return true
		}
	}
}

func (a *authState) work() {
	for {
		select {
		case job := <-a.jobs:
			job()
			continue
		default:
		}
		a.running.Add(-1)
		// A job queued after the empty check above may have seen a full
		// pool and started nobody: take it over if there is room.
		for {
			if len(a.jobs) == 0 {
				return
			}
			n := a.running.Load()
			if n >= int32(a.lim.Workers) {
				return
			}
			if a.running.CompareAndSwap(n, n+1) {
				break
			}
		}
	}
}

// sourceAddr is the host part of a transport's remote address: failures
// and pending handshakes are counted per host, not per ephemeral port.
func sourceAddr(ti *TransportInfo) string {
	if h, _, err := net.SplitHostPort(ti.RemoteAddr); err == nil {
		return h
	}
	return ti.RemoteAddr
}

func authKey(realm, authid string) string { return realm + "\x00" + authid }

// limited reports whether addr or (realm, authid) is inside a window that
// reached its failure maximum.
func (a *authState) limited(addr, key string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.over(a.failAddr, addr, a.lim.MaxFailuresPerAddr, now) ||
		(key != "" && a.over(a.failAuth, key, a.lim.MaxFailuresPerAuthID, now))
}

func (a *authState) over(m map[string]*failWindow, k string, max int, now time.Time) bool {
	if max < 0 {
		return false
	}
	w := m[k]
	if w == nil {
		return false
	}
	if now.Sub(w.start) >= a.lim.FailWindow {
		delete(m, k)
		return false
	}
	return w.n >= max
}

// failed records a failed login for addr and key.
func (a *authState) failed(addr, key string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bump(a.failAddr, addr, now)
	if key != "" {
		a.bump(a.failAuth, key, now)
	}
}

func (a *authState) bump(m map[string]*failWindow, k string, now time.Time) {
	w := m[k]
	if w == nil || now.Sub(w.start) >= a.lim.FailWindow {
		if w == nil && len(m) >= maxTracked {
			a.sweep(m, now)
		}
		w = &failWindow{start: now}
		m[k] = w
	}
	w.n++
}

func (a *authState) sweep(m map[string]*failWindow, now time.Time) {
	for k, w := range m {
		if now.Sub(w.start) >= a.lim.FailWindow {
			delete(m, k)
		}
	}
	for k := range m {
		if len(m) < maxTracked {
			break
		}
		delete(m, k)
	}
}

// acquire reserves a pending-handshake slot for addr.
func (a *authState) acquire(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending >= a.lim.MaxPending || a.perAddr[addr] >= a.lim.MaxPendingPerAddr {
		return false
	}
	a.pending++
	a.perAddr[addr]++
	return true
}

func (a *authState) release(addr string) {
	a.mu.Lock()
	a.pending--
	if n := a.perAddr[addr] - 1; n > 0 {
		a.perAddr[addr] = n
	} else {
		delete(a.perAddr, addr)
	}
	a.mu.Unlock()
}

// handshake is one authentication in progress on a Conn. It is reached
// through Conn.hs under Conn.mu; a worker result or timer whose handshake
// is no longer c.hs is stale and dropped.
type handshake struct {
	realm    *Realm
	auth     Challenger
	hello    Hello
	ch       *Challenge
	roles    codec.Role
	features [codec.NumRoles]codec.Feature
	addr     string
	key      string // realm + authid, for the per-authid failure window
	timer    *time.Timer
	done     atomic.Bool
}

// Optional is implemented by an Authenticator that applies to some HELLOs
// only (the cookie method: only when the connection's cookie is logged
// in). Core skips it when Applies is false and tries the client's next
// authmethod. Applies runs on the driver goroutine: it must be cheap.
type Optional interface {
	Applies(h *Hello) bool
}

// pickAuthenticator returns the realm's authenticator for the first of the
// client's authmethods it supports (and that applies), with the Hello it
// was given; nil when there is none.
func (r *Realm) pickAuthenticator(c *Conn, d *codec.Details) (Authenticator, *Hello) {
	var h *Hello
	for _, mm := range d.AuthMethods {
		for _, a := range r.authenticators {
			if a.Method() != string(mm) {
				continue
			}
			if h == nil {
				hh := newHello(r, c, d)
				h = &hh
			}
			if o, ok := a.(Optional); ok && !o.Applies(h) {
				continue
			}
			return a, h
		}
	}
	return nil, nil
}

// newHello copies what authenticators see of a HELLO out of the read buffer.
func newHello(realm *Realm, c *Conn, d *codec.Details) Hello {
	h := Hello{Realm: realm.name, AuthID: string(d.Str[codec.KeyAuthID]),
		AuthRole: string(d.Str[codec.KeyAuthRole]), Transport: c.t.Info()}
	for _, mm := range d.AuthMethods {
		h.AuthMethods = append(h.AuthMethods, string(mm))
	}
	if d.AuthExtra.Present() {
		h.AuthExtra, _ = codec.ToDict(d.AuthExtra)
	}
	return h
}

// beginChallenge starts an asynchronous handshake with a: it checks the
// failure windows and pending bounds here on the driver goroutine (cheap),
// then hands Begin to the worker pool. Called with c.mu held.
func (c *Conn) beginChallenge(b *Batch, realm *Realm, a Challenger, m *codec.Message, h *Hello) {
	as := c.r.auth()
	d := &m.Details
	h.Session = b.globalID()
	hs := &handshake{realm: realm, auth: a, hello: *h, roles: d.Roles, features: d.Features,
		addr: sourceAddr(&h.Transport)}
	if h.AuthID != "" {
		hs.key = authKey(realm.name, h.AuthID)
	}
	if as.limited(hs.addr, hs.key, time.Now()) {
		as.stats.rateLimited.Add(1)
		c.sendAbort(b, ErrAuthenticationFailed, "too many failed authentication attempts, try again later")
		c.close()
		return
	}
	if !as.acquire(hs.addr) {
		as.stats.busy.Add(1)
		c.sendAbort(b, ErrAuthenticationFailed, "too many authentications in progress, try again later")
		c.close()
		return
	}
	c.hs = hs
	c.state = connAuthenticating
	hs.timer = time.AfterFunc(as.lim.HandshakeTimeout, func() { c.handshakeTimeout(hs) })
	if !as.submit(func() { c.runBegin(hs) }) {
		as.stats.busy.Add(1)
		c.endHandshake(hs)
		c.sendAbort(b, ErrAuthenticationFailed, "too many authentications in progress, try again later")
		c.close()
	}
}

// endHandshake releases hs's resources. Called with c.mu held, once.
func (c *Conn) endHandshake(hs *handshake) {
	if hs.done.Swap(true) {
		return
	}
	if hs.timer != nil {
		hs.timer.Stop()
	}
	if c.hs == hs {
		c.hs = nil
	}
	c.r.authSt.release(hs.addr)
}

// runBegin runs on a worker.
func (c *Conn) runBegin(hs *handshake) {
	if hs.done.Load() {
		return
	}
	ch, id, err := hs.auth.Begin(&hs.hello)
	c.complete(hs, func(b *Batch) {
		switch {
		case err != nil:
			c.refuse(b, hs, err)
		case ch != nil:
			hs.ch = ch
			c.sendChallenge(b, hs)
			c.state = connChallenging
		default:
			c.admit(b, hs, id)
		}
	})
}

// runVerify runs on a worker.
func (c *Conn) runVerify(hs *handshake, a *Authenticate) {
	if hs.done.Load() {
		return
	}
	id, err := hs.auth.Verify(&hs.hello, hs.ch, a)
	c.complete(hs, func(b *Batch) {
		if err != nil {
			c.refuse(b, hs, err)
			return
		}
		c.admit(b, hs, id)
	})
}

// complete runs f with c.mu held if hs is still the Conn's handshake, then
// flushes what f sent. Called from workers and timers, never a driver.
func (c *Conn) complete(hs *handshake, f func(b *Batch)) {
	b := AcquireBatch()
	c.mu.Lock()
	if c.hs == hs && c.state != connClosed && !c.detached {
		f(b)
	}
	c.mu.Unlock()
	b.Release()
}

func (c *Conn) handshakeTimeout(hs *handshake) {
	c.complete(hs, func(b *Batch) {
		c.r.authSt.stats.timeouts.Add(1)
		c.endHandshake(hs)
		c.sendAbort(b, ErrAuthenticationFailed, "authentication timed out")
		c.close()
	})
}

// refuse ABORTs a handshake. A refusal for a reason other than the
// router's own (no_such_realm, no_auth_method...) counts as a failed login
// for the failure windows.
func (c *Conn) refuse(b *Batch, hs *handshake, err *AuthError) {
	as := c.r.authSt
	as.stats.failures.Add(1)
	authMethods.count(hs.auth.Method(), false)
	as.failed(hs.addr, hs.key, time.Now())
	// An attacker can repeat this at will: rate-limited, and never the
	// secret (the authid is not one).
	c.r.rlog.Warn("auth_failure", "authentication failed", "realm", hs.realm.name, "authid", hs.hello.AuthID,
		"method", hs.auth.Method(), "addr", hs.addr, "reason", err.URI)
	c.endHandshake(hs)
	c.sendAbort(b, err.URI, err.Message)
	c.close()
}

func (c *Conn) admit(b *Batch, hs *handshake, id Identity) {
	c.r.authSt.stats.successes.Add(1)
	c.endHandshake(hs)
	if c.r.closing.Load() {
		// Router.Shutdown has said GOODBYE to the sessions it found; one
		// admitted now would be missed.
		c.sendAbort(b, CloseSystemShutdown, "the router is shutting down")
		c.close()
		return
	}
	c.open(b, hs.realm, id, hs.roles, hs.features, hs.hello.Session)
}

func (c *Conn) sendChallenge(b *Batch, hs *handshake) {
	out := &b.out
	out.Reset()
	out.Type = codec.CHALLENGE
	out.URI = unsafeBytes(hs.auth.Method())
	extra := hs.ch.Extra
	if extra == nil {
		extra = map[string]any{}
	}
	raw, err := codec.EncodeGo(c.format, extra)
	if err != nil {
		c.refuse(b, hs, &AuthError{ErrAuthenticationFailed, "authentication failed"})
		return
	}
	out.Dict = raw
	_ = b.send(c.t, out)
}

// receiveAuthenticating handles input while a handshake is in progress
// (connAuthenticating: a worker has the handshake; connChallenging:
// CHALLENGE sent). Called with c.mu held.
func (c *Conn) receiveAuthenticating(b *Batch, m *codec.Message) {
	hs := c.hs
	switch {
	case m.Type == codec.ABORT:
		if hs != nil {
			c.endHandshake(hs)
		}
		c.close()
	case m.Type == codec.AUTHENTICATE && c.state == connChallenging && hs != nil:
		a := &Authenticate{Signature: string(m.URI)}
		if m.Dict.Present() {
			var err error
			if a.Extra, err = codec.ToDict(m.Dict); err != nil {
				c.endHandshake(hs)
				c.violation(b, "AUTHENTICATE.Extra is not a dict")
				return
			}
		}
		c.state = connAuthenticating
		if !c.r.authSt.submit(func() { c.runVerify(hs, a) }) {
			c.r.authSt.stats.busy.Add(1)
			c.endHandshake(hs)
			c.sendAbort(b, ErrAuthenticationFailed, "too many authentications in progress, try again later")
			c.close()
		}
	default:
		if hs != nil {
			c.endHandshake(hs)
		}
		c.violation(b, "received "+m.Type.String()+" during authentication")
	}
}

// open creates the session after successful authentication and sends
// WELCOME. Called with c.mu held. sessionID, when not zero, is the id
// promised in the challenge (wampcra puts it there); it is used unless
// another session took it meanwhile.
func (c *Conn) open(b *Batch, realm *Realm, id Identity, roles codec.Role, features [codec.NumRoles]codec.Feature, sessionID uint64) {
	r := c.r
	if c.trusted == nil && !realm.HasRole(id.AuthRole) {
		// Whatever the method: a role the realm's authorizer does not know
		// (authorize.go, RoleChecker).
		c.sendAbort(b, ErrNoSuchRole, "the session's role is not configured on this realm")
		c.close()
		return
	}
	s := &Session{
		conn:     c,
		realm:    realm,
		format:   c.format,
		authID:   id.AuthID,
		authRole: id.AuthRole,
		authMeth: id.AuthMethod,
		authProv: id.AuthProvider,
		roles:    roles,
		features: features,
		joined:   time.Now(),
	}
	// The table sets s.id under its lock as it publishes s: other
	// goroutines (a kill, the meta API) may read it from then on.
	if _, admitted := realm.sessions.addPreferred(s, b, sessionID, r.limits.SessionsPerRealm); !admitted {
		r.stats.limits.sessions.Add(1)
		c.sendAbort(b, ErrLimitExceeded, limitMessage("sessions per realm", r.limits.SessionsPerRealm))
		c.close()
		return
	}
	c.sess = s
	c.state = connEstablished
	r.stats.sessions.Add(1)
	if c.trusted == nil {
		authMethods.count(id.AuthMethod, true) // wirestats.go
	}

	out := &b.out
	out.Reset()
	out.Type = codec.WELCOME
	out.ID = s.id
	out.Dict = r.welcomeDetails(b, c.format, s, id.AuthExtra)
	_ = b.send(c.t, out)
	realm.meta.joined(b, s)
}

// String names a connection state for logs.
func (s connState) String() string {
	switch s {
	case connIdle:
		return "idle"
	case connEstablished:
		return "established"
	case connShuttingDown:
		return "shutting-down"
	case connClosed:
		return "closed"
	case connAuthenticating:
		return "authenticating"
	case connChallenging:
		return "challenging"
	}
	return "connState(" + strconv.Itoa(int(s)) + ")"
}
