package trie

import "unicode/utf8"

// Policy is a match policy. Its values equal codec.Match's (exact 0, prefix 1,
// wildcard 2) so the router converts with a cast.
type Policy uint8

const (
	// Exact matches a URI equal to the pattern.
	Exact Policy = iota
	// Prefix matches a URI that has the pattern as a string prefix.
	Prefix
	// Wildcard matches a URI with as many components as the pattern where
	// every empty pattern component stands for any one non-empty component.
	Wildcard
)

var policyNames = [...]string{"exact", "prefix", "wildcard"}

// String returns the policy's name as spelled in SUBSCRIBE/REGISTER options.
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "invalid"
}

// Rules select URI validation rules.
type Rules uint8

const (
	// Strict restricts components to [0-9a-z_]+ (the spec's recommendation);
	// without it the loose rules apply: a component is any non-empty UTF-8
	// text without '.', '#' or whitespace.
	Strict Rules = 1 << iota
	// AllowEmpty admits empty components, as wildcard patterns need them.
	AllowEmpty
)

// Byte classes for the validators. One table lookup per ASCII byte keeps
// ValidURI a tight loop; only bytes >= 0x80 take the UTF-8 slow path.
const (
	clsBad    = 0 // never allowed in a component
	clsOK     = 1 // allowed in loose components
	clsStrict = 2 // allowed in strict components (and therefore loose ones)
	clsDot    = 3 // the separator
	clsHigh   = 4 // first byte of a multi-byte sequence (or invalid)
)

var byteClass = func() (t [256]uint8) {
	// ASCII is allowed in loose components (control characters and DEL
	// included: Python's \s does not match them) ...
	for c := 0; c < 0x80; c++ {
		t[c] = clsOK
	}
	// ... except Python's whitespace: \t \n \v \f \r, space and the ASCII
	// separators 0x1c-0x1f (str.isspace() is true for them), and '#'.
	for _, c := range []byte{'\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, '#'} {
		t[c] = clsBad
	}
	t['.'] = clsDot
	for c := '0'; c <= '9'; c++ {
		t[c] = clsStrict
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsStrict
	}
	t['_'] = clsStrict
	for c := 0x80; c < 0x100; c++ {
		t[c] = clsHigh
	}
	return t
}()

// isUnicodeSpace reports whether r (>= 0x80) is whitespace by Python 3's
// definition (str.isspace(), which re's \s uses for str patterns). It equals
// Go's unicode.IsSpace above 0x7f; spelled out so the set is visible and
// stays fixed whatever Unicode version the toolchain ships.
func isUnicodeSpace(r rune) bool {
	switch {
	case r == 0x85, r == 0xa0, r == 0x1680:
		return true
	case r >= 0x2000 && r <= 0x200a:
		return true
	case r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

// ValidURI reports whether uri is a valid WAMP URI under rules r.
//
// Without Strict it applies the spec's loose rules (building_blocks.md,
// "Relaxed/Loose URIs"): components must not contain '.', '#' or whitespace.
// "Whitespace" is Python's Unicode \s, because the spec states its rule as
// Python regular expressions over Unicode strings: ASCII \t \n \v \f \r,
// space, 0x1c-0x1f, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
// U+2029, U+202F, U+205F, U+3000. URIs "MUST be Unicode strings", so a uri
// that is not valid UTF-8 is rejected (Python could not even decode it).
// Python's $ also matches before a trailing "\n", which would let
// "com.a\n" through; that quirk contradicts the prose rule and is not copied.
//
// Without AllowEmpty every component must be non-empty (so "" is invalid);
// with it, any run of valid components and dots is valid, including "" and
// ".", exactly as the spec's second and fourth expressions accept.
//
// ValidURI never allocates.
func ValidURI(uri []byte, r Rules) bool {
	strict := r&Strict != 0
	empty := r&AllowEmpty != 0
	if len(uri) == 0 {
		return empty
	}
	comp := 0 // length of the current component so far
	for i := 0; i < len(uri); {
		switch byteClass[uri[i]] {
		case clsStrict:
			comp++
			i++
		case clsOK:
			if strict {
				return false
			}
			comp++
			i++
		case clsDot:
			if comp == 0 && !empty {
				return false
			}
			comp = 0
			i++
		case clsHigh:
			if strict {
				return false
			}
			c, size := utf8.DecodeRune(uri[i:])
			if c == utf8.RuneError && size <= 1 {
				return false
			}
			if isUnicodeSpace(c) {
				return false
			}
			comp++
			i += size
		default:
			return false
		}
	}
	return comp > 0 || empty
}

// Reserved reports whether uri's first component is "wamp", the namespace
// the spec keeps for URIs predefined by the protocol itself.
func Reserved(uri []byte) bool {
	return len(uri) >= 4 && string(uri[:4]) == "wamp" && (len(uri) == 4 || uri[4] == '.')
}
