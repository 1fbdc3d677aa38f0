package msgpack

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

// TestCases decodes every shared vector as the reference library encodes
// it (in each of its modes) and round-trips it (codectest.RoundTrip); the
// reference library must read our output as it read the input.
func TestCases(t *testing.T) {
	for _, mode := range refModes {
		for _, c := range codectest.Cases {
			t.Run(mode.name+"/"+c.Name, func(t *testing.T) {
				data := refEncode(t, c.Value, mode)
				assertSameRef(t, data, codectest.RoundTrip(t, Codec, data, c.Want))
			})
		}
	}
}

// assertSameRef checks that the reference library decodes a and b to equal
// values.
func assertSameRef(t *testing.T, a, b []byte) {
	t.Helper()
	va, err := reflib.MsgPackDecode(a)
	if err != nil {
		t.Fatalf("reference decode of input: %v", err)
	}
	vb, err := reflib.MsgPackDecode(b)
	if err != nil {
		t.Fatalf("reference decode of output %x: %v", b, err)
	}
	if !codectest.EqualValues(va, vb) {
		t.Errorf("reference library reads\n%#v\nfrom our output, want\n%#v", vb, va)
	}
}

func TestBadCases(t *testing.T) {
	for _, mode := range refModes {
		for _, c := range codectest.BadCases {
			t.Run(mode.name+"/"+c.Name, func(t *testing.T) {
				data := refEncode(t, c.Value, mode)
				var m codec.Message
				codectest.CheckBad(t, Decode(&m, data), c)
			})
		}
	}
}

// TestTruncations cuts every valid case at every byte: each prefix must be
// reported as truncated, never accepted and never a panic.
func TestTruncations(t *testing.T) {
	var m codec.Message
	for _, mode := range refModes {
		for _, c := range codectest.Cases {
			data := refEncode(t, c.Value, mode)
			for n := 0; n < len(data); n++ {
				err := Decode(&m, data[:n:n])
				if !errors.Is(err, codec.ErrTruncated) {
					t.Errorf("%s/%s: Decode(%x) = %v, want ErrTruncated", mode.name, c.Name, data[:n], err)
				}
				var ce *codec.Error
				if err != nil && !errors.As(err, &ce) {
					t.Errorf("%s: error %T is not *codec.Error", c.Name, err)
				}
			}
		}
	}
}

// badCase is a hand-encoded input Decode must reject.
type badCase struct {
	name  string
	hex   string
	err   error
	field string // substring of Error.Field; "" means none (or "Type")
	off   int    // expected Error.Offset; -1 means not checked
}

// Message prefixes used below: PUBLISH, Request 1, empty Options, Topic "a".
const (
	pubHead = "94 10 01 80"          // [16, 1, {}, + topic to follow
	pub5    = "95 10 01 80 a1 61"    // [16, 1, {}, "a", + Arguments to follow
	pub6    = "96 10 01 80 a1 61 90" // [16, 1, {}, "a", [], + ArgumentsKw to follow
)

var msgpackBad = []badCase{
	{"empty input", "", codec.ErrTruncated, "", 0},
	{"never-used code at top", "c1", codec.ErrSyntax, "", 0},
	{"never-used code as type", "92 c1 01", codec.ErrSyntax, "Type", 1},
	{"never-used code in args", pub5 + "91 c1", codec.ErrSyntax, "Arguments", 7},
	{"never-used code as key", pub6 + "81 c1 01", codec.ErrSyntax, "ArgumentsKw", 8},
	{"never-used code as option value", "94 10 01 81 a1 78 c1 a1 61", codec.ErrSyntax, "Options.x", 6},
	{"string at top", "a1 61", codec.ErrType, "", 0},
	{"nil at top", "c0", codec.ErrType, "", 0},
	{"map at top", "80", codec.ErrType, "", 0},
	{"array32 claims 4 billion", "dd ffffffff 10", codec.ErrTruncated, "", 0},
	{"array16 claims more than input", "dc 0006 10 01 80 a1 61", codec.ErrTruncated, "", 0},
	{"fixarray claims more than input", "96 10 01 80 a1 61", codec.ErrTruncated, "", 0},
	{"args array32 claims 4 billion", pub5 + "dd ffffffff", codec.ErrTruncated, "Arguments", 6},
	{"kwargs map32 claims 4 billion", pub6 + "df ffffffff", codec.ErrTruncated, "ArgumentsKw", 7},
	{"options map32 claims 4 billion", "94 10 01 df ffffffff", codec.ErrTruncated, "Options", 3},
	{"map16 pairs need two bytes each", pub6 + "de 0002 a1 61 01", codec.ErrTruncated, "ArgumentsKw", 7},
	{"str32 claims 4 GiB", pubHead + "db ffffffff 61", codec.ErrTruncated, "Topic", 4},
	{"bin32 claims 4 GiB", pub5 + "91 c6 ffffffff 00", codec.ErrTruncated, "Arguments", 7},
	{"ext32 claims 4 GiB", pub5 + "91 c9 ffffffff 01 00", codec.ErrTruncated, "Arguments", 7},
	{"fixext16 short", pub5 + "91 d8 01 00", codec.ErrTruncated, "Arguments", 7},
	{"uint64 short", pub5 + "91 cf 00", codec.ErrTruncated, "Arguments", 7},
	{"float64 id", "94 10 cb 3ff0000000000000 80 a1 61", codec.ErrType, "Request", 2},
	{"float32 id", "94 10 ca 3f800000 80 a1 61", codec.ErrType, "Request", 2},
	{"float type", "94 cb 4030000000000000 01 80 a1 61", codec.ErrType, "Type", 1},
	{"negative type", "94 ff 01 80 a1 61", codec.ErrUnknownType, "Type", 1},
	{"huge type", "94 cf 0000000100000010 01 80 a1 61", codec.ErrUnknownType, "Type", 1},
	{"type 1023", "92 cd 03ff 01", codec.ErrUnknownType, "Type", 1},
	{"id 2^53+1 as uint64", "94 10 cf 0020000000000001 80 a1 61", codec.ErrRange, "Request", 2},
	{"id 2^53+1 as int64", "94 10 d3 0020000000000001 80 a1 61", codec.ErrRange, "Request", 2},
	{"id -1 as int8", "94 10 d0 ff 80 a1 61", codec.ErrRange, "Request", 2},
	{"id min int64", "94 10 d3 8000000000000000 80 a1 61", codec.ErrRange, "Request", 2},
	{"id max uint64", "94 10 cf ffffffffffffffff 80 a1 61", codec.ErrRange, "Request", 2},
	{"id nil", "94 10 c0 80 a1 61", codec.ErrType, "Request", 2},
	{"id bin", "93 11 01 c4 01 02", codec.ErrType, "Publication", 3},
	{"error type 65536", "95 08 ce 00010000 01 80 a1 65", codec.ErrRange, "REQUEST.Type", 2},
	{"error type negative", "95 08 ff 01 80 a1 65", codec.ErrRange, "REQUEST.Type", 2},
	{"error type float", "95 08 cb 4050000000000000 01 80 a1 65", codec.ErrType, "REQUEST.Type", 2},
	{"topic is bin", pubHead + "c4 01 61", codec.ErrType, "Topic", 4},
	{"topic invalid utf8", pubHead + "a2 c3 28", codec.ErrUTF8, "Topic", 5},
	{"topic surrogate", pubHead + "a3 ed a0 80", codec.ErrUTF8, "Topic", 5},
	{"topic overlong", pubHead + "a2 c0 af", codec.ErrUTF8, "Topic", 5},
	{"args string invalid utf8", pub5 + "91 a1 ff", codec.ErrUTF8, "Arguments", 8},
	{"args str8 invalid utf8", pub5 + "91 d9 01 80", codec.ErrUTF8, "Arguments", 9},
	{"kwargs key invalid utf8", pub6 + "81 a1 ff 01", codec.ErrUTF8, "ArgumentsKw", 9},
	{"kwargs int key", pub6 + "81 01 01", codec.ErrKey, "ArgumentsKw", 8},
	{"kwargs bin key", pub6 + "81 c4 01 61 01", codec.ErrKey, "ArgumentsKw", 8},
	{"kwargs nil key", pub6 + "81 c0 01", codec.ErrKey, "ArgumentsKw", 8},
	{"nested int key", pub5 + "91 81 01 01", codec.ErrKey, "Arguments", 8},
	{"options int key", "94 10 01 81 01 01 a1 61", codec.ErrKey, "Options", 4},
	{"options key invalid utf8", "94 10 01 81 a1 ff 01 a1 61", codec.ErrUTF8, "Options", 5},
	{"option string invalid utf8", "93 01 a1 72 81 a6 617574686964 a1 ff", codec.ErrUTF8, "Details.authid", 13},
	{"unknown option invalid", "94 10 01 81 a1 78 91 a1 ff a1 61", codec.ErrUTF8, "Options.x", 8},
	{"unknown option bad key", "94 10 01 81 a1 78 81 01 01 a1 61", codec.ErrKey, "Options.x", 7},
	{"string list with nil", "94 10 01 81 ae 6578636c7564655f617574686964 91 c0 a1 61", codec.ErrType, "Options.exclude_authid", 20},
	{"id list float", "94 10 01 81 a7 6578636c756465 91 cb 3ff0000000000000 a1 61", codec.ErrType, "Options.exclude", 13},
	{"id list negative", "94 10 01 81 a7 6578636c756465 91 ff a1 61", codec.ErrRange, "Options.exclude", 13},
	{"id list is dict", "94 10 01 81 a7 6578636c756465 80 a1 61", codec.ErrType, "Options.exclude", 12},
	{"timeout float", "94 30 01 81 a7 74696d656f7574 cb 3ff0000000000000 a1 61", codec.ErrType, "Options.timeout", 12},
	{"timeout negative int64", "94 30 01 81 a7 74696d656f7574 d3 ffffffffffffffff a1 61", codec.ErrRange, "Options.timeout", 12},
	{"publisher too big", "94 24 01 02 81 a9 7075626c6973686572 cf 0020000000000001", codec.ErrRange, "Details.publisher", 15},
	{"authextra not dict", "93 01 a1 72 81 a9 6175746865787472 61 90", codec.ErrType, "Details.authextra", 15},
	{"role not dict", "93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 90", codec.ErrType, "Details.roles.caller", 19},
	{"features not dict", "93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 81 a8 6665617475726573 01", codec.ErrType, "Details.roles.caller.features", 29},
	{"feature is string", "93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 81 a8 6665617475726573 81 ac 63616c6c5f74696d656f7574 a1 31", codec.ErrType, "Details.roles.caller.features.call_timeout", 43},
	{"role key not string", "93 01 a1 72 81 a5 726f6c6573 81 01 80", codec.ErrKey, "Details.roles", 12},
	{"trailing byte", "93 11 01 02 00", codec.ErrTrailing, "", 4},
	{"trailing after options", "94 10 01 80 a1 61 c0", codec.ErrTrailing, "", 6},
	{"two messages", "92 23 01 92 23 01", codec.ErrTrailing, "", 3},
	{"unsubscribed too few", "91 23", codec.ErrCount, "", 0},
	{"unsubscribed too many", "94 23 01 80 80", codec.ErrCount, "", 0},
}

func TestMsgPackBad(t *testing.T) {
	var m codec.Message
	for _, c := range msgpackBad {
		t.Run(c.name, func(t *testing.T) {
			data := unhex(t, c.hex)
			err := Decode(&m, data)
			codectest.CheckBad(t, err, codectest.BadCase{Name: c.hex, Err: c.err, Field: c.field})
			var ce *codec.Error
			if !errors.As(err, &ce) {
				return
			}
			if c.field == "" && ce.Field != "" && ce.Field != "Type" {
				t.Errorf("Field = %q, want none (%v)", ce.Field, err)
			}
			if c.off >= 0 && ce.Offset != c.off {
				t.Errorf("Offset = %d, want %d (%v)", ce.Offset, c.off, err)
			}
			if ce.Error() == "" {
				t.Errorf("empty error text")
			}
		})
	}
}

// TestHugeHeaderFailsFast checks that a length header claiming billions of
// elements is refused before any work proportional to it: the only
// allocation is the error itself.
func TestHugeHeaderFailsFast(t *testing.T) {
	var m codec.Message
	for _, h := range []string{"dd ffffffff", pub5 + "dd ffffffff", pub6 + "df ffffffff", pubHead + "db ffffffff", pub5 + "91 c6 ffffffff"} {
		data := unhex(t, h)
		allocs := testing.AllocsPerRun(100, func() {
			if err := Decode(&m, data); !errors.Is(err, codec.ErrTruncated) {
				t.Fatalf("Decode(%x) = %v, want ErrTruncated", data, err)
			}
		})
		if allocs > 1 {
			t.Errorf("Decode(%x): %v allocations, want at most the error", data, allocs)
		}
	}
}

// TestIDEncodings accepts an ID in every integer encoding, up to 2^53.
func TestIDEncodings(t *testing.T) {
	ids := []struct {
		hex  string
		want uint64
	}{
		{"00", 0}, {"7f", 127}, {"cc ff", 255}, {"cd ffff", 65535}, {"ce ffffffff", math.MaxUint32},
		{"cf 0020000000000000", 1 << 53}, {"cf 0000000000000005", 5},
		{"d0 7f", 127}, {"d0 00", 0}, {"d1 7fff", 32767}, {"d2 7fffffff", math.MaxInt32},
		{"d3 0020000000000000", 1 << 53}, {"d3 0000000000000001", 1},
	}
	var m codec.Message
	for _, id := range ids {
		data := unhex(t, "93 11 01"+id.hex)
		if err := Decode(&m, data); err != nil {
			t.Errorf("Decode(%x): %v", data, err)
			continue
		}
		if m.ID != id.want || m.Request != 1 {
			t.Errorf("Decode(%x): ID %d, want %d", data, m.ID, id.want)
		}
	}
}

// TestTypeEncodings accepts the message type in any integer encoding.
func TestTypeEncodings(t *testing.T) {
	for _, h := range []string{"11", "cc 11", "cd 0011", "ce 00000011", "cf 0000000000000011", "d0 11", "d1 0011", "d2 00000011", "d3 0000000000000011"} {
		var m codec.Message
		data := unhex(t, "93"+h+"01 02")
		if err := Decode(&m, data); err != nil || m.Type != codec.PUBLISHED || m.Request != 1 || m.ID != 2 {
			t.Errorf("Decode(%x) = %v, %+v", data, err, m)
		}
	}
}

// TestExtPassesDecode: ext values are opaque but valid inside payloads and
// unknown option values; only Walk refuses them.
func TestExtPassesDecode(t *testing.T) {
	exts := []string{"d4 01 00", "d5 01 0000", "d6 ff 00000000", "d7 01 0000000000000000",
		"d8 01 00000000000000000000000000000000", "c7 00 05", "c7 02 05 0102", "c8 0001 05 01", "c9 00000001 05 01"}
	for _, e := range exts {
		data := unhex(t, "96 10 01 81 a1 78"+e+"a1 61 91"+e+"81 a1 6b"+e)
		var m codec.Message
		if err := Decode(&m, data); err != nil {
			t.Errorf("Decode(%x): %v", data, err)
			continue
		}
		out, err := Append(nil, &m)
		if err != nil || !bytes.Equal(out, data) {
			t.Errorf("Append = %x, %v; want verbatim %x", out, err, data)
		}
		if err := Walk(m.Args.Bytes, codectest.Discard{}, 0); !errors.Is(err, codec.ErrUnsupported) {
			t.Errorf("Walk(%x) = %v, want ErrUnsupported", m.Args.Bytes, err)
		}
	}
}

func TestDepth(t *testing.T) {
	tests := []struct {
		max int
		hex string
		err error
	}{
		{2, pub5 + "91 01", nil},
		{2, pub5 + "91 91 01", codec.ErrDepth},
		{3, pub5 + "91 91 01", nil},
		{3, pub5 + "91 91 91 01", codec.ErrDepth},
		{3, pub6 + "81 a1 61 81 a1 62 01", nil},
		{3, pub6 + "81 a1 61 81 a1 62 91 01", codec.ErrDepth},
		{3, pub6 + "81 a1 61 91 01", nil},
		{1, "94 10 01 80 a1 61", codec.ErrDepth},
		{2, "94 10 01 81 a7 6578636c756465 91 01 a1 61", codec.ErrDepth},
		{3, "94 10 01 81 a7 6578636c756465 91 01 a1 61", nil},
		{2, "94 10 01 81 a1 78 80 a1 61", codec.ErrDepth},
		{3, "93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 80", codec.ErrDepth},
		{4, "93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 80", nil},
	}
	for _, tt := range tests {
		m := codec.Message{MaxDepth: tt.max}
		data := unhex(t, tt.hex)
		err := Decode(&m, data)
		if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("MaxDepth %d: Decode(%x) = %v, want %v", tt.max, data, err, tt.err)
		}
	}
}

// TestOptionsEdgeCases covers null, duplicates, a single string for a
// string list, the call_cancelling spelling and ignored role entries.
func TestOptionsEdgeCases(t *testing.T) {
	type dict = map[string]any
	var m codec.Message
	decode := func(v any) {
		t.Helper()
		data := refEncode(t, v, refModes[1])
		if err := Decode(&m, data); err != nil {
			t.Fatalf("Decode(%x): %v", data, err)
		}
	}

	// Duplicate keys: the last one wins, and a later null clears.
	dup := unhex(t, "94 10 01 84 a7 6578636c756465 92 01 02 a7 6578636c756465 91 03 a7 74696d656f7574 05 a7 74696d656f7574 c0 a1 61")
	if err := Decode(&m, dup); err != nil {
		t.Fatal(err)
	}
	if got := m.Details.Exclude; len(got) != 1 || got[0] != 3 || !m.Details.Has(codec.KeyExclude) {
		t.Errorf("duplicate exclude = %v", got)
	}
	if m.Details.Has(codec.KeyTimeout) || m.Details.Timeout != 0 {
		t.Errorf("timeout then null: present=%v value=%d", m.Details.Has(codec.KeyTimeout), m.Details.Timeout)
	}

	// Every kind of key, set and then repeated as null, ends up absent
	// with nothing of its value left behind.
	w := NewWriter()
	w.Reset(nil)
	w.BeginArray(4)
	w.WriteUint(16)
	w.WriteUint(1)
	w.BeginMap(14)
	for _, kv := range []struct {
		key   string
		value func()
	}{
		{"authid", func() { w.WriteString([]byte("x")) }},
		{"exclude_authid", func() { w.BeginArray(1); w.WriteString([]byte("a")); w.End() }},
		{"exclude", func() { w.BeginArray(1); w.WriteUint(1); w.End() }},
		{"roles", func() { w.BeginMap(1); w.WriteString([]byte("caller")); w.BeginMap(0); w.End(); w.End() }},
		{"authextra", func() { w.BeginMap(0); w.End() }},
		{"acknowledge", func() { w.WriteBool(true) }},
		{"timeout", func() { w.WriteUint(5) }},
	} {
		w.WriteString([]byte(kv.key))
		kv.value()
		w.WriteString([]byte(kv.key))
		w.WriteNil()
	}
	w.End()
	w.WriteString([]byte("t"))
	w.End()
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	if err := Decode(&m, w.Bytes()); err != nil {
		t.Fatal(err)
	}
	d := &m.Details
	if d.Set != 0 || d.Str[codec.KeyAuthID] != nil || len(d.ExcludeAuthID) != 0 || len(d.Exclude) != 0 ||
		d.Roles != 0 || d.AuthExtra.Bytes != nil || d.Acknowledge || d.Timeout != 0 {
		t.Errorf("keys repeated as null left values behind: %+v", d)
	}

	decode([]any{16, 1, dict{"exclude_authid": "joe", "eligible_authrole": []any{"a", "b"}}, "t"})
	if l := m.Details.ExcludeAuthID; len(l) != 1 || string(l[0]) != "joe" {
		t.Errorf("single string list = %q", l)
	}

	decode([]any{1, "realm", dict{"roles": dict{
		"callee":  dict{"features": dict{"call_cancelling": true, "progressive_call_results": nil, "x": "y"}, "other": 1},
		"caller":  nil,
		"unknown": []any{1},
		"dealer":  dict{"features": nil},
	}}})
	if m.Details.Roles != codec.RoleCallee|codec.RoleDealer {
		t.Errorf("Roles = %b", m.Details.Roles)
	}
	if f := m.Details.Features[codec.RoleIndex(codec.RoleCallee)]; f != codec.FeatureCallCanceling {
		t.Errorf("callee features = %b", f)
	}

	// Repeated keys replace earlier ones at every level of "roles".
	rolesKey := "a5 726f6c6573"
	caller := "a6 63616c6c6572"
	features := "a8 6665617475726573"
	timeout := "ac 63616c6c5f74696d656f7574"
	canceling := "ae 63616c6c5f63616e63656c696e67"
	callee := "a6 63616c6c6565"
	data := unhex(t, "93 01 a1 72 82"+
		rolesKey+"81"+callee+"81"+features+"81"+timeout+"c3"+
		rolesKey+"82"+caller+"81"+features+"81"+timeout+"c3"+caller+"81"+features+"81"+canceling+"c3")
	if err := Decode(&m, data); err != nil {
		t.Fatal(err)
	}
	if m.Details.Roles != codec.RoleCaller || m.Details.Features[codec.RoleIndex(codec.RoleCallee)] != 0 ||
		m.Details.Features[codec.RoleIndex(codec.RoleCaller)] != codec.FeatureCallCanceling {
		t.Errorf("repeated roles: %b %v", m.Details.Roles, m.Details.Features)
	}

	// Options decoding must not keep state across messages.
	decode([]any{16, 2, dict{}, "t"})
	if m.Details.Set != 0 || m.Details.Roles != 0 || len(m.Details.Exclude) != 0 {
		t.Errorf("Details not reset: %+v", m.Details)
	}

	// Unknown match strings are kept raw and parsed as invalid.
	decode([]any{32, 1, dict{"match": "regex"}, "t"})
	if m.Details.Match != codec.MatchInvalid || string(m.Details.Str[codec.KeyMatch]) != "regex" {
		t.Errorf("match = %v %q", m.Details.Match, m.Details.Str[codec.KeyMatch])
	}
}

// TestViews checks that decoded strings and payloads are views into the
// input, not copies.
func TestViews(t *testing.T) {
	data := refEncode(t, codectest.Cases[9].Value, refModes[1]) // PUBLISH spec
	var m codec.Message
	if err := Decode(&m, data); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string][]byte{"URI": m.URI, "Dict": m.Dict.Bytes, "Args": m.Args.Bytes, "Kwargs": m.Kwargs.Bytes} {
		if len(v) == 0 || &v[0] == nil || !within(v, data) {
			t.Errorf("%s is not a view into the input", name)
		}
	}
	if m.Args.Format != codec.MsgPack || m.Kwargs.Format != codec.MsgPack || m.Dict.Format != codec.MsgPack {
		t.Errorf("Raw formats = %v %v %v", m.Dict.Format, m.Args.Format, m.Kwargs.Format)
	}
}

func within(v, data []byte) bool {
	for i := range data {
		if &data[i] == &v[0] {
			return i+len(v) <= len(data)
		}
	}
	return false
}

// TestJSUndefinedOption: a known option encoded as JavaScript's undefined
// (fixext1 type 0, as wampy's MessagePack library writes it) is absent,
// like null; elsewhere the extension value is kept verbatim.
func TestJSUndefinedOption(t *testing.T) {
	// [32, 1, {"match": undefined, "get_retained": undefined}, "a.b"]
	msg := []byte{0x94, 32, 1, 0x82,
		0xa5, 'm', 'a', 't', 'c', 'h', 0xd4, 0, 0,
		0xac, 'g', 'e', 't', '_', 'r', 'e', 't', 'a', 'i', 'n', 'e', 'd', 0xd4, 0, 0,
		0xa3, 'a', '.', 'b'}
	var m codec.Message
	if err := Decode(&m, msg); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if m.Details.Set != 0 || m.Details.Match != codec.MatchExact || string(m.URI) != "a.b" {
		t.Fatalf("undefined options not absent: set=%b match=%v uri=%q", m.Details.Set, m.Details.Match, m.URI)
	}
	// Another extension value for a known key is still a type error.
	bad := append([]byte{}, msg...)
	bad[12] = 5 // fixext1 data 5
	if err := Decode(&m, bad); err == nil {
		t.Fatal("extension value other than undefined accepted for a known key")
	}
}
