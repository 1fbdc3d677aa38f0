package codectest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// The JSON reference: encoding/json, with the WAMP binary convention
// ("\u0000" + base64) applied on top of it, and numbers compared exactly.

// JSONValue converts a Go value (as in Case.Value) into what encoding/json
// must marshal to follow the WAMP binary convention: []byte becomes
// "\x00" + base64.
func JSONValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return "\x00" + base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue(e)
		}
		return out
	}
	return v
}

// JSONUnmarshal decodes data with encoding/json, numbers as json.Number so
// that they stay exact, and rejects trailing data.
func JSONUnmarshal(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// JSONBinary applies the WAMP binary convention as a reference, built on
// encoding/base64 rather than on the codec's own decoder: a leading NUL,
// then padded (length a multiple of 4) or unpadded base64. '\r' and '\n',
// which encoding/base64 would skip, make the string a plain string.
func JSONBinary(s string) ([]byte, bool) {
	if len(s) == 0 || s[0] != 0 {
		return nil, false
	}
	rest := s[1:]
	if strings.ContainsAny(rest, "\r\n") {
		return nil, false
	}
	enc := base64.StdEncoding
	if len(rest)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(rest)
	if err != nil {
		return nil, false
	}
	if b == nil {
		b = []byte{}
	}
	return b, true
}

// SameAsJSON reports whether got (from codec.ToGo) equals ref (from
// JSONUnmarshal): numbers by exact value, strings that follow the binary
// convention as bytes (map keys never do).
func SameAsJSON(got, ref any) bool {
	switch r := ref.(type) {
	case nil:
		return got == nil
	case bool:
		g, ok := got.(bool)
		return ok && g == r
	case json.Number:
		return sameNumber(got, string(r))
	case string:
		if b, ok := JSONBinary(r); ok {
			g, ok := got.([]byte)
			return ok && bytes.Equal(g, b)
		}
		g, ok := got.(string)
		return ok && g == r
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(r) {
			return false
		}
		for i := range r {
			if !SameAsJSON(g[i], r[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(r) {
			return false
		}
		for k, rv := range r {
			gv, ok := g[k]
			if !ok || !SameAsJSON(gv, rv) {
				return false
			}
		}
		return true
	}
	return false
}

// sameNumber compares a decoded number with a JSON number literal exactly:
// integers by value, floats as the correctly rounded float64 of the text.
func sameNumber(got any, lit string) bool {
	switch g := got.(type) {
	case int64:
		want, ok := new(big.Int).SetString(lit, 10)
		return ok && want.Cmp(big.NewInt(g)) == 0
	case uint64:
		want, ok := new(big.Int).SetString(lit, 10)
		return ok && want.Cmp(new(big.Int).SetUint64(g)) == 0
	case float64:
		// strconv.ParseFloat is the rounding reference (big.ParseFloat
		// gives up on exponents like 0e99999999999999999999).
		want, err := strconv.ParseFloat(lit, 64)
		return err == nil && want == g
	}
	return false
}
