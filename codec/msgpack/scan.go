package msgpack

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/zwamp/zwamp/codec"
)

// MessagePack format codes (spec version 5). The fix* families carry their
// value or length in the low bits of the code byte.
const (
	cFixMapMin   = 0x80
	cFixArrayMin = 0x90
	cFixStrMin   = 0xa0
	cNil         = 0xc0
	cNeverUsed   = 0xc1
	cFalse       = 0xc2
	cTrue        = 0xc3
	cBin8        = 0xc4
	cBin16       = 0xc5
	cBin32       = 0xc6
	cExt8        = 0xc7
	cExt16       = 0xc8
	cExt32       = 0xc9
	cFloat32     = 0xca
	cFloat64     = 0xcb
	cUint8       = 0xcc
	cUint16      = 0xcd
	cUint32      = 0xce
	cUint64      = 0xcf
	cInt8        = 0xd0
	cInt16       = 0xd1
	cInt32       = 0xd2
	cInt64       = 0xd3
	cFixExt1     = 0xd4
	cFixExt2     = 0xd5
	cFixExt4     = 0xd6
	cFixExt8     = 0xd7
	cFixExt16    = 0xd8
	cStr8        = 0xd9
	cStr16       = 0xda
	cStr32       = 0xdb
	cArray16     = 0xdc
	cArray32     = 0xdd
	cMap16       = 0xde
	cMap32       = 0xdf
	cNegFixMin   = 0xe0
)

// numKind classifies the value numAt found.
type numKind uint8

const (
	numUint  numKind = iota // a non-negative integer (any int or uint encoding)
	numNeg                  // a negative integer; v holds its int64 bits
	numFloat                // float32 or float64
	numOther                // any other value
	numTrunc                // the input ends inside the value
)

// numAt reads the integer at b[i]. It does not check i < len(b): callers
// have. The fixint case is the caller's fast path; this handles the rest.
func numAt(b []byte, i int) (v uint64, next int, kind numKind) {
	c := b[i]
	if c < cFixMapMin {
		return uint64(c), i + 1, numUint
	}
	if c >= cNegFixMin {
		return uint64(int64(int8(c))), i + 1, numNeg
	}
	var size int
	switch c {
	case cUint8, cInt8:
		size = 1
	case cUint16, cInt16:
		size = 2
	case cUint32, cInt32, cFloat32:
		size = 4
	case cUint64, cInt64, cFloat64:
		size = 8
	default:
		return 0, i, numOther
	}
	if len(b)-i-1 < size {
		return 0, i, numTrunc
	}
	p := b[i+1 : i+1+size]
	next = i + 1 + size
	switch c {
	case cUint8:
		return uint64(p[0]), next, numUint
	case cUint16:
		return uint64(binary.BigEndian.Uint16(p)), next, numUint
	case cUint32:
		return uint64(binary.BigEndian.Uint32(p)), next, numUint
	case cUint64:
		return binary.BigEndian.Uint64(p), next, numUint
	case cInt8:
		return signed(int64(int8(p[0])), next)
	case cInt16:
		return signed(int64(int16(binary.BigEndian.Uint16(p))), next)
	case cInt32:
		return signed(int64(int32(binary.BigEndian.Uint32(p))), next)
	case cInt64:
		return signed(int64(binary.BigEndian.Uint64(p)), next)
	}
	return 0, i, numFloat
}

func signed(v int64, next int) (uint64, int, numKind) {
	if v < 0 {
		return uint64(v), next, numNeg
	}
	return uint64(v), next, numUint
}

// floatAt returns the float32 (widened exactly) or float64 at b[i], which
// the caller has classified as a float with enough bytes behind it.
func floatAt(b []byte, i int) (float64, int) {
	if b[i] == cFloat32 {
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[i+1:]))), i + 5
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b[i+1:])), i + 9
}

// lenAt reads a size-byte big-endian length at b[i:]; ok is false when the
// input ends first.
func lenAt(b []byte, i, size int) (n uint64, ok bool) {
	if len(b)-i < size {
		return 0, false
	}
	switch size {
	case 1:
		return uint64(b[i]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(b[i:])), true
	}
	return uint64(binary.BigEndian.Uint32(b[i:])), true
}

// strAt reads the string at b[i] and validates its UTF-8. It returns the
// string's bytes and the offset after it; on error, the offset of the
// problem. A value that is not a str is codec.ErrType.
func strAt(b []byte, i int) (s []byte, next int, err error) {
	// Short strings (URIs, dict keys, most payload strings) are fixstr.
	if i < len(b) {
		if c := b[i]; c&0xe0 == cFixStrMin {
			start := i + 1
			end := start + int(c&0x1f)
			if end <= len(b) && validUTF8(b[start:end]) {
				return b[start:end], end, nil
			}
		}
	}
	return strSlow(b, i)
}

func strSlow(b []byte, i int) (s []byte, next int, err error) {
	if i >= len(b) {
		return nil, i, codec.ErrTruncated
	}
	c := b[i]
	var n uint64
	start := i + 1
	switch {
	case c >= cFixStrMin && c < cNil:
		n = uint64(c & 0x1f)
	case c >= cStr8 && c <= cStr32:
		size := 1 << (c - cStr8)
		var ok bool
		if n, ok = lenAt(b, start, size); !ok {
			return nil, i, codec.ErrTruncated
		}
		start += size
	default:
		if c == cNeverUsed {
			return nil, i, codec.ErrSyntax
		}
		return nil, i, codec.ErrType
	}
	if n > uint64(len(b)-start) {
		return nil, i, codec.ErrTruncated
	}
	end := start + int(n)
	s = b[start:end]
	if !validUTF8(s) {
		return nil, start, codec.ErrUTF8
	}
	return s, end, nil
}

// validUTF8 is utf8.Valid with the common case, short ASCII, checked
// inline eight bytes at a time.
func validUTF8(s []byte) bool {
	for len(s) >= 8 {
		if binary.LittleEndian.Uint64(s)&0x8080808080808080 != 0 {
			return utf8.Valid(s)
		}
		s = s[8:]
	}
	for i, c := range s {
		if c >= 0x80 {
			return utf8.Valid(s[i:])
		}
	}
	return true
}

// keyAt is strAt for a map key: a key that is not a str is codec.ErrKey.
func keyAt(b []byte, i int) ([]byte, int, error) {
	s, next, err := strAt(b, i)
	if err == codec.ErrType {
		err = codec.ErrKey
	}
	return s, next, err
}

// containerAt reads an array or map header at b[i]. isMap tells which; n is
// the element (array) or pair (map) count. A value that is neither is
// codec.ErrType. The count is checked against the remaining input (every
// element takes at least one byte), so a header claiming billions of
// elements fails here at once.
func containerAt(b []byte, i int) (n uint64, next int, isMap bool, err error) {
	if i >= len(b) {
		return 0, i, false, codec.ErrTruncated
	}
	c := b[i]
	next = i + 1
	switch {
	case c >= cFixMapMin && c < cFixArrayMin:
		n, isMap = uint64(c&0x0f), true
	case c >= cFixArrayMin && c < cFixStrMin:
		n = uint64(c & 0x0f)
	case c >= cArray16 && c <= cMap32:
		size := 2 << ((c - cArray16) & 1) // 16 → 2 bytes, 32 → 4 bytes
		var ok bool
		if n, ok = lenAt(b, next, size); !ok {
			return 0, i, false, codec.ErrTruncated
		}
		next += size
		isMap = c >= cMap16
	case c == cNeverUsed:
		return 0, i, false, codec.ErrSyntax
	default:
		return 0, i, false, codec.ErrType
	}
	items := n
	if isMap {
		items = 2 * n
	}
	if items > uint64(len(b)-next) {
		return 0, i, false, codec.ErrTruncated
	}
	return n, next, isMap, nil
}

// skip validates the value at b[i] and returns the offset after it, or, on
// error, the offset of the problem. depth is the nesting depth a container
// at b[i] would have; containers deeper than max are codec.ErrDepth.
// Validation is complete: strings are UTF-8, map keys are strings, every
// length fits in the input, 0xc1 is rejected. Extension values are accepted
// as opaque bytes.
func skip(b []byte, i, depth, max int) (int, error) {
	if i >= len(b) {
		return i, codec.ErrTruncated
	}
	c := b[i]
	switch {
	case c < cFixMapMin || c >= cNegFixMin:
		return i + 1, nil
	case c < cFixStrMin:
		n, next, isMap, err := containerAt(b, i)
		if err != nil {
			return next, err
		}
		return skipContainer(b, i, next, n, isMap, depth, max)
	case c < cNil:
		_, next, err := strAt(b, i)
		return next, err
	}
	var size int // fixed-size values: bytes after the code byte
	switch c {
	case cNil, cFalse, cTrue:
		return i + 1, nil
	case cUint8, cInt8:
		size = 1
	case cUint16, cInt16:
		size = 2
	case cUint32, cInt32, cFloat32:
		size = 4
	case cUint64, cInt64, cFloat64:
		size = 8
	case cFixExt1:
		size = 2
	case cFixExt2:
		size = 3
	case cFixExt4:
		size = 5
	case cFixExt8:
		size = 9
	case cFixExt16:
		size = 17
	case cStr8, cStr16, cStr32:
		_, next, err := strAt(b, i)
		return next, err
	case cBin8, cBin16, cBin32, cExt8, cExt16, cExt32:
		return skipBlob(b, i)
	case cArray16, cArray32, cMap16, cMap32:
		n, next, isMap, err := containerAt(b, i)
		if err != nil {
			return next, err
		}
		return skipContainer(b, i, next, n, isMap, depth, max)
	default: // cNeverUsed
		return i, codec.ErrSyntax
	}
	if len(b)-i-1 < size {
		return i, codec.ErrTruncated
	}
	return i + 1 + size, nil
}

// skipBlob skips a bin or ext value at b[i]: a length, for ext a type byte,
// then opaque data.
func skipBlob(b []byte, i int) (int, error) {
	c := b[i]
	var size int
	extra := 0
	switch c {
	case cBin8, cBin16, cBin32:
		size = 1 << (c - cBin8)
	default:
		size = 1 << (c - cExt8)
		extra = 1
	}
	n, ok := lenAt(b, i+1, size)
	if !ok {
		return i, codec.ErrTruncated
	}
	start := i + 1 + size + extra
	if start > len(b) || n > uint64(len(b)-start) {
		return i, codec.ErrTruncated
	}
	return start + int(n), nil
}

// skipContainer validates the n elements (or pairs) of the container whose
// header at b[at] ends at b[i]; containerAt has checked n against the input.
// Positive fixints and fixstrs, most of what payloads hold, are handled
// inline; everything else goes through skip.
func skipContainer(b []byte, at, i int, n uint64, isMap bool, depth, max int) (int, error) {
	if depth > max {
		return at, codec.ErrDepth
	}
	var err error
	for ; n > 0; n-- {
		if isMap {
			if _, i, err = keyAt(b, i); err != nil {
				return i, err
			}
		}
		if i >= len(b) {
			return i, codec.ErrTruncated
		}
		c := b[i]
		if c < cFixMapMin {
			i++
			continue
		}
		if c&0xe0 == cFixStrMin {
			end := i + 1 + int(c&0x1f)
			if end > len(b) {
				return i, codec.ErrTruncated
			}
			if !validUTF8(b[i+1 : end]) {
				return i + 1, codec.ErrUTF8
			}
			i = end
			continue
		}
		if i, err = skip(b, i, depth+1, max); err != nil {
			return i, err
		}
	}
	return i, nil
}
