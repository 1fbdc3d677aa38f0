package cbor

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

func TestRegistered(t *testing.T) {
	if c := codec.ByFormat(codec.CBOR); c == nil || c.Format() != codec.CBOR {
		t.Fatalf("ByFormat(CBOR) = %v", c)
	}
	if _, ok := codec.ByFormat(codec.CBOR).NewWriter().(*Writer); !ok {
		t.Fatal("NewWriter does not return *Writer")
	}
}

// TestCases decodes every shared case as encoded by the reference library
// and round-trips it (codectest.RoundTrip); the reference library must
// read the re-encoding as the same value.
func TestCases(t *testing.T) {
	for _, c := range codectest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			in := mustRef(t, c.Value)
			out := codectest.RoundTrip(t, Codec, in, c.Want)
			var a, b any
			if err := reflib.CBORDec.Unmarshal(in, &a); err != nil {
				t.Fatalf("reference decode of input: %v", err)
			}
			if err := reflib.CBORDec.Unmarshal(out, &b); err != nil {
				t.Fatalf("reference decode of Append output %x: %v", out, err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("reference reads Append output as\n%#v\nwant\n%#v", b, a)
			}
		})
	}
}

func TestBadCases(t *testing.T) {
	for _, c := range codectest.BadCases {
		t.Run(c.Name, func(t *testing.T) {
			in := mustRef(t, c.Value)
			var m codec.Message
			codectest.CheckBad(t, Decode(&m, in), c)
		})
	}
}

// TestTruncations cuts every valid case (reference and variant encodings)
// at every length: each prefix must be an error, never a panic or success.
func TestTruncations(t *testing.T) {
	g := gen{r: newRand(1)}
	var m codec.Message
	for _, c := range codectest.Cases {
		inputs := [][]byte{mustRef(t, c.Value)}
		for i := 0; i < 5; i++ {
			inputs = append(inputs, g.variant(nil, c.Value))
		}
		for _, in := range inputs {
			if err := Decode(&m, in); err != nil {
				t.Fatalf("%s: Decode(%x): %v", c.Name, in, err)
			}
			for n := 0; n < len(in); n++ {
				cut := bytes.Clone(in[:n])
				if err := Decode(&m, cut); err == nil {
					t.Errorf("%s: Decode of %d/%d bytes %x succeeded", c.Name, n, len(in), cut)
				}
				if err := Walk(cut, codectest.Discard{}, 0); err == nil {
					t.Errorf("%s: Walk of %d/%d bytes %x succeeded", c.Name, n, len(in), cut)
				}
			}
		}
	}
}

// TestDecodeVariants decodes every case in non-preferred, indefinite and
// tagged encodings: the message must come out the same.
func TestDecodeVariants(t *testing.T) {
	g := gen{r: newRand(2)}
	for _, c := range codectest.Cases {
		for i := 0; i < 50; i++ {
			in := g.variant(nil, c.Value)
			var m codec.Message
			if err := Decode(&m, in); err != nil {
				t.Fatalf("%s: Decode(%x): %v", c.Name, in, err)
			}
			codectest.Check(t, &m, c.Want)
			if t.Failed() {
				t.Fatalf("%s: input %x", c.Name, in)
			}
		}
	}
}

// TestDecodeCBOR covers what only CBOR can express or get wrong.
func TestDecodeCBOR(t *testing.T) {
	type want struct {
		uri     string
		request uint64
		id      uint64
		args    any
		check   func(t *testing.T, m *codec.Message)
	}
	tests := []struct {
		name string
		hex  string
		want want
	}{
		{"self-describe tag", "d9d9f7 84 10 01 a0 61 61", want{uri: "a", request: 1}},
		{"tag around id", "84 10 c6 1a 00 0f 42 40 a0 61 61", want{uri: "a", request: 1000000}},
		{"non-preferred id", "84 10 1b 0000000000000005 a0 61 61", want{uri: "a", request: 5}},
		{"id max", "84 10 1b 0020000000000000 a0 61 61", want{uri: "a", request: codec.MaxID}},
		{"non-preferred type and count", "98 04 18 10 01 a0 61 61", want{uri: "a", request: 1}},
		{"indefinite message", "9f 10 01 a0 61 61 ff", want{uri: "a", request: 1}},
		{"indefinite message with payload", "9f 10 01 a0 61 61 9f 01 ff bf 61 6b f5 ff ff", want{uri: "a", request: 1, args: []any{int64(1)}}},
		{"indefinite uri", "84 10 01 a0 7f 63 636f6d 60 62 2e61 ff", want{uri: "com.a", request: 1}},
		{"empty indefinite uri", "84 10 01 a0 7f ff", want{uri: "", request: 1}},
		{"indefinite options key", "84 10 01 a1 7f 65 61636b6e6f 66 776c65646765 ff f5 61 61", want{uri: "a", request: 1, check: func(t *testing.T, m *codec.Message) {
			if !m.Details.Bool(codec.KeyAcknowledge, false) {
				t.Error("acknowledge not decoded from an indefinite key")
			}
		}}},
		{"indefinite string option", "84 18 20 01 a1 65 6d61746368 7f 63 707265 63 666978 ff 61 61", want{uri: "a", request: 1, check: func(t *testing.T, m *codec.Message) {
			if m.Details.Match != codec.MatchPrefix || string(m.Details.Str[codec.KeyMatch]) != "prefix" {
				t.Errorf("match = %v %q", m.Details.Match, m.Details.Str[codec.KeyMatch])
			}
		}}},
		{"indefinite options dict and list", "84 10 01 bf 67 6578636c756465 9f 01 02 ff ff 61 61", want{uri: "a", request: 1, check: func(t *testing.T, m *codec.Message) {
			if !reflect.DeepEqual(m.Details.Exclude, []uint64{1, 2}) {
				t.Errorf("exclude = %v", m.Details.Exclude)
			}
			if !bytes.Equal(m.Dict.Bytes, unhex(t, "bf 67 6578636c756465 9f 01 02 ff ff")) {
				t.Errorf("Dict view = %x", m.Dict.Bytes)
			}
		}}},
		{"undefined option is absent", "84 10 01 a1 6b 61636b6e6f776c65646765 f7 61 61", want{uri: "a", request: 1, check: func(t *testing.T, m *codec.Message) {
			if m.Details.Set != 0 {
				t.Errorf("Set = %b", m.Details.Set)
			}
		}}},
		{"half float in payload", "85 10 01 a0 61 61 83 f9 3c00 fa 3fc00000 f9 0001", want{uri: "a", request: 1, args: []any{1.0, 1.5, 5.960464477539063e-08}}},
		{"bignum tag is bytes", "85 10 01 a0 61 61 81 c2 42 0100", want{uri: "a", request: 1, args: []any{[]byte{1, 0}}}},
		{"negative below MinInt64 validates", "85 10 01 a0 61 61 81 3b ffffffffffffffff", want{uri: "a", request: 1, check: func(t *testing.T, m *codec.Message) {
			if _, err := codec.ToGo(m.Args); !errors.Is(err, codec.ErrUnsupported) {
				t.Errorf("ToGo: %v, want ErrUnsupported", err)
			}
		}}},
		{"null feature is absent", "83 01 61 72 a1 65 726f6c6573 a1 66 63616c6c6572 a1 68 6665617475726573 a1 6e 63616c6c5f63616e63656c696e67 f6", want{uri: "r", check: func(t *testing.T, m *codec.Message) {
			if m.Details.Roles != codec.RoleCaller || m.Details.Features[2] != 0 {
				t.Errorf("roles %b features %v", m.Details.Roles, m.Details.Features)
			}
		}}},
		{"duplicate list key keeps the last", "84 10 01 a2 67 6578636c756465 82 01 02 67 6578636c756465 81 03 61 61", want{uri: "a", request: 1, check: func(t *testing.T, m *codec.Message) {
			if !reflect.DeepEqual(m.Details.Exclude, []uint64{3}) {
				t.Errorf("exclude = %v", m.Details.Exclude)
			}
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.hex)
			var m codec.Message
			if err := Decode(&m, in); err != nil {
				t.Fatalf("Decode(%x): %v", in, err)
			}
			if string(m.URI) != tc.want.uri || m.Request != tc.want.request || m.ID != tc.want.id {
				t.Errorf("URI/Request/ID = %q/%d/%d, want %q/%d/%d", m.URI, m.Request, m.ID, tc.want.uri, tc.want.request, tc.want.id)
			}
			if tc.want.args != nil {
				got, err := codec.ToGo(m.Args)
				if err != nil || !codectest.StrictEqual(got, tc.want.args) {
					t.Errorf("Args = %#v (%v), want %#v", got, err, tc.want.args)
				}
			}
			if tc.want.check != nil {
				tc.want.check(t, &m)
			}
		})
	}
}

// TestDecodeBadCBOR checks the classification of CBOR-specific bad input,
// at message level and inside payloads.
func TestDecodeBadCBOR(t *testing.T) {
	// pub wraps a value as the Arguments list of a PUBLISH.
	const pub = "85 10 01 a0 61 61 81 "
	tests := []struct {
		name  string
		hex   string
		err   error
		field string
	}{
		{"empty input", "", codec.ErrTruncated, ""},
		{"reserved ai 28", "1c", codec.ErrSyntax, ""},
		{"reserved ai 30 as count", "9e", codec.ErrSyntax, ""},
		{"stray break", "ff", codec.ErrSyntax, ""},
		{"indefinite empty message", "9f ff", codec.ErrCount, ""},
		{"indefinite too few", "9f 10 01 a0 ff", codec.ErrCount, ""},
		{"indefinite too many", "9f 18 20 01 a0 61 61 80 ff", codec.ErrCount, ""},
		{"indefinite unterminated", "9f 18 20 01 a0 61 61", codec.ErrTruncated, ""},
		{"huge count", "9b ffffffffffffffff 10", codec.ErrTruncated, ""},
		{"trailing", "84 10 01 a0 61 61 00", codec.ErrTrailing, ""},
		{"type float", "84 f9 4c00 01 a0 61 61", codec.ErrType, "Type"},
		{"type negative", "84 2f 01 a0 61 61", codec.ErrUnknownType, "Type"},
		{"type huge", "84 1b ffffffffffffffff 01 a0 61 61", codec.ErrUnknownType, "Type"},
		{"id half float 1.0", "84 10 f9 3c00 a0 61 61", codec.ErrType, "Request"},
		{"id double 1.0", "84 10 fb 3ff0000000000000 a0 61 61", codec.ErrType, "Request"},
		{"id 2^53+1", "84 10 1b 0020000000000001 a0 61 61", codec.ErrRange, "Request"},
		{"id negative", "84 10 20 a0 61 61", codec.ErrRange, "Request"},
		{"id simple value", "84 10 e0 a0 61 61", codec.ErrSyntax, "Request"},
		{"id truncated head", "84 10 1a 0000", codec.ErrTruncated, "Request"},
		{"uri bytes", "84 10 01 a0 41 61", codec.ErrType, "Topic"},
		{"uri bad utf8", "84 10 01 a0 62 c328", codec.ErrUTF8, "Topic"},
		{"uri huge length", "84 10 01 a0 7b ffffffffffffffff", codec.ErrTruncated, "Topic"},
		{"uri chunk of bytes", "84 10 01 a0 7f 41 61 ff", codec.ErrSyntax, "Topic"},
		{"uri nested indefinite chunk", "84 10 01 a0 7f 7f ff ff", codec.ErrSyntax, "Topic"},
		{"uri code point split over chunks", "84 10 01 a0 7f 61 c3 61 a9 ff", codec.ErrUTF8, "Topic"},
		{"error type too big", "85 08 1a 00010000 01 a0 61 65", codec.ErrRange, "REQUEST.Type"},
		{"error type negative", "85 08 20 01 a0 61 65", codec.ErrRange, "REQUEST.Type"},
		{"options int key", "84 10 01 a1 01 02 61 61", codec.ErrKey, "Options"},
		{"options bytes key", "84 10 01 a1 41 61 02 61 61", codec.ErrKey, "Options"},
		{"options null key", "84 10 01 a1 f6 02 61 61", codec.ErrKey, "Options"},
		{"options huge map", "84 10 01 bb ffffffffffffffff", codec.ErrTruncated, "Options"},
		{"options break as value", "84 10 01 bf 61 78 ff", codec.ErrSyntax, "Options.x"},
		{"options bad utf8 in unknown key value", "84 10 01 a1 61 78 61 ff 61 61", codec.ErrUTF8, "Options.x"},
		{"options simple value under unknown key", "84 10 01 a1 61 78 f0 61 61", codec.ErrSyntax, "Options.x"},
		{"acknowledge simple value", "84 10 01 a1 6b 61636b6e6f776c65646765 e0 61 61", codec.ErrSyntax, "Options.acknowledge"},
		{"acknowledge float", "84 10 01 a1 6b 61636b6e6f776c65646765 f9 3c00 61 61", codec.ErrType, "Options.acknowledge"},
		{"timeout float", "84 18 30 01 a1 67 74696d656f7574 f9 3c00 61 61", codec.ErrType, "Options.timeout"},
		{"exclude float id", "84 10 01 a1 67 6578636c756465 81 f9 3c00 61 61", codec.ErrType, "Options.exclude"},
		{"exclude huge list", "84 10 01 a1 67 6578636c756465 9b ffffffffffffffff", codec.ErrTruncated, "Options.exclude"},
		{"authid list bad utf8", "84 10 01 a1 6e 6578636c7564655f617574686964 81 61 ff 61 61", codec.ErrUTF8, "Options.exclude_authid"},
		{"authextra not dict", "83 01 61 72 a1 69 617574686578747261 01", codec.ErrType, "Details.authextra"},
		{"role not dict", "83 01 61 72 a1 65 726f6c6573 a1 66 63616c6c6572 01", codec.ErrType, "Details.roles.caller"},
		{"role key not string", "83 01 61 72 a1 65 726f6c6573 a1 01 a0", codec.ErrKey, "Details.roles"},
		{"features not dict", "83 01 61 72 a1 65 726f6c6573 a1 66 63616c6c6572 a1 68 6665617475726573 80", codec.ErrType, "Details.roles.caller.features"},
		{"feature not bool", "83 01 61 72 a1 65 726f6c6573 a1 66 63616c6c6572 a1 68 6665617475726573 a1 6e 63616c6c5f63616e63656c696e67 01", codec.ErrType, "Details.roles.caller.features.call_canceling"},
		{"unknown feature bad utf8", "83 01 61 72 a1 65 726f6c6573 a1 66 63616c6c6572 a1 68 6665617475726573 a1 61 7a 61 ff", codec.ErrUTF8, "Details.roles.caller.features.z"},
		{"args simple value", pub + "e0", codec.ErrSyntax, "Arguments"},
		{"args one-byte simple value", pub + "f8 20", codec.ErrSyntax, "Arguments"},
		{"args reserved ai", pub + "5d", codec.ErrSyntax, "Arguments"},
		{"args indefinite int", pub + "1f", codec.ErrSyntax, "Arguments"},
		{"args indefinite tag", pub + "df 01", codec.ErrSyntax, "Arguments"},
		{"args tag with no value", pub + "c6", codec.ErrTruncated, "Arguments"},
		{"args stray break", "85 10 01 a0 61 61 82 01 ff", codec.ErrSyntax, "Arguments"},
		{"args bad utf8", pub + "62 c328", codec.ErrUTF8, "Arguments"},
		{"args int key", pub + "a1 01 01", codec.ErrKey, "Arguments"},
		{"args tag inside chunks", pub + "5f c6 41 61 ff", codec.ErrSyntax, "Arguments"},
		{"args huge bytes", pub + "5b ffffffffffffffff", codec.ErrTruncated, "Arguments"},
		{"args huge map", pub + "bb 7fffffffffffffff", codec.ErrTruncated, "Arguments"},
		{"args not list", "85 10 01 a0 61 61 a0", codec.ErrType, "Arguments"},
		{"args reserved head", "85 10 01 a0 61 61 1c", codec.ErrSyntax, "Arguments"},
		{"args truncated head", "85 10 01 a0 61 61 1a 00", codec.ErrTruncated, "Arguments"},
		{"options reserved head", "84 10 01 bd 61 61", codec.ErrSyntax, "Options"},
		{"kwargs not dict", "86 10 01 a0 61 61 80 80", codec.ErrType, "ArgumentsKw"},
		{"kwargs bytes key", "86 10 01 a0 61 61 80 a1 41 61 01", codec.ErrKey, "ArgumentsKw"},
		{"kwargs unterminated", "86 10 01 a0 61 61 80 bf 61 61 01", codec.ErrTruncated, "ArgumentsKw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(t, tc.hex)
			var m codec.Message
			err := Decode(&m, in)
			codectest.CheckBad(t, err, codectest.BadCase{Name: tc.name, Err: tc.err, Field: tc.field})
			var ce *codec.Error
			if errors.As(err, &ce) && (ce.Offset < 0 || ce.Offset > len(in)) {
				t.Errorf("Offset %d outside the input (%d bytes)", ce.Offset, len(in))
			}
		})
	}
}

// TestDecodeErrorDetails checks the parts of *codec.Error beyond the
// sentinel: the message type once known and the byte offset.
func TestDecodeErrorDetails(t *testing.T) {
	var m codec.Message
	err := Decode(&m, unhex(t, "84 10 01 a1 6b 61636b6e6f776c65646765 01 61 61"))
	var ce *codec.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	if ce.Type != codec.PUBLISH || ce.Field != "Options.acknowledge" || ce.Offset != 16 || ce.Detail != "want bool" {
		t.Errorf("error = %+v", *ce)
	}
	if got := ce.Error(); got != "codec: PUBLISH Options.acknowledge at byte 16: wrong type: want bool" {
		t.Errorf("Error() = %q", got)
	}
}

// TestDepth checks the nesting limit: the message array is depth 1.
func TestDepth(t *testing.T) {
	nested := func(n int) []byte { // PUBLISH with Arguments nested n lists deep
		b := unhex(t, "85 10 01 a0 61 61")
		for i := 0; i < n; i++ {
			b = append(b, 0x81)
		}
		return append(b, 0x80)
	}
	var m codec.Message
	// Arguments is depth 2, so limit-1 levels of lists fit inside it.
	for _, limit := range []int{2, 3, 10, codec.DefaultMaxDepth} {
		m.MaxDepth = limit
		if limit == codec.DefaultMaxDepth {
			m.MaxDepth = 0 // 0 means the default; Decode keeps MaxDepth
		}
		if err := Decode(&m, nested(limit-2)); err != nil {
			t.Errorf("limit %d: depth %d rejected: %v", limit, limit, err)
		}
		if err := Decode(&m, nested(limit-1)); !errors.Is(err, codec.ErrDepth) {
			t.Errorf("limit %d: depth %d: err = %v, want ErrDepth", limit, limit+1, err)
		}
	}
	// With a limit of 1 not even an empty Options dict fits (the shortcut
	// for {} must apply the limit too).
	m.MaxDepth = 1
	if err := Decode(&m, unhex(t, "84 10 01 a0 61 61")); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("{} at depth 2 with limit 1: err = %v, want ErrDepth", err)
	}
	// Indefinite containers and maps count the same way.
	m.MaxDepth = 3
	if err := Decode(&m, unhex(t, "85 10 01 a0 61 61 9f bf 61 61 80 ff ff")); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("indefinite: err = %v, want ErrDepth", err)
	}
	// The Options dict and the containers under its keys count too.
	m.MaxDepth = 2
	if err := Decode(&m, unhex(t, "84 10 01 a1 67 6578636c756465 80 61 61")); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("exclude list at depth 3 with limit 2: err = %v", err)
	}
	// Walk: the value itself is depth 1; tags add nothing.
	if _, err := walkTokens(unhex(t, "c6 81 c6 80"), 2); err != nil {
		t.Errorf("Walk depth 2 limit 2: %v", err)
	}
	if _, err := walkTokens(unhex(t, "81 81 80"), 2); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("Walk depth 3 limit 2: %v", err)
	}
	deep := bytes.Repeat([]byte{0x81}, 100000)
	if _, err := walkTokens(append(deep, 0x80), 0); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("Walk 100000 deep: %v", err)
	}
}

// TestDecodeReuse decodes different messages into one Message: nothing of
// a previous message may survive into the next.
func TestDecodeReuse(t *testing.T) {
	var m codec.Message
	for round := 0; round < 2; round++ {
		for _, c := range codectest.Cases {
			if err := Decode(&m, mustRef(t, c.Value)); err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			codectest.Check(t, &m, c.Want)
			if t.Failed() {
				t.Fatalf("%s (round %d)", c.Name, round)
			}
		}
	}
}

// helloChunked is a HELLO whose realm "ab", authid "cd" and authrole "ef"
// are indefinite-length strings of two chunks each.
const helloChunked = "83 01 7f 61 61 61 62 ff a2 66 617574686964 7f 61 63 61 64 ff 68 61757468726f6c65 7f 61 65 61 66 ff"

// TestDecodeIndefiniteIntoBuf checks that strings joined from chunks live
// in m.Buf, keep their values when later strings are joined after them,
// and cannot be grown into each other.
func TestDecodeIndefiniteIntoBuf(t *testing.T) {
	in := unhex(t, helloChunked)
	var m codec.Message
	if err := Decode(&m, in); err != nil {
		t.Fatal(err)
	}
	if string(m.URI) != "ab" || string(m.Details.Str[codec.KeyAuthID]) != "cd" || string(m.Details.Str[codec.KeyAuthRole]) != "ef" {
		t.Fatalf("URI %q authid %q authrole %q", m.URI, m.Details.Str[codec.KeyAuthID], m.Details.Str[codec.KeyAuthRole])
	}
	if cap(m.URI) != len(m.URI) {
		t.Errorf("URI view has spare capacity %d: an append would overwrite the next string", cap(m.URI)-len(m.URI))
	}
	if len(m.Buf) != 6 {
		t.Errorf("Buf = %q, want the three joined strings only (keys are not kept)", m.Buf)
	}
}

// TestAppendDetails checks the encoding of typed Details byte for byte on
// small cases (the golden file covers whole messages).
func TestAppendDetails(t *testing.T) {
	var m codec.Message
	m.Type = codec.SUBSCRIBE
	m.Request = 1
	m.URI = []byte("a")
	m.Details.Match = codec.MatchWildcard
	m.Details.Mark(codec.KeyMatch)
	m.Details.SetBool(codec.KeyGetRetained, false)
	out, err := Append(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "84 18 20 01 a2 65 6d61746368 68 77696c6463617264 6c 6765745f72657461696e6564 f4 61 61")
	if !bytes.Equal(out, want) {
		t.Errorf("Append = %x\nwant     %x", out, want)
	}

	// Roles: bit order, "features" omitted when none.
	m.Reset()
	m.Type = codec.WELCOME
	m.ID = 1
	m.Details.Roles = codec.RoleDealer | codec.RoleBroker
	m.Details.Features[codec.RoleIndex(codec.RoleDealer)] = codec.FeatureCallCanceling | codec.FeatureProgressiveCallResults
	m.Details.Mark(codec.KeyRoles)
	out, err = Append(out[:0], &m)
	if err != nil {
		t.Fatal(err)
	}
	want = unhex(t, "83 02 01 a1 65 726f6c6573 a2 66 62726f6b6572 a0 66 6465616c6572 a1 68 6665617475726573 a2"+
		" 78 18 70726f67726573736976655f63616c6c5f726573756c7473 f5 6e 63616c6c5f63616e63656c696e67 f5")
	if !bytes.Equal(out, want) {
		t.Errorf("Append = %x\nwant     %x", out, want)
	}
}

// TestAppendErrors checks that Append refuses what Decode would reject and
// leaves dst as it was.
func TestAppendErrors(t *testing.T) {
	base := func() codec.Message {
		return codec.Message{Type: codec.PUBLISH, Request: 1, URI: []byte("a")}
	}
	tests := []struct {
		name  string
		edit  func(m *codec.Message)
		err   error
		field string
	}{
		{"unknown type", func(m *codec.Message) { m.Type = 7 }, codec.ErrUnknownType, ""},
		{"id range", func(m *codec.Message) { m.Request = codec.MaxID + 1 }, codec.ErrRange, "Request"},
		{"uri utf8", func(m *codec.Message) { m.URI = []byte{0xff} }, codec.ErrUTF8, "Topic"},
		{"exclude range", func(m *codec.Message) {
			m.Details.Exclude = []uint64{1, 1 << 60}
			m.Details.Mark(codec.KeyExclude)
		}, codec.ErrRange, "Options.exclude"},
		{"publisher range", func(m *codec.Message) { m.Details.SetUint(codec.KeyPublisher, math.MaxUint64) }, codec.ErrRange, "Options.publisher"},
		{"string utf8", func(m *codec.Message) { m.Details.SetString(codec.KeyPPTScheme, []byte{0xc3}) }, codec.ErrUTF8, "Options.ppt_scheme"},
		{"authid list utf8", func(m *codec.Message) {
			m.Details.ExcludeAuthID = [][]byte{{0xc3}}
			m.Details.Mark(codec.KeyExcludeAuthID)
		}, codec.ErrUTF8, "Options.exclude_authid"},
		{"match out of range", func(m *codec.Message) {
			m.Details.Match = 99
			m.Details.Mark(codec.KeyMatch)
		}, codec.ErrRange, "Options.match"},
		{"payload in unknown format", func(m *codec.Message) { m.Args = codec.Raw{Format: 0, Bytes: []byte{0x80}} }, codec.ErrUnsupported, "Arguments"},
		{"transcoded payload fails", func(m *codec.Message) {
			m.Args = codec.Raw{Format: fakeFormat, Bytes: []byte{0x81, 0x62, 0xc3, 0x28}}
		}, codec.ErrUTF8, "Arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(&m)
			dst := []byte("prefix")
			out, err := Append(dst, &m)
			codectest.CheckBad(t, err, codectest.BadCase{Name: tc.name, Err: tc.err, Field: tc.field})
			if string(out) != "prefix" {
				t.Errorf("dst = %q, want it unchanged", out)
			}
		})
	}
}

// TestAppendPayloads checks payload handling: verbatim copy, an empty list
// written for absent Arguments when ArgumentsKw is present, trailing
// absent elements dropped, and transcoding of a payload in another format.
func TestAppendPayloads(t *testing.T) {
	m := codec.Message{Type: codec.EVENT, ID: 1, Publication: 2}
	out, err := Append(nil, &m)
	if err != nil || !bytes.Equal(out, unhex(t, "84 18 24 01 02 a0")) {
		t.Errorf("bare EVENT = %x, %v", out, err)
	}
	m.Kwargs = codec.Raw{Format: codec.CBOR, Bytes: unhex(t, "a1 61 61 01")}
	out, err = Append(out[:0], &m)
	if err != nil || !bytes.Equal(out, unhex(t, "86 18 24 01 02 a0 80 a1 61 61 01")) {
		t.Errorf("EVENT kwargs only = %x, %v", out, err)
	}
	// A payload in another format is transcoded through Walk and Writer:
	// the indefinite, non-preferred, half-float source comes out canonical.
	m.Kwargs = codec.Raw{}
	m.Args = codec.Raw{Format: fakeFormat, Bytes: unhex(t, "9f 18 01 f9 3c00 7f 61 61 ff c2 41 01 ff")}
	out, err = Append(out[:0], &m)
	if err != nil || !bytes.Equal(out, unhex(t, "85 18 24 01 02 a0 84 01 fb 3ff0000000000000 61 61 41 01")) {
		t.Errorf("EVENT transcoded args = %x, %v", out, err)
	}
}

// fakeFormat stands in for a foreign serializer so that the transcoding
// path of Append can be tested without importing the other codecs: it is a
// codec whose Walk is this package's, registered under the MsgPack format
// in this test binary only.
const fakeFormat = codec.MsgPack

type fakeCodec struct{ Serializer }

func (fakeCodec) Format() codec.Format { return fakeFormat }

func init() { codec.Register(fakeCodec{}) }

func TestWriter(t *testing.T) {
	w := NewWriter()
	w.Reset([]byte{0xaa})
	w.BeginArray(9)
	w.WriteNil()
	w.WriteBool(true)
	w.WriteInt(-1)
	w.WriteInt(math.MinInt64)
	w.WriteInt(24)
	w.WriteUint(math.MaxUint64)
	w.WriteFloat(1.5)
	w.BeginMap(1)
	w.WriteString([]byte("k"))
	w.WriteBytes([]byte{1, 2})
	w.End()
	w.WriteString(nil)
	w.End()
	want := unhex(t, "aa 89 f6 f5 20 3b 7fffffffffffffff 18 18 1b ffffffffffffffff fb 3ff8000000000000 a1 61 6b 42 0102 60")
	if w.Err() != nil || !bytes.Equal(w.Bytes(), want) {
		t.Errorf("Writer = %x (%v)\nwant     %x", w.Bytes(), w.Err(), want)
	}

	w.Reset(nil)
	w.WriteString([]byte{0xff})
	w.WriteUint(1)
	if !errors.Is(w.Err(), codec.ErrUTF8) {
		t.Errorf("invalid UTF-8: Err = %v", w.Err())
	}
	w.BeginArray(-1)
	if !errors.Is(w.Err(), codec.ErrUTF8) {
		t.Errorf("error not sticky: %v", w.Err())
	}
	w.Reset(nil)
	if w.Err() != nil {
		t.Errorf("Reset kept the error")
	}
	w.BeginMap(-1)
	if !errors.Is(w.Err(), codec.ErrUnsupported) {
		t.Errorf("negative map: Err = %v", w.Err())
	}
}

// TestWriterChecks: the Writer refuses token streams that do not match
// the counts they announced, since definite-length CBOR cannot absorb them.
func TestWriterChecks(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
		err   error
	}{
		{"more than announced", func(w *Writer) { w.BeginArray(1); w.WriteNil(); w.WriteNil(); w.End() }, codec.ErrCount},
		{"fewer than announced", func(w *Writer) { w.BeginArray(2); w.WriteNil(); w.End() }, codec.ErrCount},
		{"map missing value", func(w *Writer) { w.BeginMap(1); w.WriteString([]byte("k")); w.End() }, codec.ErrCount},
		{"map key not string", func(w *Writer) { w.BeginMap(1); w.WriteUint(1); w.WriteNil(); w.End() }, codec.ErrKey},
		{"map key bytes", func(w *Writer) { w.BeginMap(1); w.WriteBytes([]byte("k")); w.WriteNil(); w.End() }, codec.ErrKey},
		{"End without Begin", func(w *Writer) { w.WriteNil(); w.End() }, codec.ErrCount},
		{"not closed", func(w *Writer) { w.BeginMap(0) }, codec.ErrCount},
		{"negative length", func(w *Writer) { w.BeginArray(-1) }, codec.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			w.Reset(nil)
			tc.write(w)
			if !errors.Is(w.Err(), tc.err) {
				t.Errorf("Err = %v, want %v", w.Err(), tc.err)
			}
		})
	}
	// A string value in a map is fine where a key is not expected.
	w := NewWriter()
	w.Reset(nil)
	w.BeginMap(1)
	w.WriteString([]byte("k"))
	w.WriteString([]byte("v"))
	w.End()
	if w.Err() != nil || !bytes.Equal(w.Bytes(), unhex(t, "a1 61 6b 61 76")) {
		t.Errorf("map of string = %x (%v)", w.Bytes(), w.Err())
	}
}

// TestHeadWidths checks appendHead at every width boundary against the
// reference encoder.
func TestHeadWidths(t *testing.T) {
	for _, n := range []uint64{0, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, math.MaxUint64} {
		got := appendHead(nil, majorUint, n)
		if want := mustRef(t, n); !bytes.Equal(got, want) {
			t.Errorf("appendHead(%d) = %x, want %x", n, got, want)
		}
		_, _, arg, _, next, err := head(got, 0)
		if err != nil || arg != n || next != len(got) {
			t.Errorf("head(%x) = %d, %d, %v", got, arg, next, err)
		}
	}
}
