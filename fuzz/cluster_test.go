package fuzz

import (
	"bytes"
	"testing"

	"github.com/zwamp/zwamp/cluster"
)

// FuzzClusterEnvelope feeds arbitrary bytes to the node-to-node envelope
// parser (what a node runs on everything another node sends it): it must
// never panic, the WAMP message it returns must be the tail of the input,
// and what it parsed must encode back to a message that parses the same.
func FuzzClusterEnvelope(f *testing.F) {
	for _, fields := range []cluster.EnvelopeFields{
		{Kind: 1, Format: 1, Origin: "a-0123456789abcdef", Realm: "realm1", PubID: 1 << 52, Publisher: 7, AuthID: "alice", AuthRole: "user"},
		{Kind: 2, Format: 2, Origin: "b-1", Realm: "r", Proxy: 3, Callee: 99, URI: "com.x.", Policy: 1},
		{Kind: 3, Format: 2, Origin: "c", Realm: "", Proxy: 1 << 40},
	} {
		f.Add(cluster.AppendEnvelope(nil, fields, []byte(`[16,1,{},"com.topic",[1]]`)))
	}
	f.Add([]byte{1})
	f.Add([]byte{2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, msg, err := cluster.ParseEnvelope(b)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(b, msg) {
			t.Fatalf("message %q is not the tail of the input", msg)
		}
		again, msg2, err := cluster.ParseEnvelope(cluster.AppendEnvelope(nil, fields, msg))
		if err != nil || again != fields || !bytes.Equal(msg, msg2) {
			t.Fatalf("re-encoded envelope parses as %+v %q (%v), want %+v %q", again, msg2, err, fields, msg)
		}
	})
}
