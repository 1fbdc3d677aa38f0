package auth

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zwamp/zwamp/core"
)

// RealmConfig is a realm's "auth" section in the daemon's configuration.
//
//	"auth": {
//	  "methods": ["cryptosign", "wamp-scram", "wampcra", "ticket", "anonymous"],
//	  "anonymous_role": "public",
//	  "authenticator": "com.example.authenticate", "authenticator_realm": "mgmt",
//	  "principals": {"alice": {"role": "user", "ticket": {...}, "wampcra": {...},
//	                           "cryptosign": ["<hex pubkey>"], "wamp-scram": {...},
//	                           "authextra": {...}}}
//	}
//
// `zwamp passwd` prints the ticket, wampcra and wamp-scram entries for a
// secret; the configuration never holds a plain password (except a
// wampcra "secret", which that method shares by design: prefer the salted
// form).
type RealmConfig struct {
	Methods       []string `json:"methods"`
	AnonymousRole string   `json:"anonymous_role"`
	// Authenticator names a dynamic authenticator procedure registered in
	// AuthenticatorRealm (default: this realm). When set, principals are
	// looked up there instead of in Principals.
	Authenticator      string                     `json:"authenticator"`
	AuthenticatorRealm string                     `json:"authenticator_realm"`
	Principals         map[string]PrincipalConfig `json:"principals"`
	// MockSCRAM are the KDF parameters shown to unknown authids in
	// wamp-scram; default: those of one of the wamp-scram principals, else
	// argon2id13 with 3 iterations and 64 MiB.
	MockSCRAM *KDFParams `json:"mock_scram"`
	// TrustedRole is the role of in-process sessions (method
	// zwamp-local, LocalTrust), default "trusted"; when the realm has
	// roles, it must be one of them.
	TrustedRole string `json:"trusted_role"`
	// MockSecret keeps the salts of mock challenges (unknown authids in
	// wamp-scram and wampcra) the same across restarts; without it they
	// are stable only for the process's lifetime, so an observer who
	// sees a restart could tell unknown authids from known ones. Any
	// string of at least 16 characters.
	MockSecret string `json:"mock_secret"`
}

// PrincipalConfig is one authid.
type PrincipalConfig struct {
	Role       string         `json:"role"`
	AuthExtra  map[string]any `json:"authextra"`
	Ticket     *HashedSecret  `json:"ticket"`
	WampCRA    *CRAKey        `json:"wampcra"`
	Cryptosign []string       `json:"cryptosign"`
	SCRAM      *SCRAMKeys     `json:"wamp-scram"`
	TLS        *TLSPrincipal  `json:"tls"`
}

// Built is what Build returns: the realm's authenticators and, when a
// dynamic authenticator is configured, the Dynamic that needs the router.
type Built struct {
	Authenticators []core.Authenticator
	Dynamic        *Dynamic

	static  *Static // nil with a dynamic authenticator
	methods []string
	authn   string // the dynamic authenticator's procedure and realm
}

// Reload validates a realm's new auth section n and returns commit, which
// swaps in its principals (logins in progress finish with the old ones).
// What cannot change without a restart (the methods, a dynamic
// authenticator) is an error naming the field. commit cannot fail.
func (b *Built) Reload(prefix, realm string, n *RealmConfig, timeout time.Duration, cookies *CookieStore) (commit func(), err error) {
	if n == nil {
		return nil, fmt.Errorf("%s: removing a realm's auth section needs a restart", prefix)
	}
	nb, err := n.Build(prefix, realm, timeout, cookies)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(nb.methods, b.methods) {
		return nil, fmt.Errorf("%s.methods: changing the methods needs a restart", prefix)
	}
	if nb.authn != b.authn {
		return nil, fmt.Errorf("%s.authenticator: changing the dynamic authenticator needs a restart", prefix)
	}
	if b.static == nil {
		return func() {}, nil
	}
	return func() { b.static.Replace(nb.static) }, nil
}

// Build validates c (errors name the field under prefix, e.g.
// "realms[0].auth") and makes the realm's authenticators. cookies is the
// daemon's cookie store, required when methods lists "cookie".
func (c *RealmConfig) Build(prefix, realm string, timeout time.Duration, cookies *CookieStore) (*Built, error) {
	if len(c.Methods) == 0 {
		return nil, fmt.Errorf("%s.methods: at least one method is required", prefix)
	}
	var ps []*Principal
	var firstSCRAM, firstTicket *KDFParams
	var firstCRA *CRAKey
	for id, pc := range c.Principals {
		f := fmt.Sprintf("%s.principals[%q]", prefix, id)
		if id == "" {
			return nil, fmt.Errorf("%s: empty authid", f)
		}
		if pc.Role == "" {
			return nil, fmt.Errorf("%s.role: missing", f)
		}
		p := &Principal{AuthID: id, Role: pc.Role, Extra: pc.AuthExtra, Ticket: pc.Ticket, CRA: pc.WampCRA, SCRAM: pc.SCRAM, TLS: pc.TLS}
		if pc.TLS != nil {
			for i, fp := range pc.TLS.Fingerprints {
				if b, err := hex.DecodeString(strings.ReplaceAll(fp, ":", "")); err != nil || len(b) != 32 {
					return nil, fmt.Errorf("%s.tls.fingerprints[%d]: want the SHA-256 of the certificate, hex", f, i)
				}
			}
		}
		if pc.Ticket != nil {
			if err := pc.Ticket.check(f + ".ticket"); err != nil {
				return nil, err
			}
			if firstTicket == nil {
				k := pc.Ticket.KDFParams
				firstTicket = &k
			}
		}
		if pc.WampCRA != nil {
			if err := pc.WampCRA.check(f + ".wampcra"); err != nil {
				return nil, err
			}
			if firstCRA == nil && pc.WampCRA.Salt != "" {
				firstCRA = pc.WampCRA
			}
		}
		if pc.SCRAM != nil {
			if err := pc.SCRAM.check(f + ".wamp-scram"); err != nil {
				return nil, err
			}
			if firstSCRAM == nil {
				k := pc.SCRAM.KDFParams
				firstSCRAM = &k
			}
		}
		for i, k := range pc.Cryptosign {
			key, err := parsePubkey(k)
			if err != nil {
				return nil, fmt.Errorf("%s.cryptosign[%d]: %w", f, i, err)
			}
			p.Cryptosign = append(p.Cryptosign, key)
		}
		ps = append(ps, p)
	}
	o := Options{Timeout: timeout}
	if c.MockSecret != "" {
		if len(c.MockSecret) < 16 {
			return nil, fmt.Errorf("%s.mock_secret: want at least 16 characters", prefix)
		}
		o.MockKey = hmacSHA256([]byte(c.MockSecret), []byte("zwamp mock salts"), []byte(realm))
	}
	switch {
	case c.MockSCRAM != nil:
		m := *c.MockSCRAM
		m.Salt = "AAAAAAAAAAAAAAAAAAAAAA==" // replaced per authid; checked for shape only
		if err := m.check(prefix + ".mock_scram"); err != nil {
			return nil, err
		}
		o.MockSCRAM = *c.MockSCRAM
	case firstSCRAM != nil:
		o.MockSCRAM = *firstSCRAM
	}
	if firstTicket != nil {
		o.MockTicket = *firstTicket
	}
	if firstCRA != nil {
		o.MockCRAIterations, o.MockCRAKeyLen = firstCRA.Iterations, firstCRA.KeyLen
	}
	b := &Built{methods: slices.Clone(c.Methods), authn: c.Authenticator + "@" + c.AuthenticatorRealm}
	if c.Authenticator != "" {
		r := c.AuthenticatorRealm
		if r == "" {
			r = realm
		}
		if len(c.Principals) > 0 {
			return nil, fmt.Errorf("%s.principals: not used with a dynamic authenticator (%s.authenticator)", prefix, prefix)
		}
		b.Dynamic = &Dynamic{Procedure: c.Authenticator, Realm: r}
		o.Source = b.Dynamic
	} else {
		b.static = NewStatic(ps)
		o.Source = b.static
	}
	seen := map[string]bool{}
	withCookie := false
	for i, m := range c.Methods {
		if m == MethodCookie {
			if cookies == nil {
				return nil, fmt.Errorf("%s.methods[%d]: cookie needs a WebSocket listener with \"cookie\" set", prefix, i)
			}
			withCookie = true
		}
	}
	for i, m := range c.Methods {
		if seen[m] {
			return nil, fmt.Errorf("%s.methods[%d]: %q listed twice", prefix, i, m)
		}
		seen[m] = true
		if m == MethodCookie {
			b.Authenticators = append(b.Authenticators, &Cookie{Store: cookies})
			continue
		}
		if m == MethodAnonymous {
			role := c.AnonymousRole
			if role == "" {
				role = "anonymous"
			}
			b.Authenticators = append(b.Authenticators, &Anonymous{Role: role})
			continue
		}
		a, err := New(m, o)
		if err != nil {
			return nil, fmt.Errorf("%s.methods[%d]: unknown method %q (known: anonymous, ticket, wampcra, cryptosign, wamp-scram, tls, cookie)", prefix, i, m)
		}
		if ch, ok := a.(core.Challenger); ok && withCookie {
			a = &cookieBinder{Challenger: ch, store: cookies}
		}
		b.Authenticators = append(b.Authenticators, a)
	}
	tr := c.TrustedRole
	if tr == "" {
		tr = "trusted"
	}
	b.Authenticators = append(b.Authenticators, &LocalTrust{Role: tr})
	return b, nil
}
