package cbor

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"

	fxcbor "github.com/fxamacker/cbor/v2"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/codectest"
	"github.com/zwamp/zwamp/internal/codectest/reflib"
)

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

// mustRef encodes v with the reference library.
func mustRef(t testing.TB, v any) []byte {
	t.Helper()
	b, err := reflib.CBOREnc.Marshal(v)
	if err != nil {
		t.Fatalf("reference marshal %#v: %v", v, err)
	}
	return b
}

// unhex decodes a hex string with optional spaces.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// walkTokens walks data into a new recorder.
func walkTokens(data []byte, maxDepth int) ([]codectest.Token, error) {
	var r codectest.Recorder
	err := Walk(data, &r, maxDepth)
	return r.Toks, err
}

// refValue decodes data with the reference library, normalised to the
// shapes codec.ToGo produces. ok is false when the reference decoding is
// outside what the codec promises to agree on (a bignum, a time tag).
func refValue(dm fxcbor.DecMode, data []byte) (v any, ok bool, err error) {
	if err = dm.Unmarshal(data, &v); err != nil {
		return nil, false, err
	}
	return v, codectest.PlainValue(v), nil
}

// gen generates random values covering every scalar kind the codecs carry,
// with the edge cases that break encoders: integer width boundaries and
// extremes, -0, subnormals, huge floats, NaN, infinities, multi-byte UTF-8,
// empty and long strings, binary, and nesting.
type gen struct{ r *rand.Rand }

var (
	genUints = []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, codec.MaxID, codec.MaxID + 1, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64}
	genInts  = []int64{-1, -24, -25, -256, -257, -65536, -65537, -1 << 32, -1<<32 - 1, -codec.MaxID, math.MinInt64 + 1, math.MinInt64}
	genFloat = []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 65504, 5.960464477539063e-08, 6.103515625e-05, math.SmallestNonzeroFloat64,
		math.MaxFloat64, -math.MaxFloat64, math.MaxFloat32, math.Inf(1), math.Inf(-1), math.NaN(), 1e300, 2.2250738585072014e-308, 1 << 53, 3.4028234663852886e+38}
	genStrs = []string{"", "a", "ü€𝄞", "Hello, world!", "\x00\x7f", "日本語テキスト", "com.myapp.topic1", "\u2028\ufeff", strings.Repeat("x", 23), strings.Repeat("y", 24), strings.Repeat("é", 200)}
)

func (g *gen) value(depth int) any {
	n := 12
	if depth >= 5 {
		n = 10 // no more containers
	}
	switch g.r.Intn(n) {
	case 0:
		return nil
	case 1:
		return g.r.Intn(2) == 1
	case 2:
		if g.r.Intn(2) == 0 {
			return genUints[g.r.Intn(len(genUints))]
		}
		return g.r.Uint64() >> uint(g.r.Intn(64))
	case 3:
		if g.r.Intn(2) == 0 {
			return genInts[g.r.Intn(len(genInts))]
		}
		return -1 - int64(g.r.Uint64()>>uint(1+g.r.Intn(63)))
	case 4:
		if g.r.Intn(2) == 0 {
			return genFloat[g.r.Intn(len(genFloat))]
		}
		return math.Float64frombits(g.r.Uint64())
	case 5:
		return float64(math.Float32frombits(g.r.Uint32()))
	case 6, 7:
		if g.r.Intn(2) == 0 {
			return genStrs[g.r.Intn(len(genStrs))]
		}
		return g.str()
	case 8, 9:
		b := make([]byte, g.r.Intn(40))
		g.r.Read(b)
		if g.r.Intn(20) == 0 {
			b = make([]byte, 300)
		}
		return b
	case 10:
		l := make([]any, g.r.Intn(6))
		for i := range l {
			l[i] = g.value(depth + 1)
		}
		return l
	default:
		m := map[string]any{}
		for i := g.r.Intn(6); i > 0; i-- {
			m[g.str()] = g.value(depth + 1)
		}
		return m
	}
}

// str returns a random valid UTF-8 string mixing 1- to 4-byte runes.
func (g *gen) str() string {
	var sb strings.Builder
	for i := g.r.Intn(12); i > 0; i-- {
		switch g.r.Intn(4) {
		case 0:
			sb.WriteRune(rune(0x20 + g.r.Intn(0x5f)))
		case 1:
			sb.WriteRune(rune(0x80 + g.r.Intn(0x780)))
		case 2:
			r := rune(0x800 + g.r.Intn(0xf800))
			if !utf8.ValidRune(r) {
				r = 'ß'
			}
			sb.WriteRune(r)
		default:
			sb.WriteRune(rune(0x10000 + g.r.Intn(0x100000)))
		}
	}
	return sb.String()
}

// halfOf maps the float64 bits of every non-NaN binary16 value to its
// half-precision bits, so the variant encoder can use half floats where
// they are exact.
var halfOf = func() map[uint64]uint16 {
	m := make(map[uint64]uint16, 1<<16)
	for h := 0; h < 1<<16; h++ {
		f := half(uint16(h))
		if !math.IsNaN(f) {
			m[math.Float64bits(f)] = uint16(h)
		}
	}
	return m
}()

// variant encodes v as valid CBOR in randomly chosen non-preferred forms:
// wider integer arguments, half and single floats where exact, indefinite
// strings split into chunks (text at rune boundaries), indefinite arrays and
// maps, and unregistered tags in front of values. Every decoder must read
// these exactly like the preferred encoding.
func (g *gen) variant(dst []byte, v any) []byte {
	if i, ok := v.(int); ok {
		v = int64(i) // as the shared cases write small numbers
	}
	if g.r.Intn(12) == 0 {
		tags := []uint64{6, 24 + 100, 1000, 55799, 1<<32 + 5}
		dst = g.head(dst, majorTag, tags[g.r.Intn(len(tags))])
	}
	switch x := v.(type) {
	case nil:
		if g.r.Intn(3) == 0 {
			return append(dst, 0xf7) // undefined reads as nil
		}
		return append(dst, byteNull)
	case bool:
		return appendBool(dst, x)
	case uint64:
		return g.head(dst, majorUint, x)
	case int64:
		if x >= 0 {
			return g.head(dst, majorUint, uint64(x))
		}
		return g.head(dst, majorNeg, uint64(^x))
	case float64:
		bits := math.Float64bits(x)
		if h, ok := halfOf[bits]; ok && g.r.Intn(2) == 0 {
			return append(dst, 0xf9, byte(h>>8), byte(h))
		}
		if f := float32(x); float64(f) == x && !math.IsNaN(x) && g.r.Intn(2) == 0 {
			b := math.Float32bits(f)
			return append(dst, 0xfa, byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
		}
		return append(dst, 0xfb, byte(bits>>56), byte(bits>>48), byte(bits>>40), byte(bits>>32), byte(bits>>24), byte(bits>>16), byte(bits>>8), byte(bits))
	case string:
		return g.chunked(dst, majorText, []byte(x))
	case []byte:
		return g.chunked(dst, majorBytes, x)
	case []any:
		indef := g.r.Intn(3) == 0
		if indef {
			dst = append(dst, 0x9f)
		} else {
			dst = g.head(dst, majorArray, uint64(len(x)))
		}
		for _, e := range x {
			dst = g.variant(dst, e)
		}
		if indef {
			dst = append(dst, breakByte)
		}
		return dst
	case map[string]any:
		indef := g.r.Intn(3) == 0
		if indef {
			dst = append(dst, 0xbf)
		} else {
			dst = g.head(dst, majorMap, uint64(len(x)))
		}
		for k, e := range x {
			dst = g.chunked(dst, majorText, []byte(k))
			dst = g.variant(dst, e)
		}
		if indef {
			dst = append(dst, breakByte)
		}
		return dst
	}
	panic(fmt.Sprintf("variant: unexpected %T", v))
}

// head writes a head with an argument at least as wide as needed.
func (g *gen) head(dst []byte, major byte, n uint64) []byte {
	if g.r.Intn(4) != 0 {
		return appendHead(dst, major, n)
	}
	w := 24 + g.r.Intn(4) // 1, 2, 4 or 8 bytes
	for w < 27 && n >= 1<<(8<<(w-24)) {
		w++
	}
	dst = append(dst, major<<5|byte(w))
	for i := (1 << (w - 24)) - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

// chunked writes a string definite or as indefinite chunks.
func (g *gen) chunked(dst []byte, major byte, s []byte) []byte {
	if g.r.Intn(4) != 0 {
		return append(g.head(dst, major, uint64(len(s))), s...)
	}
	dst = append(dst, major<<5|aiIndef)
	for len(s) > 0 {
		n := 1 + g.r.Intn(len(s))
		if major == majorText {
			for n < len(s) && !utf8.RuneStart(s[n]) {
				n++
			}
		}
		if g.r.Intn(4) == 0 {
			dst = g.head(dst, major, 0) // empty chunks are allowed
		}
		dst = append(g.head(dst, major, uint64(n)), s[:n]...)
		s = s[n:]
	}
	return append(dst, breakByte)
}
