package codectest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// RoundTrip decodes data with cd, checks the message against want, and
// re-encodes it (ReEncode), checking each re-decoded message against want
// too. It returns the verbatim re-encoding, for the caller to compare with
// its reference library's reading of data.
func RoundTrip(t testing.TB, cd codec.Codec, data []byte, want Want) []byte {
	t.Helper()
	var m codec.Message
	if err := cd.Decode(&m, data); err != nil {
		t.Fatalf("Decode(%s): %v", show(cd, data), err)
	}
	Check(t, &m, want)
	return ReEncode(t, cd, &m, func(m2 *codec.Message) { Check(t, m2, want) })
}

// ReEncode appends m with cd twice, with its Dict view (copied verbatim)
// and from its typed Details alone (the dict then holds exactly the known
// keys; ReEncode clears m.Dict for it), decodes each encoding and passes
// the message to check. It returns the first encoding.
func ReEncode(t testing.TB, cd codec.Codec, m *codec.Message, check func(*codec.Message)) []byte {
	t.Helper()
	out, err := cd.Append(nil, m)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	m.Dict = codec.Raw{}
	typed, err := cd.Append(nil, m)
	if err != nil {
		t.Fatalf("Append from Details: %v", err)
	}
	for _, b := range [][]byte{out, typed} {
		var m2 codec.Message
		if err := cd.Decode(&m2, b); err != nil {
			t.Fatalf("Decode(Append) %s: %v", show(cd, b), err)
		}
		check(&m2)
	}
	return out
}

func show(cd codec.Codec, b []byte) string {
	if cd.Format().Binary() {
		return fmt.Sprintf("%x", b)
	}
	return fmt.Sprintf("%q", b)
}

// SameMessage reports every difference between got, decoded from what
// Append wrote for want, and want: scalars, typed Details, and the
// payloads (Arguments, ArgumentsKw, authextra) by value. A payload that
// codec.ToGo cannot convert (ErrUnsupported: a MessagePack ext, a CBOR
// integer below MinInt64) must have been carried verbatim. Absent
// Arguments may come back as the empty list Append writes in their place
// when ArgumentsKw is present.
func SameMessage(t testing.TB, got, want *codec.Message) {
	t.Helper()
	if got.Type != want.Type || got.Request != want.Request || got.ID != want.ID ||
		got.Publication != want.Publication || got.ErrorType != want.ErrorType || !bytes.Equal(got.URI, want.URI) {
		t.Errorf("scalars %v %d/%d/%d/%d %q, want %v %d/%d/%d/%d %q",
			got.Type, got.Request, got.ID, got.Publication, got.ErrorType, got.URI,
			want.Type, want.Request, want.ID, want.Publication, want.ErrorType, want.URI)
	}
	CheckDetails(t, &got.Details, &want.Details)
	if want.Details.Has(codec.KeyAuthExtra) {
		samePayload(t, "authextra", got.Details.AuthExtra, want.Details.AuthExtra)
	}
	if want.Args.Bytes == nil && want.Kwargs.Bytes != nil && got.Args.Bytes != nil {
		empty, err := codec.AppendGo(nil, got.Args.Format, []any{})
		if err != nil || !bytes.Equal(got.Args.Bytes, empty) {
			t.Errorf("Args appeared as %x, want absent or the empty list %x (%v)", got.Args.Bytes, empty, err)
		}
	} else {
		samePayload(t, "Args", got.Args, want.Args)
	}
	samePayload(t, "Kwargs", got.Kwargs, want.Kwargs)
}

func samePayload(t testing.TB, name string, got, want codec.Raw) {
	t.Helper()
	if (got.Bytes == nil) != (want.Bytes == nil) {
		t.Errorf("%s present=%v, want %v", name, got.Bytes != nil, want.Bytes != nil)
		return
	}
	if want.Bytes == nil {
		return
	}
	wv, werr := codec.ToGo(want)
	if werr != nil {
		if !errors.Is(werr, codec.ErrUnsupported) || !bytes.Equal(got.Bytes, want.Bytes) {
			t.Errorf("%s: %x, want %x carried verbatim (ToGo: %v)", name, got.Bytes, want.Bytes, werr)
		}
		return
	}
	gv, gerr := codec.ToGo(got)
	if gerr != nil || !EqualValues(gv, wv) {
		t.Errorf("%s = %#v (%v), want %#v", name, gv, gerr, wv)
	}
}

// DecodedDetails returns what a decoder must produce from the encoding of
// d: an enum key set from its value alone (no raw string) is written by
// name, so it comes back with that name as its string too.
func DecodedDetails(d codec.Details) codec.Details {
	for k, name := range map[codec.Key]string{codec.KeyMatch: d.Match.String(), codec.KeyInvoke: d.Invoke.String(), codec.KeyMode: d.Mode.String()} {
		if d.Has(k) && d.Str[k] == nil {
			d.Str[k] = []byte(name)
		}
	}
	d.Finish()
	return d
}
