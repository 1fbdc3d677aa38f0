package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

type point struct {
	X    int               `json:"x"`
	Name string            `json:"name,omitempty"`
	Tags map[string]string `json:"tags"`
}

func TestGoValues(t *testing.T) {
	for _, f := range formats {
		// Common types are written directly; structs go through JSON tags.
		raw, err := codec.EncodeGo(f, []any{int8(-3), uint16(7), float32(1.5), "s", []string{"a"}, map[string]string{"k": "v"}, point{X: 1, Tags: map[string]string{"t": "u"}}, (*point)(nil)})
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		v, err := codec.ToList(raw)
		if err != nil {
			t.Fatal(err)
		}
		want := []any{int64(-3), int64(7), 1.5, "s", []any{"a"}, map[string]any{"k": "v"}, map[string]any{"x": int64(1), "tags": map[string]any{"t": "u"}}, nil}
		if !codectest.EqualValues(v, want) {
			t.Fatalf("%v: %#v", f, v)
		}
		// Unmarshal into a struct and into generic targets.
		var ps []point
		if err := codec.Unmarshal(codec.Raw{Format: f, Bytes: mustEncode(t, f, []any{map[string]any{"x": 5, "name": "n"}})}, &ps); err != nil || len(ps) != 1 || ps[0].X != 5 || ps[0].Name != "n" {
			t.Fatalf("%v: Unmarshal struct: %v %+v", f, err, ps)
		}
		var d map[string]any
		if err := codec.Unmarshal(codec.Raw{Format: f, Bytes: mustEncode(t, f, map[string]any{"a": []byte{1}})}, &d); err != nil || string(d["a"].([]byte)) != "\x01" {
			t.Fatalf("%v: Unmarshal dict: %v %#v", f, err, d)
		}
		if _, err := codec.ToList(codec.Raw{Format: f, Bytes: mustEncode(t, f, map[string]any{})}); !errors.Is(err, codec.ErrType) {
			t.Fatalf("%v: ToList of a dict: %v", f, err)
		}
		if _, err := codec.ToDict(codec.Raw{Format: f, Bytes: mustEncode(t, f, []any{})}); !errors.Is(err, codec.ErrType) {
			t.Fatalf("%v: ToDict of a list: %v", f, err)
		}
	}
	// An absent Raw is nil, not an error.
	if v, err := codec.ToGo(codec.Raw{}); v != nil || err != nil {
		t.Fatalf("ToGo(absent) = %v, %v", v, err)
	}
	// Values JSON cannot hold fail cleanly.
	if _, err := codec.EncodeGo(codec.JSON, []any{func() {}}); err == nil {
		t.Fatal("encoding a func succeeded")
	}
	deep := any(1)
	for i := 0; i < 100; i++ {
		deep = []any{deep}
	}
	if _, err := codec.EncodeGo(codec.JSON, deep); !errors.Is(err, codec.ErrDepth) {
		t.Fatalf("encoding 100 levels: %v", err)
	}
}

func mustEncode(t *testing.T, f codec.Format, v any) []byte {
	t.Helper()
	b, err := codec.AppendGo(nil, f, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestErrorText(t *testing.T) {
	e := &codec.Error{Type: codec.PUBLISH, Field: "Options.acknowledge", Offset: 17, Err: codec.ErrType, Detail: "want bool"}
	if got := e.Error(); got != "codec: PUBLISH Options.acknowledge at byte 17: wrong type: want bool" {
		t.Fatalf("Error() = %q", got)
	}
	if got := (&codec.Error{Offset: -1, Err: codec.ErrTruncated}).Error(); got != "codec: truncated input" {
		t.Fatalf("Error() = %q", got)
	}
	if !errors.Is(e, codec.ErrType) {
		t.Fatal("errors.Is does not see the sentinel")
	}
	if codec.Type(7).String() != "Type(7)" || codec.YIELD.String() != "YIELD" || codec.Type(7).Valid() || !codec.EVENT.Valid() {
		t.Fatal("Type names/validity")
	}
}

func TestDetails(t *testing.T) {
	var d codec.Details
	d.SetBool(codec.KeyAcknowledge, true)
	d.SetString(codec.KeyMatch, []byte("prefix"))
	d.SetUint(codec.KeyTimeout, 100)
	if !d.Has(codec.KeyAcknowledge) || !d.Bool(codec.KeyAcknowledge, false) || !d.Bool(codec.KeyExcludeMe, true) || d.Uint(codec.KeyTimeout) != 100 || d.Count() != 3 {
		t.Fatalf("details %+v", d)
	}
	d.Finish()
	if d.Match != codec.MatchPrefix {
		t.Fatal("Finish did not parse match")
	}
	d.Clear(codec.KeyMatch)
	if d.Has(codec.KeyMatch) || d.Str[codec.KeyMatch] != nil {
		t.Fatal("Clear left the key")
	}
	// Clear drops the value too, whatever the key's kind.
	d.SetUint(codec.KeyTimeout, 5)
	d.Exclude = append(d.Exclude, 7)
	d.Mark(codec.KeyExclude)
	d.Clear(codec.KeyTimeout)
	d.Clear(codec.KeyExclude)
	d.Clear(codec.KeyAcknowledge)
	if d.Uint(codec.KeyTimeout) != 0 || len(d.Exclude) != 0 || d.Acknowledge || d.Has(codec.KeyTimeout) {
		t.Fatalf("Clear left a value: %+v", d)
	}
	// A key set to null after a value is absent in every serializer.
	for _, f := range formats {
		raw := mustEncode(t, f, []any{48, 1, map[string]any{"timeout": 5}, "a.b"})
		var m codec.Message
		if err := codec.ByFormat(f).Decode(&m, raw); err != nil {
			t.Fatal(err)
		}
		m.Details.Clear(codec.KeyTimeout)
		if m.Details.Uint(codec.KeyTimeout) != 0 {
			t.Fatalf("%v: timeout %d after Clear", f, m.Details.Uint(codec.KeyTimeout))
		}
	}
	for _, js := range []string{`[48,1,{"timeout":5,"timeout":null},"a.b"]`, `[48,1,{"acknowledge":true,"exclude":[3],"exclude":null,"acknowledge":null},"a.b"]`} {
		var m codec.Message
		if err := codec.ByFormat(codec.JSON).Decode(&m, []byte(js)); err != nil {
			t.Fatal(err)
		}
		if m.Details.Set != 0 || m.Details.Timeout != 0 || m.Details.Acknowledge || len(m.Details.Exclude) != 0 {
			t.Fatalf("%s: null after a value left %+v", js, m.Details)
		}
	}
	d.Exclude = append(d.Exclude, 1, 2)
	d.Reset()
	if d.Set != 0 || d.Acknowledge || len(d.Exclude) != 0 || cap(d.Exclude) < 2 {
		t.Fatalf("Reset: %+v", d)
	}
	for k := codec.Key(0); k < codec.NumKeys; k++ {
		got, ok := codec.LookupKey([]byte(codec.KeyNames[k]))
		if !ok || got != k {
			t.Fatalf("LookupKey(%q) = %v %v", codec.KeyNames[k], got, ok)
		}
	}
	if _, ok := codec.LookupKey([]byte("acknowledgE")); ok {
		t.Fatal("LookupKey is case-insensitive")
	}
	if f, ok := codec.LookupFeature([]byte("call_cancelling")); !ok || f != codec.FeatureCallCanceling {
		t.Fatal("the spec's other spelling of call_canceling")
	}
	if codec.ParseInvoke([]byte("roundrobin")) != codec.InvokeRoundRobin || codec.ParseCancelMode([]byte("x")) != codec.ModeInvalid || codec.Match(9).String() != "invalid" {
		t.Fatal("enum parsing")
	}
}

func TestEncodedLen(t *testing.T) {
	m := codec.Message{Type: codec.PUBLISH}
	l := codec.LayoutOf(codec.PUBLISH)
	if n := l.EncodedLen(&m); n != 4 {
		t.Fatalf("bare PUBLISH has %d elements", n)
	}
	m.Kwargs = codec.Raw{Format: codec.JSON, Bytes: []byte("{}")}
	if n := l.EncodedLen(&m); n != 6 {
		t.Fatalf("PUBLISH with kwargs only has %d elements (Arguments must be written)", n)
	}
	u := codec.Message{Type: codec.UNSUBSCRIBED}
	if n := codec.LayoutOf(codec.UNSUBSCRIBED).EncodedLen(&u); n != 2 {
		t.Fatalf("UNSUBSCRIBED without details has %d elements", n)
	}
	for _, f := range formats {
		out, err := codec.ByFormat(f).Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := codec.ToGo(codec.Raw{Format: f, Bytes: out})
		if l := v.([]any); len(l) != 6 || len(l[4].([]any)) != 0 {
			t.Fatalf("%v: %v", f, l)
		}
	}
	if codec.LayoutOf(7) != nil || !strings.HasPrefix(codec.Format(9).String(), "Format(") {
		t.Fatal("unknown type/format")
	}
}

// TestBuilderReuse: a reused Builder decodes like ToList/ToDict, rejects
// the wrong container, and once warm allocates only the Go values.
func TestBuilderReuse(t *testing.T) {
	var b codec.Builder
	for _, f := range formats {
		raw := codec.Raw{Format: f, Bytes: mustEncode(t, f, []any{nil, true, int64(-1), uint64(1) << 63, "s", []byte{0}, map[string]any{"k": []any{}}})}
		want, _ := codec.ToList(raw)
		for i := 0; i < 3; i++ {
			got, err := b.List(raw)
			if err != nil || !codectest.EqualValues(got, want) {
				t.Fatalf("%v: %#v %v", f, got, err)
			}
		}
		if _, err := b.Dict(raw); !errors.Is(err, codec.ErrType) {
			t.Fatalf("%v: list accepted as a dict: %v", f, err)
		}
		if _, err := b.List(codec.Raw{Format: f, Bytes: mustEncode(t, f, "scalar")}); !errors.Is(err, codec.ErrType) {
			t.Fatalf("%v: scalar accepted as a list: %v", f, err)
		}
	}
	// A lying MessagePack array32 header over a truncated payload.
	if _, err := b.List(codec.Raw{Format: codec.MsgPack, Bytes: []byte{0xdd, 0x7f, 0xff, 0xff, 0xff}}); err == nil {
		t.Fatal("truncated array accepted")
	}
	if raceEnabled {
		return
	}
	raw := codec.Raw{Format: codec.MsgPack, Bytes: mustEncode(t, codec.MsgPack, []any{1, 2, true, nil})}
	_, _ = b.List(raw)
	if n := testing.AllocsPerRun(100, func() { _, _ = b.List(raw) }); n > 1 {
		t.Fatalf("%.1f allocations decoding a 4-element list of small values, want 1 (the list)", n)
	}
}

// TestEnumOutOfRange: an enum value without a name is an error in every
// serializer, and the named ones (the *Invalid sentinel included) encode.
func TestEnumOutOfRange(t *testing.T) {
	for _, f := range formats {
		m := codec.Message{Type: codec.SUBSCRIBE, Request: 1, URI: []byte("a.b")}
		m.Details.Mark(codec.KeyMatch)
		m.Details.Match = codec.MatchInvalid + 1
		if _, err := codec.ByFormat(f).Append(nil, &m); !errors.Is(err, codec.ErrRange) {
			t.Errorf("%v: match %d: %v, want ErrRange", f, m.Details.Match, err)
		}
		m.Details.Match = codec.MatchPrefix
		out, err := codec.ByFormat(f).Append(nil, &m)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		v, _ := codec.ToList(codec.Raw{Format: f, Bytes: out})
		if v[2].(map[string]any)["match"] != "prefix" {
			t.Errorf("%v: %v", f, v)
		}
	}
}
