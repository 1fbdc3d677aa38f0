package json

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec/codectest"
)

// refValue converts a codectest-style Go value into what encoding/json
// must marshal to follow the WAMP binary convention: []byte becomes
// "\x00" + base64.
func refValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return "\x00" + base64.StdEncoding.EncodeToString(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = refValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = refValue(e)
		}
		return out
	}
	return v
}

// refMarshal encodes v with encoding/json after refValue.
func refMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := stdjson.Marshal(refValue(v))
	if err != nil {
		t.Fatalf("encoding/json.Marshal(%#v): %v", v, err)
	}
	return b
}

// refUnmarshal decodes data with encoding/json, keeping numbers exact.
func refUnmarshal(data []byte) (any, error) {
	dec := stdjson.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

// conventionBytes applies the WAMP binary convention as a reference, built
// on encoding/base64 rather than on the package's own decoder: padded
// (length a multiple of 4) or unpadded base64 after a leading NUL. '\r' and
// '\n', which encoding/base64 would skip, make the string a plain string.
func conventionBytes(s string) ([]byte, bool) {
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

// sameAsRef reports whether got (from codec.ToGo) equals ref (from
// refUnmarshal): numbers compare by exact value, strings following the
// binary convention compare as bytes, map keys never do.
func sameAsRef(got, ref any) bool {
	switch r := ref.(type) {
	case nil:
		return got == nil
	case bool:
		g, ok := got.(bool)
		return ok && g == r
	case stdjson.Number:
		return sameNumber(got, string(r))
	case string:
		if b, ok := conventionBytes(r); ok {
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
			if !sameAsRef(g[i], r[i]) {
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
			if !ok || !sameAsRef(gv, rv) {
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

// refEqual compares two refUnmarshal results, numbers by exact value.
func refEqual(a, b any) bool {
	switch x := a.(type) {
	case stdjson.Number:
		y, ok := b.(stdjson.Number)
		if !ok {
			return false
		}
		rx, ok1 := new(big.Rat).SetString(string(x))
		ry, ok2 := new(big.Rat).SetString(string(y))
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !refEqual(x[i], y[i]) {
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
			w, ok := y[k]
			if !ok || !refEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}

// strictEqual compares Go values as produced by codec.ToGo, telling int64
// from uint64 from float64 and -0 from 0.
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !strictEqual(x[i], y[i]) {
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
			w, ok := y[k]
			if !ok || !strictEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}

// walkTokens walks data and returns its tokens.
func walkTokens(data []byte, maxDepth int) ([]codectest.Token, error) {
	var r codectest.Recorder
	err := Walk(data, &r, maxDepth)
	return r.Toks, err
}

// checkTokens fails t unless toks keep the Walk contract.
func checkTokens(t testing.TB, toks []codectest.Token) {
	t.Helper()
	if err := codectest.CheckTokens(toks); err != nil {
		t.Fatalf("tokens %v: %v", toks, err)
	}
}

// indentVariants returns data re-indented in a few whitespace styles that
// RFC 8259 allows.
func indentVariants(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var tabs, spaces bytes.Buffer
	if err := stdjson.Indent(&tabs, data, "", "\t"); err != nil {
		t.Fatalf("Indent: %v", err)
	}
	if err := stdjson.Indent(&spaces, data, " ", "   "); err != nil {
		t.Fatalf("Indent: %v", err)
	}
	crlf := bytes.ReplaceAll(spaces.Bytes(), []byte("\n"), []byte("\r\n"))
	padded := append(append([]byte(" \t\r\n"), data...), " \n\t\r "...)
	return [][]byte{data, tabs.Bytes(), crlf, padded}
}
