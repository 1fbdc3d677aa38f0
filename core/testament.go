package core

import (
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/trie"
)

// Session testaments (advanced/pubsub_testament.md): events a session asks
// the router to publish when it ends, however it ends — GOODBYE, ABORT,
// transport loss, keepalive timeout or a kill. Conn.endSession is the one
// place every end goes through, and it publishes them.

// Testament scopes, in the order they are published: this router has no
// session resumption, so a session is detached and destroyed at the same
// moment and "detached" testaments go first, as the spec requires.
const (
	scopeDetached = iota
	scopeDestroyed
	numScopes
)

// maxTestaments bounds the testaments one session may hold per scope.
const maxTestaments = 64

// testament is a PUBLISH message encoded in the session's serializer,
// decoded again when it is published.
type testament []byte

func addTestament(c *metaCall) (any, *metaError) {
	topic, err := argString(c.args, 0, "topic")
	if err != nil {
		return nil, err
	}
	r := c.r
	if !r.router.validTopic(unsafeBytes(topic)) || trie.Reserved(unsafeBytes(topic)) {
		return nil, &metaError{ErrInvalidURI, "invalid topic URI " + quote(unsafeBytes(topic))}
	}
	if !c.s.allowedNow(ActionPublish, unsafeBytes(topic)) {
		return nil, &metaError{ErrNotAuthorized, "not authorized to publish to " + quote(unsafeBytes(topic))}
	}
	args := []any{}
	if len(c.args) > 1 && c.args[1] != nil {
		l, ok := c.args[1].([]any)
		if !ok {
			return nil, &metaError{ErrInvalidArgument, "args must be a list"}
		}
		args = l
	}
	kwargs := map[string]any{}
	if len(c.args) > 2 && c.args[2] != nil {
		d, ok := c.args[2].(map[string]any)
		if !ok {
			return nil, &metaError{ErrInvalidArgument, "kwargs must be a dict"}
		}
		kwargs = d
	}
	opts := map[string]any{}
	if v, ok := c.kw["publish_options"]; ok && v != nil {
		d, ok := v.(map[string]any)
		if !ok {
			return nil, &metaError{ErrInvalidArgument, "publish_options must be a dict"}
		}
		opts = d
	}
	scope, merr := c.scope()
	if merr != nil {
		return nil, merr
	}
	s := c.s
	if len(s.testaments[scope]) >= maxTestaments {
		return nil, &metaError{ErrInvalidArgument, "too many testaments in this scope"}
	}
	// Encode the PUBLISH and decode it once now, so that bad options are
	// refused here rather than lost when the session ends.
	msg, eerr := codec.AppendGo(nil, s.format, []any{codec.PUBLISH, 1, opts, topic, args, kwargs})
	if eerr != nil {
		return nil, &metaError{ErrInvalidArgument, eerr.Error()}
	}
	var m codec.Message
	m.MaxDepth = r.router.cfg.MaxDepth
	if derr := codec.ByFormat(s.format).Decode(&m, msg); derr != nil {
		return nil, &metaError{ErrInvalidArgument, "publish_options: " + derr.Error()}
	}
	if _, mm := matchPolicy(m.Details.Match); m.Details.Has(codec.KeyMatch) && !mm {
		return nil, &metaError{ErrInvalidArgument, "bad publish_options"}
	}
	s.testaments[scope] = append(s.testaments[scope], msg)
	return noResult, nil
}

func flushTestaments(c *metaCall) (any, *metaError) {
	scope, err := c.scope()
	if err != nil {
		return nil, err
	}
	c.s.testaments[scope] = nil
	return noResult, nil
}

// publishTestaments publishes s's testaments, detached scope first, each
// as if s had published it (publisher disclosure and exclusion apply; it
// is recorded in history and retained like any publication).
func (s *Session) publishTestaments(b *Batch) {
	if s.quietEnd {
		return
	}
	r := s.realm
	var m codec.Message
	for scope := 0; scope < numScopes; scope++ {
		for _, t := range s.testaments[scope] {
			m.MaxDepth = r.router.cfg.MaxDepth
			if err := codec.ByFormat(s.format).Decode(&m, t); err != nil {
				continue
			}
			pubID := b.globalID()
			r.recordPublish(b, s, &m, t, pubID)
			r.publish(b, s, &m, pubID)
			r.forward(s, &m, t, pubID)
		}
		s.testaments[scope] = nil
	}
}
