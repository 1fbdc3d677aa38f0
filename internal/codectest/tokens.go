package codectest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// Token is one ValueWriter call as a comparable value. Kind is one of
// n b i u f s y [ { ] (WriteNil, WriteBool, WriteInt, WriteUint,
// WriteFloat, WriteString, WriteBytes, BeginArray, BeginMap, End). V holds
// the bool (0 or 1), the integer (WriteInt's as two's complement), the
// float's bits (so -0 and NaN payloads compare exactly) or the container's
// count; S holds the string or bytes.
type Token struct {
	Kind byte
	V    uint64
	S    string
}

// Token constructors, for tables of expected tokens.

func Nil() Token               { return Token{Kind: 'n'} }
func Int(v int64) Token        { return Token{Kind: 'i', V: uint64(v)} }
func Uint(v uint64) Token      { return Token{Kind: 'u', V: v} }
func Float(v float64) Token    { return FloatBits(math.Float64bits(v)) }
func FloatBits(b uint64) Token { return Token{Kind: 'f', V: b} }
func Str(s string) Token       { return Token{Kind: 's', S: s} }
func Bin(b string) Token       { return Token{Kind: 'y', S: b} }
func Array(n int) Token        { return Token{Kind: '[', V: uint64(n)} }
func Map(n int) Token          { return Token{Kind: '{', V: uint64(n)} }
func End() Token               { return Token{Kind: ']'} }
func Bool(v bool) Token {
	if v {
		return Token{Kind: 'b', V: 1}
	}
	return Token{Kind: 'b'}
}

// String writes t as "uint 5", "float 3ff0000000000000", "str k",
// "bin 0102", "array 2", "end" and so on.
func (t Token) String() string {
	switch t.Kind {
	case 'n':
		return "nil"
	case 'b':
		return "bool " + strconv.FormatBool(t.V != 0)
	case 'i':
		return "int " + strconv.FormatInt(int64(t.V), 10)
	case 'u':
		return "uint " + strconv.FormatUint(t.V, 10)
	case 'f':
		return fmt.Sprintf("float %016x", t.V)
	case 's':
		return "str " + t.S
	case 'y':
		return fmt.Sprintf("bin %x", t.S)
	case '[':
		return "array " + strconv.FormatUint(t.V, 10)
	case '{':
		return "map " + strconv.FormatUint(t.V, 10)
	case ']':
		return "end"
	}
	return fmt.Sprintf("token %q", t.Kind)
}

// Recorder is a ValueWriter that records every call as a Token (copying
// strings and bytes, which a Walk may pass as views into scratch space).
type Recorder struct{ Toks []Token }

func (r *Recorder) add(t Token)          { r.Toks = append(r.Toks, t) }
func (r *Recorder) WriteNil()            { r.add(Nil()) }
func (r *Recorder) WriteBool(v bool)     { r.add(Bool(v)) }
func (r *Recorder) WriteInt(v int64)     { r.add(Int(v)) }
func (r *Recorder) WriteUint(v uint64)   { r.add(Uint(v)) }
func (r *Recorder) WriteFloat(v float64) { r.add(Float(v)) }
func (r *Recorder) WriteString(s []byte) { r.add(Str(string(s))) }
func (r *Recorder) WriteBytes(b []byte)  { r.add(Bin(string(b))) }
func (r *Recorder) BeginArray(n int)     { r.add(Array(n)) }
func (r *Recorder) BeginMap(n int)       { r.add(Map(n)) }
func (r *Recorder) End()                 { r.add(End()) }

// String is the recorded tokens separated by spaces.
func (r *Recorder) String() string {
	s := make([]string, len(r.Toks))
	for i, t := range r.Toks {
		s[i] = t.String()
	}
	return strings.Join(s, " ")
}

// CheckTokens reports whether toks keep the Walk contract: exactly one
// value, every container holding the count it announced (pairs for a
// map) before its End, map keys written as strings, and WriteInt used
// only for negative integers.
func CheckTokens(toks []Token) error {
	i, err := checkValue(toks, 0)
	if err == nil && i != len(toks) {
		err = fmt.Errorf("%d tokens after the value", len(toks)-i)
	}
	return err
}

func checkValue(toks []Token, i int) (int, error) {
	if i >= len(toks) {
		return i, fmt.Errorf("missing value at token %d", i)
	}
	t := toks[i]
	i++
	switch t.Kind {
	case 'i':
		if int64(t.V) >= 0 {
			return i, fmt.Errorf("WriteInt(%d) for a non-negative integer", int64(t.V))
		}
	case '[', '{':
		for n := uint64(0); n < t.V; n++ {
			if t.Kind == '{' {
				if i >= len(toks) || toks[i].Kind != 's' {
					return i, fmt.Errorf("map key at token %d is not a string", i)
				}
				i++
			}
			var err error
			if i, err = checkValue(toks, i); err != nil {
				return i, err
			}
		}
		if i >= len(toks) || toks[i].Kind != ']' {
			return i, fmt.Errorf("container of %d at token %d not closed after its count", t.V, i)
		}
		i++
	case ']':
		return i, fmt.Errorf("stray End at token %d", i-1)
	}
	return i, nil
}

// ThroughWriter checks toks, the tokens a Walk of data gave, with
// CheckTokens; then it walks data into a Writer of cd and checks that the
// output walks to the same tokens and is stable: walked into a Writer
// again, it comes out byte for byte the same. It returns the output.
func ThroughWriter(t testing.TB, cd codec.Codec, data []byte, toks []Token) []byte {
	t.Helper()
	if err := CheckTokens(toks); err != nil {
		t.Fatalf("Walk(%s) tokens: %v\n%.2000s", show(cd, data), err, &Recorder{Toks: toks})
	}
	w := cd.NewWriter()
	w.Reset(nil)
	if err := cd.Walk(data, w, 0); err != nil || w.Err() != nil {
		t.Fatalf("Walk(%s) into Writer: %v / %v", show(cd, data), err, w.Err())
	}
	out := w.Bytes()
	var r Recorder
	if err := cd.Walk(out, &r, 0); err != nil || !slices.Equal(toks, r.Toks) {
		t.Fatalf("Walk→Writer→Walk differs (%v)\nin  %s\n    %.2000s\nout %s\n    %.2000s", err, show(cd, data), &Recorder{Toks: toks}, show(cd, out), &r)
	}
	w2 := cd.NewWriter()
	w2.Reset(nil)
	if err := cd.Walk(out, w2, 0); err != nil || !bytes.Equal(w2.Bytes(), out) {
		t.Fatalf("Writer output not stable: %s then %s (%v)", show(cd, out), show(cd, w2.Bytes()), err)
	}
	return out
}

// Discard is a ValueWriter that drops every token, to time a Walk alone.
type Discard struct{}

func (Discard) WriteNil()          {}
func (Discard) WriteBool(bool)     {}
func (Discard) WriteInt(int64)     {}
func (Discard) WriteUint(uint64)   {}
func (Discard) WriteFloat(float64) {}
func (Discard) WriteString([]byte) {}
func (Discard) WriteBytes([]byte)  {}
func (Discard) BeginArray(int)     {}
func (Discard) BeginMap(int)       {}
func (Discard) End()               {}
