package msgpack

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

// TestWalkDifferential generates random values, encodes them with the
// reference library (in each of its modes) and with randomly chosen
// non-minimal encodings, and checks that Walk reads exactly what the
// reference library reads and what was generated; then that Walk → Writer
// → Walk reproduces the same tokens and that Writer output is canonical.
func TestWalkDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	w := NewWriter()
	n := 1500
	if testing.Short() || raceEnabled {
		n = 200
	}
	for i := range n {
		v := genValue(r, 4)
		inputs := [][]byte{encodeAny(r, nil, v), encodeAny(r, nil, v)}
		for _, mode := range refModes {
			inputs = append(inputs, refEncode(t, v, mode))
		}
		for j, data := range inputs {
			ours, err := toGo(data)
			if err != nil {
				t.Fatalf("value %d: Walk(%x): %v", i, data, err)
			}
			ref, err := reflib.MsgPackDecode(data)
			if err != nil {
				t.Fatalf("value %d: reference decode(%x): %v", i, data, err)
			}
			if d := diff(ours, ref, "$"); d != "" {
				t.Fatalf("value %d: Walk and the reference library differ: %s", i, d)
			}
			// The reference library's compact-floats mode writes integral
			// floats as integers (lossy by design); all others round-trip.
			lossy := j == len(inputs)-1 && refModes[len(refModes)-1].compactFloats
			if d := diff(ours, reflib.WidenFloat32(v), "$"); d != "" && !lossy {
				t.Fatalf("value %d: Walk and the generated value differ: %s", i, d)
			}

			var first codectest.Recorder
			if err := Walk(data, &first, 0); err != nil {
				t.Fatal(err)
			}
			assertSameRef(t, data, codectest.ThroughWriter(t, Codec, data, first.Toks))
		}
		// Without maps (whose order differs) and float32 (which Writer
		// widens), Writer's output is byte for byte the reference
		// library's compact encoding: both pick the smallest forms.
		if !hasMapOrFloat32(v) {
			want := refEncode(t, v, refModes[1])
			w.Reset(nil)
			if err := Walk(want, w, 0); err != nil || !bytes.Equal(w.Bytes(), want) {
				t.Fatalf("Writer wrote %x, reference compact encoding is %x (%v)", w.Bytes(), want, err)
			}
		}
	}
}

func hasMapOrFloat32(v any) bool {
	switch x := v.(type) {
	case map[string]any, float32:
		return true
	case []any:
		for _, e := range x {
			if hasMapOrFloat32(e) {
				return true
			}
		}
	}
	return false
}

// TestWalkTokens pins the token each encoding produces.
func TestWalkTokens(t *testing.T) {
	tests := []struct{ hex, want string }{
		{"00", "uint 0"}, {"7f", "uint 127"}, {"ff", "int -1"}, {"e0", "int -32"},
		{"cc ff", "uint 255"}, {"cd ffff", "uint 65535"}, {"ce ffffffff", "uint 4294967295"},
		{"cf ffffffffffffffff", "uint 18446744073709551615"},
		{"d0 05", "uint 5"}, {"d0 80", "int -128"}, {"d1 8000", "int -32768"}, {"d2 80000000", "int -2147483648"},
		{"d3 7fffffffffffffff", "uint 9223372036854775807"}, {"d3 8000000000000000", "int -9223372036854775808"},
		{"d3 0000000000000000", "uint 0"},
		{"ca 3fc00000", "float 3ff8000000000000"},
		{"ca 3dcccccd", "float 3fb99999a0000000"}, // float32(0.1) widened exactly
		{"ca 80000000", "float 8000000000000000"},
		{"ca 7f800000", "float 7ff0000000000000"},
		{"cb 8000000000000000", "float 8000000000000000"},
		{"cb 0000000000000001", "float 0000000000000001"},
		{"c0", "nil"}, {"c2", "bool false"}, {"c3", "bool true"},
		{"a0", "str "}, {"a3 e282ac", "str €"}, {"d9 01 61", "str a"}, {"da 0001 61", "str a"}, {"db 00000001 61", "str a"},
		{"c4 00", "bin "}, {"c4 02 0102", "bin 0102"}, {"c5 0001 ff", "bin ff"}, {"c6 00000001 ff", "bin ff"},
		{"90", "array 0 end"}, {"dc 0001 01", "array 1 uint 1 end"}, {"dd 00000001 01", "array 1 uint 1 end"},
		{"80", "map 0 end"}, {"81 a1 6b c0", "map 1 str k nil end"},
		{"de 0001 a1 6b 92 01 ff", "map 1 str k array 2 uint 1 int -1 end end"},
		{"df 00000001 a0 80", "map 1 str  map 0 end end"},
	}
	for _, tt := range tests {
		var rec codectest.Recorder
		data := unhex(t, tt.hex)
		if err := Walk(data, &rec, 0); err != nil {
			t.Errorf("Walk(%x): %v", data, err)
			continue
		}
		if rec.String() != tt.want {
			t.Errorf("Walk(%x) = %s, want %s", data, &rec, tt.want)
		}
	}
}

func TestWalkErrors(t *testing.T) {
	tests := []struct {
		hex string
		max int
		err error
		off int
	}{
		{"", 0, codec.ErrTruncated, 0},
		{"c1", 0, codec.ErrSyntax, 0},
		{"91 c1", 0, codec.ErrSyntax, 1},
		{"d4 01 00", 0, codec.ErrUnsupported, 0},
		{"c7 00 01", 0, codec.ErrUnsupported, 0},
		{"92 01 d8 01 00000000000000000000000000000000", 0, codec.ErrUnsupported, 2},
		{"01 02", 0, codec.ErrTrailing, 1},
		{"81 01 01", 0, codec.ErrKey, 1},
		{"81 c4 01 61 01", 0, codec.ErrKey, 1},
		{"81 a1 ff 01", 0, codec.ErrUTF8, 2},
		{"a2 e2 82", 0, codec.ErrUTF8, 1},
		{"dd ffffffff", 0, codec.ErrTruncated, 0},
		{"df ffffffff", 0, codec.ErrTruncated, 0},
		{"db ffffffff", 0, codec.ErrTruncated, 0},
		{"c6 ffffffff", 0, codec.ErrTruncated, 0},
		{"cb 00", 0, codec.ErrTruncated, 0},
		{"ca 000000", 0, codec.ErrTruncated, 0},
		{"91 91 90", 2, codec.ErrDepth, 2},
		{"91 91 90", 3, nil, 0},
		{"81 a1 61 81 a1 62 80", 2, codec.ErrDepth, 6},
	}
	for _, tt := range tests {
		data := unhex(t, tt.hex)
		err := Walk(data, &codectest.Recorder{}, tt.max)
		if tt.err == nil {
			if err != nil {
				t.Errorf("Walk(%x, %d) = %v", data, tt.max, err)
			}
			continue
		}
		var ce *codec.Error
		if !errors.Is(err, tt.err) || !errors.As(err, &ce) {
			t.Errorf("Walk(%x, %d) = %v, want %v", data, tt.max, err, tt.err)
			continue
		}
		if ce.Offset != tt.off {
			t.Errorf("Walk(%x): offset %d, want %d", data, ce.Offset, tt.off)
		}
	}

	// maxDepth 0 means the default: 64 levels pass, 65 do not.
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n-1), 0x90) }
	if err := Walk(deep(codec.DefaultMaxDepth), &codectest.Recorder{}, 0); err != nil {
		t.Errorf("depth %d: %v", codec.DefaultMaxDepth, err)
	}
	if err := Walk(deep(codec.DefaultMaxDepth+1), &codectest.Recorder{}, 0); !errors.Is(err, codec.ErrDepth) {
		t.Errorf("depth %d: %v, want ErrDepth", codec.DefaultMaxDepth+1, err)
	}
}

// TestWalkTruncations: every prefix of a valid value is an error.
func TestWalkTruncations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		data := encodeAny(r, nil, genValue(r, 3))
		if len(data) > 2048 {
			continue // quadratic: keep it quick
		}
		for n := range len(data) {
			if err := Walk(data[:n:n], codectest.Discard{}, 0); !errors.Is(err, codec.ErrTruncated) {
				t.Fatalf("Walk(%x) = %v, want ErrTruncated", data[:n], err)
			}
		}
	}
}

func TestWriterEncodings(t *testing.T) {
	long := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	hdr := func(h string, n int) string { return h + strings.Repeat("78", n) }
	bin := func(h string, n int) string { return h + strings.Repeat("78", n) }
	tests := []struct {
		write func(w *Writer)
		hex   string
	}{
		{func(w *Writer) { w.WriteUint(0) }, "00"},
		{func(w *Writer) { w.WriteUint(127) }, "7f"},
		{func(w *Writer) { w.WriteUint(128) }, "cc 80"},
		{func(w *Writer) { w.WriteUint(255) }, "cc ff"},
		{func(w *Writer) { w.WriteUint(256) }, "cd 0100"},
		{func(w *Writer) { w.WriteUint(65535) }, "cd ffff"},
		{func(w *Writer) { w.WriteUint(65536) }, "ce 00010000"},
		{func(w *Writer) { w.WriteUint(math.MaxUint32) }, "ce ffffffff"},
		{func(w *Writer) { w.WriteUint(math.MaxUint32 + 1) }, "cf 0000000100000000"},
		{func(w *Writer) { w.WriteUint(math.MaxUint64) }, "cf ffffffffffffffff"},
		{func(w *Writer) { w.WriteInt(5) }, "05"},
		{func(w *Writer) { w.WriteInt(-1) }, "ff"},
		{func(w *Writer) { w.WriteInt(-32) }, "e0"},
		{func(w *Writer) { w.WriteInt(-33) }, "d0 df"},
		{func(w *Writer) { w.WriteInt(-128) }, "d0 80"},
		{func(w *Writer) { w.WriteInt(-129) }, "d1 ff7f"},
		{func(w *Writer) { w.WriteInt(-32768) }, "d1 8000"},
		{func(w *Writer) { w.WriteInt(-32769) }, "d2 ffff7fff"},
		{func(w *Writer) { w.WriteInt(math.MinInt32) }, "d2 80000000"},
		{func(w *Writer) { w.WriteInt(math.MinInt32 - 1) }, "d3 ffffffff7fffffff"},
		{func(w *Writer) { w.WriteInt(math.MinInt64) }, "d3 8000000000000000"},
		{func(w *Writer) { w.WriteFloat(1.5) }, "cb 3ff8000000000000"},
		{func(w *Writer) { w.WriteFloat(math.Copysign(0, -1)) }, "cb 8000000000000000"},
		{func(w *Writer) { w.WriteFloat(2) }, "cb 4000000000000000"},
		{func(w *Writer) { w.WriteNil() }, "c0"},
		{func(w *Writer) { w.WriteBool(false) }, "c2"},
		{func(w *Writer) { w.WriteBool(true) }, "c3"},
		{func(w *Writer) { w.WriteString(nil) }, "a0"},
		{func(w *Writer) { w.WriteString(long(31)) }, hdr("bf", 31)},
		{func(w *Writer) { w.WriteString(long(32)) }, hdr("d9 20", 32)},
		{func(w *Writer) { w.WriteString(long(255)) }, hdr("d9 ff", 255)},
		{func(w *Writer) { w.WriteString(long(256)) }, hdr("da 0100", 256)},
		{func(w *Writer) { w.WriteString(long(65535)) }, hdr("da ffff", 65535)},
		{func(w *Writer) { w.WriteString(long(65536)) }, hdr("db 00010000", 65536)},
		{func(w *Writer) { w.WriteBytes(nil) }, "c4 00"},
		{func(w *Writer) { w.WriteBytes(long(255)) }, bin("c4 ff", 255)},
		{func(w *Writer) { w.WriteBytes(long(256)) }, bin("c5 0100", 256)},
		{func(w *Writer) { w.WriteBytes(long(65536)) }, bin("c6 00010000", 65536)},
		{func(w *Writer) { w.BeginArray(0); w.End() }, "90"},
		{func(w *Writer) { w.BeginArray(15); nils(w, 15); w.End() }, "9f" + strings.Repeat("c0", 15)},
		{func(w *Writer) { w.BeginArray(16); nils(w, 16); w.End() }, "dc 0010" + strings.Repeat("c0", 16)},
		{func(w *Writer) { w.BeginArray(65536); nils(w, 65536); w.End() }, "dd 00010000" + strings.Repeat("c0", 65536)},
		{func(w *Writer) { w.BeginMap(0); w.End() }, "80"},
		{func(w *Writer) { w.BeginMap(1); w.WriteString([]byte("k")); w.WriteUint(1); w.End() }, "81 a1 6b 01"},
		{func(w *Writer) { w.BeginMap(16); pairs(w, 16); w.End() }, "de 0010" + strings.Repeat("a0 c0", 16)},
		{func(w *Writer) { w.BeginMap(65536); pairs(w, 65536); w.End() }, "df 00010000" + strings.Repeat("a0 c0", 65536)},
	}
	w := NewWriter()
	for i, tt := range tests {
		prefix := []byte{0xee}
		w.Reset(prefix)
		tt.write(w)
		want := append([]byte{0xee}, unhex(t, tt.hex)...)
		if w.Err() != nil || !bytes.Equal(w.Bytes(), want) {
			got := w.Bytes()
			if len(got) > 40 {
				got = got[:40]
			}
			t.Errorf("case %d: wrote %x… (%v), want %.80s…", i, got, w.Err(), tt.hex)
		}
	}
}

func nils(w *Writer, n int) {
	for range n {
		w.WriteNil()
	}
}

func pairs(w *Writer, n int) {
	for range n {
		w.WriteString(nil)
		w.WriteNil()
	}
}

func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer)
		err   error
	}{
		{"too few elements", func(w *Writer) { w.BeginArray(2); w.WriteNil(); w.End() }, codec.ErrCount},
		{"too many elements", func(w *Writer) { w.BeginArray(1); w.WriteNil(); w.WriteNil(); w.End() }, codec.ErrCount},
		{"too few pairs", func(w *Writer) { w.BeginMap(1); w.WriteString([]byte("k")); w.End() }, codec.ErrCount},
		{"int key", func(w *Writer) { w.BeginMap(1); w.WriteUint(1); w.WriteNil(); w.End() }, codec.ErrKey},
		{"bytes key", func(w *Writer) { w.BeginMap(1); w.WriteBytes([]byte("k")); w.WriteNil(); w.End() }, codec.ErrKey},
		{"array key", func(w *Writer) { w.BeginMap(1); w.BeginArray(0); w.End(); w.WriteNil(); w.End() }, codec.ErrKey},
		{"second key wrong", func(w *Writer) {
			w.BeginMap(2)
			w.WriteString([]byte("a"))
			w.WriteString([]byte("b"))
			w.WriteNil()
			w.WriteNil()
			w.End()
		}, codec.ErrKey},
		{"invalid utf8", func(w *Writer) { w.WriteString([]byte{0xff}) }, codec.ErrUTF8},
		{"invalid utf8 key", func(w *Writer) { w.BeginMap(1); w.WriteString([]byte{0xc3}); w.WriteNil(); w.End() }, codec.ErrUTF8},
		{"end without begin", func(w *Writer) { w.End() }, codec.ErrCount},
		{"not closed", func(w *Writer) { w.BeginArray(0) }, codec.ErrCount},
		{"negative length", func(w *Writer) { w.BeginArray(-1) }, codec.ErrUnsupported},
	}
	w := NewWriter()
	for _, tt := range tests {
		w.Reset([]byte{0xee})
		tt.write(w)
		if err := w.Err(); !errors.Is(err, tt.err) {
			t.Errorf("%s: Err() = %v, want %v", tt.name, err, tt.err)
		}
	}

	// Errors are sticky: nothing is written after the first one, until Reset.
	w.Reset(nil)
	w.WriteString([]byte{0xff})
	w.WriteNil()
	if len(w.Bytes()) != 0 || !errors.Is(w.Err(), codec.ErrUTF8) {
		t.Errorf("after error: wrote %x, Err %v", w.Bytes(), w.Err())
	}
	w.Reset(nil)
	w.WriteNil()
	if w.Err() != nil || !bytes.Equal(w.Bytes(), []byte{cNil}) {
		t.Errorf("after Reset: wrote %x, Err %v", w.Bytes(), w.Err())
	}
}
