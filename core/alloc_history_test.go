package core_test

import (
	"strconv"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// TestAllocsPublishHistory: a PUBLISH to a topic with event history on
// (ring full, so every publish evicts) fanned out to 10 subscribers, and a
// PUBLISH with retain: true, allocate nothing in steady state.
func TestAllocsPublishHistory(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	r := newRouter(t, core.Config{History: []core.HistoryRule{{Topic: "com.myapp", Match: "prefix", Limit: 50, MaxBytes: 4096}}})
	subs := make([]*peer, 10)
	for i := range subs {
		subs[i] = join(t, r, formats[i%3])
		subs[i].subscribe("com.myapp.topic1", nil)
	}
	pub := join(t, r, codec.JSON)
	buf := make([]byte, 0, 128)
	retain := false
	i := 0
	run := func() {
		i++
		if retain {
			buf = append(buf[:0], "[16,"...)
			buf = strconv.AppendUint(buf, pub.req(), 10)
			buf = append(buf, `,{"retain":true},"com.myapp.topic1",["Hello, world!",`...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, "]]"...)
		} else {
			buf = jsonPublish(buf[:0], pub.req(), "com.myapp.topic1", "Hello, world! "+strconv.Itoa(i%10))
		}
		_ = pub.l.Write(buf)
		for _, s := range subs {
			if _, ok := s.l.TryRead(); !ok {
				t.Fatal("subscriber got no event")
			}
		}
	}
	alloctest.Zero(t, "PUBLISH to a history topic", run)
	retain = true
	alloctest.Zero(t, "PUBLISH with retain", run)
	// The history really is kept.
	sid := subs[0].subscribe("com.myapp.topic1", nil)
	evs := resultArgs(t, subs[0].callKw("wamp.subscription.get_events", []any{sid}, nil))[0].([]any)
	must(t, len(evs) == 50, "history holds %d events, want 50", len(evs))
}
