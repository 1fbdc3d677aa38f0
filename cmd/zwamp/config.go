package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/authz"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// Config is the daemon's JSON configuration file. Every field is optional;
// see zwamp.example.json for a commented example and README.md for the
// reference.
type Config struct {
	LogLevel         string           `json:"log_level"` // debug, info (default), warn, error
	Listeners        []ListenerConfig `json:"listeners"`
	Realms           []RealmConfig    `json:"realms"`
	AutoCreateRealms bool             `json:"auto_create_realms"`
	StrictURIs       bool             `json:"strict_uris"`
	LaxRequestIDs    bool             `json:"lax_request_ids"`
	AllowMetaKill    bool             `json:"allow_meta_kill"` // meta procedures acting on other sessions
	Pollers          int              `json:"pollers"`
	Limits           LimitsConfig     `json:"limits"`
	Admin            *AdminConfig     `json:"admin"`   // ops.go
	Bridges          []BridgeConfig   `json:"bridges"` // ops.go
	Cluster          *ClusterConfig   `json:"cluster"` // cluster.go

	// ShutdownTimeout bounds the graceful part of a shutdown (GOODBYE to
	// every session, wait for the replies); after it the daemon closes
	// what is left and exits anyway, and says so. Default 5s.
	ShutdownTimeout Duration `json:"shutdown_timeout"`
	// DrainPeriod spreads the GOODBYEs of a drain (SIGUSR1, POST /drain);
	// the drain then waits shutdown_timeout like a shutdown.
	DrainPeriod Duration `json:"drain_period"`
	// LogInterval is how often a warning that keeps repeating (refused
	// connections, slow consumers, protocol violations) is summarised with
	// a count instead of logged each time. Default 10s.
	LogInterval Duration         `json:"log_interval"`
	AuthLimits  AuthLimitsConfig `json:"auth_limits"` // auth.go
	// Event history, the event store's budget, trust levels
	// (config_pubsub.go).
	History            []HistoryConfig `json:"history"`
	EventStoreMaxBytes int64           `json:"event_store_max_bytes"`
	TrustLevels        []TrustConfig   `json:"publication_trustlevels"`

	dynamics  []*auth.Dynamic        // built by routerConfig, attached by attachRouter
	cookies   *auth.CookieStore      // see cookieStore (auth.go)
	authBuilt map[string]*auth.Built // by realm, for reloadAuth (auth.go)
}

// ListenerConfig is one listening socket.
type ListenerConfig struct {
	Kind    string     `json:"kind"`    // universal (default), websocket, rawsocket
	Network string     `json:"network"` // tcp (default) or unix
	Address string     `json:"address"` // host:port, or socket path for unix
	Path    string     `json:"path"`    // WebSocket path; empty = any
	TLS     *TLSConfig `json:"tls"`
	// Cookie gives WebSocket connections a login cookie (auth.go).
	Cookie *CookieConfig `json:"cookie"`
	// AllowedOrigins restricts the browser origins of WebSocket upgrades
	// (exact origins, host[:port] entries, * patterns); empty: any.
	AllowedOrigins []string `json:"allowed_origins"`
}

// TLSConfig names a certificate and key in PEM files; Certificates adds
// more pairs, chosen by the client's server name (SNI). See tls.go.
type TLSConfig struct {
	Cert         string    `json:"cert"`
	Key          string    `json:"key"`
	Certificates []CertKey `json:"certificates"`
	// ClientCA, a PEM file, makes the listener ask for client certificates
	// verified against it (the "tls" authmethod; auth.go).
	ClientCA string `json:"client_ca"`
}

// RealmConfig is one static realm.
type RealmConfig struct {
	Name string            `json:"name"`
	Auth *auth.RealmConfig `json:"auth"` // nil: anonymous only (auth.go)
	// Roles, when present, guard the realm (package authz); without them
	// every session may do everything.
	Roles []authz.RoleConfig `json:"roles"`
}

// LimitsConfig bounds what one connection may cost.
type LimitsConfig struct {
	MaxMessageSize   int      `json:"max_message_size"`   // bytes, default 16 MiB
	MaxPendingOutput int      `json:"max_pending_output"` // bytes, default 4 MiB
	SlowConsumer     string   `json:"slow_consumer"`      // close (default) or drop
	PingInterval     Duration `json:"ping_interval"`      // default 30s; "-1s" disables
	PingTimeout      Duration `json:"ping_timeout"`       // default 10s
	HandshakeTimeout Duration `json:"handshake_timeout"`  // default 10s
	MaxDepth         int      `json:"max_depth"`          // payload nesting, default 64

	// What one session or realm may hold (0: the default, -1: no limit);
	// over a limit the request gets ERROR zwamp.error.limit_exceeded (a
	// HELLO: ABORT) and the session stays usable. See core.Limits.
	MaxSubscriptionsPerSession int `json:"max_subscriptions_per_session"` // default 10000
	MaxRegistrationsPerSession int `json:"max_registrations_per_session"` // default 10000
	MaxCallsPerCaller          int `json:"max_calls_per_caller"`          // outstanding, default 10000
	MaxInvocationsPerCallee    int `json:"max_invocations_per_callee"`    // outstanding, default 10000
	MaxProgressiveChunks       int `json:"max_progressive_chunks"`        // reserved (see core.Limits), default 1000
	MaxSessionsPerRealm        int `json:"max_sessions_per_realm"`        // default 100000
	// MaxConnsPerIP bounds the open connections from one source address,
	// refused at accept. Default 0: no limit.
	MaxConnsPerIP int `json:"max_conns_per_ip"`
	// TLS handshakes in progress, overall and from one source address;
	// more are closed at once. 0: netpoll's defaults (1024, 64); -1: none.
	MaxTLSHandshakes      int `json:"max_tls_handshakes"`
	MaxTLSHandshakesPerIP int `json:"max_tls_handshakes_per_ip"`
}

// Duration is a time.Duration written as a string ("30s", "1m").
type Duration time.Duration

// UnmarshalJSON parses a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultDrainPeriod spreads a drain's GOODBYEs without configuration.
const DefaultDrainPeriod = 30 * time.Second

func (c *Config) drainPeriod() time.Duration {
	if c.DrainPeriod > 0 {
		return time.Duration(c.DrainPeriod)
	}
	return DefaultDrainPeriod
}

// DefaultShutdownTimeout bounds a graceful shutdown without configuration.
const DefaultShutdownTimeout = 5 * time.Second

// shutdownTimeout returns the configured bound of a graceful shutdown.
func (c *Config) shutdownTimeout() time.Duration {
	if c.ShutdownTimeout > 0 {
		return time.Duration(c.ShutdownTimeout)
	}
	return DefaultShutdownTimeout
}

// DefaultListen is where `zwamp serve` listens without a configuration.
const DefaultListen = "127.0.0.1:8080"

// defaultConfig is what `zwamp serve` runs with no arguments.
func defaultConfig() *Config {
	return &Config{
		Listeners: []ListenerConfig{{Kind: "universal", Address: DefaultListen}},
		Realms:    []RealmConfig{{Name: "realm1"}},
	}
}

// loadConfig reads a configuration file; unknown fields are errors, so a
// typo does not silently fall back to a default.
func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(c.Listeners) == 0 {
		c.Listeners = defaultConfig().Listeners
	}
	return &c, nil
}

func (c *Config) logLevel() (slog.Level, error) {
	switch strings.ToLower(c.LogLevel) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log_level %q", c.LogLevel)
}

// routerConfig translates the file into core's configuration.
func (c *Config) routerConfig(log *slog.Logger) (core.Config, error) {
	rc := core.Config{
		AutoCreateRealms: c.AutoCreateRealms,
		StrictURIs:       c.StrictURIs,
		LaxRequestIDs:    c.LaxRequestIDs,
		AllowMetaKill:    c.AllowMetaKill,
		MaxDepth:         c.Limits.MaxDepth,
		Logger:           log,
		LogInterval:      time.Duration(c.LogInterval),
		Limits: core.Limits{
			SubscriptionsPerSession: c.Limits.MaxSubscriptionsPerSession,
			RegistrationsPerSession: c.Limits.MaxRegistrationsPerSession,
			CallsPerSession:         c.Limits.MaxCallsPerCaller,
			InvocationsPerSession:   c.Limits.MaxInvocationsPerCallee,
			ProgressiveChunks:       c.Limits.MaxProgressiveChunks,
			SessionsPerRealm:        c.Limits.MaxSessionsPerRealm,
		},
		Auth: c.authLimits(),
	}
	if err := c.pubsubConfig(&rc); err != nil {
		return rc, err
	}
	for i, r := range c.Realms {
		if r.Name == "" {
			return rc, errors.New("realm without a name")
		}
		realm := core.RealmConfig{Name: r.Name}
		if err := c.realmAuth(i, &realm, r.Auth); err != nil {
			return rc, err
		}
		rc.Realms = append(rc.Realms, realm)
	}
	if len(rc.Realms) == 0 && !rc.AutoCreateRealms {
		return rc, errors.New("no realms configured and auto_create_realms is off: no session could join")
	}
	return rc, nil
}

// serverConfig translates the file into netpoll's configuration.
func (c *Config) serverConfig(log *slog.Logger) (netpoll.Config, error) {
	policy, err := netpoll.ParseSlowConsumerPolicy(c.Limits.SlowConsumer)
	if err != nil {
		return netpoll.Config{}, err
	}
	sc := netpoll.Config{
		MaxMessageSize:   c.Limits.MaxMessageSize,
		MaxPendingOutput: c.Limits.MaxPendingOutput,
		SlowConsumer:     policy,
		PingInterval:     time.Duration(c.Limits.PingInterval),
		PingTimeout:      time.Duration(c.Limits.PingTimeout),
		HandshakeTimeout: time.Duration(c.Limits.HandshakeTimeout),
		Pollers:          c.Pollers,
		Logger:           log,
		MaxConnsPerIP:    c.Limits.MaxConnsPerIP,
		LogInterval:      time.Duration(c.LogInterval),

		MaxTLSHandshakes:      c.Limits.MaxTLSHandshakes,
		MaxTLSHandshakesPerIP: c.Limits.MaxTLSHandshakesPerIP,
	}
	for i, l := range c.Listeners {
		kind, err := netpoll.ParseKind(l.Kind)
		if err != nil {
			return sc, fmt.Errorf("listener %d: %w", i, err)
		}
		network := l.Network
		if network == "" {
			network = "tcp"
		}
		if network != "tcp" && network != "unix" {
			return sc, fmt.Errorf("listener %d: network must be tcp or unix, not %q", i, network)
		}
		if l.Address == "" {
			return sc, fmt.Errorf("listener %d: address missing", i)
		}
		nl := netpoll.Listener{Network: network, Addr: l.Address, Kind: kind, Path: l.Path, AllowedOrigins: l.AllowedOrigins}
		if l.TLS != nil {
			// Named like netpoll's listen errors, so that every listener
			// problem reads the same in the one line serve prints.
			if nl.TLS, err = l.TLS.load(); err != nil {
				return sc, fmt.Errorf("listener %d (%s %s %s): %w", i, kind, network, l.Address, err)
			}
		}
		if err := c.listenerAuth(i, &nl, &l); err != nil {
			return sc, err
		}
		sc.Listeners = append(sc.Listeners, nl)
	}
	return sc, nil
}
