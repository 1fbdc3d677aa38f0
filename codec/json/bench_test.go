package json

import (
	stdjson "encoding/json"
	"strings"
	"testing"

	segjson "github.com/segmentio/encoding/json"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// hotMessages are the six messages on the router's per-event and per-call
// path, as clients commonly send them (spaces after separators, as
// Python's json.dumps writes). PUBLISH is the headline message.
var hotMessages = []struct {
	name string
	data string
}{
	{"PUBLISH", `[16, 239714735, {}, "com.myapp.topic1", ["Hello, world!"], {"color": "orange"}]`},
	{"EVENT", `[36, 5512315355, 4429313566, {"publisher": 3335656, "topic": "com.myapp.topic1"}, ["Hello, world!"], {"color": "orange"}]`},
	{"CALL", `[48, 7814135, {"receive_progress": true, "timeout": 1000}, "com.myapp.user.new", ["johnny", 42, 3.5, true], {"firstname": "John", "surname": "Doe"}]`},
	{"INVOCATION", `[68, 6131533, 9823529, {"caller": 3335656, "caller_authid": "joe", "procedure": "com.myapp.user.new"}, ["johnny", 42, 3.5, true], {"firstname": "John", "surname": "Doe"}]`},
	{"YIELD", `[70, 6131533, {"progress": true}, [{"id": 1, "name": "Ann", "tags": ["a", "b"]}, {"id": 2, "name": "Bob \u00e9", "tags": []}]]`},
	{"RESULT", `[50, 7814135, {}, [{"id": 1, "name": "Ann", "tags": ["a", "b"]}, {"id": 2, "name": "Bob \u00e9", "tags": []}], {"count": 2}]`},
}

func BenchmarkDecode(b *testing.B) {
	for _, hm := range hotMessages {
		data := []byte(hm.data)
		b.Run(hm.name, func(b *testing.B) {
			var m codec.Message
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Decode(&m, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppend re-encodes a decoded message: the dict is copied
// verbatim, which is what the router does when it forwards.
func BenchmarkAppend(b *testing.B) {
	for _, hm := range hotMessages {
		var m codec.Message
		if err := Decode(&m, []byte(hm.data)); err != nil {
			b.Fatal(err)
		}
		benchAppend(b, hm.name, &m)
	}
}

// BenchmarkAppendDetails encodes the same messages from typed Details, as
// the router does for the messages it builds itself.
func BenchmarkAppendDetails(b *testing.B) {
	for _, hm := range hotMessages {
		var m codec.Message
		if err := Decode(&m, []byte(hm.data)); err != nil {
			b.Fatal(err)
		}
		m.Dict = codec.Raw{}
		benchAppend(b, hm.name, &m)
	}
}

func benchAppend(b *testing.B, name string, m *codec.Message) {
	b.Run(name, func(b *testing.B) {
		dst := make([]byte, 0, 512)
		out, _ := Append(dst, m)
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Append(dst, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefDecodeAny is the yardstick: encoding/json decoding the same
// bytes into []any.
func BenchmarkRefDecodeAny(b *testing.B) { benchRefDecode(b, stdjson.Unmarshal) }

// BenchmarkRefSegmentioDecodeAny is the faster reference library on the
// same bytes.
func BenchmarkRefSegmentioDecodeAny(b *testing.B) { benchRefDecode(b, segjson.Unmarshal) }

func benchRefDecode(b *testing.B, unmarshal func([]byte, any) error) {
	for _, hm := range hotMessages {
		data := []byte(hm.data)
		b.Run(hm.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var v []any
				if err := unmarshal(data, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// walkInputs measure the two-pass design: a flat payload, a typical
// nested one, and two inputs of the same size nested 17 and 64 deep. A
// count-by-skip-scan design would re-read deep64 about four times as often
// as deep16; with the pre-order count list their cost per byte is alike.
var walkInputs = []struct {
	name string
	data string
}{
	{"flat", `["Hello, world!", 42, -7, 3.25, true, null, "\u0000EOP/kFMHXFJvX8BtT+N82w==", "tab\there"]`},
	{"nested", hotMessages[4].data},
	{"deep16", `[` + strings.Repeat(strings.Repeat(`[1,`, 15)+`[]`+strings.Repeat(`]`, 15)+",", 4) + "1]"},
	{"deep64", `[` + strings.Repeat(`[1,`, 62) + `[]` + strings.Repeat(`]`, 62) + ",1]"},
	{"wide-deep", strings.Repeat(`{"k":[1,2,3,"abcdefgh",`, 30) + `{}` + strings.Repeat(`]}`, 30)},
}

func BenchmarkWalk(b *testing.B) {
	for _, in := range walkInputs {
		data := []byte(in.data)
		b.Run(in.name+"/nop", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := Walk(data, codectest.Discard{}, 64); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/Writer", func(b *testing.B) {
			w := NewWriter()
			dst := make([]byte, 0, 2*len(data))
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w.Reset(dst)
				if err := Walk(data, w, 64); err != nil || w.Err() != nil {
					b.Fatal(err, w.Err())
				}
			}
		})
	}
}
