package auth

import (
	"fmt"
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
	// wamp-scram; default: those of the first wamp-scram principal, else
	// argon2id13 with 3 iterations and 64 MiB.
	MockSCRAM *KDFParams `json:"mock_scram"`
	// TrustedRole is the role of in-process sessions (method
	// zwamp-local), default "trusted".
	TrustedRole string `json:"trusted_role"`
}

// PrincipalConfig is one authid.
type PrincipalConfig struct {
	Role       string         `json:"role"`
	AuthExtra  map[string]any `json:"authextra"`
	Ticket     *HashedSecret  `json:"ticket"`
	WampCRA    *CRAKey        `json:"wampcra"`
	Cryptosign []string       `json:"cryptosign"`
	SCRAM      *SCRAMKeys     `json:"wamp-scram"`
}

// Built is what Build returns: the realm's authenticators and, when a
// dynamic authenticator is configured, the Dynamic that needs the router.
type Built struct {
	Authenticators []core.Authenticator
	Dynamic        *Dynamic
}

// Build validates c (errors name the field under prefix, e.g.
// "realms[0].auth") and makes the realm's authenticators.
func (c *RealmConfig) Build(prefix, realm string, timeout time.Duration) (*Built, error) {
	if len(c.Methods) == 0 {
		return nil, fmt.Errorf("%s.methods: at least one method is required", prefix)
	}
	var ps []*Principal
	var firstSCRAM *KDFParams
	for id, pc := range c.Principals {
		f := fmt.Sprintf("%s.principals[%q]", prefix, id)
		if id == "" {
			return nil, fmt.Errorf("%s: empty authid", f)
		}
		if pc.Role == "" {
			return nil, fmt.Errorf("%s.role: missing", f)
		}
		p := &Principal{AuthID: id, Role: pc.Role, Extra: pc.AuthExtra, Ticket: pc.Ticket, CRA: pc.WampCRA, SCRAM: pc.SCRAM}
		if pc.Ticket != nil {
			if err := pc.Ticket.check(f + ".ticket"); err != nil {
				return nil, err
			}
		}
		if pc.WampCRA != nil {
			if err := pc.WampCRA.check(f + ".wampcra"); err != nil {
				return nil, err
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
	b := &Built{}
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
		o.Source = NewStatic(ps)
	}
	seen := map[string]bool{}
	for i, m := range c.Methods {
		if seen[m] {
			return nil, fmt.Errorf("%s.methods[%d]: %q listed twice", prefix, i, m)
		}
		seen[m] = true
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
			return nil, fmt.Errorf("%s.methods[%d]: unknown method %q (known: anonymous, ticket, wampcra, cryptosign, wamp-scram)", prefix, i, m)
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
