package msgpack

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

// refMode selects how the reference library encodes: its default writes
// every Go int as int64 and uint as uint64 (9 bytes), the compact mode
// picks the smallest form, as most WAMP clients do.
type refMode struct {
	name          string
	compactInts   bool
	compactFloats bool
}

var refModes = []refMode{
	{"default", false, false},
	{"compact", true, false},
	{"compactfloats", true, true},
}

// refEncode encodes v with the reference library in the given mode.
func refEncode(t testing.TB, v any, mode refMode) []byte {
	t.Helper()
	b, err := reflib.MsgPackEncode(v, mode.compactInts, mode.compactFloats)
	if err != nil {
		t.Fatalf("reference encode %#v: %v", v, err)
	}
	return b
}

// toGo decodes MessagePack bytes through Walk into Go values.
func toGo(data []byte) (any, error) {
	return codec.ToGo(codec.Raw{Format: codec.MsgPack, Bytes: data})
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// --- random values ---------------------------------------------------------

var (
	intEdges = []int64{0, 1, -1, 31, -31, -32, -33, 127, -127, -128, -129, 128, 255, 256,
		32767, -32768, -32769, 65535, 65536, math.MaxInt32, math.MinInt32, math.MinInt32 - 1,
		math.MaxUint32, math.MaxUint32 + 1, 1 << 53, -(1 << 53), math.MaxInt64, math.MinInt64}
	uintEdges  = []uint64{0, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, 1<<53 + 1, math.MaxInt64 + 1, math.MaxUint64}
	floatEdges = []float64{0, math.Copysign(0, -1), 5e-324, -5e-324, math.SmallestNonzeroFloat64, math.MaxFloat64,
		-math.MaxFloat64, 1e300, -0.5, 1.5, math.Inf(1), math.Inf(-1), math.NaN(), 1 << 53, 0.1}
	runes     = []rune{'a', 'Z', '0', ' ', '"', '\\', '\n', 0, 0x7f, 'ü', 'ß', '€', '中', 0xfffd, 0xffff, '𝄞', 0x10ffff, '😀'}
	lenEdges  = []int{0, 1, 31, 32, 255, 256, 65535, 65536}
	keyStarts = []string{"", "a", "color", "ü€𝄞", "exclude", "acknowledge"}
)

// genValue returns a random Go value of the kinds MessagePack carries:
// nil, bool, ints at every encoding boundary, uint64 extremes, float32 and
// float64 (incl. -0, subnormals, ±Inf, NaN), unicode strings, binary and
// nested lists and dicts, at most depth levels of containers and about 100
// values in all.
func genValue(r *rand.Rand, depth int) any {
	budget := 100
	return genBudget(r, depth, &budget)
}

func genBudget(r *rand.Rand, depth int, budget *int) any {
	*budget--
	n := 11
	if depth <= 0 || *budget <= 0 {
		n = 9
	}
	switch r.IntN(n) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		if r.IntN(2) == 0 {
			return intEdges[r.IntN(len(intEdges))]
		}
		return r.Int64() >> r.IntN(64)
	case 3:
		if r.IntN(2) == 0 {
			return uintEdges[r.IntN(len(uintEdges))]
		}
		return r.Uint64() >> r.IntN(64)
	case 4:
		if r.IntN(2) == 0 {
			return floatEdges[r.IntN(len(floatEdges))]
		}
		return math.Float64frombits(r.Uint64())
	case 5:
		return math.Float32frombits(r.Uint32())
	case 6, 7:
		return genString(r)
	case 8:
		b := make([]byte, genLen(r))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	case 9:
		l := make([]any, genLen(r)%20)
		for i := range l {
			l[i] = genBudget(r, depth-1, budget)
		}
		return l
	default:
		m := map[string]any{}
		for range genLen(r) % 20 {
			k := keyStarts[r.IntN(len(keyStarts))] + genString(r)
			m[k] = genBudget(r, depth-1, budget)
		}
		return m
	}
}

// genLen favours short lengths; the boundaries of the 8/16/32-bit length
// forms come up often enough to be covered, the 64 KiB ones rarely.
func genLen(r *rand.Rand) int {
	switch r.IntN(64) {
	case 0:
		return lenEdges[len(lenEdges)-1-r.IntN(2)]
	case 1, 2, 3, 4, 5, 6, 7:
		return lenEdges[r.IntN(len(lenEdges)-2)]
	}
	return r.IntN(40)
}

func genString(r *rand.Rand) string {
	n := genLen(r)
	var sb strings.Builder
	for sb.Len() < n {
		if r.IntN(3) == 0 {
			sb.WriteRune(runes[r.IntN(len(runes))])
		} else {
			sb.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return sb.String()
}

// encodeAny writes v in MessagePack choosing, at random, any valid
// encoding rather than the smallest: positive numbers as intN, small
// numbers as uint64, short strings as str32, small containers as array32,
// float64 values that fit as float32. It covers encodings that real
// encoders rarely produce but Decode and Walk must read.
func encodeAny(r *rand.Rand, dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, cNil)
	case bool:
		if x {
			return append(dst, cTrue)
		}
		return append(dst, cFalse)
	case int64:
		if x >= 0 {
			return encodeUintAny(r, dst, uint64(x), true)
		}
		return encodeNegAny(r, dst, x)
	case uint64:
		return encodeUintAny(r, dst, x, x <= math.MaxInt64)
	case float32:
		return binary.BigEndian.AppendUint32(append(dst, cFloat32), math.Float32bits(x))
	case float64:
		if f := float32(x); float64(f) == x && r.IntN(2) == 0 {
			return binary.BigEndian.AppendUint32(append(dst, cFloat32), math.Float32bits(f))
		}
		return binary.BigEndian.AppendUint64(append(dst, cFloat64), math.Float64bits(x))
	case string:
		return append(encodeHeaderAny(r, dst, len(x), cFixStrMin, 32, cStr8), x...)
	case []byte:
		return append(encodeHeaderAny(r, dst, len(x), 0, 0, cBin8), x...)
	case []any:
		dst = encodeHeaderAny(r, dst, len(x), cFixArrayMin, 16, cArray16)
		for _, e := range x {
			dst = encodeAny(r, dst, e)
		}
		return dst
	case map[string]any:
		dst = encodeHeaderAny(r, dst, len(x), cFixMapMin, 16, cMap16)
		for k, e := range x {
			dst = encodeAny(r, dst, k)
			dst = encodeAny(r, dst, e)
		}
		return dst
	}
	panic(fmt.Sprintf("encodeAny: unexpected %T", v))
}

func encodeUintAny(r *rand.Rand, dst []byte, v uint64, signedOK bool) []byte {
	type enc struct {
		code byte
		size int
		max  uint64
	}
	encs := []enc{{0, 0, 127}, {cUint8, 1, math.MaxUint8}, {cUint16, 2, math.MaxUint16},
		{cUint32, 4, math.MaxUint32}, {cUint64, 8, math.MaxUint64}}
	if signedOK {
		encs = append(encs, enc{cInt8, 1, math.MaxInt8}, enc{cInt16, 2, math.MaxInt16},
			enc{cInt32, 4, math.MaxInt32}, enc{cInt64, 8, math.MaxInt64})
	}
	for {
		e := encs[r.IntN(len(encs))]
		if v > e.max {
			continue
		}
		if e.size == 0 {
			return append(dst, byte(v))
		}
		return appendBE(append(dst, e.code), v, e.size)
	}
}

func encodeNegAny(r *rand.Rand, dst []byte, v int64) []byte {
	for {
		switch r.IntN(5) {
		case 0:
			if v >= -32 {
				return append(dst, byte(v))
			}
		case 1:
			if v >= math.MinInt8 {
				return append(dst, cInt8, byte(v))
			}
		case 2:
			if v >= math.MinInt16 {
				return appendBE(append(dst, cInt16), uint64(v), 2)
			}
		case 3:
			if v >= math.MinInt32 {
				return appendBE(append(dst, cInt32), uint64(v), 4)
			}
		default:
			return appendBE(append(dst, cInt64), uint64(v), 8)
		}
	}
}

// encodeHeaderAny writes a length header: the fix form (when fixMax > 0
// and n fits), or the 8/16/32-bit form at code8, code8+1, code8+2 (arrays
// and maps have no 8-bit form: code8 is then their 16-bit code).
func encodeHeaderAny(r *rand.Rand, dst []byte, n int, fix byte, fixMax int, code8 byte) []byte {
	has8 := code8 == cStr8 || code8 == cBin8
	for {
		switch r.IntN(4) {
		case 0:
			if fixMax > 0 && n < fixMax {
				return append(dst, fix|byte(n))
			}
		case 1:
			if has8 && n <= math.MaxUint8 {
				return append(dst, code8, byte(n))
			}
		case 2:
			if n <= math.MaxUint16 {
				c := code8
				if has8 {
					c++
				}
				return appendBE(append(dst, c), uint64(n), 2)
			}
		default:
			c := code8 + 1
			if has8 {
				c++
			}
			return appendBE(append(dst, c), uint64(n), 4)
		}
	}
}

func appendBE(dst []byte, v uint64, size int) []byte {
	for i := size - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// diff describes the first difference between two Go values as built by
// codec.ToGo and the reference library, or returns "".
func diff(a, b any, path string) string {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return fmt.Sprintf("%s: %s vs %s", path, short(a), short(b))
		}
		for i := range x {
			if d := diff(x[i], y[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return fmt.Sprintf("%s: %s vs %s", path, short(a), short(b))
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok {
				return fmt.Sprintf("%s: key %.40q missing", path, k)
			}
			if d := diff(v, w, fmt.Sprintf("%s[%.20q]", path, k)); d != "" {
				return d
			}
		}
		return ""
	}
	if !codectest.EqualValues(a, b) {
		return fmt.Sprintf("%s: %s vs %s", path, short(a), short(b))
	}
	return ""
}

func short(v any) string {
	s := fmt.Sprintf("%T %#v", v, v)
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
