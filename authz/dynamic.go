package authz

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// ask calls j's dynamic authorizer with (session, uri, action, options), as
// Crossbar does, and turns its answer — a bool, or a dict with allow,
// disclose and cache — into a Decision. Any failure refuses the action
// with wamp.error.authorization_failed and is not cached.
func (a *Authorizer) ask(j *job) (dec core.Decision, cache bool) {
	svc, err := a.service()
	if err != nil {
		a.log.Warn("dynamic authorizer unavailable", "realm", a.realm, "procedure", j.dyn.procedure, "error", err)
		return core.Failed, false
	}
	info := &j.info
	sess := map[string]any{
		"session": info.ID, "realm": info.Realm, "authid": info.AuthID, "authrole": info.AuthRole,
		"authmethod": info.AuthMethod, "authprovider": info.AuthProvider,
		"transport": map[string]any{"type": info.Transport.Kind, "protocol": info.Transport.Protocol, "peer": info.Transport.RemoteAddr},
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.Timeout)
	res, err := svc.Call(ctx, j.dyn.procedure, []any{sess, j.uri, j.act.String(), j.opts}, nil, nil)
	cancel()
	if err != nil {
		a.log.Warn("dynamic authorizer failed", "realm", a.realm, "procedure", j.dyn.procedure, "uri", j.uri, "action", j.act.String(), "error", err)
		return core.Failed, false
	}
	var v any
	if len(res.Args) > 0 {
		v = res.Args[0]
	}
	var allow, disclose bool
	switch v := v.(type) {
	case bool:
		allow = v
	case map[string]any:
		var ok1, ok2, ok3 bool
		allow, ok1 = boolOr(v["allow"])
		disclose, ok2 = boolOr(v["disclose"])
		cache, ok3 = boolOr(v["cache"])
		if !ok1 || !ok2 || !ok3 {
			a.log.Warn("dynamic authorizer answered a dict whose allow, disclose or cache is not a bool", "realm", a.realm, "procedure", j.dyn.procedure)
			return core.Failed, false
		}
	default:
		a.log.Warn("dynamic authorizer answered neither a bool nor a dict", "realm", a.realm, "procedure", j.dyn.procedure)
		return core.Failed, false
	}
	if allow {
		dec = core.Allow
		if disclose && (j.act == core.ActionCall || j.act == core.ActionPublish) {
			dec |= core.DiscloseForce
		}
	}
	return dec, cache
}

// boolOr reads an optional bool: absent is false.
func boolOr(v any) (bool, bool) {
	if v == nil {
		return false, true
	}
	b, ok := v.(bool)
	return b, ok
}

// optionsMap turns an action's decoded options into what the authorizer
// receives (cold path: it allocates).
func optionsMap(d *codec.Details) map[string]any {
	m := make(map[string]any)
	for k := codec.Key(0); k < codec.NumKeys; k++ {
		if !d.Has(k) {
			continue
		}
		switch codec.KeyKinds[k] {
		case codec.KindBool:
			m[codec.KeyNames[k]] = d.Bool(k, false)
		case codec.KindInt, codec.KindID:
			m[codec.KeyNames[k]] = d.Uint(k)
		case codec.KindString:
			m[codec.KeyNames[k]] = string(d.Str[k])
		case codec.KindIDList:
			m[codec.KeyNames[k]] = append([]uint64{}, *d.IDList(k)...)
		case codec.KindStringList:
			l := *d.StringList(k)
			ss := make([]string, len(l))
			for i, s := range l {
				ss[i] = string(s)
			}
			m[codec.KeyNames[k]] = ss
		}
	}
	return m
}

// decisionCache is a bounded map (scope, action, uri) → Decision with an
// expiry: an open-addressing table of fixed size where each key may sit in
// one of window slots after its hash, and an insert replaces an expired
// entry or else the one closest to expiring. Lookups compare bytes without
// converting them, so a hit allocates nothing.
type decisionCache struct {
	seed  maphash.Seed
	mu    sync.Mutex // uncontended for per-session caches
	slots []cacheSlot
	mask  uint64
}

type cacheSlot struct {
	h     uint64
	scope uint64
	exp   int64 // nanotime; 0 = empty
	act   core.Action
	dec   core.Decision
	uri   string
}

const window = 4

func newDecisionCache(size int) *decisionCache {
	n := 1
	for n < size {
		n <<= 1
	}
	return &decisionCache{seed: maphash.MakeSeed(), slots: make([]cacheSlot, n), mask: uint64(n - 1)}
}

func (c *decisionCache) hash(scope uint64, act core.Action, uri []byte) uint64 {
	return maphash.Bytes(c.seed, uri) ^ (scope * 0x9E3779B97F4A7C15) ^ uint64(act)<<56
}

// get returns the decision cached for the key, and its expiry, if it has
// not expired.
func (c *decisionCache) get(scope uint64, act core.Action, uri []byte, now int64) (core.Decision, int64, bool) {
	h := c.hash(scope, act, uri)
	c.mu.Lock()
	for i := uint64(0); i < window; i++ {
		sl := &c.slots[(h+i)&c.mask]
		if sl.h == h && sl.exp > now && sl.scope == scope && sl.act == act && sl.uri == string(uri) {
			dec, exp := sl.dec, sl.exp
			c.mu.Unlock()
			return dec, exp, true
		}
	}
	c.mu.Unlock()
	return 0, 0, false
}

// put caches dec for the key until exp.
func (c *decisionCache) put(scope uint64, act core.Action, uri string, dec core.Decision, exp int64) {
	h := c.hash(scope, act, []byte(uri))
	c.mu.Lock()
	victim := &c.slots[h&c.mask]
	for i := uint64(0); i < window; i++ {
		sl := &c.slots[(h+i)&c.mask]
		if sl.h == h && sl.scope == scope && sl.act == act && sl.uri == uri {
			victim = sl
			break
		}
		if sl.exp < victim.exp {
			victim = sl
		}
	}
	*victim = cacheSlot{h: h, scope: scope, exp: exp, act: act, dec: dec, uri: uri}
	c.mu.Unlock()
}

// len counts live entries (tests).
func (c *decisionCache) len(now int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for i := range c.slots {
		if c.slots[i].exp > now {
			n++
		}
	}
	return n
}

var epoch = time.Now()

// nanotime is a monotonic clock in nanoseconds.
func nanotime() int64 { return int64(time.Since(epoch)) + 1 }
