package json

import (
	"errors"
	"math"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

func nan() float64 { return math.NaN() }

func TestWriterFloats(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{1, "1.0"},
		{-1, "-1.0"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0.1, "0.1"},
		{1.5, "1.5"},
		{-0.5, "-0.5"},
		{123456789, "123456789.0"},
		{1e20, "100000000000000000000.0"},
		{1e21, "1e+21"},
		{1.8446744073709552e19, "18446744073709552000.0"},
		{1e-6, "0.000001"},
		{1e-7, "1e-7"},
		{1.2345e-9, "1.2345e-9"},
		{1e300, "1e+300"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.SmallestNonzeroFloat64, "5e-324"},
	}
	w := NewWriter()
	for _, tt := range tests {
		w.Reset(nil)
		w.WriteFloat(tt.f)
		if w.Err() != nil || string(w.Bytes()) != tt.want {
			t.Errorf("WriteFloat(%v) = %q, %v; want %q", tt.f, w.Bytes(), w.Err(), tt.want)
		}
		// And it must come back as the same float.
		toks, err := walkTokens(w.Bytes(), 1)
		if err != nil || len(toks) != 1 || toks[0] != codectest.Float(tt.f) {
			t.Errorf("Walk(%s) = %+v, %v", w.Bytes(), toks, err)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		w.Reset([]byte("x"))
		w.BeginArray(2)
		w.WriteFloat(f)
		w.WriteUint(1) // sticky: later writes do not clear or hide it
		w.End()
		if !errors.Is(w.Err(), codec.ErrUnsupported) {
			t.Errorf("WriteFloat(%v): err = %v", f, w.Err())
		}
	}
}

func TestWriterStrings(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"plain ascii that is longer than eight bytes", `"plain ascii that is longer than eight bytes"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<>&\u2028", "\"<>&\u2028\""},
		{"é€𝄞 ünïcödé", `"é€𝄞 ünïcödé"`},
		{"12345678\"12345678\\", `"12345678\"12345678\\"`},
	}
	w := NewWriter()
	for _, tt := range tests {
		w.Reset(nil)
		w.WriteString([]byte(tt.in))
		if w.Err() != nil || string(w.Bytes()) != tt.want {
			t.Errorf("WriteString(%q) = %s, %v; want %s", tt.in, w.Bytes(), w.Err(), tt.want)
		}
		toks, err := walkTokens(w.Bytes(), 1)
		if err != nil || len(toks) != 1 || toks[0] != codectest.Str(tt.in) {
			t.Errorf("Walk(%s) = %+v, %v", w.Bytes(), toks, err)
		}
	}
	for _, bad := range []string{"\xff", "abc\xc3", "\xed\xa0\x80", "12345678\xfe"} {
		w.Reset(nil)
		w.WriteString([]byte(bad))
		if !errors.Is(w.Err(), codec.ErrUTF8) {
			t.Errorf("WriteString(%q): err = %v", bad, w.Err())
		}
	}
}

func TestWriterStructure(t *testing.T) {
	w := NewWriter()
	w.Reset([]byte("pre:"))
	w.BeginMap(3)
	w.WriteString([]byte("a"))
	w.BeginArray(4)
	w.WriteNil()
	w.WriteBool(true)
	w.WriteBool(false)
	w.BeginMap(0)
	w.End()
	w.End()
	w.WriteString([]byte("b"))
	w.WriteBytes([]byte{1, 2, 3})
	w.WriteString([]byte("c"))
	w.BeginArray(3)
	w.WriteInt(-9223372036854775808)
	w.WriteUint(18446744073709551615)
	w.WriteBytes(nil)
	w.End()
	w.End()
	want := `pre:{"a":[null,true,false,{}],"b":"\u0000AQID","c":[-9223372036854775808,18446744073709551615,"\u0000"]}`
	if w.Err() != nil || string(w.Bytes()) != want {
		t.Errorf("got  %s (%v)\nwant %s", w.Bytes(), w.Err(), want)
	}

	// Deeper than the inline stack.
	w.Reset(nil)
	for i := 0; i < 100; i++ {
		w.BeginArray(1)
	}
	for i := 0; i < 100; i++ {
		w.End()
	}
	if w.Err() != nil || len(w.Bytes()) != 200 {
		t.Errorf("deep: %s, %v", w.Bytes(), w.Err())
	}

	misuse := []struct {
		name string
		f    func(w *Writer)
		err  error
	}{
		{"non-string key", func(w *Writer) { w.BeginMap(1); w.WriteUint(1); w.WriteUint(2); w.End() }, codec.ErrKey},
		{"bytes key", func(w *Writer) { w.BeginMap(1); w.WriteBytes([]byte{1}); w.End() }, codec.ErrKey},
		{"container key", func(w *Writer) { w.BeginMap(1); w.BeginArray(0) }, codec.ErrKey},
		{"end without begin", func(w *Writer) { w.End() }, codec.ErrSyntax},
		{"key without value", func(w *Writer) { w.BeginMap(1); w.WriteString([]byte("k")); w.End() }, codec.ErrSyntax},
	}
	for _, c := range misuse {
		w.Reset(nil)
		c.f(w)
		if !errors.Is(w.Err(), c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, w.Err(), c.err)
		}
	}
	// Reset clears the sticky error.
	w.Reset(nil)
	w.WriteUint(1)
	if w.Err() != nil || string(w.Bytes()) != "1" {
		t.Errorf("after Reset: %s, %v", w.Bytes(), w.Err())
	}
}
