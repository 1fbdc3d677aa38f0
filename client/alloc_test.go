package client_test

import (
	"testing"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
)

// Steady-state publishing allocates nothing in the client: payloads are
// encoded with pooled writers into pooled buffers and the message into the
// client's own buffer. (The in-process router handles each message on the
// publishing goroutine, so these counts include the router's work too.)

func TestAllocsPublish(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
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
			fn()
			if n := testing.AllocsPerRun(200, fn); n != 0 {
				t.Errorf("%s: %.1f allocations per Publish, want 0", name, n)
			}
		}
	})
}
