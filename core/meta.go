package core

import (
	"strconv"
	"sync"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// metaAPI implements the session, subscription and registration meta API
// (advanced/meta_api_*.md): meta events published into the realm, and the
// wamp.* meta procedures answered by the router itself. None of it is on
// the PUBLISH/CALL hot path; it uses Go values and allocates freely.
type metaAPI struct {
	realm *Realm
}

// event publishes a meta event if anyone subscribed to topic. args is
// only built when needed.
func (m *metaAPI) event(b *Batch, topic string, args func() []any) {
	r := m.realm
	t := unsafeBytes(topic)
	b.subs = r.subs.Match(t, b.subs[:0])
	cl := r.router.cluster
	if len(b.subs) == 0 && cl == nil {
		return
	}
	raw, err := codec.EncodeGo(codec.JSON, args())
	if err != nil {
		r.router.stats.encodeErrors.Add(1)
		clear(b.subs)
		b.subs = b.subs[:0]
		return
	}
	msg := codec.Message{Type: codec.PUBLISH, URI: t, Args: raw}
	pubID := b.globalID()
	if len(b.subs) > 0 {
		r.deliver(b, nil, &msg, pubID)
	}
	if cl != nil {
		// Subscribers on other nodes see this node's meta events too.
		enc, err := codec.ByFormat(codec.JSON).Append(nil, &msg)
		if err == nil {
			cl.Published(r, nil, &msg, codec.JSON, enc, pubID)
		}
	}
}

func sessionDetails(s *Session) map[string]any {
	ti := s.conn.t.Info()
	return map[string]any{
		"session":      s.id,
		"authid":       s.authID,
		"authrole":     s.authRole,
		"authmethod":   s.authMeth,
		"authprovider": s.authProv,
		"transport": map[string]any{
			"type":     ti.Kind,
			"protocol": ti.Protocol,
			"peer":     ti.RemoteAddr,
		},
	}
}

func (m *metaAPI) joined(b *Batch, s *Session) {
	m.event(b, "wamp.session.on_join", func() []any { return []any{sessionDetails(s)} })
}

func (m *metaAPI) left(b *Batch, s *Session) {
	if s.quietEnd {
		return
	}
	m.event(b, "wamp.session.on_leave", func() []any { return []any{s.id, s.authID, s.authRole} })
}

func subDetails(sub *subscription) map[string]any {
	return map[string]any{"id": sub.id, "created": sub.created.UTC().Format(time.RFC3339Nano), "uri": sub.uri, "match": policyName(sub.policy)}
}

func regDetails(reg *registration) map[string]any {
	return map[string]any{"id": reg.id, "created": reg.created.UTC().Format(time.RFC3339Nano), "uri": reg.uri,
		"match": policyName(reg.policy), "invoke": reg.invoke.String()}
}

func policyName(p trie.Policy) string { return codec.Match(p).String() }

func (m *metaAPI) subscribed(b *Batch, s *Session, sub *subscription, created bool) {
	if created {
		m.event(b, "wamp.subscription.on_create", func() []any { return []any{s.id, subDetails(sub)} })
	}
	m.event(b, "wamp.subscription.on_subscribe", func() []any { return []any{s.id, sub.id} })
}

func (m *metaAPI) unsubscribed(b *Batch, s *Session, sub *subscription, deleted bool) {
	m.event(b, "wamp.subscription.on_unsubscribe", func() []any { return []any{s.id, sub.id} })
	if deleted {
		m.event(b, "wamp.subscription.on_delete", func() []any { return []any{s.id, sub.id} })
	}
}

func (m *metaAPI) registered(b *Batch, s *Session, reg *registration, created bool) {
	if created {
		m.event(b, "wamp.registration.on_create", func() []any { return []any{s.id, regDetails(reg)} })
	}
	m.event(b, "wamp.registration.on_register", func() []any { return []any{s.id, reg.id} })
}

func (m *metaAPI) unregistered(b *Batch, s *Session, reg *registration, deleted bool) {
	m.event(b, "wamp.registration.on_unregister", func() []any { return []any{s.id, reg.id} })
	if deleted {
		m.event(b, "wamp.registration.on_delete", func() []any { return []any{s.id, reg.id} })
	}
}

// metaError is a meta procedure's error reply.
type metaError struct{ uri, msg string }

// call answers a wamp.* meta procedure; it reports false for an unknown one.
func (m *metaAPI) call(b *Batch, s *Session, msg *codec.Message) bool {
	if m.callExt(b, s, msg) {
		return true
	}
	fn, ok := metaProcedures[string(msg.URI)]
	if !ok {
		return false
	}
	args, err := codec.ToList(msg.Args)
	if err != nil {
		s.replyError(b, codec.CALL, msg.Request, ErrInvalidArgument, err.Error())
		return true
	}
	if cl := m.realm.router.cluster; cl != nil && ClusterMeta[string(msg.URI)] {
		// The answer covers every node: the cluster gathers it and replies
		// later (Session.Reply).
		if cl.MetaCall(m.realm, s, string(msg.URI), args, nil, msg.Request) {
			return true
		}
	}
	res, merr := fn(m.realm, args)
	if merr != nil {
		s.replyError(b, codec.CALL, msg.Request, merr.uri, merr.msg)
		return true
	}
	raw, err := codec.EncodeGo(s.format, []any{res})
	if err != nil {
		s.replyError(b, codec.CALL, msg.Request, ErrInvalidArgument, err.Error())
		return true
	}
	out := &b.out
	out.Reset()
	out.Type = codec.RESULT
	out.Request = msg.Request
	out.Args = raw
	_ = s.send(b, out)
	return true
}

var metaProcedures map[string]func(r *Realm, args []any) (any, *metaError)

func init() {
	metaProcedures = map[string]func(r *Realm, args []any) (any, *metaError){
		"wamp.session.count": func(r *Realm, args []any) (any, *metaError) {
			roles, err := optRoles(args)
			if err != nil {
				return nil, err
			}
			n := 0
			r.sessions.each(func(s *Session) {
				if roles == nil || roles[s.authRole] {
					n++
				}
			})
			return n, nil
		},
		"wamp.session.list": func(r *Realm, args []any) (any, *metaError) {
			roles, err := optRoles(args)
			if err != nil {
				return nil, err
			}
			ids := []any{}
			r.sessions.each(func(s *Session) {
				if roles == nil || roles[s.authRole] {
					ids = append(ids, s.id)
				}
			})
			return ids, nil
		},
		"wamp.session.get": func(r *Realm, args []any) (any, *metaError) {
			id, err := argID(args, 0, "session")
			if err != nil {
				return nil, err
			}
			s := r.sessions.get(id)
			if s == nil {
				return nil, &metaError{ErrNoSuchSession, "no session with id " + strconv.FormatUint(id, 10)}
			}
			return sessionDetails(s), nil
		},
		"wamp.subscription.list": func(r *Realm, args []any) (any, *metaError) {
			return listByPolicy(&r.subByID, func(v any) (uint64, trie.Policy) {
				s := v.(*subscription)
				return s.id, s.policy
			}), nil
		},
		"wamp.subscription.lookup": func(r *Realm, args []any) (any, *metaError) {
			uri, p, err := argURIPolicy(args)
			if err != nil {
				return nil, err
			}
			if sub, ok := r.subs.Lookup(unsafeBytes(uri), p); ok {
				return sub.id, nil
			}
			return nil, nil
		},
		"wamp.subscription.match": func(r *Realm, args []any) (any, *metaError) {
			uri, err := argString(args, 0, "topic")
			if err != nil {
				return nil, err
			}
			subs := r.subs.Match(unsafeBytes(uri), nil)
			if len(subs) == 0 {
				return nil, nil
			}
			ids := make([]any, len(subs))
			for i, s := range subs {
				ids[i] = s.id
			}
			return ids, nil
		},
		"wamp.subscription.get": func(r *Realm, args []any) (any, *metaError) {
			sub, err := argSub(r, args)
			if err != nil {
				return nil, err
			}
			return subDetails(sub), nil
		},
		"wamp.subscription.list_subscribers": func(r *Realm, args []any) (any, *metaError) {
			sub, err := argSub(r, args)
			if err != nil {
				return nil, err
			}
			ids := []any{}
			sub.subscribers(func(s *Session) bool { ids = append(ids, s.id); return true })
			return ids, nil
		},
		"wamp.subscription.count_subscribers": func(r *Realm, args []any) (any, *metaError) {
			sub, err := argSub(r, args)
			if err != nil {
				return nil, err
			}
			return sub.count(), nil
		},
		"wamp.registration.list": func(r *Realm, args []any) (any, *metaError) {
			return listByPolicy(&r.regByID, func(v any) (uint64, trie.Policy) {
				g := v.(*registration)
				return g.id, g.policy
			}), nil
		},
		"wamp.registration.lookup": func(r *Realm, args []any) (any, *metaError) {
			uri, p, err := argURIPolicy(args)
			if err != nil {
				return nil, err
			}
			if reg, ok := r.regs.Lookup(unsafeBytes(uri), p); ok {
				return reg.id, nil
			}
			return nil, nil
		},
		"wamp.registration.match": func(r *Realm, args []any) (any, *metaError) {
			uri, err := argString(args, 0, "procedure")
			if err != nil {
				return nil, err
			}
			if reg, _, ok := r.regs.Best(unsafeBytes(uri)); ok {
				return reg.id, nil
			}
			return nil, nil
		},
		"wamp.registration.get": func(r *Realm, args []any) (any, *metaError) {
			reg, err := argReg(r, args)
			if err != nil {
				return nil, err
			}
			return regDetails(reg), nil
		},
		"wamp.registration.list_callees": func(r *Realm, args []any) (any, *metaError) {
			reg, err := argReg(r, args)
			if err != nil {
				return nil, err
			}
			ids := []any{}
			for _, s := range reg.calleeList() {
				ids = append(ids, s.id)
			}
			return ids, nil
		},
		"wamp.registration.count_callees": func(r *Realm, args []any) (any, *metaError) {
			reg, err := argReg(r, args)
			if err != nil {
				return nil, err
			}
			return len(reg.calleeList()), nil
		},
	}
}

func listByPolicy(m interface{ Range(func(k, v any) bool) }, get func(any) (uint64, trie.Policy)) map[string]any {
	lists := [3][]any{{}, {}, {}}
	m.Range(func(_, v any) bool {
		id, p := get(v)
		lists[p] = append(lists[p], id)
		return true
	})
	return map[string]any{"exact": lists[0], "prefix": lists[1], "wildcard": lists[2]}
}

func argID(args []any, i int, name string) (uint64, *metaError) {
	if i >= len(args) {
		return 0, &metaError{ErrInvalidArgument, "missing argument " + name}
	}
	switch v := args[i].(type) {
	case int64:
		if v >= 0 {
			return uint64(v), nil
		}
	case uint64:
		return v, nil
	case float64:
		if v >= 0 && v == float64(uint64(v)) {
			return uint64(v), nil
		}
	}
	return 0, &metaError{ErrInvalidArgument, "argument " + name + " must be an id"}
}

func argString(args []any, i int, name string) (string, *metaError) {
	if i < len(args) {
		if s, ok := args[i].(string); ok {
			return s, nil
		}
	}
	return "", &metaError{ErrInvalidArgument, "argument " + name + " must be a string"}
}

func argURIPolicy(args []any) (string, trie.Policy, *metaError) {
	uri, err := argString(args, 0, "uri")
	if err != nil {
		return "", 0, err
	}
	p := trie.Exact
	if len(args) > 1 {
		opts, ok := args[1].(map[string]any)
		if !ok && args[1] != nil {
			return "", 0, &metaError{ErrInvalidArgument, "options must be a dict"}
		}
		if ms, ok := opts["match"].(string); ok {
			pm, ok := matchPolicy(codec.ParseMatch([]byte(ms)))
			if !ok {
				return "", 0, &metaError{ErrInvalidArgument, "unknown match policy " + ms}
			}
			p = pm
		}
	}
	return uri, p, nil
}

func optRoles(args []any) (map[string]bool, *metaError) {
	if len(args) == 0 || args[0] == nil {
		return nil, nil
	}
	l, ok := args[0].([]any)
	if !ok {
		return nil, &metaError{ErrInvalidArgument, "filter_authroles must be a list of strings"}
	}
	roles := make(map[string]bool, len(l))
	for _, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, &metaError{ErrInvalidArgument, "filter_authroles must be a list of strings"}
		}
		roles[s] = true
	}
	return roles, nil
}

func argSub(r *Realm, args []any) (*subscription, *metaError) {
	return argByID[*subscription](&r.subByID, args, "subscription", ErrNoSuchSubscription)
}

func argReg(r *Realm, args []any) (*registration, *metaError) {
	return argByID[*registration](&r.regByID, args, "registration", ErrNoSuchRegistration)
}

// argByID looks up the object whose id is the first argument.
func argByID[T any](m *sync.Map, args []any, name, errURI string) (T, *metaError) {
	var zero T
	id, err := argID(args, 0, name)
	if err != nil {
		return zero, err
	}
	v, ok := m.Load(id)
	if !ok {
		return zero, &metaError{errURI, "no " + name + " with id " + strconv.FormatUint(id, 10)}
	}
	return v.(T), nil
}
