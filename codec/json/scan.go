package json

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/zwamp/zwamp/codec"
)

// This file holds the byte-level scanning shared by Decode, Walk and the
// Writer: whitespace, strings (validation, escapes, unescaping), numbers,
// literals, and the recursive validator that skips (and optionally counts)
// whole values.
//
// Convention: functions that can fail return the error position in their
// int result when err != nil, so callers can build *codec.Error with an
// exact Offset without carrying a second index around.

// hardMaxDepth caps nesting whatever the caller asks for. The validator is
// recursive, and an unbounded Message.MaxDepth would let a peer grow the
// goroutine stack until the runtime aborts the process; encoding/json uses
// the same bound.
const hardMaxDepth = 10000

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialWord returns a mask with the high bit set in (at least) the lowest
// byte of x that is '"', '\\', a control character (< 0x20) or non-ASCII
// (>= 0x80). Higher bytes may be false positives because borrows propagate
// upward, but a borrow only starts at a true positive, so the lowest set bit
// is exact — which is all the callers use.
func specialWord(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((x - lsb*0x20) | (q - lsb) | (b - lsb) | x) & msb
}

// special marks the bytes specialWord detects, for the tail of a buffer.
var special = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\'
	}
	return
}()

// nextSpecial returns the index of the first byte at or after i that is a
// quote, a backslash, a control character or non-ASCII, or len(s). It is
// the ASCII fast path of every string operation: eight bytes per step.
func nextSpecial(s []byte, i int) int {
	for i+8 <= len(s) {
		if m := specialWord(binary.LittleEndian.Uint64(s[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(s) && !special[s[i]] {
		i++
	}
	return i
}

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString validates the string whose opening quote is data[i] and
// returns the index just past the closing quote and whether the string
// contains escapes (and so cannot be used as a view).
func scanString(data []byte, i int) (int, bool, error) {
	i++
	esc := false
	for {
		i = nextSpecial(data, i)
		if i >= len(data) {
			return len(data), esc, codec.ErrTruncated
		}
		c := data[i]
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			n, err := scanEscape(data, i)
			if err != nil {
				return n, esc, err
			}
			i = n
		case c < 0x20:
			return i, esc, codec.ErrSyntax
		default:
			// Non-ASCII: validate rune by rune while the run lasts, so
			// text in other scripts does not bounce through nextSpecial.
			for i < len(data) && data[i] >= utf8.RuneSelf {
				r, size := utf8.DecodeRune(data[i:])
				if r == utf8.RuneError && size == 1 {
					if !utf8.FullRune(data[i:]) {
						return len(data), esc, codec.ErrTruncated
					}
					return i, esc, codec.ErrUTF8
				}
				i += size
			}
		}
	}
}

// scanEscape validates the escape sequence whose backslash is data[i] and
// returns the index after it. Surrogate escapes must form a pair.
func scanEscape(data []byte, i int) (int, error) {
	if i+1 >= len(data) {
		return len(data), codec.ErrTruncated
	}
	switch data[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
	default:
		return i + 1, codec.ErrSyntax
	}
	r, n, err := hex4(data, i+2)
	if err != nil {
		return n, err
	}
	switch {
	case r >= 0xDC00 && r <= 0xDFFF:
		return i, codec.ErrUTF8 // low surrogate without a high one
	case r < 0xD800 || r > 0xDBFF:
		return n, nil
	}
	// High surrogate: a \uDC00-\uDFFF escape must follow immediately.
	j := n
	if j >= len(data) {
		return len(data), codec.ErrTruncated
	}
	if data[j] != '\\' {
		return i, codec.ErrUTF8
	}
	if j+1 >= len(data) {
		return len(data), codec.ErrTruncated
	}
	if data[j+1] != 'u' {
		return i, codec.ErrUTF8
	}
	r2, n2, err := hex4(data, j+2)
	if err != nil {
		return n2, err
	}
	if r2 < 0xDC00 || r2 > 0xDFFF {
		return i, codec.ErrUTF8
	}
	return n2, nil
}

// hexVal maps a hex digit to its value and anything else to 0xff.
var hexVal = func() (t [256]byte) {
	for c := range t {
		t[c] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
		t[c-'a'+'A'] = byte(c - 'a' + 10)
	}
	return
}()

// hex4 parses the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, int, error) {
	var r rune
	for k := 0; k < 4; k++ {
		if i+k >= len(data) {
			return 0, len(data), codec.ErrTruncated
		}
		v := hexVal[data[i+k]]
		if v == 0xff {
			return 0, i + k, codec.ErrSyntax
		}
		r = r<<4 | rune(v)
	}
	return r, i + 4, nil
}

// hex4Valid parses four hex digits already known to be valid.
func hex4Valid(s []byte) rune {
	return rune(hexVal[s[0]])<<12 | rune(hexVal[s[1]])<<8 | rune(hexVal[s[2]])<<4 | rune(hexVal[s[3]])
}

// appendUnescaped appends the value of a validated string body (the bytes
// between the quotes) to dst.
func appendUnescaped(dst, s []byte) []byte {
	for len(s) > 0 {
		j := bytes.IndexByte(s, '\\')
		if j < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:j]...)
		s = s[j:]
		c := s[1]
		switch c {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			r := hex4Valid(s[2:])
			s = s[6:]
			if r >= 0xD800 && r <= 0xDBFF {
				r = 0x10000 + (r-0xD800)<<10 + (hex4Valid(s[2:]) - 0xDC00)
				s = s[6:]
			}
			dst = utf8.AppendRune(dst, r)
			continue
		}
		dst = append(dst, c)
		s = s[2:]
	}
	return dst
}

// stringEnd returns the index past the closing quote of the validated
// string that opens at data[i], and whether it contains escapes.
func stringEnd(data []byte, i int) (int, bool) {
	i++
	esc := false
	for {
		i = nextSpecial(data, i)
		switch data[i] {
		case '"':
			return i + 1, esc
		case '\\':
			esc = true
			i += 2 // the escaped byte is never a quote we must stop at
		default:
			i++
		}
	}
}

// numKind classifies a number literal.
type numKind uint8

const (
	numUint   numKind = iota // integer literal in [0, MaxUint64] ("-0" included)
	numNeg                   // negative integer literal in [MinInt64, -1]
	numBigInt                // integer literal outside both ranges
	numFloat                 // has a fraction or an exponent
)

// scanNumber validates the number literal at data[i] (RFC 8259 grammar)
// and returns its end, its kind and, for numUint/numNeg, its magnitude.
// Literals whose value overflows float64 are ErrRange: they cannot be
// represented by any WAMP peer, and json.Unmarshal rejects them too.
func scanNumber(data []byte, i int) (int, numKind, uint64, error) {
	start := i
	neg := false
	if data[i] == '-' {
		neg = true
		i++
		if i >= len(data) {
			return len(data), 0, 0, codec.ErrTruncated
		}
	}
	var mag uint64
	over := false
	intDigits := 0
	switch c := data[i]; {
	case c == '0':
		i++
		intDigits = 1
		if i < len(data) && data[i]-'0' <= 9 {
			return i, 0, 0, codec.ErrSyntax // leading zero
		}
	case c-'1' <= 8:
		for i < len(data) {
			d := uint64(data[i] - '0')
			if d > 9 {
				break
			}
			// 1844674407370955161 = MaxUint64/10: one compare per digit
			// keeps overflow detection off the common path.
			if mag > 1844674407370955161 || (mag == 1844674407370955161 && d > 5) {
				over = true
			}
			mag = mag*10 + d
			intDigits++
			i++
		}
	default:
		return i, 0, 0, codec.ErrSyntax
	}
	float := false
	if i < len(data) && data[i] == '.' {
		float = true
		i++
		if i >= len(data) {
			return len(data), 0, 0, codec.ErrTruncated
		}
		if data[i]-'0' > 9 {
			return i, 0, 0, codec.ErrSyntax
		}
		for i < len(data) && data[i]-'0' <= 9 {
			i++
		}
	}
	exp, expNeg := 0, false
	if i < len(data) && data[i]|0x20 == 'e' {
		float = true
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			expNeg = data[i] == '-'
			i++
		}
		if i >= len(data) {
			return len(data), 0, 0, codec.ErrTruncated
		}
		if data[i]-'0' > 9 {
			return i, 0, 0, codec.ErrSyntax
		}
		for i < len(data) && data[i]-'0' <= 9 {
			if exp < 1e6 {
				exp = exp*10 + int(data[i]-'0')
			}
			i++
		}
	}
	if !float && !over {
		if !neg || mag == 0 {
			return i, numUint, mag, nil
		}
		if mag <= 1<<63 {
			return i, numNeg, mag, nil
		}
	}
	// Only a literal with many integer digits or a large positive exponent
	// can overflow float64 (max ~1.8e308); check those exactly.
	if intDigits > 300 || (!expNeg && intDigits+exp > 300) {
		if _, err := parseFloat(data[start:i]); err != nil {
			return start, 0, 0, codec.ErrRange
		}
	}
	if float {
		return i, numFloat, 0, nil
	}
	return i, numBigInt, 0, nil
}

// parseFloat converts a validated number literal with strconv.ParseFloat's
// correct rounding, without copying it into a string: ParseFloat does not
// retain its argument (its errors clone it).
func parseFloat(b []byte) (float64, error) {
	return strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
}

// scanLiteral matches lit ("true", "false", "null") at data[i].
func scanLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i >= len(lit) {
		if string(data[i:i+len(lit)]) == lit {
			return i + len(lit), nil
		}
		return i, codec.ErrSyntax
	}
	if string(data[i:]) == lit[:len(data)-i] {
		return len(data), codec.ErrTruncated
	}
	return i, codec.ErrSyntax
}

// scanner validates whole values. With rec set it also records the
// element count of every container in the order the containers open
// (pre-order), which is what lets Walk announce exact counts in a second,
// linear pass instead of re-scanning each container once per nesting level.
type scanner struct {
	data   []byte
	max    int // deepest container allowed (the outermost is depth 1)
	rec    bool
	counts []int
}

// clampDepth applies hardMaxDepth.
func clampDepth(d int) int {
	if d <= 0 {
		return codec.DefaultMaxDepth
	}
	if d > hardMaxDepth {
		return hardMaxDepth
	}
	return d
}

// skipValue validates the value at data[i] (i already past whitespace); a
// container starting there has nesting depth depth.
func (s *scanner) skipValue(i, depth int) (int, error) {
	data := s.data
	if i >= len(data) {
		return len(data), codec.ErrTruncated
	}
	switch c := data[i]; c {
	case '"':
		end, _, err := scanString(data, i)
		return end, err
	case '[':
		return s.skipArray(i, depth)
	case '{':
		return s.skipObject(i, depth)
	case 't':
		return scanLiteral(data, i, "true")
	case 'f':
		return scanLiteral(data, i, "false")
	case 'n':
		return scanLiteral(data, i, "null")
	default:
		if c == '-' || c-'0' <= 9 {
			end, _, _, err := scanNumber(data, i)
			return end, err
		}
		return i, codec.ErrSyntax
	}
}

// skipArray validates the array opening at data[i].
func (s *scanner) skipArray(i, depth int) (int, error) {
	if depth > s.max {
		return i, codec.ErrDepth
	}
	data := s.data
	idx := len(s.counts)
	if s.rec {
		s.counts = append(s.counts, 0)
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, nil
	}
	n := 0
	for {
		var err error
		if i, err = s.skipValue(i, depth+1); err != nil {
			return i, err
		}
		n++
		i = skipWS(data, i)
		if i >= len(data) {
			return i, codec.ErrTruncated
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case ']':
			if s.rec {
				s.counts[idx] = n
			}
			return i + 1, nil
		default:
			return i, codec.ErrSyntax
		}
	}
}

// skipObject validates the object opening at data[i].
func (s *scanner) skipObject(i, depth int) (int, error) {
	if depth > s.max {
		return i, codec.ErrDepth
	}
	data := s.data
	idx := len(s.counts)
	if s.rec {
		s.counts = append(s.counts, 0)
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	n := 0
	for {
		if i >= len(data) {
			return i, codec.ErrTruncated
		}
		if data[i] != '"' {
			return i, keyError(data[i])
		}
		var err error
		if i, _, err = scanString(data, i); err != nil {
			return i, err
		}
		i = skipWS(data, i)
		if i >= len(data) {
			return i, codec.ErrTruncated
		}
		if data[i] != ':' {
			return i, codec.ErrSyntax
		}
		if i, err = s.skipValue(skipWS(data, i+1), depth+1); err != nil {
			return i, err
		}
		n++
		i = skipWS(data, i)
		if i >= len(data) {
			return i, codec.ErrTruncated
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case '}':
			if s.rec {
				s.counts[idx] = n
			}
			return i + 1, nil
		default:
			return i, codec.ErrSyntax
		}
	}
}

// keyError classifies the byte found where an object key must start: the
// start of some other value is a non-string key (ErrKey), anything else
// (a trailing comma's '}', garbage) is a syntax error.
func keyError(c byte) error {
	switch {
	case c == '[' || c == '{' || c == 't' || c == 'f' || c == 'n' || c == '-' || c-'0' <= 9:
		return codec.ErrKey
	}
	return codec.ErrSyntax
}
