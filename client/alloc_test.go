package client_test

import (
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// Steady-state publishing allocates nothing in the client: payloads are
// encoded with pooled writers into pooled buffers and the message into the
// client's own buffer. (The in-process router handles each message on the
// publishing goroutine, so these counts include the router's work too.)

func TestAllocsPublish(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t)
		c := join(t, r, f)
		args := []any{"hello", 42, 1.5, true, nil, []byte{1, 2, 3}}
		kwargs := map[string]any{"k": "v", "n": 7}
		no := false
		opts := &client.PublishOptions{ExcludeMe: &no, Exclude: []uint64{1, 2}, EligibleAuthRole: []string{"anonymous"}, DiscloseMe: true}
		for name, fn := range map[string]func(){
			"bare":    func() { _ = c.Publish("com.example.topic", nil, nil, nil) },
			"payload": func() { _ = c.Publish("com.example.topic", args, kwargs, nil) },
			"options": func() { _ = c.Publish("com.example.topic", args, nil, opts) },
			"acknowledged": func() {
				if err := c.Publish("com.example.topic", args, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
					t.Fatal(err)
				}
			},
		} {
			alloctest.Zero(t, "Publish "+name, fn)
		}
	})
}

// TestAllocsCallAndEvent bounds the receiving hot paths, where the client
// must build Go values for the handler or caller. Payload ["ping", 42]:
// each decoded copy costs its list, the string's bytes and the string's
// interface box (42 is boxed without allocating), so 3 allocations.
//
// A Call round trip: the callee's Invocation (its invocationRun), its
// goroutine, its cancellable context (2) and its payload (3); the echo
// handler's Result; the caller's Result and payload (3): 12 in all. An
// EVENT: the Event and its payload: 4.
func TestAllocsCallAndEvent(t *testing.T) {
	eachFormat(t, func(t *testing.T, f codec.Format) {
		r := newRouter(t)
		callee := join(t, r, f)
		caller := join(t, r, f)
		_, err := callee.Register("com.example.echo", echo, nil)
		noErr(t, err)
		args := []any{"ping", 42}
		call := func() {
			if _, err := caller.Call(bg, "com.example.echo", args, nil, nil); err != nil {
				t.Fatal(err)
			}
		}
		alloctest.AtMost(t, "Call round trip", alloctest.MinRuns, 12*alloctest.MinRuns+32,
			"12 per call (see above), and up to 32 more per 10,000 calls: the runtime "+
				"allocates a goroutine descriptor for the handler's goroutine when its free "+
				"list is empty (measured: 0 to 11 per 10,000)", call)

		got := make(chan struct{}, 1)
		_, err = callee.Subscribe("com.example.t", func(*client.Event) { got <- struct{}{} }, nil)
		noErr(t, err)
		event := func() {
			noErr(t, caller.Publish("com.example.t", args, nil, nil))
			<-got
		}
		alloctest.AtMost(t, "delivered EVENT", alloctest.MinRuns, 4*alloctest.MinRuns,
			"4 per event: the Event and its payload's Go values (see above)", event)
	})
}
