package client_test

import (
	"math/rand/v2"
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

// TestRouterNonsense feeds a client thousands of random, mostly
// ill-formed messages as if from the router. The client must neither
// panic nor hang: each message is either handled, ignored, or answered
// with ABORT wamp.error.protocol_violation.
func TestRouterNonsense(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []int64{0, 1, 2, 3, 4, 5, 6, 8, 16, 17, 32, 33, 34, 35, 36, 48, 49, 50, 64, 65, 66, 67, 68, 69, 70, 1000}
	var value func(depth int) any
	value = func(depth int) any {
		switch rng.IntN(12) {
		case 0:
			return nil
		case 1:
			return rng.IntN(2) == 0
		case 2:
			return rng.Int64N(1<<54) - 1<<53
		case 3:
			return rng.Float64()
		case 4:
			return "x.y"
		case 5:
			return []byte{byte(rng.IntN(256))}
		case 6, 7:
			if depth > 3 {
				return int64(1)
			}
			l := make([]any, rng.IntN(4))
			for i := range l {
				l[i] = value(depth + 1)
			}
			return l
		case 8, 9:
			if depth > 3 {
				return "deep"
			}
			d := map[string]any{}
			for _, k := range []string{"progress", "topic", "procedure", "receive_progress", "publisher", "caller", "message", "roles"} {
				if rng.IntN(3) == 0 {
					d[k] = value(depth + 1)
				}
			}
			return d
		default:
			return int64(rng.IntN(4)) // small ids that may match pending requests
		}
	}
	for _, f := range formats {
		var c *client.Client
		var p *pipe
		sessions := 0
		for i := 0; i < 1500; i++ {
			if c == nil {
				sessions++
				c, p = joinPipe(t, f, nil)
				// Something pending for replies to find.
				go func(c *client.Client) {
					_, _ = c.Call(bg, "a.b", nil, nil, &client.CallOptions{OnProgress: func(*client.Result) {}})
				}(c)
				p.expect(codec.CALL)
				go func(c *client.Client) { _, _ = c.Subscribe("a.b", func(*client.Event) {}, nil) }(c)
				p.expect(codec.SUBSCRIBE)
			}
			typ := types[rng.IntN(len(types))]
			msg := []any{typ}
			if l := codec.LayoutOf(codec.Type(typ)); l != nil && rng.IntN(3) > 0 {
				// Well-formed by the layout, with random contents.
				n := l.Min + rng.IntN(l.Max()-l.Min+1)
				for _, e := range l.Elems[:n-1] {
					switch e.Slot {
					case codec.SlotRequest, codec.SlotID, codec.SlotPublication:
						msg = append(msg, int64(rng.IntN(5)))
					case codec.SlotErrorType:
						msg = append(msg, types[rng.IntN(len(types))])
					case codec.SlotURI:
						msg = append(msg, "x.y")
					case codec.SlotDict, codec.SlotKwargs:
						d, _ := value(3).(map[string]any)
						if d == nil {
							d = map[string]any{"progress": rng.IntN(2) == 0}
						}
						msg = append(msg, d)
					case codec.SlotArgs:
						msg = append(msg, []any{value(1), value(1)})
					}
				}
			} else {
				for n := rng.IntN(7); n > 0; n-- {
					msg = append(msg, value(0))
				}
			}
			b, err := codec.AppendGo(nil, f, msg)
			if err != nil {
				continue
			}
			if rng.IntN(8) == 0 && len(b) > 1 {
				b = b[:rng.IntN(len(b))] // truncated
			}
			select {
			case p.toClient <- b:
			case <-c.Done():
				c = nil
				continue
			}
			// Probe with an acknowledged publish: once it is answered,
			// the nonsense before it has been handled.
			probe := make(chan error, 1)
			go func(c *client.Client) {
				probe <- c.Publish("probe", nil, nil, &client.PublishOptions{Acknowledge: true})
			}(c)
		wait:
			for {
				select {
				case b := <-p.toRouter:
					v, err := codec.ToGo(codec.Raw{Format: f, Bytes: b})
					if err != nil {
						t.Fatalf("client sent undecodable %q", b)
					}
					if m := v.([]any); m[0] == int64(codec.PUBLISH) && m[3] == "probe" {
						p.send(codec.PUBLISHED, m[1], 1)
					}
				case err := <-probe:
					if err != nil {
						recvT(t, c.Done(), "Done after a failed probe")
						c = nil
					}
					break wait
				}
			}
		}
		// Most nonsense ends the session; some is ignored as it should be.
		t.Logf("%v: 1500 messages ended %d sessions", f, sessions)
		if sessions < 10 || sessions > 1490 {
			t.Errorf("%v: %d sessions for 1500 messages: the generator is not exercising both paths", f, sessions)
		}
	}
}
