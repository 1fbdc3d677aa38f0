package client

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/zwamp/zwamp/codec"
)

// Subscription is one local subscription: a handler for a topic. Several
// local subscriptions to the same topic and policy share one router-side
// subscription (and its ID); each gets every event.
type Subscription struct {
	c     *Client
	topic string
	h     EventHandler
	id    uint64      // set by the reader before the Subscription is published
	since uint64      // reader sequence of the SUBSCRIBED; earlier events are not for this handler
	live  atomic.Bool // false once unsubscribed
}

// subEntry is a router-side subscription and its local handlers.
type subEntry struct {
	topic string
	// handlers is replaced, never modified, so the event goroutine can
	// iterate a snapshot without holding Client.mu.
	handlers []*Subscription
}

// ID returns the router's subscription id.
func (s *Subscription) ID() uint64 { return s.id }

// Topic returns the subscribed topic (or pattern).
func (s *Subscription) Topic() string { return s.topic }

// Subscribe subscribes h to topic. It waits for the router's answer,
// bounded by Config.RequestTimeout; a refusal is returned as an *Error
// (wamp.error.invalid_uri, wamp.error.not_authorized, ...). Events for the
// subscription start flowing to h as soon as the router confirms it. After
// ErrTimeout, a confirmation that still comes is undone with UNSUBSCRIBE.
func (c *Client) Subscribe(topic string, h EventHandler, opts *SubscribeOptions) (*Subscription, error) {
	if h == nil {
		return nil, errors.New("client: Subscribe with a nil handler")
	}
	var match string
	var retained bool
	if opts != nil {
		match, retained = opts.Match, opts.GetRetained
	}
	c.subMu.RLock()
	defer c.subMu.RUnlock()
	s := &Subscription{c: c, topic: topic, h: h}
	req := newRequest(codec.SUBSCRIBE)
	req.sub = s
	if _, err := c.request(req, "subscribe", topic, func(m *codec.Message) {
		m.Type = codec.SUBSCRIBE
		m.URI = view(topic)
		setMatch(&m.Details, match)
		if retained {
			m.Details.SetBool(codec.KeyGetRetained, true)
		}
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// setMatch sets the match option unless it is the default.
func setMatch(d *codec.Details, match string) {
	if match != "" && match != "exact" {
		d.SetString(codec.KeyMatch, view(match))
	}
}

// installSubLocked adds s to the handlers of router subscription id; the
// reader calls it with Client.mu held, on SUBSCRIBED.
func (c *Client) installSubLocked(s *Subscription, id uint64) {
	s.id = id
	s.since = c.rseq
	s.live.Store(true)
	e := c.subs[id]
	if e == nil {
		e = &subEntry{topic: s.topic}
		c.subs[id] = e
	}
	hs := make([]*Subscription, len(e.handlers), len(e.handlers)+1)
	copy(hs, e.handlers)
	e.handlers = append(hs, s)
}

// Unsubscribe stops delivery to the subscription's handler: once it
// returns, the handler is not called for any event not already being
// handled. When it was the last local handler of the router-side
// subscription, Unsubscribe also removes that and waits for the router's
// answer (bounded by Config.RequestTimeout). Unsubscribing twice, or after
// the session ended, returns nil.
func (s *Subscription) Unsubscribe() error {
	c := s.c
	c.subMu.Lock()
	defer c.subMu.Unlock()
	c.mu.Lock()
	if !s.live.Load() {
		c.mu.Unlock()
		return nil
	}
	s.live.Store(false)
	last := false
	if e := c.subs[s.id]; e != nil {
		hs := make([]*Subscription, 0, len(e.handlers))
		for _, h := range e.handlers {
			if h != s {
				hs = append(hs, h)
			}
		}
		e.handlers = hs
		if len(hs) == 0 {
			delete(c.subs, s.id)
			last = true
		}
	}
	c.mu.Unlock()
	if !last || c.ended.Load() {
		return nil
	}
	if err := c.unsubscribe(s.id, s.topic); err != nil && !c.ended.Load() {
		return err
	}
	return nil // the subscription is gone with the session otherwise
}

// unsubscribe removes router subscription id (for topic, named in errors)
// and waits for the answer. The caller holds subMu.
func (c *Client) unsubscribe(id uint64, topic string) error {
	_, err := c.request(newRequest(codec.UNSUBSCRIBE), "unsubscribe", topic, func(m *codec.Message) {
		m.Type = codec.UNSUBSCRIBE
		m.ID = id
	})
	return err
}

// Publish publishes an event to topic. Without PublishOptions.Acknowledge
// it returns once the message is written (the router answers nothing, not
// even errors); with it, it waits for the router's answer, bounded by
// Config.RequestTimeout.
func (c *Client) Publish(topic string, args []any, kwargs map[string]any, opts *PublishOptions) error {
	_, err := c.publish(topic, args, kwargs, opts, opts != nil && opts.Acknowledge)
	return err
}

// PublishAck publishes an event to topic with acknowledgement (whatever
// opts.Acknowledge says) and returns the publication id from the router's
// PUBLISHED, or its ERROR.
func (c *Client) PublishAck(topic string, args []any, kwargs map[string]any, opts *PublishOptions) (uint64, error) {
	return c.publish(topic, args, kwargs, opts, true)
}

func (c *Client) publish(topic string, args []any, kwargs map[string]any, opts *PublishOptions, ack bool) (uint64, error) {
	p, err := encodePayload(c.f, args, kwargs)
	if err != nil {
		return 0, fmt.Errorf("client: publish %q: %w", topic, err)
	}
	var req *request
	if ack {
		req = newRequest(codec.PUBLISH)
	}
	id, err := c.write(req, func(m *codec.Message) {
		m.Type = codec.PUBLISH
		m.URI = view(topic)
		p.set(m)
		if opts != nil {
			setPublishOptions(&m.Details, opts)
		}
		if ack {
			m.Details.SetBool(codec.KeyAcknowledge, true)
		}
	})
	p.release()
	if err != nil {
		if req != nil {
			req.free()
		}
		return 0, fmt.Errorf("client: publish %q: %w", topic, err)
	}
	if !ack {
		return 0, nil
	}
	r, err := c.await(id, req, "publish", topic)
	return r.id, err
}

func setPublishOptions(d *codec.Details, o *PublishOptions) {
	if o.Acknowledge {
		d.SetBool(codec.KeyAcknowledge, true)
	}
	if o.ExcludeMe != nil {
		d.SetBool(codec.KeyExcludeMe, *o.ExcludeMe)
	}
	if o.DiscloseMe {
		d.SetBool(codec.KeyDiscloseMe, true)
	}
	if o.Retain {
		d.SetBool(codec.KeyRetain, true)
	}
	if o.Exclude != nil {
		d.Exclude = append(d.Exclude[:0], o.Exclude...)
		d.Mark(codec.KeyExclude)
	}
	if o.Eligible != nil {
		d.Eligible = append(d.Eligible[:0], o.Eligible...)
		d.Mark(codec.KeyEligible)
	}
	setStrings(d, codec.KeyExcludeAuthID, o.ExcludeAuthID)
	setStrings(d, codec.KeyExcludeAuthRole, o.ExcludeAuthRole)
	setStrings(d, codec.KeyEligibleAuthID, o.EligibleAuthID)
	setStrings(d, codec.KeyEligibleAuthRole, o.EligibleAuthRole)
}

// setStrings sets a string-list key from l (nil leaves it unset), reusing
// the Details' backing array.
func setStrings(d *codec.Details, k codec.Key, l []string) {
	if l == nil {
		return
	}
	p := d.StringList(k)
	s := (*p)[:0]
	for _, v := range l {
		s = append(s, view(v))
	}
	*p = s
	d.Mark(k)
}

// onEvent queues an EVENT for the event goroutine.
func (c *Client) onEvent(m *codec.Message) {
	c.mu.Lock()
	e := c.subs[m.ID]
	var topic string
	if e != nil {
		topic = e.topic
	}
	c.mu.Unlock()
	if e == nil {
		// Unsubscribed meanwhile, or never ours.
		return
	}
	ev := &Event{
		Subscription: m.ID,
		Publication:  m.Publication,
		Topic:        topic,
		Details:      c.readDict(m.Dict),
		Publisher:    m.Details.Publisher,
	}
	if t := m.Details.String(codec.KeyTopic); m.Details.Has(codec.KeyTopic) {
		ev.Topic = string(t)
	}
	var err error
	if ev.Args, ev.Kwargs, err = c.readPayload(m); err != nil {
		c.log.Warn("zwamp client: undecodable EVENT payload dropped", "subscription", m.ID, "error", err)
		return
	}
	c.events.push(queuedEvent{ev: ev, seq: c.rseq})
}

// dispatchLoop is the event goroutine: it runs handlers one at a time, in
// the order the events arrived.
func (c *Client) dispatchLoop() {
	for {
		q, ok := c.events.pop()
		if !ok {
			return
		}
		c.mu.Lock()
		var hs []*Subscription
		if e := c.subs[q.ev.Subscription]; e != nil {
			hs = e.handlers
		}
		c.mu.Unlock()
		for _, s := range hs {
			if s.since < q.seq && s.live.Load() {
				c.runEventHandler(s, q.ev)
			}
		}
	}
}

func (c *Client) runEventHandler(s *Subscription, ev *Event) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("zwamp client: event handler panicked", "topic", s.topic, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	s.h(ev)
}

// queuedEvent is an event waiting for the event goroutine, with the reader
// sequence number it arrived at.
type queuedEvent struct {
	ev  *Event
	seq uint64
}

// eventQueue is an unbounded FIFO between the reader and the event
// goroutine: the reader never waits for a handler.
type eventQueue struct {
	mu     sync.Mutex
	items  []queuedEvent
	head   int
	closed bool
	wake   chan struct{} // capacity 1
}

func (q *eventQueue) push(e queuedEvent) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if q.head > 0 && q.head >= len(q.items)/2 && len(q.items) == cap(q.items) {
		// Reuse the consumed front instead of growing.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop blocks until an event is queued or the queue is closed.
func (q *eventQueue) pop() (queuedEvent, bool) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return queuedEvent{}, false
		}
		if q.head < len(q.items) {
			e := q.items[q.head]
			q.items[q.head] = queuedEvent{}
			q.head++
			if q.head == len(q.items) {
				q.items = q.items[:0]
				q.head = 0
			}
			q.mu.Unlock()
			return e, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

// close drops queued events and stops pop.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.head = nil, 0
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
