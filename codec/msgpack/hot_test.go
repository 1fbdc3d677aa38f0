package msgpack

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
)

type dict = map[string]any

// hotMessages are the six message types on the router's hot path, in the
// shape clients send them. PUBLISH is the spec's headline example.
var hotMessages = []struct {
	name  string
	value []any
}{
	{"PUBLISH", []any{16, 239714735, dict{}, "com.myapp.topic1", []any{"Hello, world!"}, dict{"color": "orange"}}},
	{"EVENT", []any{36, 5512315355, 4429313566, dict{}, []any{"Hello, world!"}, dict{"color": "orange"}}},
	{"CALL", []any{48, 7814135, dict{}, "com.myapp.user.new", []any{"johnny"}, dict{"firstname": "John", "surname": "Doe"}}},
	{"INVOCATION", []any{68, 6131533, 9823529, dict{}, []any{"johnny"}, dict{"firstname": "John", "surname": "Doe"}}},
	{"YIELD", []any{70, 6131533, dict{}, []any{"Hello, world!"}}},
	{"RESULT", []any{50, 7814135, dict{}, []any{30}}},
}

// hotWithDetails are the same types carrying the Options/Details keys the
// router reads or writes on them, so that every typed-key path is covered
// by the allocation tests.
var hotWithDetails = []struct {
	name  string
	value []any
}{
	{"PUBLISH", []any{16, 239714735, dict{"acknowledge": true, "exclude_me": false, "exclude": []any{1, 2}, "eligible_authrole": []any{"admin", "user"}, "exclude_authid": "bob", "x_custom": dict{"a": []any{1}}}, "com.myapp.topic1", []any{"Hello, world!"}}},
	{"EVENT", []any{36, 5512315355, 4429313566, dict{"publisher": 3335656, "publisher_authid": "joe", "publisher_authrole": "user", "topic": "com.myapp.topic1", "retained": true, "trustlevel": 2}, []any{"Hello, world!"}}},
	{"CALL", []any{48, 7814135, dict{"receive_progress": true, "timeout": 1000, "disclose_me": true}, "com.myapp.user.new", []any{"johnny"}}},
	{"INVOCATION", []any{68, 6131533, 9823529, dict{"caller": 3335656, "caller_authid": "joe", "caller_authrole": "user", "procedure": "com.myapp.echo", "receive_progress": true, "timeout": 5}, []any{"johnny"}}},
	{"YIELD", []any{70, 6131533, dict{"progress": true}, []any{"Hello, world!"}}},
	{"RESULT", []any{50, 7814135, dict{"progress": true}, []any{30}, dict{"userid": 123}}},
}

// hotBytes encodes v as WAMP clients usually do (smallest integer forms).
func hotBytes(t testing.TB, v any) []byte { return refEncode(t, v, refModes[1]) }

// TestZeroAlloc pins the central performance property: once a Message and
// an output buffer have been used, Decode, Append (verbatim dict and typed
// Details) and Walk into a reused Writer allocate nothing.
func TestZeroAlloc(t *testing.T) {
	all := append(append([]struct {
		name  string
		value []any
	}{}, hotMessages...), hotWithDetails...)
	for i, c := range all {
		name := c.name
		if i >= len(hotMessages) {
			name += "/details"
		}
		t.Run(name, func(t *testing.T) {
			data := hotBytes(t, c.value)
			var m codec.Message
			if err := Decode(&m, data); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(200, func() {
				if err := Decode(&m, data); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Decode: %v allocs/op, want 0", n)
			}

			dst := make([]byte, 0, 1024)
			if n := testing.AllocsPerRun(200, func() {
				if _, err := Append(dst[:0], &m); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Append: %v allocs/op, want 0", n)
			}

			m.Dict = codec.Raw{}
			if n := testing.AllocsPerRun(200, func() {
				if _, err := Append(dst[:0], &m); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Append typed Details: %v allocs/op, want 0", n)
			}

			w := NewWriter()
			if n := testing.AllocsPerRun(200, func() {
				w.Reset(dst[:0])
				if err := Walk(data, w, 0); err != nil {
					t.Fatal(err)
				}
			}); n != 0 {
				t.Errorf("Walk into Writer: %v allocs/op, want 0", n)
			}
		})
	}
}
