package fuzz

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	fxcbor "github.com/fxamacker/cbor/v2"

	"github.com/zwamp/zwamp/codec"
	zcbor "github.com/zwamp/zwamp/codec/cbor"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

// Everything top-level here is prefixed with cbor: the package is shared
// by the fuzz targets of every codec and parser.

var cborUpdateCorpus = flag.Bool("cborcorpus.update", false, "rewrite testdata/fuzz/FuzzCBOR*/ seed files")

// cborNasties are CBOR-specific inputs (hex): every reserved or malformed
// head, indefinite forms, tags, floats, huge declared lengths, deep nesting
// and WAMP-level edge cases.
var cborNasties = []string{
	"", "00", "ff", "1c", "1d", "1e", "1f", "3f", "5c", "7d", "9e", "bc", "df", "fc", "fd", "fe",
	"e0", "f3", "f8 00", "f8 1f", "f8 20", "f8 ff", "f4", "f5", "f6", "f7", "f9 7e00", "f9 7c01", "f9 0001", "fa 7f800001", "fb 7ff0000000000001",
	"1b ffffffffffffffff", "3b ffffffffffffffff", "3b 7fffffffffffffff", "3b 8000000000000000", "c2 49 010000000000000000", "c3 40",
	"9b ffffffffffffffff", "bb ffffffffffffffff", "7b ffffffffffffffff", "5b 7fffffffffffffff", "9a ffffffff 00", "5f 5b ffffffffffffffff",
	"9f", "9f ff", "bf ff", "bf 61 61 ff", "bf 01 02 ff", "5f ff", "7f ff", "7f 61 61 ff", "7f 61 c3 61 a9 ff", "5f 61 61 ff", "7f 7f ff ff", "5f c6 41 61 ff",
	"a1 01 02", "a1 41 61 01", "a1 c6 61 6b 01", "a2 61 61 01 61 61 02", "62 c328", "63 eda080", "62 c0af", "64 f4908080",
	"c6", "c6 c6 c6 01", "d9d9f7 84 10 01 a0 61 61", "c1 fb 41d6f5ce00000000", "c0 01", "c0 61 61",
	"01 02", "84 10 01 a0 61 61 00", "80", "81 00", "a0",
	"9f 10 01 a0 61 61 ff", "9f 10 01 a0 ff", "9f 18 20 01 a0 61 61 80 ff", "98 04 18 10 01 a0 61 61", "84 10 1b 0000000000000005 a0 61 61",
	"84 10 1b 0020000000000000 a0 61 61", "84 10 1b 0020000000000001 a0 61 61", "84 10 f9 3c00 a0 61 61", "84 10 20 a0 61 61",
	"84 10 01 a0 7f 63 636f6d 60 62 2e61 ff", "84 10 01 a1 7f 65 61636b6e6f 66 776c65646765 ff f5 61 61",
	"84 10 01 bf 67 6578636c756465 9f 01 02 ff ff 61 61", "84 10 01 a1 6b 61636b6e6f776c65646765 f7 61 61",
	"85 10 01 a0 61 61 81 3b ffffffffffffffff", "85 08 1a 00010000 01 a0 61 65",
	"83 01 61 72 a1 65 726f6c6573 a1 66 63616c6c6572 a1 68 6665617475726573 a1 6e 63616c6c5f63616e63656c696e67 f6",
	"83 01 61 72 a1 65 726f6c6573 a2 66 63616c6c6572 f6 66 63616c6c6565 a1 68 6665617475726573 f6",
	"85 10 01 a0 61 61 81" + strings.Repeat(" 81", 61) + " 80",
	"85 10 01 a0 61 61 81" + strings.Repeat(" 81", 62) + " 80",
	"85 10 01 a0 61 61 81" + strings.Repeat(" 9f", 1000),
	strings.Repeat("c6", 500) + "01",
}

// cborCaseSeeds returns every codectest case (valid and bad) as encoded by
// the reference library, and the nasties, keyed by file name.
func cborCaseSeeds(t testing.TB) map[string][]byte {
	nasties := make([][]byte, len(cborNasties))
	for i, s := range cborNasties {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatalf("nasty %d %q: %v", i, s, err)
		}
		nasties[i] = b
	}
	return codectest.Seeds(t, reflib.CBOREnc.Marshal, nasties)
}

// TestCBORSeedCorpus keeps the checked-in corpus in step with codectest and
// cborNasties: run with -cborcorpus.update to rewrite it.
func TestCBORSeedCorpus(t *testing.T) {
	files := map[string]string{}
	for name, data := range cborCaseSeeds(t) {
		for _, target := range []string{"FuzzCBORDecode", "FuzzCBORWalk"} {
			files[target+"/"+name] = fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		}
	}
	wsCheckCorpus(t, files, *cborUpdateCorpus, "-cborcorpus.update", "TestCBORSeedCorpus")
}

func cborAddSeeds(f *testing.F) {
	for _, data := range cborCaseSeeds(f) {
		f.Add(data)
	}
}

// cborCheckErr requires a *codec.Error with an offset inside the input.
func cborCheckErr(t *testing.T, data []byte, err error) {
	t.Helper()
	var ce *codec.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T (%v) is not *codec.Error", err, err)
	}
	if ce.Offset < 0 || ce.Offset > len(data) {
		t.Fatalf("error offset %d outside input of %d bytes: %v", ce.Offset, len(data), err)
	}
}

// FuzzCBORDecode: Decode never panics; what it accepts Walk accepts too
// (bar integers below MinInt64), Append writes back, and that decodes to
// the same message, both from the Dict view and from the typed Details.
func FuzzCBORDecode(f *testing.F) {
	cborAddSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m codec.Message
		err := zcbor.Decode(&m, data)
		if err != nil {
			cborCheckErr(t, data, err)
			return
		}
		if werr := zcbor.Walk(data, codectest.Discard{}, 0); werr != nil && !errors.Is(werr, codec.ErrUnsupported) {
			t.Fatalf("Decode accepts %x but Walk says %v", data, werr)
		}
		codectest.ReEncode(t, zcbor.Codec, &m, func(m2 *codec.Message) { codectest.SameMessage(t, m2, &m) })
	})
}

// FuzzCBORWalk: Walk never panics; its tokens are one value with exact
// counts; Walk → Writer → Walk gives the same tokens and stable output
// (codectest.ThroughWriter); and it agrees with fxamacker/cbor wherever
// both are defined.
func FuzzCBORWalk(f *testing.F) {
	cborAddSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var r codectest.Recorder
		err := zcbor.Walk(data, &r, 0)
		if err != nil {
			cborCheckErr(t, data, err)
			if errors.Is(err, codec.ErrDepth) || errors.Is(err, codec.ErrUnsupported) {
				return // limits of the codec, not of CBOR
			}
			var v any
			if reflib.CBORDecAnyKeys.Unmarshal(data, &v) == nil && cborStringKeys(v) {
				t.Fatalf("Walk rejects %x (%v); fxamacker reads %#v", data, err, v)
			}
			return
		}
		out := codectest.ThroughWriter(t, zcbor.Codec, data, r.Toks)

		got, err := codec.ToGo(codec.Raw{Format: codec.CBOR, Bytes: data})
		if err != nil {
			t.Fatalf("ToGo(%x): %v", data, err)
		}
		var ref any
		rerr := reflib.CBORDec.Unmarshal(data, &ref)
		var tagErr *fxcbor.TagsMdError
		if errors.As(rerr, &tagErr) {
			ref = nil
			if rerr = reflib.CBORDecTags.Unmarshal(data, &ref); rerr != nil || !codectest.PlainValue(ref) {
				return // registered tags (time, bignum) mean something else there
			}
		}
		var dup *fxcbor.DupMapKeyError
		if errors.As(rerr, &dup) {
			return // duplicate keys are valid CBOR; the codec passes them on
		}
		if rerr != nil {
			t.Fatalf("Walk accepts %x; fxamacker: %v", data, rerr)
		}
		if !codectest.EqualValues(got, ref) {
			t.Fatalf("Walk(%x) = %#v, fxamacker %#v", data, got, ref)
		}
		var ref2 any
		if err := reflib.CBORDec.Unmarshal(out, &ref2); err != nil || !codectest.EqualValues(ref, ref2) {
			t.Fatalf("fxamacker reads Writer output %x as %#v (%v), want %#v", out, ref2, err, ref)
		}
	})
}

// cborStringKeys reports whether every map in v (decoded as map[any]any)
// has only string keys.
func cborStringKeys(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if !cborStringKeys(e) {
				return false
			}
		}
	case map[any]any:
		for k, e := range x {
			if _, ok := k.(string); !ok || !cborStringKeys(e) {
				return false
			}
		}
	case fxcbor.Tag:
		return cborStringKeys(x.Content)
	}
	return true
}
