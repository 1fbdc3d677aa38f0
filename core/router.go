package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/ratelog"
	"github.com/zwamp/zwamp/trie"
)

// Version is reported as the router's agent string.
const Version = "0.1.0"

// WAMP error and close URIs the router sends.
const (
	ErrInvalidURI             = "wamp.error.invalid_uri"
	ErrNoSuchProcedure        = "wamp.error.no_such_procedure"
	ErrProcedureAlreadyExists = "wamp.error.procedure_already_exists"
	ErrNoSuchRegistration     = "wamp.error.no_such_registration"
	ErrNoSuchSubscription     = "wamp.error.no_such_subscription"
	ErrNoSuchSession          = "wamp.error.no_such_session"
	ErrInvalidArgument        = "wamp.error.invalid_argument"
	ErrCanceled               = "wamp.error.canceled"
	ErrPayloadSizeExceeded    = "wamp.error.payload_size_exceeded"
	ErrProtocolViolation      = "wamp.error.protocol_violation"
	ErrNotAuthorized          = "wamp.error.not_authorized"
	ErrAuthorizationFailed    = "wamp.error.authorization_failed"
	ErrAuthenticationFailed   = "wamp.error.authentication_failed"
	ErrNoAuthMethod           = "wamp.error.no_auth_method"
	ErrNoSuchRealm            = "wamp.error.no_such_realm"
	ErrNoSuchRole             = "wamp.error.no_such_role"
	CloseSystemShutdown       = "wamp.close.system_shutdown"
	CloseCloseRealm           = "wamp.close.close_realm"
	CloseGoodbyeAndOut        = "wamp.close.goodbye_and_out"
)

// Config configures a Router.
type Config struct {
	// Realms are created at start.
	Realms []RealmConfig
	// AutoCreateRealms creates a realm (with default settings) on the
	// first HELLO that names it.
	AutoCreateRealms bool
	// StrictURIs applies the strict URI rules ([0-9a-z_] components)
	// instead of the loose ones.
	StrictURIs bool
	// LaxRequestIDs turns off the check that session-scope request ids
	// from clients are sequential (a protocol violation per the spec).
	LaxRequestIDs bool
	// MaxDepth bounds payload nesting (0: codec.DefaultMaxDepth).
	MaxDepth int
	// Shards is the number of trie shards per realm index (0: default).
	Shards int
	// Logger receives the router's logs (nil: slog.Default()).
	Logger *slog.Logger
	// AllowMetaKill enables the meta procedures that act on other sessions:
	// wamp.registration.remove_callee, wamp.session.kill*,
	// wamp.subscription.remove_subscriber. Off by default: until
	// authorization can restrict them, any session could call them.
	AllowMetaKill bool
	// Limits bound what one session or realm may hold (zero: defaults).
	Limits Limits
	// LogInterval is how often a warning that keeps repeating (protocol
	// violations from many peers, failed authentications) is summarised
	// with a count instead of logged each time (0: 10s; see
	// internal/ratelog).
	LogInterval time.Duration
	// Auth bounds authentication handshakes (worker pool, timeouts,
	// failure rate limits); the zero value means the defaults.
	Auth AuthLimits
	// History turns on event history (wamp.subscription.get_events) for
	// the topics matching any rule; none means no history is kept.
	History []HistoryRule
	// EventStoreMaxBytes bounds, per realm, the memory held by event
	// history and retained events together (0: DefaultEventStoreMaxBytes).
	EventStoreMaxBytes int64
	// PublicationTrustLevels assign EVENT.Details.trustlevel by topic and
	// publisher authrole (trustlevel.go); the first matching rule wins.
	PublicationTrustLevels []TrustLevelRule
}

// RealmConfig configures one realm.
type RealmConfig struct {
	Name string
	// Authorizer decides publish/subscribe/call/register; nil allows all.
	Authorizer Authorizer
	// Authenticators by authmethod; none means anonymous only.
	Authenticators []Authenticator
	// DenyAnonymous refuses sessions that do not authenticate.
	DenyAnonymous bool
}

// Router is a WAMP router: a set of realms, each with a Broker and a Dealer.
type Router struct {
	cfg     Config
	log     *slog.Logger
	realms  sync.Map // string → *Realm
	ids     atomic.Uint64
	stats   stats
	closing atomic.Bool // set by Shutdown: HELLO is refused, callee ends cancel no calls
	timers  callTimers  // CALL timeouts enforced by the dealer

	// rlog takes warnings that an attacker can repeat at will, one kind
	// per cause ("protocol_violation"; failed authentications belong here
	// as "auth_failure"): the first in full, then a count per interval.
	rlog     *ratelog.Logger
	limits   Limits // cfg.Limits resolved
	authOnce sync.Once
	authSt   *authState    // see auth(); nil until the first challenged HELLO
	history  *historyRules // compiled Config.History; nil when empty
	// WELCOME.Details.roles per serializer, encoded once: which features
	// are announced depends on the configuration.
	rolesOnce sync.Once
	rolesRaw  [codec.NumFormats]codec.Raw
	trust     []trustRule // compiled Config.PublicationTrustLevels
	// cluster spreads realms over several nodes (cluster.go); nil when
	// the router runs alone. Set before serving, read without a lock.
	cluster Cluster
}

type stats struct {
	conns        counter
	sessions     counter
	violations   counter
	decodeErrors counter
	encodeErrors counter
	errors       counter
	limits       limitCounters
	held         counter // actions held for a pending authorization
}

// Stats is a snapshot of router counters.
type Stats struct {
	Conns, Sessions                 int64
	ProtocolViolations, DecodeError int64
	EncodeErrors                    int64 // outgoing messages that could not be encoded (e.g. transcoding)
	Errors                          int64 // ERROR replies sent by the router

	Limits LimitStats // requests refused by each of Config.Limits
}

// Stats returns the router's counters.
func (r *Router) Stats() Stats {
	return Stats{
		Conns: r.stats.conns.Load(), Sessions: r.stats.sessions.Load(),
		ProtocolViolations: r.stats.violations.Load(),
		DecodeError:        r.stats.decodeErrors.Load(), EncodeErrors: r.stats.encodeErrors.Load(),
		Errors: r.stats.errors.Load(),
		Limits: r.stats.limits.load(),
	}
}

// NewRouter creates a router with the configured realms.
func NewRouter(cfg Config) (*Router, error) {
	r := &Router{cfg: cfg, log: cfg.Logger}
	r.timers.init(r.expireCalls)
	if r.log == nil {
		r.log = slog.Default()
	}
	r.rlog = ratelog.New(r.log, cfg.LogInterval)
	r.limits = cfg.Limits.resolved()
	h, err := compileHistory(cfg.History)
	if err != nil {
		return nil, err
	}
	r.history = h
	if r.trust, err = compileTrustLevels(cfg.PublicationTrustLevels); err != nil {
		return nil, err
	}
	for _, rc := range cfg.Realms {
		if err := r.AddRealm(rc); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// AddRealm creates a realm.
func (r *Router) AddRealm(rc RealmConfig) error {
	if !trie.ValidURI([]byte(rc.Name), 0) {
		return fmt.Errorf("core: invalid realm name %q", rc.Name)
	}
	realm := newRealm(r, rc)
	if _, loaded := r.realms.LoadOrStore(rc.Name, realm); loaded {
		return fmt.Errorf("core: realm %q already exists", rc.Name)
	}
	return nil
}

// realm returns the realm named name, creating it if so configured.
func (r *Router) realm(name []byte) *Realm {
	if v, ok := r.realms.Load(string(name)); ok {
		return v.(*Realm)
	}
	if !r.cfg.AutoCreateRealms {
		return nil
	}
	realm := newRealm(r, RealmConfig{Name: string(name)})
	v, _ := r.realms.LoadOrStore(realm.name, realm)
	return v.(*Realm)
}

// Realm returns the realm named name, or nil.
func (r *Router) Realm(name string) *Realm {
	if v, ok := r.realms.Load(name); ok {
		return v.(*Realm)
	}
	return nil
}

// Realms returns every realm, static and auto-created, in no order.
func (r *Router) Realms() []*Realm {
	var out []*Realm
	r.realms.Range(func(_, v any) bool { out = append(out, v.(*Realm)); return true })
	return out
}

// Shutdown sends every session GOODBYE wamp.close.system_shutdown. The
// drivers close transports once the clients reply (or their deadline
// passes); connections without a session are the drivers' to close.
func (r *Router) Shutdown() { r.Drain(context.Background(), 0) }

// Drain is Shutdown spread over period: every session is sent GOODBYE
// wamp.close.system_shutdown, a steady share of them each tick, so that
// the clients of a router taken out of a load balancer reconnect elsewhere
// over period instead of all at once. New HELLOs are refused from the
// start. When ctx ends early, the sessions not yet told are told at once.
func (r *Router) Drain(ctx context.Context, period time.Duration) {
	r.closing.Store(true)
	var conns []*Conn
	r.realms.Range(func(_, v any) bool {
		v.(*Realm).sessions.each(func(s *Session) { conns = append(conns, s.conn) })
		return true
	})
	// Outside the session-table locks: Conn.Shutdown takes the conn's lock,
	// which Receive holds while it joins or leaves sessions.
	b := AcquireBatch()
	defer b.Release()
	start := time.Now()
	var tick *time.Ticker
	if period > 0 && len(conns) > 1 {
		tick = time.NewTicker(drainTick)
		defer tick.Stop()
	}
	for i, c := range conns {
		// Session i is due at i/len(conns) of the period.
		for tick != nil && time.Since(start) < period*time.Duration(i)/time.Duration(len(conns)) {
			select {
			case <-ctx.Done():
				tick.Stop()
				tick = nil
			case <-tick.C:
			}
		}
		c.Shutdown(b, CloseSystemShutdown, "the router is shutting down")
		b.Flush()
	}
}

// drainTick is how often Drain tells its next share of sessions.
const drainTick = 10 * time.Millisecond

// FlushLogs reports the counts of aggregated warnings still waiting for
// their interval to end and logs later ones as they come; call it when
// the router is done.
func (r *Router) FlushLogs() { r.rlog.Close() }

// nextID returns a router-scope id (subscriptions, registrations).
func (r *Router) nextID() uint64 { return r.ids.Add(1) }

func (r *Router) uriRules() trie.Rules {
	if r.cfg.StrictURIs {
		return trie.Strict
	}
	return 0
}

// validTopic checks a concrete topic or procedure URI.
func (r *Router) validTopic(uri []byte) bool { return trie.ValidURI(uri, r.uriRules()) }

// validPattern checks a subscription or registration URI for its policy.
func (r *Router) validPattern(uri []byte, p trie.Policy) bool {
	switch p {
	case trie.Exact:
		return trie.ValidURI(uri, r.uriRules())
	case trie.Prefix:
		return trie.ValidURI(uri, r.uriRules()|trie.AllowEmpty) && len(uri) > 0
	default:
		return trie.ValidURI(uri, r.uriRules()|trie.AllowEmpty)
	}
}

// Features the router announces, per role. Each is implemented and tested.
var (
	brokerFeatures = codec.FeaturePublisherExclusion | codec.FeatureSubscriberBlackwhiteListing |
		codec.FeaturePublisherIdentification | codec.FeaturePatternBasedSubscription |
		codec.FeatureSubscriptionMetaAPI | codec.FeatureSessionMetaAPI | codec.FeaturePayloadPassthruMode
	dealerFeatures = codec.FeatureCallerIdentification | codec.FeaturePatternBasedRegistration |
		codec.FeatureSharedRegistration | codec.FeatureProgressiveCallResults |
		codec.FeatureRegistrationMetaAPI | codec.FeatureSessionMetaAPI | codec.FeaturePayloadPassthruMode |
		codec.FeatureCallCanceling | codec.FeatureCallTimeout | codec.FeatureProgressiveCallInvocations |
		codec.FeatureRegistrationRevocation | codec.FeatureCallReroute
)

func featureDict(f codec.Feature) map[string]any {
	d := make(map[string]any)
	for i := 0; i < codec.NumFeatures; i++ {
		if f&(1<<i) != 0 {
			d[codec.FeatureNames[i]] = true
		}
	}
	return d
}

// welcomeDetails encodes WELCOME.Details for s into b's scratch buffer.
// The roles dict never changes, so it is encoded once per serializer.
func (r *Router) welcomeDetails(b *Batch, f codec.Format, s *Session, authExtra map[string]any) codec.Raw {
	w := codec.AcquireWriter(f, b.welcome[:0])
	n := 7
	if authExtra != nil {
		n++
	}
	w.BeginMap(n)
	if authExtra != nil {
		w.WriteString(unsafeBytes("authextra"))
		if err := codec.WriteDict(w, authExtra); err != nil {
			w.WriteNil()
		}
	}
	writePair(w, "realm", s.realm.name)
	writePair(w, "authid", s.authID)
	writePair(w, "authrole", s.authRole)
	writePair(w, "authmethod", s.authMeth)
	writePair(w, "authprovider", s.authProv)
	writePair(w, "agent", agent)
	w.WriteString(unsafeBytes("roles"))
	_ = codec.WriteRaw(w, r.routerRoles(f))
	w.End()
	out, err := w.Bytes(), w.Err()
	codec.ReleaseWriter(f, w)
	if err != nil {
		// Only valid UTF-8 strings above; cannot fail for a registered codec.
		panic(errors.Join(errors.New("core: encode WELCOME details"), err))
	}
	b.welcome = out
	return codec.Raw{Format: f, Bytes: out}
}

const agent = "zwamp-" + Version

func writePair(w codec.ValueWriter, k, v string) {
	w.WriteString(unsafeBytes(k))
	w.WriteString(unsafeBytes(v))
}

// routerRoles returns WELCOME.Details.roles encoded in f.
func (r *Router) routerRoles(f codec.Format) codec.Raw {
	r.rolesOnce.Do(func() {
		bf, df := r.configuredFeatures()
		roles := map[string]any{
			"broker": map[string]any{"features": featureDict(brokerFeatures | bf)},
			"dealer": map[string]any{"features": featureDict(dealerFeatures | df)},
		}
		for g := codec.Format(1); g < codec.NumFormats; g++ {
			if codec.ByFormat(g) != nil {
				r.rolesRaw[g], _ = codec.EncodeGo(g, roles)
			}
		}
	})
	return r.rolesRaw[f]
}
