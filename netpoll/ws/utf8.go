package ws

import "unicode/utf8"

// utf8State carries UTF-8 validation across fragments and Feed calls, so a
// text message is rejected at the first invalid sequence and a code point
// split across frames is accepted. The zero value is "between code points".
//
// need is the number of continuation bytes still expected; lo and hi bound
// the next byte (narrower than 0x80–0xBF right after E0, ED, F0 and F4, which
// is where overlong forms, surrogates and values above U+10FFFF are cut off).
type utf8State struct {
	need   uint8
	lo, hi uint8
}

// complete reports whether the bytes seen so far end on a code point
// boundary.
func (s *utf8State) complete() bool { return s.need == 0 }

// valid feeds b to the validator and reports whether b keeps the stream
// valid so far.
func (s *utf8State) valid(b []byte) bool {
	// Finish a sequence left open by an earlier chunk byte by byte.
	for s.need > 0 {
		if len(b) == 0 {
			return true
		}
		if !s.step(b[0]) {
			return false
		}
		b = b[1:]
	}
	// Bulk: everything up to the start of a trailing incomplete sequence goes
	// through the standard library's fast validator; only the tail (at most
	// 3 bytes) goes through the state machine.
	cut := incompleteTail(b)
	if !utf8.Valid(b[:cut]) {
		return false
	}
	for _, c := range b[cut:] {
		if !s.step(c) {
			return false
		}
	}
	return true
}

// incompleteTail returns the index where a trailing, not yet complete UTF-8
// sequence starts in b, or len(b) if b does not end inside a sequence that
// more bytes could complete. Anything invalid is left to utf8.Valid.
func incompleteTail(b []byte) int {
	n := len(b)
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		c := b[i]
		if c&0xC0 == 0x80 {
			continue // continuation byte: keep looking for its lead
		}
		var size int
		switch {
		case c < 0x80:
			return n
		case c&0xE0 == 0xC0:
			size = 2
		case c&0xF0 == 0xE0:
			size = 3
		case c&0xF8 == 0xF0:
			size = 4
		default:
			return i // not a lead byte; the state machine rejects it
		}
		if n-i < size {
			return i
		}
		return n
	}
	return n
}

// step advances the state machine by one byte.
func (s *utf8State) step(c byte) bool {
	if s.need > 0 {
		if c < s.lo || c > s.hi {
			return false
		}
		s.need--
		s.lo, s.hi = 0x80, 0xBF
		return true
	}
	switch {
	case c < 0x80:
		return true
	case c >= 0xC2 && c <= 0xDF:
		s.need, s.lo, s.hi = 1, 0x80, 0xBF
	case c == 0xE0:
		s.need, s.lo, s.hi = 2, 0xA0, 0xBF
	case c == 0xED:
		s.need, s.lo, s.hi = 2, 0x80, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		s.need, s.lo, s.hi = 2, 0x80, 0xBF
	case c == 0xF0:
		s.need, s.lo, s.hi = 3, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		s.need, s.lo, s.hi = 3, 0x80, 0xBF
	case c == 0xF4:
		s.need, s.lo, s.hi = 3, 0x80, 0x8F
	default:
		return false
	}
	return true
}
