package reflib

import (
	"bytes"
	"math"
	"reflect"

	fxcbor "github.com/fxamacker/cbor/v2"
	vm "github.com/vmihailenco/msgpack/v5"
)

// CBOREnc encodes deterministically (canonical map key order), so that
// golden bytes, seeds and benchmarks do not depend on Go's map order.
var CBOREnc = func() fxcbor.EncMode {
	em, err := fxcbor.EncOptions{Sort: fxcbor.SortCanonical}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// CBORDec reads CBOR the way the codec must where both are defined: string
// keys only, no duplicate keys, only false/true/null/undefined as simple
// values, no tags; nesting depth and container sizes are left to the
// codec's own limits, which are tested separately.
var CBORDec = cborDecMode(fxcbor.TagsForbidden, true)

// CBORDecTags is CBORDec with tags allowed: unregistered tags decode to
// their content, as the codec treats them.
var CBORDecTags = cborDecMode(fxcbor.TagsAllowed, true)

// CBORDecAnyKeys is CBORDecTags decoding maps as map[any]any, to tell input
// with a non-string key (which the codec rejects) from other input:
// decoding into map[string]any turns a null key into "".
var CBORDecAnyKeys = cborDecMode(fxcbor.TagsAllowed, false)

func cborDecMode(tags fxcbor.TagsMode, stringKeys bool) fxcbor.DecMode {
	var rejects []func(*fxcbor.SimpleValueRegistry) error
	for sv := 0; sv < 256; sv++ {
		if sv < 20 || sv > 31 {
			rejects = append(rejects, fxcbor.WithRejectedSimpleValue(fxcbor.SimpleValue(sv)))
		}
	}
	reg, err := fxcbor.NewSimpleValueRegistryFromDefaults(rejects...)
	if err != nil {
		panic(err)
	}
	opts := fxcbor.DecOptions{
		DupMapKey:        fxcbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  65535,
		MaxArrayElements: math.MaxInt32,
		MaxMapPairs:      math.MaxInt32,
		IndefLength:      fxcbor.IndefLengthAllowed,
		TagsMd:           tags,
		SimpleValues:     reg,
	}
	if stringKeys {
		opts.DefaultMapType = reflect.TypeOf(map[string]any{})
	}
	if tags == fxcbor.TagsAllowed {
		opts.UnrecognizedTagToAny = fxcbor.UnrecognizedTagContentToAny
	}
	dm, err := opts.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

// MsgPackEncode encodes v with vmihailenco/msgpack, map keys sorted so that
// outputs are reproducible. By default the library writes every Go int as
// int64 and uint as uint64 (9 bytes); compactInts picks the smallest form,
// as most WAMP clients do, and compactFloats writes float64 values that fit
// as float32 (and integral ones as integers).
func MsgPackEncode(v any, compactInts, compactFloats bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := vm.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(compactInts)
	enc.UseCompactFloats(compactFloats)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MsgPackDecode decodes one value with vmihailenco/msgpack into interface
// values, float32 widened to float64 as the codec's Walk does, so that the
// result compares with codec.ToGo's through codectest.
func MsgPackDecode(data []byte) (any, error) {
	v, err := vm.NewDecoder(bytes.NewReader(data)).DecodeInterface()
	if err != nil {
		return nil, err
	}
	return WidenFloat32(v), nil
}

// WidenFloat32 returns v with every float32 in it, at any depth, widened
// to float64 (lists and dicts are copied, not changed in place).
func WidenFloat32(v any) any {
	switch x := v.(type) {
	case float32:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = WidenFloat32(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = WidenFloat32(e)
		}
		return out
	}
	return v
}
