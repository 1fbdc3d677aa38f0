package json

import (
	"bytes"
	stdjson "encoding/json"
	"math/big"
	"testing"

	"github.com/zwamp/zwamp/internal/codectest"
)

// refMarshal encodes v with encoding/json after codectest.JSONValue.
func refMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := stdjson.Marshal(codectest.JSONValue(v))
	if err != nil {
		t.Fatalf("encoding/json.Marshal(%#v): %v", v, err)
	}
	return b
}

// refEqual compares two codectest.JSONUnmarshal results, numbers by exact value.
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

// walkTokens walks data and returns its tokens.
func walkTokens(data []byte, maxDepth int) ([]codectest.Token, error) {
	var r codectest.Recorder
	err := Walk(data, &r, maxDepth)
	return r.Toks, err
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
