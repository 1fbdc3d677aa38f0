package msgpack

import (
	"slices"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/internal/codectest"
)

type dict = map[string]any

// hotWithDetails are the same types carrying the Options/Details keys the
// router reads or writes on them, so that every typed-key path is covered
// by the allocation tests.
var hotWithDetails = []codectest.HotMessage{
	{Name: "PUBLISH", Value: []any{16, 239714735, dict{"acknowledge": true, "exclude_me": false, "exclude": []any{1, 2}, "eligible_authrole": []any{"admin", "user"}, "exclude_authid": "bob", "x_custom": dict{"a": []any{1}}}, "com.myapp.topic1", []any{"Hello, world!"}}},
	{Name: "EVENT", Value: []any{36, 5512315355, 4429313566, dict{"publisher": 3335656, "publisher_authid": "joe", "publisher_authrole": "user", "topic": "com.myapp.topic1", "retained": true, "trustlevel": 2}, []any{"Hello, world!"}}},
	{Name: "CALL", Value: []any{48, 7814135, dict{"receive_progress": true, "timeout": 1000, "disclose_me": true}, "com.myapp.user.new", []any{"johnny"}}},
	{Name: "INVOCATION", Value: []any{68, 6131533, 9823529, dict{"caller": 3335656, "caller_authid": "joe", "caller_authrole": "user", "procedure": "com.myapp.echo", "receive_progress": true, "timeout": 5}, []any{"johnny"}}},
	{Name: "YIELD", Value: []any{70, 6131533, dict{"progress": true}, []any{"Hello, world!"}}},
	{Name: "RESULT", Value: []any{50, 7814135, dict{"progress": true}, []any{30}, dict{"userid": 123}}},
}

// hotBytes encodes v as WAMP clients usually do (smallest integer forms).
func hotBytes(t testing.TB, v any) []byte { return refEncode(t, v, refModes[1]) }

// TestAllocsAllCases covers every message type and typed key (HELLO's
// roles and features among them), as clients encode them.
func TestAllocsAllCases(t *testing.T) { codectest.CheckCaseAllocs(t, Codec, hotBytes) }

// TestZeroAlloc pins the central performance property: once a Message and
// an output buffer have been used, Decode, Append (verbatim dict and typed
// Details) and Walk into a reused Writer allocate nothing.
func TestZeroAlloc(t *testing.T) {
	all := append(slices.Clone(codectest.HotMessages), hotWithDetails...)
	for i, c := range all {
		name := c.Name
		if i >= len(codectest.HotMessages) {
			name += "/details"
		}
		t.Run(name, func(t *testing.T) {
			data := hotBytes(t, c.Value)
			var m codec.Message
			if err := Decode(&m, data); err != nil {
				t.Fatal(err)
			}
			alloctest.Zero(t, "Decode", func() {
				if err := Decode(&m, data); err != nil {
					t.Fatal(err)
				}
			})

			dst := make([]byte, 0, 1024)
			alloctest.Zero(t, "Append", func() {
				if _, err := Append(dst[:0], &m); err != nil {
					t.Fatal(err)
				}
			})

			m.Dict = codec.Raw{}
			alloctest.Zero(t, "Append typed Details", func() {
				if _, err := Append(dst[:0], &m); err != nil {
					t.Fatal(err)
				}
			})

			w := NewWriter()
			alloctest.Zero(t, "Walk into Writer", func() {
				w.Reset(dst[:0])
				if err := Walk(data, w, 0); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
