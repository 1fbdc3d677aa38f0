package cbor

import (
	"encoding/binary"
	"math"
	"unicode/utf8"

	"github.com/zwamp/zwamp/codec"
)

// CBOR major types (the top three bits of an item's initial byte).
const (
	majorUint   = 0
	majorNeg    = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

// Additional-information values with a fixed meaning.
const (
	aiFalse = 20
	aiTrue  = 21
	aiNull  = 22
	aiUndef = 23
	aiF16   = 25
	aiF32   = 26
	aiF64   = 27
	aiIndef = 31

	breakByte = 0xff
)

// head reads the head of the data item at p, skipping any tags in front of
// it (tags are transparent everywhere in this codec). It returns the major
// type, the additional information, the argument (the length, count, integer
// value or float bits; 0 for indefinite lengths), where the untagged head
// starts, and the offset just after the head. On error next is the offset
// where the problem was found.
//
// The argument is not checked against the remaining input here; callers
// that use it as a length do that, so a header claiming 2^64 elements fails
// at once with ErrTruncated instead of starting a long loop.
func head(data []byte, p int) (major, ai byte, arg uint64, start, next int, err error) {
	if c, ok := short(data, p); ok {
		return c >> 5, c & 0x1f, uint64(c & 0x1f), p, p + 1, nil
	}
	return headSlow(data, p)
}

// headSlow is head for multi-byte heads, tags, indefinite lengths and errors.
func headSlow(data []byte, p int) (major, ai byte, arg uint64, start, next int, err error) {
	for {
		if p >= len(data) {
			return 0, 0, 0, p, p, codec.ErrTruncated
		}
		ib := data[p]
		major, ai = ib>>5, ib&0x1f
		q := p + 1
		switch {
		case ai < 24:
			arg = uint64(ai)
		case ai == 24:
			if q >= len(data) {
				return 0, 0, 0, p, q, codec.ErrTruncated
			}
			arg = uint64(data[q])
			q++
		case ai == 25:
			if len(data)-q < 2 {
				return 0, 0, 0, p, q, codec.ErrTruncated
			}
			arg = uint64(binary.BigEndian.Uint16(data[q:]))
			q += 2
		case ai == 26:
			if len(data)-q < 4 {
				return 0, 0, 0, p, q, codec.ErrTruncated
			}
			arg = uint64(binary.BigEndian.Uint32(data[q:]))
			q += 4
		case ai == 27:
			if len(data)-q < 8 {
				return 0, 0, 0, p, q, codec.ErrTruncated
			}
			arg = binary.BigEndian.Uint64(data[q:])
			q += 8
		case ai == aiIndef:
			// Integers and tags have no indefinite form; for major 7 this
			// is a break, which only the container loops may consume.
			if major <= majorNeg || major == majorTag {
				return 0, 0, 0, p, p, codec.ErrSyntax
			}
			arg = 0
		default: // 28..30 are reserved
			return 0, 0, 0, p, p, codec.ErrSyntax
		}
		if major != majorTag {
			return major, ai, arg, p, q, nil
		}
		p = q
	}
}

// simpleOK reports whether a major-7 item with additional information ai is
// one this codec accepts: false, true, null, undefined or a float. Other
// simple values and a stray break are malformed for WAMP.
func simpleOK(ai byte) bool {
	return (ai >= aiFalse && ai <= aiUndef) || (ai >= aiF16 && ai <= aiF64)
}

// mismatch classifies an item that is not of the wanted type: malformed
// when it is not an acceptable item at all, otherwise a type error.
func mismatch(major, ai byte) error {
	if major == majorSimple && !simpleOK(ai) {
		return codec.ErrSyntax
	}
	return codec.ErrType
}

// keyMismatch is mismatch for a map key, which must be a text string.
func keyMismatch(major, ai byte) error {
	if err := mismatch(major, ai); err != codec.ErrType {
		return err
	}
	return codec.ErrKey
}

// isNull reports whether the head is null or undefined, which WAMP treats
// alike (a known key whose value is null is absent).
func isNull(major, ai byte) bool {
	return major == majorSimple && (ai == aiNull || ai == aiUndef)
}

// validUTF8 is utf8.Valid with a faster path for the short ASCII strings
// (keys, URIs, small payload strings) that dominate WAMP messages: it ORs
// the bytes together a word at a time and calls utf8.Valid only when a
// byte with the high bit set turns up.
func validUTF8(b []byte) bool {
	const hi = 0x8080808080808080
	n := len(b)
	switch {
	case n >= 8:
		i := 0
		for ; i+8 <= n; i += 8 {
			if binary.LittleEndian.Uint64(b[i:])&hi != 0 {
				return utf8.Valid(b[i:])
			}
		}
		if i < n && binary.LittleEndian.Uint64(b[n-8:])&hi != 0 {
			return utf8.Valid(b[i:])
		}
		return true
	case n >= 4: // two overlapping words cover every byte
		if (binary.LittleEndian.Uint32(b)|binary.LittleEndian.Uint32(b[n-4:]))&0x80808080 != 0 {
			return utf8.Valid(b)
		}
		return true
	case n > 0: // positions 0, n/2 and n-1 cover every byte of 1..3
		if (b[0]|b[n/2]|b[n-1])&0x80 != 0 {
			return utf8.Valid(b)
		}
	}
	return true
}

// short reports whether the item at p has a one-byte head that is not a
// tag, returning that byte. Callers use it to skip the call to head for
// the common case; head itself is too big to inline.
func short(data []byte, p int) (byte, bool) {
	if p < len(data) {
		c := data[p]
		return c, c&0x1f < 24 && c>>5 != majorTag
	}
	return 0, false
}

// str validates the body of a string item whose head ended at q (major is
// majorBytes or majorText) and returns the offset after it. Indefinite
// strings are a sequence of definite chunks of the same major type ended by
// a break; for text each chunk must be valid UTF-8 on its own (RFC 8949
// 3.2.3: a code point cannot span chunks).
func str(data []byte, q int, major, ai byte, arg uint64) (int, error) {
	if ai != aiIndef {
		if arg > uint64(len(data)-q) {
			return q, codec.ErrTruncated
		}
		end := q + int(arg)
		if major == majorText && !validUTF8(data[q:end]) {
			return q, codec.ErrUTF8
		}
		return end, nil
	}
	for {
		if q >= len(data) {
			return q, codec.ErrTruncated
		}
		c := data[q]
		if c == breakByte {
			return q + 1, nil
		}
		if c>>5 != major || c&0x1f == aiIndef {
			return q, codec.ErrSyntax
		}
		_, _, n, _, cq, err := head(data, q)
		if err != nil {
			return cq, err
		}
		if n > uint64(len(data)-cq) {
			return cq, codec.ErrTruncated
		}
		end := cq + int(n)
		if major == majorText && !validUTF8(data[cq:end]) {
			return cq, codec.ErrUTF8
		}
		q = end
	}
}

// appendChunks appends the concatenated chunks of the indefinite-length
// string whose head ended at q to dst and returns the offset after the
// break. It assumes str has validated the string already.
func appendChunks(dst, data []byte, q int) ([]byte, int) {
	for q < len(data) && data[q] != breakByte {
		_, _, n, _, cq, _ := head(data, q)
		end := cq + int(n)
		dst = append(dst, data[cq:end]...)
		q = end
	}
	return dst, q + 1
}

// iter steps through the elements of a definite or indefinite array or map
// (for maps, one step per pair).
type iter struct {
	n     uint64 // elements left, definite containers
	indef bool
}

// open reads the head of the container at p, which must have major type
// want (majorArray or majorMap). It checks the declared count against the
// remaining input (every element takes at least one byte).
func open(data []byte, p int, want byte) (it iter, start, next int, err error) {
	major, ai, arg, start, q, err := head(data, p)
	if err != nil {
		return iter{}, start, q, err
	}
	if major != want {
		return iter{}, start, start, mismatch(major, ai)
	}
	if ai == aiIndef {
		return iter{indef: true}, start, q, nil
	}
	if !fits(data, q, arg, want == majorMap) {
		return iter{}, start, q, codec.ErrTruncated
	}
	return iter{n: arg}, start, q, nil
}

// fits reports whether n elements (pairs, for a map) can follow at q: each
// takes at least one byte, so a larger count is truncated input.
func fits(data []byte, q int, n uint64, isMap bool) bool {
	room := uint64(len(data) - q)
	if isMap {
		room /= 2
	}
	return n <= room
}

// more reports whether another element follows at p. At the end of an
// indefinite container it consumes the break and returns the offset after it.
func (it *iter) more(data []byte, p int) (bool, int, error) {
	if !it.indef {
		if it.n == 0 {
			return false, p, nil
		}
		it.n--
		return true, p, nil
	}
	if p >= len(data) {
		return false, p, codec.ErrTruncated
	}
	if data[p] == breakByte {
		return false, p + 1, nil
	}
	return true, p, nil
}

// key validates the map key at p, which must be a text string, and returns
// the offset after it.
func key(data []byte, p int) (int, error) {
	if c, ok := short(data, p); ok && c>>5 == majorText {
		end := p + 1 + int(c&0x1f)
		if end > len(data) {
			return p + 1, codec.ErrTruncated
		}
		if !validUTF8(data[p+1 : end]) {
			return p + 1, codec.ErrUTF8
		}
		return end, nil
	}
	major, ai, arg, start, q, err := headSlow(data, p)
	if err != nil {
		return q, err
	}
	if major != majorText {
		return start, keyMismatch(major, ai)
	}
	return str(data, q, major, ai, arg)
}

// skip validates the data item at p completely (well-formed, UTF-8 text,
// text keys, nesting) and returns the offset after it. depth is the nesting
// depth the item has if it is a container; deeper than maxDepth is ErrDepth.
// On error the offset returned is where the problem was found.
func skip(data []byte, p, depth, maxDepth int) (int, error) {
	var (
		major, ai byte
		arg       uint64
		start, q  int
		err       error
	)
	if c, ok := short(data, p); ok {
		major, ai, arg, start, q = c>>5, c&0x1f, uint64(c&0x1f), p, p+1
	} else if major, ai, arg, start, q, err = headSlow(data, p); err != nil {
		return q, err
	}
	switch major {
	case majorUint, majorNeg:
		return q, nil
	case majorBytes, majorText:
		if ai == aiIndef {
			return str(data, q, major, ai, arg)
		}
		if arg > uint64(len(data)-q) {
			return q, codec.ErrTruncated
		}
		end := q + int(arg)
		if major == majorText && !validUTF8(data[q:end]) {
			return q, codec.ErrUTF8
		}
		return end, nil
	case majorArray:
		if depth > maxDepth {
			return start, codec.ErrDepth
		}
		if ai == aiIndef {
			for {
				if q >= len(data) {
					return q, codec.ErrTruncated
				}
				if data[q] == breakByte {
					return q + 1, nil
				}
				if q, err = skip(data, q, depth+1, maxDepth); err != nil {
					return q, err
				}
			}
		}
		if !fits(data, q, arg, false) {
			return q, codec.ErrTruncated
		}
		for n := int(arg); n > 0; n-- {
			// One-byte scalars and short strings, the bulk of WAMP
			// payloads, are checked here without a call.
			if q < len(data) {
				c := data[q]
				if tiny(c) {
					q++
					continue
				}
				if c>>5 == majorText && c&0x1f < 24 {
					end := q + 1 + int(c&0x1f)
					if end > len(data) {
						return q + 1, codec.ErrTruncated
					}
					if !validUTF8(data[q+1 : end]) {
						return q + 1, codec.ErrUTF8
					}
					q = end
					continue
				}
			}
			if q, err = skip(data, q, depth+1, maxDepth); err != nil {
				return q, err
			}
		}
		return q, nil
	case majorMap:
		if depth > maxDepth {
			return start, codec.ErrDepth
		}
		if ai != aiIndef && !fits(data, q, arg, true) {
			return q, codec.ErrTruncated
		}
		it := iter{n: arg, indef: ai == aiIndef}
		for {
			more, nq, err := it.more(data, q)
			if err != nil || !more {
				return nq, err
			}
			if q, err = key(data, nq); err != nil {
				return q, err
			}
			if q < len(data) { // as in arrays: no call for the common values
				c := data[q]
				if tiny(c) {
					q++
					continue
				}
				if c>>5 == majorText && c&0x1f < 24 {
					end := q + 1 + int(c&0x1f)
					if end > len(data) {
						return q + 1, codec.ErrTruncated
					}
					if !validUTF8(data[q+1 : end]) {
						return q + 1, codec.ErrUTF8
					}
					q = end
					continue
				}
			}
			if q, err = skip(data, q, depth+1, maxDepth); err != nil {
				return q, err
			}
		}
	default: // majorSimple; majorTag never comes out of head
		if !simpleOK(ai) {
			return start, codec.ErrSyntax
		}
		return q, nil
	}
}

// fastID reads the two encodings most WAMP IDs on the wire have, inline:
// a one-byte integer or a 4-byte argument (0x1a), both always within
// [0, codec.MaxID]. ok is false for anything else, which goes through
// decoder.id.
func fastID(data []byte, p int) (v uint64, next int, ok bool) {
	if p < len(data) {
		if c := data[p]; c < 24 {
			return uint64(c), p + 1, true
		} else if c == 0x1a && len(data)-p >= 5 {
			return uint64(binary.BigEndian.Uint32(data[p+1:])), p + 5, true
		}
	}
	return 0, p, false
}

// tiny reports whether c is a complete one-byte item: a small integer,
// false, true, null or undefined.
func tiny(c byte) bool { return c < 0x38 && c&0x1f < 24 || c >= 0xf4 && c <= 0xf7 }

// nests reports whether the item starting with byte c may contain
// containers (an array, a map, or a tag in front of anything).
func nests(c byte) bool { return c>>5 >= majorArray && c>>5 <= majorTag }

// prescan validates the item at p like skip and appends to counts, in
// pre-order, the element count (pairs, for a map) of every indefinite-length
// container in it. Walk must announce exact counts up front; counting each
// indefinite container by scanning it separately would rescan nested ones at
// every level, O(size × depth) on hostile input, while one prescan of the
// subtree keeps Walk linear.
func prescan(data []byte, p, depth, maxDepth int, counts *[]int) (int, error) {
	major, ai, arg, start, q, err := head(data, p)
	if err != nil {
		return q, err
	}
	if major != majorArray && major != majorMap {
		return skip(data, start, depth, maxDepth)
	}
	if depth > maxDepth {
		return start, codec.ErrDepth
	}
	isMap := major == majorMap
	if ai != aiIndef {
		if !fits(data, q, arg, isMap) {
			return q, codec.ErrTruncated
		}
		for n := arg; n > 0; n-- {
			if isMap {
				if q, err = key(data, q); err != nil {
					return q, err
				}
			}
			if q, err = prescanElem(data, q, depth+1, maxDepth, counts); err != nil {
				return q, err
			}
		}
		return q, nil
	}
	slot := len(*counts)
	*counts = append(*counts, 0)
	for n := 0; ; n++ {
		if q >= len(data) {
			return q, codec.ErrTruncated
		}
		if data[q] == breakByte {
			(*counts)[slot] = n
			return q + 1, nil
		}
		if isMap {
			if q, err = key(data, q); err != nil {
				return q, err
			}
		}
		if q, err = prescanElem(data, q, depth+1, maxDepth, counts); err != nil {
			return q, err
		}
	}
}

// prescanElem is prescan for a container element: items that cannot hold
// a container are only validated, without the bookkeeping.
func prescanElem(data []byte, p, depth, maxDepth int, counts *[]int) (int, error) {
	if p < len(data) {
		if c := data[p]; tiny(c) {
			return p + 1, nil
		} else if !nests(c) {
			return skip(data, p, depth, maxDepth)
		}
	}
	return prescan(data, p, depth, maxDepth, counts)
}

// float widens the bits of a half, single or double precision float (ai 25,
// 26, 27) to float64 exactly. NaN payloads are carried over bit for bit:
// going through a float32 conversion would quiet signalling NaNs.
func float(ai byte, bits uint64) float64 {
	switch ai {
	case aiF16:
		return half(uint16(bits))
	case aiF32:
		b := uint32(bits)
		if b&0x7f800000 == 0x7f800000 && b&0x7fffff != 0 {
			return math.Float64frombits(uint64(b>>31)<<63 | 0x7ff<<52 | uint64(b&0x7fffff)<<29)
		}
		return float64(math.Float32frombits(b))
	default:
		return math.Float64frombits(bits)
	}
}

// half converts an IEEE 754 binary16 value to float64 exactly, including
// subnormals, infinities and NaN payloads.
func half(h uint16) float64 {
	sign := uint64(h>>15) << 63
	exp := uint64(h>>10) & 0x1f
	mant := uint64(h & 0x3ff)
	switch exp {
	case 0:
		// Subnormal (or zero): mant × 2^-24, exact in float64.
		v := float64(mant) / (1 << 24)
		return math.Float64frombits(sign | math.Float64bits(v))
	case 0x1f:
		return math.Float64frombits(sign | 0x7ff<<52 | mant<<42)
	default:
		return math.Float64frombits(sign | (exp-15+1023)<<52 | mant<<42)
	}
}
