package fuzz

import (
	"bytes"
	"testing"

	"github.com/zwamp/zwamp/codec"
	_ "github.com/zwamp/zwamp/codec/cbor"
	_ "github.com/zwamp/zwamp/codec/json"
	_ "github.com/zwamp/zwamp/codec/msgpack"
	"github.com/zwamp/zwamp/internal/codectest"
)

// FuzzTranscode: any JSON value zwamp accepts survives JSON→MsgPack→JSON
// and JSON→CBOR→JSON with an equal value, and the second round trip is
// byte-stable.
func FuzzTranscode(f *testing.F) {
	for _, s := range []string{
		`[16, 239714735, {}, "com.myapp.topic1", ["Hello, world!"], {"color": "orange"}]`,
		`["\u0000EOP/kFMHXFJvX8BtT+N82w==", "\u0000", "\u0000!!"]`,
		`[18446744073709551615, -9223372036854775808, 9007199254740993, 1.5, -0.0, 1e300, 5e-324]`,
		`{"a": [{"b": [[], {}]}], "ü€𝄞": null, "": true}`,
		`"\ud834\udd1e"`, `0`, `-1`, `1.0`, `[]`, `{}`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := codec.Raw{Format: codec.JSON, Bytes: data}
		want, err := codec.ToGo(src)
		if err != nil {
			return // not a value zwamp accepts
		}
		for _, via := range []codec.Format{codec.MsgPack, codec.CBOR} {
			mid, err := codec.Transcode(nil, via, src)
			if err != nil {
				t.Fatalf("JSON→%v of %q: %v", via, data, err)
			}
			back, err := codec.Transcode(nil, codec.JSON, codec.Raw{Format: via, Bytes: mid})
			if err != nil {
				t.Fatalf("%v→JSON of %x: %v", via, mid, err)
			}
			got, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: back})
			if err != nil {
				t.Fatalf("round trip produced invalid JSON %q: %v", back, err)
			}
			if !codectest.StrictEqual(got, want) {
				t.Fatalf("JSON→%v→JSON changed %q into %q", via, data, back)
			}
			mid2, _ := codec.Transcode(nil, via, codec.Raw{Format: codec.JSON, Bytes: back})
			if !bytes.Equal(mid, mid2) {
				t.Fatalf("second %v encoding differs: %x vs %x", via, mid, mid2)
			}
		}
	})
}
