package core

import (
	"slices"
	"strconv"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// The meta procedures that need the calling session, keyword arguments or
// a result other than one positional value: testaments, killing sessions,
// revoking subscriptions and event history. Like the rest of the meta API
// they are off the hot path and use Go values.

// CloseKilled is GOODBYE's default reason for a session ended by
// wamp.session.kill*.
const CloseKilled = "wamp.close.killed"

// ErrNotAuthorized's message for the kill/revoke procedures when
// Config.AllowMetaKill is off.
const metaKillDisabled = " is disabled on this router (Config.AllowMetaKill)"

// metaCall is one call of an extended meta procedure.
type metaCall struct {
	b    *Batch
	s    *Session
	r    *Realm
	uri  string
	args []any
	kw   map[string]any
	// after runs once the answer is queued, so that the caller gets its
	// RESULT before any event the call causes on other sessions.
	after []func()
}

// noResult is returned by procedures that "do not return a value": the
// RESULT carries no arguments.
type noResultT struct{}

var noResult = noResultT{}

var metaProceduresExt map[string]func(c *metaCall) (any, *metaError)

func init() {
	metaProceduresExt = map[string]func(c *metaCall) (any, *metaError){
		"wamp.session.add_testament":          addTestament,
		"wamp.session.flush_testaments":       flushTestaments,
		"wamp.session.kill":                   killOne,
		"wamp.session.kill_by_authid":         killByAuthID,
		"wamp.session.kill_by_authrole":       killByAuthRole,
		"wamp.session.kill_all":               killAll,
		"wamp.subscription.remove_subscriber": removeSubscriber,
		"wamp.subscription.get_events":        getEvents,
	}
}

// configuredFeatures are the features announced beside the fixed sets,
// each exactly when this router's configuration makes it work.
func (r *Router) configuredFeatures() (broker, dealer codec.Feature) {
	broker = codec.FeatureEventRetention
	dealer = codec.FeatureTestamentMetaAPI
	if r.history != nil {
		broker |= codec.FeatureEventHistory
	}
	if r.cfg.AllowMetaKill {
		broker |= codec.FeatureSubscriptionRevocation
	}
	if len(r.trust) > 0 {
		broker |= codec.FeaturePublicationTrustlevels
	}
	return broker, dealer
}

// callExt answers an extended meta procedure; it reports false when uri is
// not one (or, for get_events, when history is off).
func (m *metaAPI) callExt(b *Batch, s *Session, msg *codec.Message) bool {
	uri := string(msg.URI)
	fn, ok := metaProceduresExt[uri]
	if !ok || (uri == "wamp.subscription.get_events" && m.realm.router.history == nil) {
		return false
	}
	c := &metaCall{b: b, s: s, r: m.realm, uri: uri}
	var err error
	if msg.Args.Present() {
		if c.args, err = codec.ToList(msg.Args); err != nil {
			s.replyError(b, codec.CALL, msg.Request, ErrInvalidArgument, err.Error())
			return true
		}
	}
	if msg.Kwargs.Present() {
		if c.kw, err = codec.ToDict(msg.Kwargs); err != nil {
			s.replyError(b, codec.CALL, msg.Request, ErrInvalidArgument, err.Error())
			return true
		}
	}
	if cl := m.realm.router.cluster; cl != nil && ClusterMeta[uri] {
		// The kill procedures act on every node (Cluster.MetaCall).
		if cl.MetaCall(m.realm, s, uri, c.args, c.kw, msg.Request) {
			return true
		}
	}
	res, merr := fn(c)
	if merr != nil {
		s.replyError(b, codec.CALL, msg.Request, merr.uri, merr.msg)
		return true
	}
	out := &b.out
	out.Reset()
	out.Type = codec.RESULT
	out.Request = msg.Request
	if _, none := res.(noResultT); !none {
		raw, err := codec.EncodeGo(s.format, []any{res})
		if err != nil {
			s.replyError(b, codec.CALL, msg.Request, ErrInvalidArgument, err.Error())
			return true
		}
		out.Args = raw
	}
	_ = s.send(b, out)
	for _, fn := range c.after {
		fn()
	}
	return true
}

func (c *metaCall) kwString(key string) (string, bool, *metaError) {
	v, ok := c.kw[key]
	if !ok || v == nil {
		return "", false, nil
	}
	str, ok := v.(string)
	if !ok {
		return "", false, &metaError{ErrInvalidArgument, key + " must be a string"}
	}
	return str, true, nil
}

// scope reads the testament scope keyword: 0 detached, 1 destroyed
// (the default).
func (c *metaCall) scope() (int, *metaError) {
	sc, ok, err := c.kwString("scope")
	if err != nil {
		return 0, err
	}
	switch {
	case !ok || sc == "destroyed":
		return scopeDestroyed, nil
	case sc == "detached":
		return scopeDetached, nil
	}
	return 0, &metaError{ErrInvalidArgument, "scope must be \"detached\" or \"destroyed\", not " + strconv.Quote(sc)}
}

// killArgs reads the reason and message keywords of the kill procedures.
func (c *metaCall) killArgs() (reason, message string, err *metaError) {
	reason, ok, err := c.kwString("reason")
	if err != nil {
		return "", "", err
	}
	if !ok {
		reason = CloseKilled
	} else if reason == "" || !trie.ValidURI(unsafeBytes(reason), 0) {
		return "", "", &metaError{ErrInvalidURI, "reason must be a valid URI, not " + strconv.Quote(reason)}
	}
	message, _, err = c.kwString("message")
	return reason, message, err
}

func (c *metaCall) allowKill() *metaError {
	if !c.r.router.cfg.AllowMetaKill {
		return &metaError{ErrNotAuthorized, c.uri + metaKillDisabled}
	}
	return nil
}

func killOne(c *metaCall) (any, *metaError) {
	if err := c.allowKill(); err != nil {
		return nil, err
	}
	id, err := argID(c.args, 0, "session")
	if err != nil {
		return nil, err
	}
	reason, message, err := c.killArgs()
	if err != nil {
		return nil, err
	}
	ids := c.killSessions(func(t *Session) bool { return t.id == id }, reason, message, false)
	if len(ids) == 0 {
		// The caller's own id included: "no *other* session with that ID".
		return nil, &metaError{ErrNoSuchSession, "no other session with id " + strconv.FormatUint(id, 10)}
	}
	return noResult, nil
}

func killByAuthID(c *metaCall) (any, *metaError) {
	if err := c.allowKill(); err != nil {
		return nil, err
	}
	authID, err := argString(c.args, 0, "authid")
	if err != nil {
		return nil, err
	}
	reason, message, err := c.killArgs()
	if err != nil {
		return nil, err
	}
	ids := c.killSessions(func(t *Session) bool { return t.authID == authID }, reason, message, false)
	l := make([]any, len(ids))
	for i, id := range ids {
		l[i] = id
	}
	return l, nil
}

func killByAuthRole(c *metaCall) (any, *metaError) {
	if err := c.allowKill(); err != nil {
		return nil, err
	}
	role, err := argString(c.args, 0, "authrole")
	if err != nil {
		return nil, err
	}
	reason, message, err := c.killArgs()
	if err != nil {
		return nil, err
	}
	return len(c.killSessions(func(t *Session) bool { return t.authRole == role }, reason, message, false)), nil
}

func killAll(c *metaCall) (any, *metaError) {
	if err := c.allowKill(); err != nil {
		return nil, err
	}
	reason, message, err := c.killArgs()
	if err != nil {
		return nil, err
	}
	// "Closing all sessions in the realm will not generate session meta
	// events or testament events" (meta_api_sessions.md, kill_all).
	return len(c.killSessions(func(*Session) bool { return true }, reason, message, true)), nil
}

// killSessions ends every session of the realm but caller for which match
// is true: GOODBYE with reason to each, and the session is disposed of at
// once (subscriptions, registrations, testaments, on_leave — the latter two
// unless quiet) without waiting for the client's GOODBYE. It returns the
// ids of the sessions it ends.
//
// The work on the victims happens on a goroutine of its own: it takes each
// victim's connection lock, which the caller's driver, holding its own,
// must not wait for (two sessions killing each other would deadlock).
func (c *metaCall) killSessions(match func(*Session) bool, reason, message string, quiet bool) []uint64 {
	r, caller := c.r, c.s
	var victims []*Session
	r.sessions.each(func(t *Session) {
		if t != caller && match(t) {
			victims = append(victims, t)
		}
	})
	if len(victims) == 0 {
		return nil
	}
	ids := make([]uint64, len(victims))
	for i, t := range victims {
		ids[i] = t.id
	}
	c.after = append(c.after, func() {
		go func() {
			b := AcquireBatch()
			for _, t := range victims {
				t.conn.kill(b, t, reason, message, quiet)
				b.Flush()
			}
			b.Release()
		}()
	})
	return ids
}

// kill ends session s on c if it is still c's current session.
func (c *Conn) kill(b *Batch, s *Session, reason, message string, quiet bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != s || c.state != connEstablished {
		return
	}
	s.quietEnd = quiet
	c.sendGoodbye(b, reason, message)
	c.endSession(b)
	// The client's GOODBYE (or its transport's end) completes the close.
	c.state = connShuttingDown
}

func removeSubscriber(c *metaCall) (any, *metaError) {
	if err := c.allowKill(); err != nil {
		return nil, err
	}
	sub, err := argSub(c.r, c.args)
	if err != nil {
		return nil, err
	}
	id, err := argID(c.args, 1, "session")
	if err != nil {
		return nil, err
	}
	// remove_subscriber(subscription, session, reason=None): Crossbar's
	// signature (the spec's meta API text does not define the procedure).
	reason, _, err := c.kwString("reason")
	if err != nil {
		return nil, err
	}
	if len(c.args) > 2 && reason == "" {
		reason, _ = c.args[2].(string)
	}
	t := c.r.sessions.get(id)
	if t == nil {
		return nil, &metaError{ErrNoSuchSession, "no session with id " + strconv.FormatUint(id, 10)}
	}
	subscribed := false
	sub.subscribers(func(x *Session) bool {
		subscribed = x == t
		return !subscribed
	})
	if !subscribed {
		return nil, &metaError{ErrNoSuchSubscription, "session " + strconv.FormatUint(id, 10) + " is not subscribed to " + strconv.FormatUint(sub.id, 10)}
	}
	if t == c.s {
		c.after = append(c.after, func() { t.revoke(c.b, sub, reason) })
		return noResult, nil
	}
	// t's subscription list belongs to t's driver: revoke under t's
	// connection lock, on a goroutine for the reason given in killSessions.
	c.after = append(c.after, func() {
		go func() {
			b := AcquireBatch()
			t.conn.mu.Lock()
			if t.conn.sess == t && t.conn.state == connEstablished {
				t.revoke(b, sub, reason)
			}
			t.conn.mu.Unlock()
			b.Release()
		}()
	})
	return noResult, nil
}

// revoke removes s from sub on the router's initiative
// (pubsub_subscription_revocation.md): UNSUBSCRIBED with request 0 and
// details to a subscriber that announced subscription_revocation, the
// on_unsubscribe (and on_delete) meta events in any case.
func (s *Session) revoke(b *Batch, sub *subscription, reason string) {
	if _, ok := takeByID(&s.subs, sub.id); !ok {
		return
	}
	deleted := s.realm.unsubscribe(s, sub)
	if s.features[roleSubscriber]&codec.FeatureSubscriptionRevocation != 0 {
		d := map[string]any{"subscription": sub.id}
		if reason != "" {
			d["reason"] = reason
		}
		if raw, err := codec.EncodeGo(s.format, d); err == nil {
			out := &b.out
			out.Reset()
			out.Type = codec.UNSUBSCRIBED
			out.Dict = raw
			_ = s.send(b, out)
		}
	}
	s.realm.meta.unsubscribed(b, s, sub, deleted)
}

func getEvents(c *metaCall) (any, *metaError) {
	sub, err := argSub(c.r, c.args)
	if err != nil {
		return nil, err
	}
	if !c.s.allowedNow(ActionSubscribe, unsafeBytes(sub.uri)) {
		return nil, &metaError{ErrNotAuthorized, "not authorized to subscribe to " + strconv.Quote(sub.uri)}
	}
	q, err := c.historyQuery()
	if err != nil {
		return nil, err
	}
	evs := c.r.store.historyFor(sub)
	out := []any{}
	var m codec.Message
	visit := func(e *storedCopy) bool {
		if !q.keep(e) {
			return true
		}
		if err := codec.ByFormat(e.format).Decode(&m, e.msg); err != nil {
			return true
		}
		if m.Details.Set&filterKeys != 0 && !eligible(c.s, &m.Details) {
			return true
		}
		ev := map[string]any{
			"timestamp":    time.Unix(0, e.ts).UTC().Format(time.RFC3339Nano),
			"subscription": sub.id,
			"publication":  e.pub,
			"details":      storedDetails(c.r.router, sub, e, &m),
		}
		if m.Args.Present() {
			ev["args"] = codec.Raw{Format: m.Args.Format, Bytes: append([]byte(nil), m.Args.Bytes...)}
		}
		if m.Kwargs.Present() {
			ev["kwargs"] = codec.Raw{Format: m.Kwargs.Format, Bytes: append([]byte(nil), m.Kwargs.Bytes...)}
		}
		out = append(out, ev)
		return q.limit == 0 || len(out) < q.limit
	}
	lo, hi := q.bounds(evs)
	if q.reverse {
		for i := hi - 1; i >= lo && visit(&evs[i]); i-- {
		}
	} else {
		for i := lo; i < hi && visit(&evs[i]); i++ {
		}
	}
	return out, nil
}

// storedDetails is EVENT.Details of a stored publication for sub.
func storedDetails(r *Router, sub *subscription, e *storedCopy, m *codec.Message) map[string]any {
	d := map[string]any{}
	if level, ok := r.trustLevel(unsafeBytes(e.topic), e.authRole); ok {
		d["trustlevel"] = level
	}
	if m.Details.DiscloseMe {
		d["publisher"] = e.publisher
		if e.authID != "" {
			d["publisher_authid"] = e.authID
		}
		if e.authRole != "" {
			d["publisher_authrole"] = e.authRole
		}
	}
	if sub.policy != trie.Exact {
		d["topic"] = e.topic
	}
	for k := codec.KeyPPTScheme; k <= codec.KeyPPTKeyID; k++ {
		if m.Details.Has(k) {
			d[codec.KeyNames[k]] = string(m.Details.Str[k])
		}
	}
	return d
}

// historyQuery is the parsed filter of wamp.subscription.get_events.
type historyQuery struct {
	reverse             bool
	limit               int
	fromT, afterT       int64 // unix ns, 0: none
	beforeT, untilT     int64
	hasFrom, hasAfter   bool
	hasBefore, hasUntil bool
	topic               string
	fromP, afterP       uint64
	beforeP, untilP     uint64
}

func (c *metaCall) historyQuery() (*historyQuery, *metaError) {
	q := &historyQuery{}
	if len(c.args) > 1 && c.args[1] != nil {
		// get_events(subscription, limit), as Crossbar takes it.
		n, err := argID(c.args, 1, "limit")
		if err != nil || n == 0 {
			return nil, &metaError{ErrInvalidArgument, "limit must be a positive integer"}
		}
		q.limit = int(min(n, 1<<30))
	}
	for k, v := range c.kw {
		var err *metaError
		switch k {
		case "reverse":
			b, ok := v.(bool)
			if !ok {
				err = &metaError{ErrInvalidArgument, "reverse must be a boolean"}
			}
			q.reverse = b
		case "limit":
			var n uint64
			n, err = argID([]any{v}, 0, "limit")
			if err == nil && n == 0 {
				err = &metaError{ErrInvalidArgument, "limit must be a positive integer"}
			}
			q.limit = int(min(n, 1<<30))
		case "from_time":
			q.fromT, err = argTime(v, k)
			q.hasFrom = true
		case "after_time":
			q.afterT, err = argTime(v, k)
			q.hasAfter = true
		case "before_time":
			q.beforeT, err = argTime(v, k)
			q.hasBefore = true
		case "until_time":
			q.untilT, err = argTime(v, k)
			q.hasUntil = true
		case "topic":
			s, ok := v.(string)
			if !ok {
				err = &metaError{ErrInvalidArgument, "topic must be a URI"}
			}
			q.topic = s
		case "from_publication":
			q.fromP, err = argID([]any{v}, 0, k)
		case "after_publication":
			q.afterP, err = argID([]any{v}, 0, k)
		case "before_publication":
			q.beforeP, err = argID([]any{v}, 0, k)
		case "until_publication":
			q.untilP, err = argID([]any{v}, 0, k)
		}
		if err != nil {
			return nil, err
		}
	}
	return q, nil
}

func argTime(v any, name string) (int64, *metaError) {
	s, ok := v.(string)
	if ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, &metaError{ErrInvalidArgument, name + " must be an RFC3339 timestamp"}
}

// keep applies the time and topic filters.
func (q *historyQuery) keep(e *storedCopy) bool {
	return (!q.hasFrom || e.ts >= q.fromT) && (!q.hasAfter || e.ts > q.afterT) &&
		(!q.hasBefore || e.ts < q.beforeT) && (!q.hasUntil || e.ts <= q.untilT) &&
		(q.topic == "" || q.topic == e.topic)
}

// bounds applies the publication filters: the events are in arrival
// order, so each one cuts the list at the position of its publication
// (an unknown publication id leaves nothing).
func (q *historyQuery) bounds(evs []storedCopy) (lo, hi int) {
	lo, hi = 0, len(evs)
	find := func(id uint64) int {
		return slices.IndexFunc(evs, func(e storedCopy) bool { return e.pub == id })
	}
	cut := func(id uint64, fn func(i int)) {
		if id == 0 {
			return
		}
		if i := find(id); i >= 0 {
			fn(i)
		} else {
			lo, hi = 0, 0
		}
	}
	cut(q.fromP, func(i int) { lo = max(lo, i) })
	cut(q.afterP, func(i int) { lo = max(lo, i+1) })
	cut(q.beforeP, func(i int) { hi = min(hi, i) })
	cut(q.untilP, func(i int) { hi = min(hi, i+1) })
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

func sortBySeq(evs []storedCopy) {
	slices.SortFunc(evs, func(a, b storedCopy) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
}

// sendRetained delivers to s, which just subscribed to sub with
// get_retained, the retained event of each topic sub matches that s would
// have received (pubsub_event_retention.md).
func (s *Session) sendRetained(b *Batch, sub *subscription) {
	evs := s.realm.store.retainedFor(sub)
	var m codec.Message
	for i := range evs {
		e := &evs[i]
		if err := codec.ByFormat(e.format).Decode(&m, e.msg); err != nil {
			continue
		}
		d := &m.Details
		if e.publisher == s.id && d.Bool(codec.KeyExcludeMe, true) {
			continue
		}
		if d.Set&filterKeys != 0 && !eligible(s, d) {
			continue
		}
		out := &b.out
		out.Reset()
		out.Type = codec.EVENT
		out.ID = sub.id
		out.Publication = e.pub
		out.Args = m.Args
		out.Kwargs = m.Kwargs
		od := &out.Details
		if d.DiscloseMe {
			od.SetUint(codec.KeyPublisher, e.publisher)
			if e.authID != "" {
				od.SetString(codec.KeyPublisherAuthID, unsafeBytes(e.authID))
			}
			if e.authRole != "" {
				od.SetString(codec.KeyPublisherAuthRole, unsafeBytes(e.authRole))
			}
		}
		s.realm.router.setTrustLevel(od, unsafeBytes(e.topic), e.authRole)
		copyPPT(od, d)
		if sub.policy != trie.Exact {
			od.SetString(codec.KeyTopic, unsafeBytes(e.topic))
		}
		od.SetBool(codec.KeyRetained, true)
		if err := s.send(b, out); err != nil {
			s.realm.router.stats.encodeErrors.Add(1)
		}
	}
}
