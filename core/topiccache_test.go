package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// TestPublishTopicChecksAfterValidTopic: the URI checks a publisher's
// session skips for a topic it just published to still refuse every other
// topic, whatever came before it (the last valid topic, then an invalid or
// reserved one, then the valid one again).
func TestPublishTopicChecksAfterValidTopic(t *testing.T) {
	r := newRouter(t, core.Config{})
	p := join(t, r, codec.JSON)
	ack := map[string]any{"acknowledge": true}
	published := func(topic string) {
		t.Helper()
		rq := p.req()
		p.send(codec.PUBLISH, rq, ack, topic)
		m := p.expect(codec.PUBLISHED)
		must(t, asID(t, m[1]) == rq, "PUBLISHED %v", m)
	}
	refused := func(topic string) {
		t.Helper()
		rq := p.req()
		p.send(codec.PUBLISH, rq, ack, topic)
		p.expectError(codec.PUBLISH, rq, core.ErrInvalidURI)
	}
	published("a.b")
	published("a.b")
	for _, bad := range []string{"a..b", "", "a.b ", "wamp.session.on_join", "a.b.", "a b"} {
		refused(bad)
		published("a.b")
	}
	published("a.b.c")
	refused("a.b..c")
	published("a.b.c")
}
