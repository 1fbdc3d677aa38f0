package json

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	segjson "github.com/segmentio/encoding/json"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// TestCases decodes every shared vector as encoding/json writes it (compact
// and in several whitespace styles) and round-trips it (codectest.RoundTrip);
// encoding/json must read our output as it read the input.
func TestCases(t *testing.T) {
	for _, c := range codectest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			for _, data := range indentVariants(t, refMarshal(t, c.Value)) {
				assertSameRef(t, data, codectest.RoundTrip(t, Codec, data, c.Want))
			}
		})
	}
}

// TestCasesSegmentio decodes the vectors as the second reference library
// writes them.
func TestCasesSegmentio(t *testing.T) {
	for _, c := range codectest.Cases {
		data, err := segjson.Marshal(codectest.JSONValue(c.Value))
		if err != nil {
			t.Fatalf("%s: segmentio Marshal: %v", c.Name, err)
		}
		var m codec.Message
		if err := Decode(&m, data); err != nil {
			t.Fatalf("%s: Decode(%s): %v", c.Name, data, err)
		}
		codectest.Check(t, &m, c.Want)
	}
}

// assertSameRef checks that encoding/json decodes a and b to equal values.
func assertSameRef(t *testing.T, a, b []byte) {
	t.Helper()
	va, err := codectest.JSONUnmarshal(a)
	if err != nil {
		t.Fatalf("reference decode of input: %v", err)
	}
	vb, err := codectest.JSONUnmarshal(b)
	if err != nil {
		t.Fatalf("reference decode of output %s: %v", b, err)
	}
	if !refEqual(va, vb) {
		t.Errorf("encoding/json reads\n%#v\nfrom our output, want\n%#v", vb, va)
	}
}

func TestBadCases(t *testing.T) {
	for _, c := range codectest.BadCases {
		data := refMarshal(t, c.Value)
		var m codec.Message
		codectest.CheckBad(t, Decode(&m, data), c)
	}
}

// TestTruncations cuts every valid vector at every byte: each prefix must
// be rejected, as an *codec.Error, by Decode and by Walk.
func TestTruncations(t *testing.T) {
	var m codec.Message
	for _, c := range codectest.Cases {
		for _, data := range indentVariants(t, refMarshal(t, c.Value)) {
			full := bytes.TrimRight(data, " \t\r\n")
			for n := 0; n < len(full); n++ {
				p := full[:n:n] // no capacity: a read past the end panics
				err := Decode(&m, p)
				var ce *codec.Error
				if !errors.As(err, &ce) {
					t.Fatalf("%s: Decode(%q) = %v, want *codec.Error", c.Name, p, err)
				}
				if _, err := walkTokens(p, 64); err == nil {
					t.Fatalf("%s: Walk(%q) accepted a truncation", c.Name, p)
				}
			}
		}
	}
}

// TestBadJSON covers RFC 8259 strictness, whitespace, truncation, limits
// and the classification of each.
func TestBadJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		in    string
		err   error
		field string
	}{
		{"", codec.ErrTruncated, ""},
		{" \t\r\n", codec.ErrTruncated, ""},
		{"[", codec.ErrTruncated, ""},
		{"[16", codec.ErrTruncated, ""},
		{`[16, 1, {}, "a"`, codec.ErrTruncated, ""},
		{`[16, 1, {}, "a`, codec.ErrTruncated, "Topic"},
		{`[16, 1, {"a`, codec.ErrTruncated, "Options"},
		{`[16, 1, {}, "a", ["x", [1, 2`, codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a", [], {"k": "v"`, codec.ErrTruncated, "ArgumentsKw"},
		{`[16, 1, {}, "a", [tr`, codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a", ["\u12`, codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a", [-`, codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a", [1.`, codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a", [1e`, codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a", [1e+`, codec.ErrTruncated, "Arguments"},
		{"[16, 1, {}, \"a\", [\"\xe2\x82", codec.ErrTruncated, "Arguments"},
		{`[16, 1, {}, "a"]x`, codec.ErrTrailing, ""},
		{`[16, 1, {}, "a"] [`, codec.ErrTrailing, ""},
		{`[16, 1, {}, "a"]]`, codec.ErrTrailing, ""},
		{`[16, 1, {}, "a",]`, codec.ErrSyntax, ""},
		{`[16, 1, {,}, "a"]`, codec.ErrSyntax, "Options"},
		{`[16, 1, {"acknowledge": true,}, "a"]`, codec.ErrSyntax, "Options"},
		{`[16, 1, {}, "a", [1,]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [], {"k": 1,}]`, codec.ErrSyntax, "ArgumentsKw"},
		{`[16, 1, {}, "a", [1 2]]`, codec.ErrSyntax, "Arguments"},
		{`[16 1, {}, "a"]`, codec.ErrSyntax, ""},
		{`[16, 1, {"a" 1}, "a"]`, codec.ErrSyntax, "Options"},
		{`[16, 01, {}, "a"]`, codec.ErrSyntax, "Request"},
		{`[16, 1, {}, "a", [01]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [-01]]`, codec.ErrSyntax, "Arguments"},
		{`[16, +1, {}, "a"]`, codec.ErrSyntax, "Request"},
		{`[16, 1, {}, "a", [+1]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [NaN]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [Infinity]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [-Infinity]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [1.]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [.5]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [1e]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [1e+]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [-]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [- 1]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [0x10]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [1.5.2]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [tru]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [True]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [nul]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", [nulll]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "a", ['x']]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {} /* c */, "a"]`, codec.ErrSyntax, ""},
		{"[16, 1, {}, \"a\" // c\n]", codec.ErrSyntax, ""},
		{"[16, 1, {}, \"a\tb\"]", codec.ErrSyntax, "Topic"},
		{"[16, 1, {}, \"a\nb\"]", codec.ErrSyntax, "Topic"},
		{"[16, 1, {}, \"a\x00b\"]", codec.ErrSyntax, "Topic"},
		{"[16, 1, {}, \"a\x1fb\"]", codec.ErrSyntax, "Topic"},
		{`[16, 1, {}, "a\x41"]`, codec.ErrSyntax, "Topic"},
		{`[16, 1, {}, "a\'"]`, codec.ErrSyntax, "Topic"},
		{`[16, 1, {}, "a\U0041"]`, codec.ErrSyntax, "Topic"},
		{`[16, 1, {}, "\u12"]`, codec.ErrSyntax, "Topic"},
		{`[16, 1, {}, "\u12G4"]`, codec.ErrSyntax, "Topic"},
		{`[16, 1, {}, "a", ["\u12"]]`, codec.ErrSyntax, "Arguments"},
		{`[16, 1, {}, "\ud800"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "\udc00"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "\ud800\u0041"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "\ud800\ud800"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "\ud800x"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "\ud800\n"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "\udfff\udbff"]`, codec.ErrUTF8, "Topic"},
		{`[16, 1, {}, "a", [], {"\ud83d": 1}]`, codec.ErrUTF8, "ArgumentsKw"},
		{"[16, 1, {}, \"\xff\"]", codec.ErrUTF8, "Topic"},
		{"[16, 1, {}, \"\xc0\xaf\"]", codec.ErrUTF8, "Topic"},
		{"[16, 1, {}, \"\xed\xa0\x80\"]", codec.ErrUTF8, "Topic"},
		{"[16, 1, {}, \"\xe2\x82\"]", codec.ErrUTF8, "Topic"},
		{"[16, 1, {}, \"a\", [\"\xf4\x90\x80\x80\"]]", codec.ErrUTF8, "Arguments"},
		{"[16, 1, {\"authid\": \"\xfe\"}, \"a\"]", codec.ErrUTF8, "Options.authid"},
		{"[16, 1, {\"x_\xfe\": 1}, \"a\"]", codec.ErrUTF8, "Options"},
		{`[16, 1, {}, "a", [1e400]]`, codec.ErrRange, "Arguments"},
		{`[16, 1, {}, "a", [-1e400]]`, codec.ErrRange, "Arguments"},
		{`[16, 1, {}, "a", [1.7976931348623159e308]]`, codec.ErrRange, "Arguments"},
		{`[16, 1, {}, "a", [1e99999999999999999999999]]`, codec.ErrRange, "Arguments"},
		{`[16, 1, {}, "a", [0.00001e400]]`, codec.ErrRange, "Arguments"},
		{`[16, 1, {}, "a", [1` + strings.Repeat("0", 400) + `]]`, codec.ErrRange, "Arguments"},
		{"\xef\xbb\xbf[16, 1, {}, \"a\"]", codec.ErrSyntax, ""},
		{"[16,\f1, {}, \"a\"]", codec.ErrSyntax, ""},
		{"[16,\v1, {}, \"a\"]", codec.ErrSyntax, ""},
		{"[16,\u00a01, {}, \"a\"]", codec.ErrSyntax, ""},
		{"[16, 1, {}, \"a\"]\x00", codec.ErrTrailing, ""},
		{`x`, codec.ErrSyntax, ""},
		{`{"a": 1}`, codec.ErrType, ""},
		{`"abc"`, codec.ErrType, ""},
		{`16`, codec.ErrType, ""},
		{`null`, codec.ErrType, ""},
		{`{"a": 1`, codec.ErrTruncated, ""},
		{`[16.0, 1, {}, "a"]`, codec.ErrType, "Type"},
		{`[1e1, 1, {}, "a"]`, codec.ErrType, "Type"},
		{`[-16, 1, {}, "a"]`, codec.ErrRange, "Type"},
		{`[null, 1, {}, "a"]`, codec.ErrType, "Type"},
		{`[65552, 1, {}, "a"]`, codec.ErrUnknownType, "Type"},
		{`[1023, 1]`, codec.ErrUnknownType, "Type"},
		{`[0, 1]`, codec.ErrUnknownType, "Type"},
		{`[99999999999999999999999, 1]`, codec.ErrRange, "Type"},
		{`[16, 1e3, {}, "a"]`, codec.ErrType, "Request"},
		{`[16, 1.0, {}, "a"]`, codec.ErrType, "Request"},
		{`[16, -0.0, {}, "a"]`, codec.ErrType, "Request"},
		{`[16, 9007199254740993, {}, "a"]`, codec.ErrRange, "Request"},
		{`[16, 18446744073709551616, {}, "a"]`, codec.ErrRange, "Request"},
		{`[16, -9223372036854775809, {}, "a"]`, codec.ErrRange, "Request"},
		{`[16, true, {}, "a"]`, codec.ErrType, "Request"},
		{`[16, "1", {}, "a"]`, codec.ErrType, "Request"},
		{`[16, "1, {}, "a"]`, codec.ErrType, "Request"},
		{`[8, 68, 1, {}, "e"]`, nil, ""},
		{`[8, 65536, 1, {}, "e"]`, codec.ErrRange, "REQUEST.Type"},
		{`[8, -1, 1, {}, "e"]`, codec.ErrRange, "REQUEST.Type"},
		{`[16, 1, null, "a"]`, codec.ErrType, "Options"},
		{`[16, 1, {}, null]`, codec.ErrType, "Topic"},
		{`[16, 1, {}, "a", null]`, codec.ErrType, "Arguments"},
		{`[16, 1, {}, "a", [], null]`, codec.ErrType, "ArgumentsKw"},
		{`[16, 1, {}, "a", [], {1: 2}]`, codec.ErrKey, "ArgumentsKw"},
		{`[16, 1, {}, "a", [{"k": {null: 2}}]]`, codec.ErrKey, "Arguments"},
		{`[16, 1, {1: 2}, "a"]`, codec.ErrKey, "Options"},
		{`[16, 1, {"x": {[]: 2}}, "a"]`, codec.ErrKey, "Options.x"},
		{`[1, "r", {"roles": {"caller": {"features": {true: true}}}}]`, codec.ErrKey, "Details"},
		{`[16, 1, {"acknowledge": "yes"}, "a"]`, codec.ErrType, "Options.acknowledge"},
		{`[16, 1, {"acknowledge": 0}, "a"]`, codec.ErrType, "Options.acknowledge"},
		{`[16, 1, {"acknowledge": tRue}, "a"]`, codec.ErrSyntax, "Options.acknowledge"},
		{`[48, 1, {"timeout": 1.5}, "a"]`, codec.ErrType, "Options.timeout"},
		{`[48, 1, {"timeout": 18446744073709551616}, "a"]`, codec.ErrRange, "Options.timeout"},
		{`[48, 1, {"timeout": 18446744073709551615}, "a"]`, nil, ""},
		{`[36, 1, 2, {"publisher": 9007199254740993}]`, codec.ErrRange, "Details.publisher"},
		{`[36, 1, 2, {"publisher": "x"}]`, codec.ErrType, "Details.publisher"},
		{`[36, 1, 2, {"topic": 1}]`, codec.ErrType, "Details.topic"},
		{`[16, 1, {"exclude": 1}, "a"]`, codec.ErrType, "Options.exclude"},
		{`[16, 1, {"exclude": [1, -1]}, "a"]`, codec.ErrRange, "Options.exclude"},
		{`[16, 1, {"exclude": [1, 2.5]}, "a"]`, codec.ErrType, "Options.exclude"},
		{`[16, 1, {"exclude": [1,]}, "a"]`, codec.ErrSyntax, "Options.exclude"},
		{`[16, 1, {"exclude_authid": ["a", null]}, "a"]`, codec.ErrType, "Options.exclude_authid"},
		{`[16, 1, {"exclude_authid": 5}, "a"]`, codec.ErrType, "Options.exclude_authid"},
		{`[1, "r", {"authextra": []}]`, codec.ErrType, "Details.authextra"},
		{`[1, "r", {"authextra": {"a": [}}]`, codec.ErrSyntax, "Details.authextra"},
		{`[1, "r", {"roles": {"caller": []}}]`, codec.ErrType, "Details.roles.caller"},
		{`[1, "r", {"roles": {"caller": {"features": []}}}]`, codec.ErrType, "Details.roles.caller.features"},
		{`[1, "r", {"roles": {"callee": {"features": {"call_cancelling": "yes"}}}}]`, codec.ErrType, "Details.roles.callee.features.call_cancelling"},
		{`[1, "r", {"roles": {"callee": {"features": {"x_unknown": [}}}}]`, codec.ErrSyntax, "Details.roles.callee.features.x_unknown"},
		{`[1, "r", {"roles": {"x_role": [1,]}}]`, codec.ErrSyntax, "Details.roles"},
		{`[1, "r", {"x_unknown": [1,]}]`, codec.ErrSyntax, "Details.x_unknown"},
		{`[1, "r", {"x_unknown": "\ud800"}]`, codec.ErrUTF8, "Details.x_unknown"},
		{`[1, "r", {"x_\u00e9": [1,]}]`, codec.ErrSyntax, "Details.x_é"},
		{`[35, 1, {}, 5]`, codec.ErrCount, ""},
		{`[35]`, codec.ErrCount, ""},
		{`[16, 1, {}, "a", [], {}, 1]`, codec.ErrCount, ""},
		{`[16, 1, {}, "a", [` + deep(63) + `]]`, codec.ErrDepth, "Arguments"},
		{`[16, 1, {}, "a", [` + deep(62) + `]]`, nil, ""},
		{`[16, 1, {}, "a", [], {"a": [` + deep(61) + `]}]`, nil, ""},
		{`[16, 1, {}, "a", [], {"a": [` + deep(62) + `]}]`, codec.ErrDepth, "ArgumentsKw"},
		{`[16, 1, {"x": [` + deep(61) + `]}, "a"]`, nil, ""},
		{`[16, 1, {"x": [` + deep(62) + `]}, "a"]`, codec.ErrDepth, "Options.x"},
		{`[16, 1, {}, "a", [` + strings.Repeat("[", 20000), codec.ErrDepth, "Arguments"},
		{`[16, 1, {}, "a", [1e-400, 0e99999, -0, -0.0, 1E5, 1e+5, 1.5e-5, 9007199254740993, -9223372036854775809, 18446744073709551616]]`, nil, ""},
		{"\t[ 16 ,\r\n1 , { \"acknowledge\" : true } , \"a\" ] \n", nil, ""},
	}
	for _, tt := range tests {
		var m codec.Message
		err := Decode(&m, []byte(tt.in))
		name := tt.in
		if len(name) > 80 {
			name = name[:80] + "..."
		}
		if tt.err == nil {
			if err != nil {
				t.Errorf("Decode(%q) = %v, want success", name, err)
			}
			continue
		}
		codectest.CheckBad(t, err, codectest.BadCase{Name: name, Err: tt.err, Field: tt.field})
		var ce *codec.Error
		if errors.As(err, &ce) && (ce.Offset < 0 || ce.Offset > len(tt.in)) {
			t.Errorf("Decode(%q): offset %d outside input", name, ce.Offset)
		}
	}
}

// TestErrorDetails pins the parts of *codec.Error a router logs.
func TestErrorDetails(t *testing.T) {
	var m codec.Message
	err := Decode(&m, []byte(`[1, "r", {"roles": {"caller": {"features": {"call_canceling": 1}}}}]`))
	var ce *codec.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if ce.Type != codec.HELLO || ce.Field != "Details.roles.caller.features.call_canceling" || !errors.Is(err, codec.ErrType) {
		t.Errorf("err = %+v", ce)
	}
	if want := strings.Index(`[1, "r", {"roles": {"caller": {"features": {"call_canceling": 1}}}}]`, "1}"); ce.Offset != want {
		t.Errorf("Offset = %d, want %d", ce.Offset, want)
	}
	err = Decode(&m, []byte(`[16, 1, {}, "a", ["x", "\ud800"]]`))
	if !errors.As(err, &ce) || ce.Offset != 24 || ce.Field != "Arguments" || ce.Type != codec.PUBLISH {
		t.Errorf("err = %+v", err)
	}
}

// TestMaxDepth checks a per-message limit: the message list is depth 1.
func TestMaxDepth(t *testing.T) {
	m := codec.Message{MaxDepth: 3}
	if err := Decode(&m, []byte(`[16, 1, {"x": [1]}, "a", [[1]], {"a": {}}]`)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	for _, in := range []string{
		`[16, 1, {"x": [[1]]}, "a"]`,
		`[16, 1, {}, "a", [[[1]]]]`,
		`[16, 1, {}, "a", [], {"a": {"b": {}}}]`,
		`[1, "r", {"roles": {"caller": {}}}]`,
	} {
		m := codec.Message{MaxDepth: 3}
		if err := Decode(&m, []byte(in)); !errors.Is(err, codec.ErrDepth) {
			t.Errorf("Decode(%s) = %v, want ErrDepth", in, err)
		}
	}
	m = codec.Message{MaxDepth: 1}
	if err := Decode(&m, []byte(`[17, 1, 2]`)); err != nil {
		t.Errorf("depth 1 flat message: %v", err)
	}
	if err := Decode(&m, []byte(`[16, 1, {}, "a"]`)); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("dict at depth 2 with MaxDepth 1: %v", err)
	}
}

// TestDecodeStrings checks views, unescaping into m.Buf, and that keys
// and values with escapes are recognised.
func TestDecodeStrings(t *testing.T) {
	in := []byte(`[16, 1, {"acknow\u006cedge": true, "exclude_authid": ["a\"b", "plain"], "ppt_scheme": "x\u00e9\ud834\udd1e\t", "x_\u0000": "\u0000AQID"}, "com.\u0041pp", ["\u0000AQID"]]`)
	var m codec.Message
	m.Buf = make([]byte, 0, 1)
	if err := Decode(&m, in); err != nil {
		t.Fatal(err)
	}
	if string(m.URI) != "com.App" {
		t.Errorf("URI = %q", m.URI)
	}
	if !m.Details.Acknowledge || !m.Details.Has(codec.KeyAcknowledge) {
		t.Errorf("escaped key not recognised")
	}
	if got := m.Details.ExcludeAuthID; len(got) != 2 || string(got[0]) != `a"b` || string(got[1]) != "plain" {
		t.Errorf("exclude_authid = %q", got)
	}
	if got := string(m.Details.Str[codec.KeyPPTScheme]); got != "xé𝄞\t" {
		t.Errorf("ppt_scheme = %q", got)
	}
	// "plain" must be a view into the input, not a copy.
	p := m.Details.ExcludeAuthID[1]
	if &p[0] != &in[bytes.Index(in, []byte("plain"))] {
		t.Errorf("unescaped-free string is not a view into the input")
	}
	// Views must not let an append overwrite the input or m.Buf.
	if cap(m.URI) != len(m.URI) || cap(p) != len(p) || cap(m.Args.Bytes) != len(m.Args.Bytes) {
		t.Errorf("views have spare capacity")
	}
	args, err := codec.ToList(m.Args)
	if err != nil || len(args) != 1 || !bytes.Equal(args[0].([]byte), []byte{1, 2, 3}) {
		t.Errorf("Args = %#v, %v", args, err)
	}
}

// TestDetailsSemantics covers null-as-absent, duplicate keys, single
// strings as lists and list reuse across decodes.
func TestDetailsSemantics(t *testing.T) {
	var m codec.Message
	must := func(in string) {
		t.Helper()
		if err := Decode(&m, []byte(in)); err != nil {
			t.Fatalf("Decode(%s): %v", in, err)
		}
	}
	must(`[16, 1, {"exclude": [1, 2, 3], "eligible_authrole": "admin", "acknowledge": true, "acknowledge": null}, "a"]`)
	if m.Details.Has(codec.KeyAcknowledge) {
		t.Errorf("acknowledge set to null last should be absent")
	}
	if got := m.Details.EligibleAuthRole; len(got) != 1 || string(got[0]) != "admin" {
		t.Errorf("single string list = %q", got)
	}
	must(`[16, 1, {"exclude": [7], "exclude": [8, 9]}, "a"]`)
	if got := m.Details.Exclude; len(got) != 2 || got[0] != 8 || got[1] != 9 {
		t.Errorf("duplicate list key: %v", got)
	}
	must(`[16, 1, {"ppt_scheme": "x", "ppt_scheme": null}, "a"]`)
	if m.Details.Has(codec.KeyPPTScheme) || m.Details.Str[codec.KeyPPTScheme] != nil {
		t.Errorf("string set to null last should be absent")
	}
	must(`[1, "r", {"roles": {"caller": {"features": {"call_canceling": true}}}, "roles": {"callee": null, "broker": {"features": null, "x": 1}}}]`)
	if m.Details.Roles != codec.RoleBroker || m.Details.Features != [codec.NumRoles]codec.Feature{} {
		t.Errorf("duplicate roles: %b %v", m.Details.Roles, m.Details.Features)
	}
	must(`[1, "r", {"roles": {"callee": {"features": {"call_cancelling": true, "progressive_call_results": null, "shared_registration": false, "x_new": {"a": [1]}}}}}]`)
	if m.Details.Features[codec.RoleIndex(codec.RoleCallee)] != codec.FeatureCallCanceling {
		t.Errorf("features = %v", m.Details.Features)
	}
	must(`[32, 1, {"match": "wildcard"}, "a..b"]`)
	if m.Details.Match != codec.MatchWildcard {
		t.Errorf("Match = %v", m.Details.Match)
	}
}

// TestAppendErrors: Append must fail cleanly and leave dst as it was.
func TestAppendErrors(t *testing.T) {
	dst := []byte("prefix")
	cases := []struct {
		m   codec.Message
		err error
	}{
		{codec.Message{Type: 7}, codec.ErrUnknownType},
		{codec.Message{Type: codec.PUBLISHED, Request: codec.MaxID + 1}, codec.ErrRange},
		{codec.Message{Type: codec.PUBLISH, URI: []byte("a\xff")}, codec.ErrUTF8},
		{codec.Message{Type: codec.EVENT, Details: func() (d codec.Details) { d.SetUint(codec.KeyPublisher, 1<<60); return }()}, codec.ErrRange},
		{codec.Message{Type: codec.PUBLISH, URI: []byte("a"), Details: func() (d codec.Details) {
			d.Exclude = []uint64{1, 1 << 60}
			d.Mark(codec.KeyExclude)
			return
		}()}, codec.ErrRange},
		{codec.Message{Type: codec.PUBLISH, URI: []byte("a"), Details: func() (d codec.Details) {
			d.ExcludeAuthID = [][]byte{[]byte("\xff")}
			d.Mark(codec.KeyExcludeAuthID)
			return
		}()}, codec.ErrUTF8},
		{codec.Message{Type: codec.HELLO, URI: []byte("r"), Details: func() (d codec.Details) { d.SetString(codec.KeyAuthID, []byte("\xc3")); return }()}, codec.ErrUTF8},
		{codec.Message{Type: codec.PUBLISH, URI: []byte("a"), Args: codec.Raw{Format: codec.Format(9), Bytes: []byte{1}}}, codec.ErrUnsupported},
	}
	for i, c := range cases {
		out, err := Append(dst, &c.m)
		if !errors.Is(err, c.err) {
			t.Errorf("case %d: err = %v, want %v", i, err, c.err)
		}
		var ce *codec.Error
		if !errors.As(err, &ce) {
			t.Errorf("case %d: %T is not *codec.Error", i, err)
		}
		if string(out) != "prefix" {
			t.Errorf("case %d: dst changed to %q", i, out)
		}
	}
	m := codec.Message{Type: codec.EVENT, Details: func() (d codec.Details) { d.SetUint(codec.KeyPublisher, 1<<60); return }()}
	_, err := Append(nil, &m)
	var ce *codec.Error
	if errors.As(err, &ce) && ce.Field != "Details.publisher" {
		t.Errorf("Field = %q, want Details.publisher", ce.Field)
	}
}
