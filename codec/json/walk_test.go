package json

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	segjson "github.com/segmentio/encoding/json"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
)

// gen produces random JSON-representable values: nested lists and dicts,
// every scalar kind, integer extremes, awkward floats, unicode, escapes
// and binary.
type gen struct {
	r     *rand.Rand
	depth int
}

var genFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1.0 / 3, 1e21, 1e20, 1e-6, 1e-7, 5e-324, 2.2250738585072014e-308,
	math.MaxFloat64, -math.MaxFloat64, 1e300, 9007199254740993, 1.8446744073709552e19, 123456789.125, -2.5e-10}

var genUints = []uint64{0, 1, 9, 10, 99, 1 << 31, 1 << 53, 1<<53 + 1, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64}

var genInts = []int64{-1, -9, -10, -1 << 31, -1 << 53, math.MinInt64 + 1, math.MinInt64}

var genRunes = []rune{'a', 'Z', '0', ' ', '"', '\\', '/', '\b', '\f', '\n', '\r', '\t', 0, 1, 0x1f, 0x7f,
	'<', '>', '&', 'é', '€', 0x2028, 0x2029, 0xfffd, 0xfeff, 0x10000, 0x1d11e, 0x10ffff, 'ü', '中'}

func (g *gen) str() string {
	n := g.r.IntN(12)
	if g.r.IntN(4) == 0 {
		n = g.r.IntN(40) // exercise the word-at-a-time paths
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		if g.r.IntN(3) == 0 {
			b.WriteRune(genRunes[g.r.IntN(len(genRunes))])
		} else {
			b.WriteByte(byte('a' + g.r.IntN(26)))
		}
	}
	return b.String()
}

func (g *gen) value() any {
	k := g.r.IntN(12)
	if g.depth >= 6 && k >= 9 {
		k = g.r.IntN(9)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		if g.r.IntN(2) == 0 {
			return genUints[g.r.IntN(len(genUints))]
		}
		return g.r.Uint64() >> g.r.IntN(64)
	case 3:
		if g.r.IntN(2) == 0 {
			return genInts[g.r.IntN(len(genInts))]
		}
		return -int64(g.r.Uint64()>>(1+g.r.IntN(63))) - 1
	case 4:
		if g.r.IntN(2) == 0 {
			return genFloats[g.r.IntN(len(genFloats))]
		}
		for {
			f := math.Float64frombits(g.r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f
			}
		}
	case 5, 6:
		return g.str()
	case 7:
		if g.r.IntN(4) == 0 {
			// Looks like the binary convention but is not base64: a string.
			return "\x00" + []string{"!", "A", "AB=", "A===", "AAAA\n", "é"}[g.r.IntN(6)]
		}
		return g.str()
	case 8:
		b := make([]byte, g.r.IntN(20))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		return b
	case 9, 10:
		g.depth++
		defer func() { g.depth-- }()
		l := make([]any, g.r.IntN(5))
		for i := range l {
			l[i] = g.value()
		}
		return l
	default:
		g.depth++
		defer func() { g.depth-- }()
		m := map[string]any{}
		for i, n := 0, g.r.IntN(5); i < n; i++ {
			key := g.str()
			if g.r.IntN(8) == 0 {
				key = "\x00AQID" // keys never follow the binary convention
			}
			m[key] = g.value()
		}
		return m
	}
}

// expected is the value ToGo must return for a generated value written by
// our Writer: integers as int64 (uint64 above MaxInt64), binary-looking
// strings as bytes.
func expected(v any) any {
	switch x := v.(type) {
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case string:
		if b, ok := codectest.JSONBinary(x); ok {
			return b
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expected(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = expected(e)
		}
		return out
	}
	return v
}

// TestWalkRoundTrip writes random values with our Writer, walks them back
// and compares strictly (types, -0, bytes); then checks that Walk → Writer
// reproduces the bytes (and codectest.ThroughWriter's checks) and that
// encoding/json reads our output as the same values.
func TestWalkRoundTrip(t *testing.T) {
	g := gen{r: rand.New(rand.NewPCG(1, 2))}
	for n := 0; n < 3000; n++ {
		v := g.value()
		data, err := codec.AppendGo(nil, codec.JSON, v)
		if err != nil {
			t.Fatalf("AppendGo(%#v): %v", v, err)
		}
		got, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: data})
		if err != nil {
			t.Fatalf("ToGo(%s): %v", data, err)
		}
		if !codectest.IdenticalValues(got, expected(v)) {
			t.Fatalf("round trip of %s:\n got %#v\nwant %#v", data, got, expected(v))
		}
		toks, err := walkTokens(data, 64)
		if err != nil {
			t.Fatal(err)
		}
		if out := codectest.ThroughWriter(t, Codec, data, toks); !bytes.Equal(out, data) {
			t.Fatalf("Walk → Writer changed\n%s\nto\n%s", data, out)
		}
		if !stdjson.Valid(data) {
			t.Fatalf("encoding/json rejects our output %s", data)
		}
		ref, err := codectest.JSONUnmarshal(data)
		if err != nil || !codectest.SameAsJSON(got, ref) {
			t.Fatalf("encoding/json reads %s as %#v (%v), we read %#v", data, ref, err, got)
		}
	}
}

// TestWalkDifferential feeds Walk what encoding/json and segmentio write
// (compact and indented) and compares with what they read back; the tokens
// go through our Writer too (codectest.ThroughWriter).
func TestWalkDifferential(t *testing.T) {
	g := gen{r: rand.New(rand.NewPCG(3, 4))}
	for n := 0; n < 2000; n++ {
		v := codectest.JSONValue(g.value())
		std, err := stdjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := segjson.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inputs := append(indentVariants(t, std), seg)
		for _, data := range inputs {
			got, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: data})
			if err != nil {
				t.Fatalf("Walk(%s): %v", data, err)
			}
			ref, err := codectest.JSONUnmarshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if !codectest.SameAsJSON(got, ref) {
				t.Fatalf("Walk(%s):\n got %#v\nref %#v", data, got, ref)
			}
			var segAny any
			if err := segjson.Unmarshal(data, &segAny); err != nil {
				t.Fatalf("segmentio rejects %s: %v", data, err)
			}
			toks, err := walkTokens(data, 64)
			if err != nil {
				t.Fatal(err)
			}
			codectest.ThroughWriter(t, Codec, data, toks)
		}
	}
}

// TestWalkNumbers pins the integer/float split and exact conversions.
func TestWalkNumbers(t *testing.T) {
	tests := []struct {
		in  string
		tok codectest.Token
	}{
		{"0", codectest.Uint(0)},
		{"-0", codectest.Uint(0)},
		{"18446744073709551615", codectest.Uint(math.MaxUint64)},
		{"18446744073709551616", codectest.Float(18446744073709551616)},
		{"-1", codectest.Int(-1)},
		{"-9223372036854775808", codectest.Int(math.MinInt64)},
		{"-9223372036854775809", codectest.Float(-9223372036854775809)},
		{"-0.0", codectest.Float(math.Copysign(0, -1))},
		{"1.0", codectest.Float(1)},
		{"1e2", codectest.Float(100)},
		{"1E+2", codectest.Float(100)},
		{"2.5e-3", codectest.Float(0.0025)},
		{"1e-400", codectest.Float(0)},
		{"-1e-400", codectest.Float(math.Copysign(0, -1))},
		{"0e99999", codectest.Float(0)},
		{"9007199254740993.0", codectest.Float(9007199254740992)},
		{"2.2250738585072011e-308", codectest.Float(2.2250738585072011e-308)},
		{"1.7976931348623157e308", codectest.Float(math.MaxFloat64)},
		{"0.1000000000000000055511151231257827021181583404541015625", codectest.Float(0.1)},
		{"1" + strings.Repeat("0", 300), codectest.Float(1e300)},
	}
	for _, tt := range tests {
		toks, err := walkTokens([]byte(tt.in), 1)
		if err != nil || len(toks) != 1 || toks[0] != tt.tok {
			t.Errorf("Walk(%s) = %+v, %v; want %+v", tt.in, toks, err, tt.tok)
		}
	}
}

// TestWalkBinary checks the convention: values only, padded or not, and
// anything that is not base64 stays a string.
func TestWalkBinary(t *testing.T) {
	toks, err := walkTokens([]byte(`{"\u0000AQID": "\u0000AQID", "k": ["\u0000AQI", "\u0000AQI=", "\u0000", "\u0000A", "\u0000AQ\u003d=", "\u0000AQ\/D", "\u0000AQ=", "\u0000AA\nAA", "x\u0000AQID"]}`), 64)
	if err != nil {
		t.Fatal(err)
	}
	str, bin := codectest.Str, codectest.Bin
	want := []codectest.Token{
		codectest.Map(2), str("\x00AQID"), bin("\x01\x02\x03"), str("k"),
		codectest.Array(9), bin("\x01\x02"), bin("\x01\x02"), bin(""), str("\x00A"),
		bin("\x01"), bin("\x01\x0f\xc3"), str("\x00AQ="), str("\x00AA\nAA"), str("x\x00AQID"),
		codectest.End(), codectest.End(),
	}
	if len(toks) != len(want) {
		t.Fatalf("tokens = %+v", toks)
	}
	for i := range want {
		if toks[i] != want[i] {
			t.Errorf("token %d = %+v, want %+v", i, toks[i], want[i])
		}
	}
}

// TestBase64 compares the strict decoder with the reference rule built on
// encoding/base64, exhaustively over short strings of a small alphabet.
func TestBase64(t *testing.T) {
	alpha := []byte("AQw+/=\n!")
	var s []byte
	var rec func(n int)
	rec = func(n int) {
		want, wantOK := codectest.JSONBinary("\x00" + string(s))
		got, ok := decodeBase64(nil, s)
		if ok != wantOK || (ok && !bytes.Equal(got, want)) {
			t.Fatalf("decodeBase64(%q) = %x, %v; want %x, %v", s, got, ok, want, wantOK)
		}
		if n == 0 {
			return
		}
		for _, c := range alpha {
			s = append(s, c)
			rec(n - 1)
			s = s[:len(s)-1]
		}
	}
	rec(6)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.IntN(64))
		for j := range b {
			b[j] = byte(r.UintN(256))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			e := enc.EncodeToString(b)
			got, ok := decodeBase64(nil, []byte(e))
			if !ok || !bytes.Equal(got, b) {
				t.Fatalf("decodeBase64(%q) = %x, %v", e, got, ok)
			}
		}
	}
}

// TestWalkErrors covers classification, depth limits and that nothing
// reaches the ValueWriter when the input is invalid.
func TestWalkErrors(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		in    string
		depth int
		err   error
	}{
		{"", 64, codec.ErrTruncated},
		{"  ", 64, codec.ErrTruncated},
		{"1 2", 64, codec.ErrTrailing},
		{`{"a":1}}`, 64, codec.ErrTrailing},
		{`[1,]`, 64, codec.ErrSyntax},
		{`{"a":1,}`, 64, codec.ErrSyntax},
		{`{1:1}`, 64, codec.ErrKey},
		{`"\ud800"`, 64, codec.ErrUTF8},
		{"\"\xff\"", 64, codec.ErrUTF8},
		{`1e400`, 64, codec.ErrRange},
		{`01`, 64, codec.ErrSyntax},
		{`[1, 2, "x"`, 64, codec.ErrTruncated},
		{deep(64), 64, nil},
		{deep(65), 64, codec.ErrDepth},
		{deep(1), 1, nil},
		{`[{}]`, 1, codec.ErrDepth},
		{`1`, 0, nil},
		{`[]`, 0, nil}, // 0 and below mean codec.DefaultMaxDepth
		{deep(codec.DefaultMaxDepth + 1), -1, codec.ErrDepth},
		{strings.Repeat("[", 100000), 1 << 30, codec.ErrDepth},
	}
	for _, tt := range tests {
		var r codectest.Recorder
		err := Walk([]byte(tt.in), &r, tt.depth)
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		if tt.err == nil {
			if err != nil {
				t.Errorf("Walk(%q, %d) = %v", name, tt.depth, err)
			}
			continue
		}
		var ce *codec.Error
		if !errors.Is(err, tt.err) || !errors.As(err, &ce) {
			t.Errorf("Walk(%q, %d) = %v, want %v", name, tt.depth, err, tt.err)
		}
		if len(r.Toks) != 0 {
			t.Errorf("Walk(%q) emitted %d tokens before failing", name, len(r.Toks))
		}
	}
}

// TestWalkLargeStrings makes sure pooled scratch survives strings larger
// than the pool keeps, and that long numbers parse without a string copy.
func TestWalkLargeStrings(t *testing.T) {
	big := strings.Repeat("é\\n", 40000)
	data := []byte(`["` + big + `", "\u0000` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 100000)) + `"]`)
	for i := 0; i < 3; i++ {
		v, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: data})
		if err != nil {
			t.Fatal(err)
		}
		l := v.([]any)
		if l[0].(string) != strings.Repeat("é\n", 40000) || len(l[1].([]byte)) != 100000 {
			t.Fatalf("large strings mangled")
		}
	}
	if !utf8.Valid(data) {
		t.Fatal("test input invalid")
	}
}

// TestConcurrentUse runs Decode, Append and Walk (with its pooled scratch)
// from several goroutines; under -race it proves they share no mutable
// state, and each goroutine checks it gets its own results.
func TestConcurrentUse(t *testing.T) {
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func(g int) {
			var m codec.Message
			w := NewWriter()
			in := []byte(`[16, 1, {"exclude_authid": ["a\n"]}, "t` + string(rune('a'+g)) + `", ["\u0000AQID", 1.5, "x\ty"]]`)
			for n := 0; n < 200; n++ {
				if err := Decode(&m, in); err != nil {
					done <- err
					return
				}
				if string(m.URI) != "t"+string(rune('a'+g)) || string(m.Details.ExcludeAuthID[0]) != "a\n" {
					done <- errors.New("decoded the wrong message")
					return
				}
				w.Reset(nil)
				if err := Walk(m.Args.Bytes, w, 64); err != nil || string(w.Bytes()) != `["\u0000AQID",1.5,"x\ty"]` {
					done <- fmt.Errorf("Walk: %s, %v", w.Bytes(), err)
					return
				}
				if _, err := Append(nil, &m); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
