package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// AuthLimitsConfig is the top-level "auth_limits" section: what
// authentication may cost the router (see core.AuthLimits). The handshake
// timeout is limits.handshake_timeout.
type AuthLimitsConfig struct {
	Workers              int      `json:"workers"`                 // default GOMAXPROCS-1, at least 1
	Queue                int      `json:"queue"`                   // jobs waiting for a worker, default 1024
	MaxPending           int      `json:"max_pending"`             // handshakes in progress, default 4096
	MaxPendingPerAddr    int      `json:"max_pending_per_addr"`    // per source address, default 16
	FailWindow           Duration `json:"fail_window"`             // default 1m
	MaxFailuresPerAddr   int      `json:"max_failures_per_addr"`   // default 20; -1 disables
	MaxFailuresPerAuthID int      `json:"max_failures_per_authid"` // default 10; -1 disables
}

func (c *Config) authLimits() core.AuthLimits {
	l := c.AuthLimits
	return core.AuthLimits{
		HandshakeTimeout: time.Duration(c.Limits.HandshakeTimeout),
		Workers:          l.Workers, Queue: l.Queue, MaxPending: l.MaxPending, MaxPendingPerAddr: l.MaxPendingPerAddr,
		FailWindow: time.Duration(l.FailWindow), MaxFailuresPerAddr: l.MaxFailuresPerAddr, MaxFailuresPerAuthID: l.MaxFailuresPerAuthID,
	}
}

// realmAuth builds realm i's authenticators from its "auth" section.
func (c *Config) realmAuth(i int, rc *core.RealmConfig, a *auth.RealmConfig) error {
	if a == nil {
		return nil
	}
	timeout := time.Duration(c.Limits.HandshakeTimeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	b, err := a.Build(fmt.Sprintf("realms[%d].auth", i), rc.Name, timeout, c.cookieStore())
	if err != nil {
		return err
	}
	rc.Authenticators = b.Authenticators
	if c.authBuilt == nil {
		c.authBuilt = map[string]*auth.Built{}
	}
	c.authBuilt[rc.Name] = b
	if b.Dynamic != nil {
		c.dynamics = append(c.dynamics, b.Dynamic)
	}
	return nil
}

// reloadAuth prepares a SIGHUP reload of the principals from n, the newly
// read config: it validates every realm's auth section and returns commit,
// which swaps the principals in (sessions stay; logins in progress finish
// with the old ones). Changing methods, the dynamic authenticator, or
// which realms have an auth section needs a restart and is refused. Its
// shape is that of a reload step (validate, then a commit that cannot
// fail) so that serve's SIGHUP handler can run it with the authorization
// side's.
func (c *Config) reloadAuth(n *Config) (commit func(), err error) {
	timeout := time.Duration(c.Limits.HandshakeTimeout)
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var commits []func()
	seen := map[string]bool{}
	for i, r := range n.Realms {
		prefix := fmt.Sprintf("realms[%d].auth", i)
		b := c.authBuilt[r.Name]
		seen[r.Name] = true
		switch {
		case b == nil && r.Auth != nil:
			return nil, fmt.Errorf("%s: adding an auth section to realm %q needs a restart", prefix, r.Name)
		case b == nil:
			continue
		}
		cm, err := b.Reload(prefix, r.Name, r.Auth, timeout, c.cookieStore())
		if err != nil {
			return nil, err
		}
		commits = append(commits, cm)
	}
	for name := range c.authBuilt {
		if !seen[name] {
			return nil, fmt.Errorf("realms: removing realm %q needs a restart", name)
		}
	}
	return func() {
		for _, cm := range commits {
			cm()
		}
	}, nil
}

// attachRouter hands the router to the dynamic authenticators, and checks
// that the realms they call into exist.
func (c *Config) attachRouter(r *core.Router) error {
	for _, d := range c.dynamics {
		if r.Realm(d.Realm) == nil && !c.AutoCreateRealms {
			return fmt.Errorf("dynamic authenticator %s: authenticator_realm %q is not configured", d.Procedure, d.Realm)
		}
		d.SetRouter(r)
	}
	return nil
}

// CookieConfig is a WebSocket listener's "cookie" section: connections get
// a login cookie for the "cookie" authmethod. Every listener shares one
// in-memory store, configured by the first listener that has the section.
type CookieConfig struct {
	Name       string   `json:"name"`        // default "cbtid"
	MaxAge     Duration `json:"max_age"`     // default 24h
	MaxEntries int      `json:"max_entries"` // default 100000
}

// cookieStore returns the daemon's cookie store, nil when no listener has
// cookies.
func (c *Config) cookieStore() *auth.CookieStore {
	if c.cookies != nil {
		return c.cookies
	}
	for _, l := range c.Listeners {
		if l.Cookie != nil {
			c.cookies = &auth.CookieStore{Name: l.Cookie.Name, MaxAge: time.Duration(l.Cookie.MaxAge), MaxEntries: l.Cookie.MaxEntries}
			return c.cookies
		}
	}
	return nil
}

// listenerAuth sets listener i's cookie jar and TLS client CA.
func (c *Config) listenerAuth(i int, nl *netpoll.Listener, l *ListenerConfig) error {
	if l.Cookie != nil {
		if nl.Kind == netpoll.RawSocket {
			return fmt.Errorf("listeners[%d].cookie: cookies need WebSocket (kind websocket or universal)", i)
		}
		nl.Cookies = c.cookieStore()
	}
	if l.TLS != nil && l.TLS.ClientCA != "" {
		pem, err := os.ReadFile(l.TLS.ClientCA)
		if err != nil {
			return fmt.Errorf("listeners[%d].tls.client_ca: %w", i, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("listeners[%d].tls.client_ca: no PEM certificate in %s", i, l.TLS.ClientCA)
		}
		nl.TLS.ClientCAs = pool
		nl.TLS.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return nil
}

const passwdUsage = `usage: zwamp passwd [--method ticket|wampcra|wamp-scram] [--kdf argon2id13|pbkdf2]
                    [--iterations N] [--memory KiB] [--keylen N]
Reads the secret from the first line of standard input and prints the JSON
to put under realms[].auth.principals["<authid>"]["<method>"]. The
secret itself is not printed and need not be stored. A wamp-scram password
is prepared with SASLprep (RFC 4013) first, as clients do.
`

// passwd implements `zwamp passwd`.
func passwd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("passwd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, passwdUsage) }
	method := fs.String("method", "wamp-scram", "ticket, wampcra or wamp-scram")
	kdf := fs.String("kdf", auth.KDFArgon2id, "argon2id13 or pbkdf2 (ticket, wamp-scram)")
	iterations := fs.Int("iterations", 0, "KDF iterations (default: argon2id13 3, pbkdf2 600000, wampcra 1000)")
	memory := fs.Int("memory", 64<<10, "argon2id13 memory in KiB")
	keylen := fs.Int("keylen", 32, "wampcra derived key length")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "zwamp passwd: read secret: %v\n", err)
		return 1
	}
	secret := strings.TrimRight(line, "\r\n")
	if secret == "" {
		fmt.Fprintln(stderr, "zwamp passwd: empty secret on standard input")
		return 1
	}
	p := auth.KDFParams{KDF: *kdf, Iterations: *iterations}
	switch p.KDF {
	case auth.KDFArgon2id:
		p.Memory = *memory
		if p.Iterations == 0 {
			p.Iterations = 3
		}
	case auth.KDFPBKDF2:
		if p.Iterations == 0 {
			p.Iterations = 600_000
		}
	}
	var out any
	switch *method {
	case auth.MethodTicket:
		out, err = auth.HashTicket(secret, p)
	case auth.MethodSCRAM:
		out, err = auth.SCRAMKeysFor(secret, p)
	case auth.MethodWampCRA:
		it := *iterations
		if it == 0 {
			it = 1000
		}
		out, err = auth.CRAKeyFor(secret, it, *keylen)
	default:
		fmt.Fprintf(stderr, "zwamp passwd: unknown --method %q\n%s", *method, passwdUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "zwamp passwd: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{*method: out})
	return 0
}
