package msgpack

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// foreign is a stand-in for another serializer, registered under Format 0
// (unused by real serializers) so that Append's transcoding path can be
// tested without depending on the JSON or CBOR packages. Its wire format is
// MessagePack with any encoding, which Walk reads and our Writer rewrites
// canonically — so a transcoded value is visibly re-encoded.
type foreign struct{}

const foreignFormat codec.Format = 0

func (foreign) Format() codec.Format                              { return foreignFormat }
func (foreign) Decode(m *codec.Message, data []byte) error        { return Decode(m, data) }
func (foreign) Append(d []byte, m *codec.Message) ([]byte, error) { return Append(d, m) }
func (foreign) Walk(data []byte, w codec.ValueWriter, max int) error {
	return Walk(data, w, max)
}
func (foreign) NewWriter() codec.Writer { return NewWriter() }

func init() { codec.Register(foreign{}) }

func TestAppendLayout(t *testing.T) {
	args := codec.Raw{Format: codec.MsgPack, Bytes: unhex(t, "91 01")}
	kwargs := codec.Raw{Format: codec.MsgPack, Bytes: unhex(t, "81 a1 6b 02")}
	tests := []struct {
		name string
		m    codec.Message
		hex  string
	}{
		{"UNSUBSCRIBED bare", codec.Message{Type: codec.UNSUBSCRIBED, Request: 5}, "92 23 05"},
		{"RESULT bare", codec.Message{Type: codec.RESULT, Request: 5}, "93 32 05 80"},
		{"RESULT args", codec.Message{Type: codec.RESULT, Request: 5, Args: args}, "94 32 05 80 91 01"},
		{"RESULT kwargs only", codec.Message{Type: codec.RESULT, Request: 5, Kwargs: kwargs}, "95 32 05 80 90 81 a1 6b 02"},
		{"ABORT no args", codec.Message{Type: codec.ABORT, URI: []byte("x")}, "93 03 80 a1 78"},
		{"ERROR", codec.Message{Type: codec.ERROR, ErrorType: codec.CALL, Request: 1 << 53, URI: []byte("e")},
			"95 08 30 cf 0020000000000000 80 a1 65"},
		{"EVENT ids", codec.Message{Type: codec.EVENT, ID: 255, Publication: 65536}, "94 24 cc ff ce 00010000 80"},
		{"PUBLISHED", codec.Message{Type: codec.PUBLISHED, Request: 127, ID: 128}, "93 11 7f cc 80"},
		{"enum fallback", func() codec.Message {
			m := codec.Message{Type: codec.REGISTER, Request: 1, URI: []byte("p")}
			m.Details.Mark(codec.KeyMatch)
			m.Details.Match = codec.MatchPrefix
			m.Details.Mark(codec.KeyInvoke)
			m.Details.Invoke = codec.InvokeLast
			return m
		}(), "94 40 01 82 a5 6d61746368 a6 707265666978 a6 696e766f6b65 a4 6c617374 a1 70"},
		{"raw string wins over enum", func() codec.Message {
			m := codec.Message{Type: codec.CANCEL, Request: 1}
			m.Details.SetString(codec.KeyMode, []byte("other"))
			m.Details.Mode = codec.ModeKill
			return m
		}(), "93 31 01 81 a4 6d6f6465 a5 6f74686572"},
		{"role without features", func() codec.Message {
			m := codec.Message{Type: codec.HELLO, URI: []byte("r")}
			m.Details.Mark(codec.KeyRoles)
			m.Details.Roles = codec.RoleCaller
			return m
		}(), "93 01 a1 72 81 a5 726f6c6573 81 a6 63616c6c6572 80"},
		{"empty authextra", func() codec.Message {
			m := codec.Message{Type: codec.HELLO, URI: []byte("r")}
			m.Details.Mark(codec.KeyAuthExtra)
			return m
		}(), "93 01 a1 72 81 a9 617574686578747261 80"},
	}
	for _, tt := range tests {
		got, err := Append([]byte{0xee}, &tt.m)
		want := append([]byte{0xee}, unhex(t, tt.hex)...)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: Append = %x, %v; want %x", tt.name, got, err, want)
		}
		var m codec.Message
		if err := Decode(&m, got[1:]); err != nil {
			t.Errorf("%s: Decode(Append): %v", tt.name, err)
		}
	}
}

// TestAppendErrors: every refused message leaves dst exactly as it was.
func TestAppendErrors(t *testing.T) {
	list := codec.Raw{Format: codec.MsgPack, Bytes: []byte{0x90}}
	tests := []struct {
		name  string
		m     codec.Message
		err   error
		field string
	}{
		{"unknown type", codec.Message{Type: 7}, codec.ErrUnknownType, ""},
		{"type zero", codec.Message{}, codec.ErrUnknownType, ""},
		{"request too big", codec.Message{Type: codec.UNSUBSCRIBED, Request: 1<<53 + 1}, codec.ErrRange, "Request"},
		{"publication too big", codec.Message{Type: codec.EVENT, ID: 1, Publication: 1 << 60}, codec.ErrRange, "Publication"},
		{"uri not utf8", codec.Message{Type: codec.PUBLISH, URI: []byte{0xff}}, codec.ErrUTF8, "Topic"},
		{"args not a list", codec.Message{Type: codec.RESULT, Args: codec.Raw{Format: codec.MsgPack, Bytes: []byte{0x80}}}, codec.ErrType, "Arguments"},
		{"args empty", codec.Message{Type: codec.RESULT, Args: codec.Raw{Format: codec.MsgPack, Bytes: []byte{}}}, codec.ErrType, "Arguments"},
		{"kwargs a list", codec.Message{Type: codec.RESULT, Kwargs: list}, codec.ErrType, "ArgumentsKw"},
		{"dict a list", codec.Message{Type: codec.RESULT, Dict: list}, codec.ErrType, "Details"},
		{"transcode ext", codec.Message{Type: codec.RESULT, Args: codec.Raw{Format: foreignFormat, Bytes: unhex(t, "91 d4 01 00")}}, codec.ErrUnsupported, "Arguments"},
		{"transcode bad", codec.Message{Type: codec.RESULT, Args: codec.Raw{Format: foreignFormat, Bytes: unhex(t, "92 01")}}, codec.ErrTruncated, "Arguments"},
		{"transcode too deep", codec.Message{Type: codec.RESULT, MaxDepth: 2, Args: codec.Raw{Format: foreignFormat, Bytes: unhex(t, "91 91 91 90")}}, codec.ErrDepth, "Arguments"},
		{"unregistered format", codec.Message{Type: codec.RESULT, Args: codec.Raw{Format: 99, Bytes: []byte{0x90}}}, codec.ErrUnsupported, ""},
		{"bad enum", func() codec.Message {
			m := codec.Message{Type: codec.SUBSCRIBE, URI: []byte("t")}
			m.Details.Mark(codec.KeyMatch)
			m.Details.Match = 42
			return m
		}(), codec.ErrRange, "Options.match"},
		{"detail id too big", func() codec.Message {
			m := codec.Message{Type: codec.EVENT}
			m.Details.SetUint(codec.KeyPublisher, 1<<53+1)
			return m
		}(), codec.ErrRange, "Details.publisher"},
		{"id list too big", func() codec.Message {
			m := codec.Message{Type: codec.PUBLISH, URI: []byte("t")}
			m.Details.Exclude = []uint64{1, 1 << 54}
			m.Details.Mark(codec.KeyExclude)
			return m
		}(), codec.ErrRange, "Options.exclude"},
		{"string list not utf8", func() codec.Message {
			m := codec.Message{Type: codec.PUBLISH, URI: []byte("t")}
			m.Details.ExcludeAuthID = [][]byte{[]byte("a"), {0xc3}}
			m.Details.Mark(codec.KeyExcludeAuthID)
			return m
		}(), codec.ErrUTF8, "Options.exclude_authid"},
		{"string not utf8", func() codec.Message {
			m := codec.Message{Type: codec.EVENT}
			m.Details.SetString(codec.KeyTopic, []byte{0xe2, 0x82})
			return m
		}(), codec.ErrUTF8, "Details.topic"},
		{"authextra a list", func() codec.Message {
			m := codec.Message{Type: codec.WELCOME}
			m.Details.AuthExtra = list
			m.Details.Mark(codec.KeyAuthExtra)
			return m
		}(), codec.ErrType, "Details.authextra"},
	}
	for _, tt := range tests {
		dst := make([]byte, 3, 64)
		copy(dst, "abc")
		got, err := Append(dst, &tt.m)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
		var ce *codec.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: err %T is not *codec.Error", tt.name, err)
		} else if tt.field != "" && ce.Field != tt.field {
			t.Errorf("%s: Field = %q, want %q", tt.name, ce.Field, tt.field)
		}
		if len(got) != 3 || &got[0] != &dst[0] || string(got) != "abc" {
			t.Errorf("%s: dst changed to %q", tt.name, got)
		}
	}
}

// TestAppendTranscodes: payloads and dicts in another format are re-encoded
// (canonically, through Walk and Writer), not copied.
func TestAppendTranscodes(t *testing.T) {
	m := codec.Message{
		Type:    codec.RESULT,
		Request: 1,
		Dict:    codec.Raw{Format: foreignFormat, Bytes: unhex(t, "de 0001 a1 78 d3 0000000000000001")},
		Args:    codec.Raw{Format: foreignFormat, Bytes: unhex(t, "dc 0002 cf 0000000000000005 d9 01 61")},
		Kwargs:  codec.Raw{Format: foreignFormat, Bytes: unhex(t, "df 00000001 db 00000001 6b c4 01 ff")},
	}
	got, err := Append(nil, &m)
	want := unhex(t, "95 32 01 81 a1 78 01 92 05 a1 61 81 a1 6b c4 01 ff")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Append = %x, %v; want %x", got, err, want)
	}
	var d codec.Message
	if err := Decode(&d, got); err != nil {
		t.Fatal(err)
	}
	v, err := codec.ToGo(d.Kwargs)
	if err != nil || !codectest.EqualValues(v, map[string]any{"k": []byte{0xff}}) {
		t.Errorf("Kwargs = %#v, %v", v, err)
	}

	// Typed AuthExtra in another format is transcoded too.
	h := codec.Message{Type: codec.HELLO, URI: []byte("r")}
	h.Details.AuthExtra = codec.Raw{Format: foreignFormat, Bytes: unhex(t, "81 a1 61 cd 0001")}
	h.Details.Mark(codec.KeyAuthExtra)
	got, err = Append(nil, &h)
	want = unhex(t, "93 01 a1 72 81 a9 617574686578747261 81 a1 61 01")
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("Append = %x, %v; want %x", got, err, want)
	}
}

// TestAppendGoValues: codec.AppendGo drives the Writer with Go values;
// what it writes must read back as the same values.
func TestAppendGoValues(t *testing.T) {
	v := []any{nil, true, int64(-5), uint64(1 << 63), 1.25, "ü", []byte{1}, map[string]any{"k": []any{}}, []string{"a"}}
	raw, err := codec.EncodeGo(codec.MsgPack, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := codec.ToGo(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{nil, true, int64(-5), uint64(1 << 63), 1.25, "ü", []byte{1}, map[string]any{"k": []any{}}, []any{"a"}}
	if !codectest.EqualValues(got, want) {
		t.Errorf("round trip = %#v", got)
	}
	if _, err := codec.EncodeGo(codec.MsgPack, string([]byte{0xff})); !errors.Is(err, codec.ErrUTF8) {
		t.Errorf("invalid UTF-8 string: err = %v, want ErrUTF8", err)
	}
}
