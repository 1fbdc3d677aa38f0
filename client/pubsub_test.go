package client_test

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

func TestPubSub(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t)
		sub := join(t, r, f)
		pub := join(t, r, codec.JSON)
		events := make(chan *client.Event, 1)
		s, err := sub.Subscribe("com.example.topic", func(ev *client.Event) { events <- ev }, nil)
		noErr(t, err)
		must(t, s.ID() != 0, "subscription id 0")

		noErr(t, pub.Publish("com.example.topic", []any{"hello", 42}, map[string]any{"k": "v"}, nil))
		ev := recvT(t, events, "event")
		must(t, ev.Subscription == s.ID(), "event for subscription %d, want %d", ev.Subscription, s.ID())
		must(t, ev.Publication != 0, "publication id 0")
		must(t, ev.Topic == "com.example.topic", "topic %q", ev.Topic)
		must(t, reflect.DeepEqual(ev.Args, []any{"hello", int64(42)}), "args %#v", ev.Args)
		must(t, reflect.DeepEqual(ev.Kwargs, map[string]any{"k": "v"}), "kwargs %#v", ev.Kwargs)
		must(t, ev.Publisher == 0, "publisher disclosed without disclose_me: %d", ev.Publisher)

		// No payload at all.
		noErr(t, pub.Publish("com.example.topic", nil, nil, nil))
		ev = recvT(t, events, "event without payload")
		must(t, ev.Args == nil && ev.Kwargs == nil, "payload %v %v", ev.Args, ev.Kwargs)

		// Only kwargs.
		noErr(t, pub.Publish("com.example.topic", nil, map[string]any{"only": true}, nil))
		ev = recvT(t, events, "event with kwargs only")
		must(t, len(ev.Args) == 0 && ev.Kwargs["only"] == true, "payload %v %v", ev.Args, ev.Kwargs)
	})
}

func TestPublishAcknowledge(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	ack := &client.PublishOptions{Acknowledge: true}
	noErr(t, c.Publish("com.example.acked", []any{1}, nil, ack))
	for _, uri := range []string{"a..b", "a b", "", "wamp.reserved"} {
		err := c.Publish(uri, nil, nil, ack)
		wampError(t, err, "wamp.error.invalid_uri")
	}
	// Without acknowledge the router says nothing, even for a bad URI, and
	// the session carries on.
	noErr(t, c.Publish("a..b", nil, nil, nil))
	noErr(t, c.Publish("com.example.acked", nil, nil, ack))
}

func TestExcludeMe(t *testing.T) {
	r := newRouter(t)
	me := join(t, r, codec.JSON)
	other := join(t, r, codec.JSON)
	mine := make(chan *client.Event, 10)
	theirs := make(chan *client.Event, 10)
	_, err := me.Subscribe("com.example.t", func(ev *client.Event) { mine <- ev }, nil)
	noErr(t, err)
	_, err = other.Subscribe("com.example.t", func(ev *client.Event) { theirs <- ev }, nil)
	noErr(t, err)

	// Default: the publisher does not get its own event.
	noErr(t, me.Publish("com.example.t", []any{"default"}, nil, &client.PublishOptions{Acknowledge: true}))
	ev := recvT(t, theirs, "event for the other session")
	must(t, ev.Args[0] == "default", "args %v", ev.Args)

	no := false
	noErr(t, me.Publish("com.example.t", []any{"include me"}, nil, &client.PublishOptions{Acknowledge: true, ExcludeMe: &no}))
	ev = recvT(t, mine, "own event with exclude_me=false")
	must(t, ev.Args[0] == "include me", "own event %v (the default-excluded one leaked?)", ev.Args)
	recvT(t, theirs, "event for the other session")

	yes := true
	noErr(t, me.Publish("com.example.t", []any{"exclude me"}, nil, &client.PublishOptions{ExcludeMe: &yes}))
	recvT(t, theirs, "event for the other session")
	noErr(t, me.Publish("com.example.t", []any{"marker"}, nil, &client.PublishOptions{ExcludeMe: &no}))
	ev = recvT(t, mine, "marker")
	must(t, ev.Args[0] == "marker", "got %v before the marker", ev.Args)
}

func TestBlackWhiteListingAndDisclose(t *testing.T) {
	r := newRouter(t)
	pub := join(t, r, codec.JSON)
	a := join(t, r, codec.JSON)
	b, err := client.ConnectLocal(r, client.Config{Realm: realm, AuthID: "bob"})
	noErr(t, err)
	defer b.Close()
	got := make(chan string, 10)
	_, err = a.Subscribe("com.example.l", func(ev *client.Event) { got <- "a:" + ev.Args[0].(string) }, nil)
	noErr(t, err)
	_, err = b.Subscribe("com.example.l", func(ev *client.Event) { got <- "b:" + ev.Args[0].(string) }, nil)
	noErr(t, err)

	ack := func(o client.PublishOptions) *client.PublishOptions { o.Acknowledge = true; return &o }
	noErr(t, pub.Publish("com.example.l", []any{"1"}, nil, ack(client.PublishOptions{Exclude: []uint64{a.ID()}})))
	must(t, recvT(t, got, "event") == "b:1", "exclude by session id")
	noErr(t, pub.Publish("com.example.l", []any{"2"}, nil, ack(client.PublishOptions{Eligible: []uint64{a.ID()}})))
	must(t, recvT(t, got, "event") == "a:2", "eligible by session id")
	noErr(t, pub.Publish("com.example.l", []any{"3"}, nil, ack(client.PublishOptions{ExcludeAuthID: []string{"bob"}})))
	must(t, recvT(t, got, "event") == "a:3", "exclude by authid")
	noErr(t, pub.Publish("com.example.l", []any{"4"}, nil, ack(client.PublishOptions{EligibleAuthID: []string{"bob"}})))
	must(t, recvT(t, got, "event") == "b:4", "eligible by authid")
	noErr(t, pub.Publish("com.example.l", []any{"5"}, nil, ack(client.PublishOptions{EligibleAuthRole: []string{"nobody"}})))
	noErr(t, pub.Publish("com.example.l", []any{"6"}, nil, ack(client.PublishOptions{Eligible: []uint64{a.ID()}, ExcludeAuthRole: []string{"other"}})))
	must(t, recvT(t, got, "event") == "a:6", "eligible_authrole nobody reached someone")

	// disclose_me
	pubs := make(chan uint64, 1)
	_, err = a.Subscribe("com.example.d", func(ev *client.Event) { pubs <- ev.Publisher }, nil)
	noErr(t, err)
	noErr(t, pub.Publish("com.example.d", nil, nil, &client.PublishOptions{DiscloseMe: true}))
	must(t, recvT(t, pubs, "disclosed event") == pub.ID(), "publisher not disclosed")
}

func TestPatternSubscriptions(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.MsgPack)
	pub := join(t, r, codec.JSON)
	type hit struct {
		kind, topic string
		sub         uint64
	}
	hits := make(chan hit, 10)
	pre, err := c.Subscribe("com.example", func(ev *client.Event) { hits <- hit{"prefix", ev.Topic, ev.Subscription} }, &client.SubscribeOptions{Match: "prefix"})
	noErr(t, err)
	wild, err := c.Subscribe("com..temp", func(ev *client.Event) { hits <- hit{"wildcard", ev.Topic, ev.Subscription} }, &client.SubscribeOptions{Match: "wildcard"})
	noErr(t, err)

	noErr(t, pub.Publish("com.example.a.b", nil, nil, &client.PublishOptions{Acknowledge: true}))
	h := recvT(t, hits, "prefix event")
	must(t, h == hit{"prefix", "com.example.a.b", pre.ID()}, "prefix event %+v", h)

	noErr(t, pub.Publish("com.kitchen.temp", nil, nil, &client.PublishOptions{Acknowledge: true}))
	h = recvT(t, hits, "wildcard event")
	must(t, h == hit{"wildcard", "com.kitchen.temp", wild.ID()}, "wildcard event %+v", h)

	_, err = c.Subscribe("com.example", func(*client.Event) {}, &client.SubscribeOptions{Match: "fuzzy"})
	wampError(t, err, "wamp.error.invalid_argument")
	_, err = c.Subscribe("a..b", func(*client.Event) {}, nil)
	wampError(t, err, "wamp.error.invalid_uri")
}

// TestSharedSubscription: two local subscriptions to the same topic share
// the router's subscription, each gets every event, and Unsubscribe stops
// delivery to one without disturbing the other.
func TestSharedSubscription(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	pub := join(t, r, codec.JSON)
	var mu sync.Mutex
	got := map[string][]int64{}
	marker := make(chan int64, 10)
	record := func(name string) client.EventHandler {
		return func(ev *client.Event) {
			mu.Lock()
			got[name] = append(got[name], ev.Args[0].(int64))
			mu.Unlock()
		}
	}
	s1, err := c.Subscribe("com.example.same", record("one"), nil)
	noErr(t, err)
	s2, err := c.Subscribe("com.example.same", record("two"), nil)
	noErr(t, err)
	must(t, s1.ID() == s2.ID(), "same topic, different router subscriptions %d %d", s1.ID(), s2.ID())
	// Events from one publisher are handled in order, so once the marker
	// (another subscription) is handled, everything published before it is.
	_, err = c.Subscribe("com.example.marker", func(ev *client.Event) { marker <- ev.Args[0].(int64) }, nil)
	noErr(t, err)
	sync := func(n int64) {
		t.Helper()
		noErr(t, pub.Publish("com.example.marker", []any{n}, nil, nil))
		must(t, recvT(t, marker, "marker") == n, "marker out of order")
	}
	snapshot := func() map[string][]int64 {
		mu.Lock()
		defer mu.Unlock()
		out := map[string][]int64{}
		for k, v := range got {
			out[k] = append([]int64(nil), v...)
		}
		return out
	}

	noErr(t, pub.Publish("com.example.same", []any{1}, nil, nil))
	sync(1)
	must(t, reflect.DeepEqual(snapshot(), map[string][]int64{"one": {1}, "two": {1}}), "both handlers: %v", snapshot())

	noErr(t, s1.Unsubscribe())
	noErr(t, pub.Publish("com.example.same", []any{2}, nil, nil))
	sync(2)
	must(t, reflect.DeepEqual(snapshot(), map[string][]int64{"one": {1}, "two": {1, 2}}), "after one Unsubscribe: %v", snapshot())

	noErr(t, s2.Unsubscribe())
	noErr(t, s2.Unsubscribe()) // twice is fine
	noErr(t, pub.Publish("com.example.same", []any{3}, nil, nil))
	sync(3)
	must(t, reflect.DeepEqual(snapshot(), map[string][]int64{"one": {1}, "two": {1, 2}}), "after both Unsubscribe: %v", snapshot())

	// Resubscribing gets a fresh router subscription and only new events.
	s3, err := c.Subscribe("com.example.same", record("three"), nil)
	noErr(t, err)
	noErr(t, pub.Publish("com.example.same", []any{4}, nil, nil))
	sync(4)
	must(t, reflect.DeepEqual(snapshot(), map[string][]int64{"one": {1}, "two": {1, 2}, "three": {4}}), "after resubscribe: %v", snapshot())
	noErr(t, s3.Unsubscribe())
}

// TestSubscribeUnsubscribeRace hammers Subscribe and Unsubscribe of one
// topic from many goroutines: every Subscription that is live must get
// events, which fails if an UNSUBSCRIBE of the last handler overtakes a
// SUBSCRIBE answered with the id being removed.
func TestSubscribeUnsubscribeRace(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	pub := join(t, r, codec.JSON)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				s, err := c.Subscribe("com.example.race", func(*client.Event) {}, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.Unsubscribe(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := make(chan struct{}, 1)
	s, err := c.Subscribe("com.example.race", func(*client.Event) { got <- struct{}{} }, nil)
	noErr(t, err)
	noErr(t, pub.Publish("com.example.race", nil, nil, nil))
	recvT(t, got, "event after the race")
	noErr(t, s.Unsubscribe())
}

// TestPublisherOrdering: 10k events from one publisher arrive in order.
func TestPublisherOrdering(t *testing.T) {
	const n = 10000
	r := newRouter(t)
	sub := join(t, r, codec.MsgPack)
	pub := join(t, r, codec.JSON)
	var next atomic.Int64
	var bad atomic.Value
	done := make(chan struct{})
	_, err := sub.Subscribe("com.example.seq", func(ev *client.Event) {
		want := next.Load()
		if got := ev.Args[0].(int64); got != want && bad.Load() == nil {
			bad.Store(fmt.Sprintf("event %d arrived when %d was due", got, want))
		}
		if next.Add(1) == n {
			close(done)
		}
	}, nil)
	noErr(t, err)
	for i := 0; i < n; i++ {
		noErr(t, pub.Publish("com.example.seq", []any{i}, nil, nil))
	}
	recvT(t, done, "10k events")
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
}

// TestSlowHandlerDoesNotBlockReader: while an event handler blocks, calls
// on the same client still complete.
func TestSlowHandlerDoesNotBlockReader(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	callee := join(t, r, codec.JSON)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	_, err := c.Subscribe("com.example.slow", func(*client.Event) {
		entered <- struct{}{}
		<-release
	}, nil)
	noErr(t, err)
	_, err = callee.Register("com.example.echo", echo, nil)
	noErr(t, err)
	for i := 0; i < 3; i++ {
		noErr(t, callee.Publish("com.example.slow", nil, nil, nil))
	}
	recvT(t, entered, "handler entered")
	res, err := c.Call(bg, "com.example.echo", []any{"still alive"}, nil, nil)
	noErr(t, err)
	must(t, res.Args[0] == "still alive", "result %v", res.Args)
	close(release)
	recvT(t, entered, "second event")
	recvT(t, entered, "third event")
}

func TestEventHandlerPanic(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	pub := join(t, r, codec.JSON)
	got := make(chan any, 2)
	_, err := c.Subscribe("com.example.p", func(ev *client.Event) {
		if ev.Args[0] == "boom" {
			panic("boom")
		}
		got <- ev.Args[0]
	}, nil)
	noErr(t, err)
	noErr(t, pub.Publish("com.example.p", []any{"boom"}, nil, nil))
	noErr(t, pub.Publish("com.example.p", []any{"fine"}, nil, nil))
	must(t, recvT(t, got, "event after a panic") == "fine", "wrong event")
}

// TestNewSubscriptionSkipsQueuedEvents: a second local subscription to a
// topic shares the router's subscription, but events that arrived before
// it was confirmed (still queued behind a slow handler) are not its own.
func TestNewSubscriptionSkipsQueuedEvents(t *testing.T) {
	r := newRouter(t)
	c := join(t, r, codec.JSON)
	pub := join(t, r, codec.JSON)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	first := true
	_, err := c.Subscribe("com.example.q", func(*client.Event) {
		if first {
			first = false
			entered <- struct{}{}
			<-release
		}
	}, nil)
	noErr(t, err)
	noErr(t, pub.Publish("com.example.q", []any{1}, nil, nil))
	recvT(t, entered, "first handler blocked")
	// Event 2 is queued behind the blocked handler when the second local
	// subscription is confirmed.
	noErr(t, pub.Publish("com.example.q", []any{2}, nil, &client.PublishOptions{Acknowledge: true}))
	got := make(chan int64, 10)
	_, err = c.Subscribe("com.example.q", func(ev *client.Event) { got <- ev.Args[0].(int64) }, nil)
	noErr(t, err)
	noErr(t, pub.Publish("com.example.q", []any{3}, nil, nil))
	close(release)
	must(t, recvT(t, got, "event") == 3, "the new subscription got an event published before it")
}

// TestEventRightAfterSubscribed: an EVENT that follows SUBSCRIBED at once
// reaches the handler (it is installed before the next message is read).
func TestEventRightAfterSubscribed(t *testing.T) {
	for i := 0; i < 20; i++ {
		c, p := joinPipe(t, codec.JSON, nil)
		got := make(chan *client.Event, 1)
		go func() { _, _ = c.Subscribe("a.b", func(ev *client.Event) { got <- ev }, nil) }()
		m := p.expect(codec.SUBSCRIBE)
		p.send(codec.SUBSCRIBED, m[1], 77)
		p.send(codec.EVENT, 77, 5, map[string]any{}, []any{"first"})
		ev := recvT(t, got, "event right after SUBSCRIBED")
		must(t, ev.Subscription == 77 && ev.Publication == 5 && ev.Topic == "a.b" && ev.Args[0] == "first", "event %+v", ev)
	}
}
