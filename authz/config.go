package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zwamp/zwamp/trie"
)

// RoleConfig is one role of a realm, in Crossbar's shape: either static
// permissions or the procedure of a dynamic authorizer.
//
//	{"name": "frontend", "permissions": [{"uri": "com.example.", "match": "prefix",
//	  "allow": {"call": true, "register": false, "publish": true, "subscribe": true},
//	  "disclose": {"caller": true, "publisher": true}, "cache": true}]}
//	{"name": "guest", "authorizer": "com.example.authorize", "authorizer_cache": {"ttl": "60s"}}
type RoleConfig struct {
	Name        string             `json:"name"`
	Permissions []PermissionConfig `json:"permissions"`
	// Authorizer names the procedure a dynamic authorizer registered in
	// the realm; the router calls it with (session, uri, action, options).
	Authorizer string `json:"authorizer"`
	// AuthorizerCache bounds the cache of the dynamic authorizer's answers
	// (those it returns with cache: true).
	AuthorizerCache *CacheConfig `json:"authorizer_cache"`
}

// PermissionConfig grants a role actions on a URI or URI pattern.
type PermissionConfig struct {
	URI string `json:"uri"`
	// Match is exact (default), prefix or wildcard, with the best-match
	// rules of pattern registrations. The prefix "" matches every URI
	// except the meta API's (wamp.*), which must be granted by name.
	Match    string         `json:"match"`
	Allow    AllowConfig    `json:"allow"`
	Disclose DiscloseConfig `json:"disclose"`
	// Cache is accepted for Crossbar compatibility; static permissions are
	// always a lookup and need no cache.
	Cache bool `json:"cache"`
}

// AllowConfig lists the actions a permission allows (all false by default).
type AllowConfig struct {
	Call      bool `json:"call"`
	Register  bool `json:"register"`
	Publish   bool `json:"publish"`
	Subscribe bool `json:"subscribe"`
}

// DiscloseConfig forces identity disclosure for the role's calls and
// publications, or forbids the role from asking for it.
type DiscloseConfig struct {
	// Caller discloses the caller to the callee on every CALL.
	Caller bool `json:"caller"`
	// Publisher discloses the publisher to subscribers on every PUBLISH.
	Publisher bool `json:"publisher"`
	// DenyRequest refuses a CALL or PUBLISH that asks for disclose_me
	// (ERROR wamp.error.option_disallowed.disclose_me).
	DenyRequest bool `json:"deny_request"`
}

// CacheConfig bounds a dynamic authorizer's decision cache.
type CacheConfig struct {
	// Scope is "session" (default: one cache per session, dropped when it
	// leaves) or "role" (one cache shared by the role's sessions, for
	// authorizers whose answer depends only on the role).
	Scope string `json:"scope"`
	// Size is the number of cached decisions (per session or per role).
	Size int `json:"size"`
	// TTL is how long a decision is reused, e.g. "60s".
	TTL string `json:"ttl"`
}

// Cache defaults and bounds.
const (
	DefaultSessionCacheSize = 64
	DefaultRoleCacheSize    = 4096
	DefaultCacheTTL         = 60 * time.Second
	MaxCacheSize            = 1 << 20
	MaxCacheTTL             = 24 * time.Hour
)

// ParseRoles decodes a JSON list of roles strictly: an unknown key is an
// error naming it.
func ParseRoles(data []byte) ([]RoleConfig, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var roles []RoleConfig
	if err := dec.Decode(&roles); err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return roles, nil
}

// Validate checks a realm's roles; errors name the field, e.g.
// roles[1].permissions[0].match. path prefixes each name (e.g.
// "realms[0].").
func Validate(path string, roles []RoleConfig) error {
	_, err := compile(path, roles)
	return err
}

func fieldErr(path string, format string, args ...any) error {
	return fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
}

// compile turns a realm's roles into lookup structures.
func compile(path string, roles []RoleConfig) (map[string]*role, error) {
	out := make(map[string]*role, len(roles))
	var errs []error
	for i := range roles {
		rc := &roles[i]
		rp := fmt.Sprintf("%sroles[%d]", path, i)
		if rc.Name == "" {
			errs = append(errs, fieldErr(rp+".name", "missing"))
			continue
		}
		if !trie.ValidURI([]byte(rc.Name), 0) {
			errs = append(errs, fieldErr(rp+".name", "%q is not a valid role name (a URI without empty components)", rc.Name))
			continue
		}
		if _, dup := out[rc.Name]; dup {
			errs = append(errs, fieldErr(rp+".name", "role %q is defined twice", rc.Name))
			continue
		}
		r, err := compileRole(rp, rc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[rc.Name] = r
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func compileRole(rp string, rc *RoleConfig) (*role, error) {
	r := &role{name: rc.Name, perms: trie.New[*permission](trie.Options{Shards: 1, CacheSize: 256})}
	if rc.Authorizer != "" {
		if len(rc.Permissions) > 0 {
			return nil, fieldErr(rp, "a role has either permissions or an authorizer, not both")
		}
		if !trie.ValidURI([]byte(rc.Authorizer), 0) || trie.Reserved([]byte(rc.Authorizer)) {
			return nil, fieldErr(rp+".authorizer", "%q is not a valid procedure URI outside wamp.*", rc.Authorizer)
		}
		d := &dynamic{procedure: rc.Authorizer, scope: scopeSession, size: DefaultSessionCacheSize, ttl: DefaultCacheTTL}
		if c := rc.AuthorizerCache; c != nil {
			cp := rp + ".authorizer_cache"
			switch c.Scope {
			case "", "session":
			case "role":
				d.scope = scopeRole
				d.size = DefaultRoleCacheSize
			default:
				return nil, fieldErr(cp+".scope", "must be session or role, not %q", c.Scope)
			}
			if c.Size < 0 || c.Size > MaxCacheSize {
				return nil, fieldErr(cp+".size", "must be between 0 (default) and %d", MaxCacheSize)
			}
			if c.Size > 0 {
				d.size = c.Size
			}
			if c.TTL != "" {
				ttl, err := time.ParseDuration(c.TTL)
				if err != nil || ttl <= 0 || ttl > MaxCacheTTL {
					return nil, fieldErr(cp+".ttl", "must be a duration between 1ns and %v, not %q", MaxCacheTTL, c.TTL)
				}
				d.ttl = ttl
			}
		}
		if d.scope == scopeRole {
			d.shared = newDecisionCache(d.size)
		}
		r.dyn = d
		return r, nil
	}
	if rc.AuthorizerCache != nil {
		return nil, fieldErr(rp+".authorizer_cache", "set without an authorizer")
	}
	for j := range rc.Permissions {
		pc := &rc.Permissions[j]
		pp := fmt.Sprintf("%s.permissions[%d]", rp, j)
		var policy trie.Policy
		switch pc.Match {
		case "", "exact":
			policy = trie.Exact
		case "prefix":
			policy = trie.Prefix
		case "wildcard":
			policy = trie.Wildcard
		default:
			return nil, fieldErr(pp+".match", "must be exact, prefix or wildcard, not %q", pc.Match)
		}
		uri := []byte(pc.URI)
		switch {
		case policy == trie.Prefix && pc.URI == "":
			// Every URI.
		case policy == trie.Exact && !trie.ValidURI(uri, 0):
			return nil, fieldErr(pp+".uri", "%q is not a valid URI for match exact", pc.URI)
		case policy != trie.Exact && !trie.ValidURI(uri, trie.AllowEmpty):
			return nil, fieldErr(pp+".uri", "%q is not a valid URI pattern for match %s", pc.URI, pc.Match)
		case policy == trie.Wildcard && !strings.Contains("."+pc.URI+".", ".."):
			return nil, fieldErr(pp+".uri", "%q has no empty component: use match exact", pc.URI)
		}
		if (pc.Allow.Register || pc.Allow.Publish) && strings.HasPrefix(pc.URI, "wamp.") {
			return nil, fieldErr(pp+".allow", "register and publish on %q: the router reserves wamp.* and refuses both", pc.URI)
		}
		p := &permission{uri: pc.URI, policy: policy}
		p.set(pc)
		if policy == trie.Prefix && pc.URI == "" {
			if r.all != nil {
				return nil, fieldErr(pp, "a second permission for every URI (uri \"\", match prefix)")
			}
			r.all = p
			continue
		}
		dup := false
		r.perms.Update(uri, policy, func(old *permission, ok bool) (*permission, bool) {
			if ok {
				dup = true
				return old, true
			}
			return p, true
		})
		if dup {
			return nil, fieldErr(pp+".uri", "a second permission for %q with match %s", pc.URI, policy)
		}
	}
	return r, nil
}
