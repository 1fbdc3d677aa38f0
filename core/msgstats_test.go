package core_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

func countsOf(t codec.Type) (in, out uint64) {
	for _, mc := range core.MessageCounts() {
		if mc.Type == t {
			return mc.In, mc.Out
		}
	}
	return 0, 0
}

// TestMessageCounts: messages are counted by type as they are received
// and sent, including each EVENT of a fan-out, by the time the input batch
// that caused them is flushed.
func TestMessageCounts(t *testing.T) {
	r := newRouter(t, core.Config{})
	pub := join(t, r, codec.JSON)
	subs := []*peer{join(t, r, codec.JSON), join(t, r, codec.MsgPack), join(t, r, codec.CBOR)}
	for _, s := range subs {
		s.subscribe("com.example.counted", nil)
	}
	pubIn0, _ := countsOf(codec.PUBLISH)
	_, evOut0 := countsOf(codec.EVENT)
	_, errOut0 := countsOf(codec.ERROR)
	for i := 0; i < 5; i++ {
		pub.send(codec.PUBLISH, pub.req(), map[string]any{}, "com.example.counted", []any{i})
	}
	for _, s := range subs {
		for i := 0; i < 5; i++ {
			s.expect(codec.EVENT)
		}
	}
	// A CALL to nothing is answered with an ERROR.
	req := pub.req()
	pub.send(codec.CALL, req, map[string]any{}, "com.example.none")
	pub.expectError(codec.CALL, req, "wamp.error.no_such_procedure")

	pubIn, _ := countsOf(codec.PUBLISH)
	_, evOut := countsOf(codec.EVENT)
	_, errOut := countsOf(codec.ERROR)
	must(t, pubIn-pubIn0 == 5, "PUBLISH in: %d, want 5", pubIn-pubIn0)
	must(t, evOut-evOut0 == 15, "EVENT out: %d, want 15 (5 publications × 3 subscribers)", evOut-evOut0)
	must(t, errOut-errOut0 == 1, "ERROR out: %d, want 1", errOut-errOut0)
}
