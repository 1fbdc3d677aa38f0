package codectest

import (
	"bytes"
	"math"
	"reflect"
)

// The value comparisons below differ only in how strict they are with
// scalars; lists, dicts and bytes compare the same way in all of them.

// EqualValues compares Go values as decoded by codec.ToGo with expected
// values, treating integer types by numeric value.
func EqualValues(a, b any) bool { return equal(a, b, 0) }

// StrictEqual is EqualValues with floats compared bit for bit, so a float
// must stay a float (and -0 stay -0) through an encoding.
func StrictEqual(a, b any) bool { return equal(a, b, cmpFloatBits) }

// StrictEqualAnyNaN is StrictEqual except that any NaN equals any NaN: for
// comparing with a reference library that may rewrite NaN payloads.
func StrictEqualAnyNaN(a, b any) bool { return equal(a, b, cmpFloatBits|cmpAnyNaN) }

// IdenticalValues is StrictEqual that also tells integer types apart
// (int64 from uint64), to check the type codec.ToGo chose.
func IdenticalValues(a, b any) bool { return equal(a, b, cmpFloatBits|cmpIntTypes) }

type cmpMode uint8

// With no bits set, floats compare by == except that NaN equals NaN, and
// integers by numeric value whatever their types.
const (
	cmpFloatBits cmpMode = 1 << iota // floats bit for bit
	cmpAnyNaN                        // with cmpFloatBits: any NaN equals any NaN
	cmpIntTypes                      // integers of different types differ
)

func equal(a, b any, m cmpMode) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i], m) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equal(v, w, m) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case float64:
		y, ok := b.(float64)
		switch {
		case !ok:
			return false
		case math.IsNaN(x) && math.IsNaN(y) && m&(cmpFloatBits|cmpAnyNaN) != cmpFloatBits:
			return true
		case m&cmpFloatBits != 0:
			return math.Float64bits(x) == math.Float64bits(y)
		}
		return x == y
	}
	if ai, ok := asInt(a); ok {
		bi, ok2 := asInt(b)
		return ok2 && ai == bi && (m&cmpIntTypes == 0 || reflect.TypeOf(a) == reflect.TypeOf(b))
	}
	return reflect.DeepEqual(a, b)
}

type bigInt struct {
	neg bool
	mag uint64
}

func asInt(v any) (bigInt, bool) {
	switch x := v.(type) {
	case int:
		return fromInt(int64(x)), true
	case int8:
		return fromInt(int64(x)), true
	case int16:
		return fromInt(int64(x)), true
	case int32:
		return fromInt(int64(x)), true
	case int64:
		return fromInt(x), true
	case uint:
		return bigInt{mag: uint64(x)}, true
	case uint8:
		return bigInt{mag: uint64(x)}, true
	case uint16:
		return bigInt{mag: uint64(x)}, true
	case uint32:
		return bigInt{mag: uint64(x)}, true
	case uint64:
		return bigInt{mag: x}, true
	}
	return bigInt{}, false
}

func fromInt(i int64) bigInt {
	if i < 0 {
		return bigInt{neg: true, mag: uint64(-i)}
	}
	return bigInt{mag: uint64(i)}
}

// PlainValue reports whether v holds only the types codec.ToGo produces:
// nil, bool, int64, uint64, float64, string, []byte, []any and
// map[string]any.
func PlainValue(v any) bool {
	switch x := v.(type) {
	case nil, bool, int64, uint64, float64, string, []byte:
		return true
	case []any:
		for _, e := range x {
			if !PlainValue(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !PlainValue(e) {
				return false
			}
		}
		return true
	}
	return false
}
