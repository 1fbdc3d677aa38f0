package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/norm"
)

// ErrSASLprep is wrapped by SASLprep's errors: the string holds a character
// RFC 4013 prohibits, or breaks its bidirectional rule.
var ErrSASLprep = errors.New("saslprep")

// SASLprep prepares a password or user name per RFC 4013 (the "SASLprep"
// profile of stringprep, RFC 3454), as WAMP-SCRAM requires before the KDF
// (spec: Username/Password String Normalization): non-ASCII spaces become
// U+0020, characters "commonly mapped to nothing" are removed, the result
// is normalized to NFKC, and prohibited characters (controls, private use,
// non-characters, surrogates, tagging and display-changing characters) or
// a string that mixes right-to-left and left-to-right text wrongly are
// refused. An ASCII string without control characters is returned as is.
//
// Two departures from RFC 4013, both for strings nobody types as a
// password: NFKC is that of the Unicode version Go's x/text implements
// (RFC 4013 fixes Unicode 3.2), and unassigned code points are not refused
// (RFC 3454 table A.1 is Unicode 3.2's, and both the stored key and the
// client go through this same function). precis.OpaqueString (RFC 8265,
// SASLprep's successor for passwords) is not used: it normalizes to NFC,
// not NFKC, and refuses the "mapped to nothing" characters instead of
// removing them, so a password with such characters would derive another
// key than a SASLprep client's.
func SASLprep(s string) (string, error) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf {
			ascii = false
			break
		} else if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%w: control character %U", ErrSASLprep, rune(c))
		}
	}
	if ascii {
		return s, nil
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not UTF-8", ErrSASLprep)
	}
	// RFC 4013 section 2.1: mapping. U+200B is in both tables; like
	// passlib's saslprep (which Autobahn uses), it becomes a space.
	var b strings.Builder
	for _, r := range s {
		switch {
		case nonASCIISpace(r):
			b.WriteByte(' ')
		case mappedToNothing(r):
		default:
			b.WriteRune(r)
		}
	}
	// Section 2.2: normalization form KC.
	out := norm.NFKC.String(b.String())
	// Sections 2.3 and 2.4: prohibited output, bidirectional characters.
	var randAL, l bool
	for _, r := range out {
		if prohibited(r) {
			return "", fmt.Errorf("%w: prohibited character %U", ErrSASLprep, r)
		}
		p, _ := bidi.LookupRune(r)
		switch p.Class() {
		case bidi.R, bidi.AL:
			randAL = true
		case bidi.L:
			l = true
		}
	}
	if randAL {
		// RFC 3454 section 6: no LCat, and RandALCat first and last.
		first, _ := utf8.DecodeRuneInString(out)
		last, _ := utf8.DecodeLastRuneInString(out)
		if l || !isRandAL(first) || !isRandAL(last) {
			return "", fmt.Errorf("%w: mixes right-to-left and left-to-right text", ErrSASLprep)
		}
	}
	return out, nil
}

func isRandAL(r rune) bool {
	p, _ := bidi.LookupRune(r)
	return p.Class() == bidi.R || p.Class() == bidi.AL
}

// nonASCIISpace is RFC 3454 table C.1.2.
func nonASCIISpace(r rune) bool {
	switch r {
	case 0x00A0, 0x1680, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200B
}

// mappedToNothing is RFC 3454 table B.1.
func mappedToNothing(r rune) bool {
	switch r {
	case 0x00AD, 0x034F, 0x1806, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF:
		return true
	}
	return (r >= 0x180B && r <= 0x180D) || (r >= 0xFE00 && r <= 0xFE0F)
}

// prohibited is RFC 4013 section 2.3: RFC 3454 tables C.1.2 (non-ASCII
// spaces, already mapped), C.2.1 and C.2.2 (controls), C.3 (private use),
// C.4 (non-characters), C.5 (surrogates: not in a valid UTF-8 string),
// C.6 (inappropriate for plain text), C.7 (inappropriate for canonical
// representation), C.8 (change display properties or deprecated) and C.9
// (tagging characters).
func prohibited(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0x9F): // C.2.1, C.2.2
		return true
	case nonASCIISpace(r): // C.1.2
		return true
	case r == 0x06DD || r == 0x070F || r == 0x180E || r == 0x200C || r == 0x200D || r == 0x2028 || r == 0x2029 ||
		(r >= 0x2060 && r <= 0x2063) || r == 0xFEFF || (r >= 0x1D173 && r <= 0x1D17A): // C.2.2
		return true
	case (r >= 0xE000 && r <= 0xF8FF) || (r >= 0xF0000 && r <= 0xFFFFD) || (r >= 0x100000 && r <= 0x10FFFD): // C.3
		return true
	case (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE: // C.4
		return true
	case r >= 0xD800 && r <= 0xDFFF: // C.5
		return true
	case r >= 0xFFF9 && r <= 0xFFFD: // C.6 (and C.2.2's FFF9-FFFC)
		return true
	case r >= 0x2FF0 && r <= 0x2FFB: // C.7
		return true
	case r == 0x0340 || r == 0x0341 || r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x206A && r <= 0x206F): // C.8
		return true
	case r == 0xE0001 || (r >= 0xE0020 && r <= 0xE007F): // C.9
		return true
	}
	return false
}
