package cbor

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

// TestWalkDifferential walks many generated values, encoded by the
// reference library and in random non-preferred forms, and checks: the
// tokens are well-formed with exact counts, Walk → Writer → Walk gives the
// same tokens and the Writer's output is stable (codectest.ThroughWriter);
// the values equal the generated ones and the reference library's reading,
// which reads the Writer's output the same way.
func TestWalkDifferential(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	g := gen{r: newRand(3)}
	for i := 0; i < n; i++ {
		v := g.value(0)
		inputs := []struct {
			data   []byte
			exactF bool // floats encoded exactly (the reference rewrites NaN as 0x7e00)
		}{{mustRef(t, v), false}}
		for j := 0; j < 3; j++ {
			inputs = append(inputs, struct {
				data   []byte
				exactF bool
			}{g.variant(nil, v), true})
		}
		for _, in := range inputs {
			data := in.data
			toks, err := walkTokens(data, 0)
			if err != nil {
				t.Fatalf("Walk(%x) of %#v: %v", data, v, err)
			}
			out := codectest.ThroughWriter(t, Codec, data, toks)
			got, err := codec.ToGo(codec.Raw{Format: codec.CBOR, Bytes: data})
			if err != nil {
				t.Fatalf("ToGo(%x): %v", data, err)
			}
			same := codectest.StrictEqual
			if !in.exactF {
				same = codectest.StrictEqualAnyNaN
			}
			if !same(got, v) {
				t.Fatalf("Walk(%x) = %#v, want %#v", data, got, v)
			}
			dm := reflib.CBORDec
			if _, _, err := refValue(reflib.CBORDec, data); err != nil {
				dm = reflib.CBORDecTags // the variant put tags in
			}
			ref, plain, err := refValue(dm, data)
			if err != nil || !plain {
				t.Fatalf("reference decode of %x: %v (plain %v)", data, err, plain)
			}
			if !codectest.StrictEqualAnyNaN(got, ref) {
				t.Fatalf("Walk(%x) = %#v, reference reads %#v", data, got, ref)
			}
			ref2, _, err := refValue(reflib.CBORDec, out)
			if err != nil || !codectest.StrictEqualAnyNaN(ref, ref2) {
				t.Fatalf("reference reads Writer output %x as %#v (%v), want %#v", out, ref2, err, ref)
			}
		}
	}
}

// TestWalkTokens pins the exact tokens of CBOR-specific encodings.
func TestWalkTokens(t *testing.T) {
	f, fb, u, i := codectest.Float, codectest.FloatBits, codectest.Uint, codectest.Int
	str, bin, null, b := codectest.Str, codectest.Bin, codectest.Nil(), codectest.Bool
	arr, obj, end := codectest.Array, codectest.Map, codectest.End()
	type toks = []codectest.Token
	tests := []struct {
		name string
		hex  string
		want toks
	}{
		{"uint widths", "83 17 18 18 1b ffffffffffffffff", toks{arr(3), u(23), u(24), u(math.MaxUint64), end}},
		{"non-preferred uint", "1b 0000000000000001", toks{u(1)}},
		{"negative", "20", toks{i(-1)}},
		{"MinInt64", "3b 7fffffffffffffff", toks{i(math.MinInt64)}},
		{"half 1.0", "f9 3c00", toks{f(1)}},
		{"half -0", "f9 8000", toks{f(math.Copysign(0, -1))}},
		{"half smallest subnormal", "f9 0001", toks{f(5.960464477539063e-08)}},
		{"half largest subnormal", "f9 03ff", toks{f(6.097555160522461e-05)}},
		{"half max", "f9 7bff", toks{f(65504)}},
		{"half inf", "f9 fc00", toks{f(math.Inf(-1))}},
		{"half NaN payload", "f9 7e01", toks{fb(0x7ff8040000000000)}},
		{"half signalling NaN", "f9 7c01", toks{fb(0x7ff0040000000000)}},
		{"single signalling NaN kept", "fa 7f800001", toks{fb(0x7ff0000020000000)}},
		{"single", "fa 47c35000", toks{f(100000)}},
		{"double", "fb 3ff199999999999a", toks{f(1.1)}},
		{"false true null undefined", "84 f4 f5 f6 f7", toks{arr(4), b(false), b(true), null, null, end}},
		{"tags skipped", "d9d9f7 c1 c6 01", toks{u(1)}},
		{"bignum is bytes", "c2 49 010000000000000000", toks{bin("\x01\x00\x00\x00\x00\x00\x00\x00\x00")}},
		{"indefinite bytes", "5f 42 0102 40 41 03 ff", toks{bin("\x01\x02\x03")}},
		{"empty indefinite text", "7f ff", toks{str("")}},
		{"indefinite array counted", "9f 01 9f ff 02 ff", toks{arr(3), u(1), arr(0), end, u(2), end}},
		{"indefinite map counted", "bf 7f 61 6b 61 65 ff 7f 61 76 ff 61 78 bf ff ff", toks{obj(2), str("ke"), str("v"), str("x"), obj(0), end, end}},
		{"sibling indefinite arrays", "82 9f 01 ff a1 61 6b 9f 9f ff 82 9f ff 80 ff", toks{arr(2), arr(1), u(1), end,
			obj(1), str("k"), arr(2), arr(0), end, arr(2), arr(0), end, arr(0), end, end, end, end, end}},
		{"tagged key", "a1 c6 61 6b 01", toks{obj(1), str("k"), u(1), end}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := walkTokens(unhex(t, tc.hex), 0)
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("tokens = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHalfFloats compares the widening of all 65536 half-precision values
// with the reference library; NaNs, which the reference may quiet, must
// keep their payload bit for bit.
func TestHalfFloats(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		data := []byte{0xf9, byte(h >> 8), byte(h)}
		toks, err := walkTokens(data, 0)
		if err != nil || len(toks) != 1 || toks[0].Kind != 'f' {
			t.Fatalf("Walk(%x) = %v, %v", data, toks, err)
		}
		got := math.Float64frombits(toks[0].V)
		var ref float64
		if err := reflib.CBORDec.Unmarshal(data, &ref); err != nil {
			t.Fatalf("reference %x: %v", data, err)
		}
		if math.IsNaN(ref) {
			want := uint64(h>>15)<<63 | 0x7ff<<52 | uint64(h&0x3ff)<<42
			if toks[0].V != want {
				t.Errorf("%x: NaN bits %016x, want %016x", data, toks[0].V, want)
			}
			continue
		}
		if math.Float64bits(got) != math.Float64bits(ref) {
			t.Errorf("%x: %v, reference %v", data, got, ref)
		}
	}
}

// TestWalkBad checks the classification of bad input and that the
// reference library rejects it too.
func TestWalkBad(t *testing.T) {
	tests := []struct {
		name   string
		hex    string
		err    error
		refErr bool // the reference library rejects it as well
	}{
		{"empty", "", codec.ErrTruncated, true},
		{"reserved 28", "1c", codec.ErrSyntax, true},
		{"reserved 29 on array", "9d", codec.ErrSyntax, true},
		{"reserved 30 on simple", "fe", codec.ErrSyntax, true},
		{"stray break", "ff", codec.ErrSyntax, true},
		{"break in definite array", "81 ff", codec.ErrSyntax, true},
		{"break as map value", "bf 61 61 ff", codec.ErrSyntax, true},
		{"simple 0", "e0", codec.ErrSyntax, true},
		{"simple 19", "f3", codec.ErrSyntax, true},
		{"one-byte simple 32", "f8 20", codec.ErrSyntax, true},
		{"one-byte simple below 32", "f8 10", codec.ErrSyntax, true},
		{"indefinite uint", "1f", codec.ErrSyntax, true},
		{"indefinite negative", "3f", codec.ErrSyntax, true},
		{"indefinite tag", "df 01", codec.ErrSyntax, true},
		{"text chunk in bytes", "5f 61 61 ff", codec.ErrSyntax, true},
		{"bytes chunk in text", "7f 41 61 ff", codec.ErrSyntax, true},
		{"nested indefinite chunk", "5f 5f ff ff", codec.ErrSyntax, true},
		{"int chunk", "5f 01 ff", codec.ErrSyntax, true},
		{"invalid UTF-8", "62 c328", codec.ErrUTF8, true},
		{"surrogate", "63 eda080", codec.ErrUTF8, true},
		{"overlong", "62 c0af", codec.ErrUTF8, true},
		{"invalid UTF-8 key", "a1 61 ff 01", codec.ErrUTF8, true},
		{"code point split over chunks", "7f 61 c3 61 a9 ff", codec.ErrUTF8, true},
		{"int key", "a1 01 02", codec.ErrKey, true},
		{"bytes key", "a1 41 61 02", codec.ErrKey, true},
		{"array key", "a1 80 02", codec.ErrKey, true},
		{"indefinite map int key", "bf 01 02 ff", codec.ErrKey, true},
		{"null key", "a1 f6 01", codec.ErrKey, false},      // fxamacker reads it as ""
		{"undefined key", "a1 f7 30", codec.ErrKey, false}, // found by FuzzCBORWalk
		{"huge array", "9b ffffffffffffffff", codec.ErrTruncated, true},
		{"huge map", "bb 4000000000000000", codec.ErrTruncated, true},
		{"huge text", "7b ffffffffffffffff", codec.ErrTruncated, true},
		{"huge chunk", "5f 5b 0000000100000000", codec.ErrTruncated, true},
		{"short head", "1b 0000", codec.ErrTruncated, true},
		{"short float", "fa 0000", codec.ErrTruncated, true},
		{"unterminated indefinite", "9f 01", codec.ErrTruncated, true},
		{"unterminated chunks", "7f 61 61", codec.ErrTruncated, true},
		{"map missing value", "a1 61 61", codec.ErrTruncated, true},
		{"tag only", "c6", codec.ErrTruncated, true},
		{"trailing", "01 02", codec.ErrTrailing, true},
		{"trailing after indefinite", "9f ff 00", codec.ErrTrailing, true},
		{"below MinInt64", "3b 8000000000000000", codec.ErrUnsupported, false},
		{"-2^64", "3b ffffffffffffffff", codec.ErrUnsupported, false},
		{"deep", "81818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818181818180", codec.ErrDepth, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := unhex(t, tc.hex)
			_, err := walkTokens(data, 0)
			if !errors.Is(err, tc.err) {
				t.Errorf("Walk(%x) = %v, want %v", data, err, tc.err)
			}
			var ce *codec.Error
			if !errors.As(err, &ce) || ce.Offset < 0 || ce.Offset > len(data) {
				t.Errorf("Walk(%x): error %#v lacks an offset inside the input", data, err)
			}
			if tc.refErr {
				var v any
				if reflib.CBORDecTags.Unmarshal(data, &v) == nil {
					t.Errorf("reference library accepts %x as %#v", data, v)
				}
			}
		})
	}
}

// TestWalkJoinedStrings checks that an indefinite key and an indefinite
// value, joined in the same scratch buffer one after the other, both reach
// the writer intact.
func TestWalkJoinedStrings(t *testing.T) {
	data := unhex(t, "a2 7f 62 6b31 61 78 ff 7f 62 7631 ff 7f 61 6b ff 5f 41 01 41 02 ff")
	got, err := codec.ToGo(codec.Raw{Format: codec.CBOR, Bytes: data})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"k1x": "v1", "k": []byte{1, 2}}
	if !codectest.StrictEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
