package trie

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// pySpace is Python 3's \s for str patterns (the code points for which
// str.isspace() is true), spelled as a Go character-class body. Go's own \s
// is only [\t\n\f\r ].
const pySpace = `\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`

// The four expressions of building_blocks.md, translated to Go.
var specRegexps = map[Rules]*regexp.Regexp{
	0:                   regexp.MustCompile(`^([^` + pySpace + `\.#]+\.)*([^` + pySpace + `\.#]+)$`),
	AllowEmpty:          regexp.MustCompile(`^(([^` + pySpace + `\.#]+\.)|\.)*([^` + pySpace + `\.#]+)?$`),
	Strict:              regexp.MustCompile(`^([0-9a-z_]+\.)*([0-9a-z_]+)$`),
	Strict | AllowEmpty: regexp.MustCompile(`^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$`),
}

// specValid is what the spec's expressions say, with one documented
// deviation: text that is not UTF-8 is never a valid URI (Go's regexp would
// read each bad byte as U+FFFD and accept it).
func specValid(uri []byte, r Rules) bool {
	if !utf8.Valid(uri) {
		return false
	}
	return specRegexps[r].Match(uri)
}

func TestValidURICases(t *testing.T) {
	type want struct{ loose, looseEmpty, strict, strictEmpty bool }
	cases := []struct {
		uri string
		want
	}{
		{"com.myapp.mytopic1", want{true, true, true, true}},
		{"wamp.error.not_authorized", want{true, true, true, true}},
		{"a", want{true, true, true, true}},
		{"", want{false, true, false, true}},
		{".", want{false, true, false, true}},
		{"com..topic", want{false, true, false, true}},
		{"com.myapp.", want{false, true, false, true}},
		{".com", want{false, true, false, true}},
		{"..", want{false, true, false, true}},
		{"Com.MyApp", want{true, true, false, false}},
		{"com.my-app", want{true, true, false, false}},
		{"com.my#app", want{false, false, false, false}},
		{"#", want{false, false, false, false}},
		{"com.my app", want{false, false, false, false}},
		{"com.app\n", want{false, false, false, false}}, // Python's $ would accept this
		{"com.app\t", want{false, false, false, false}},
		{"com.app\v", want{false, false, false, false}}, // \v: Python \s, not Go \s
		{"com.app\x1c", want{false, false, false, false}},
		{"com.\x00app", want{true, true, false, false}}, // control, not whitespace
		{"com.\x7fapp", want{true, true, false, false}},
		{"com.caf\u00e9", want{true, true, false, false}},
		{"com.\u4e16\u754c", want{true, true, false, false}},
		{"com.a\u00a0b", want{false, false, false, false}}, // NBSP
		{"com.a\u0085b", want{false, false, false, false}}, // NEL
		{"com.a\u2028b", want{false, false, false, false}},
		{"com.a\u3000b", want{false, false, false, false}},
		{"com.a\u200bb", want{true, true, false, false}},        // zero-width space is not \s
		{"com.a\ufffdb", want{true, true, false, false}},        // U+FFFD itself is fine
		{"com.a\xffb", want{false, false, false, false}},        // invalid UTF-8
		{"com.a\xed\xa0\x80", want{false, false, false, false}}, // UTF-8 surrogate
		{"com.a\xe4\xb8", want{false, false, false, false}},     // truncated sequence
	}
	for _, c := range cases {
		for _, r := range []struct {
			rules Rules
			want  bool
		}{{0, c.loose}, {AllowEmpty, c.looseEmpty}, {Strict, c.strict}, {Strict | AllowEmpty, c.strictEmpty}} {
			if got := ValidURI([]byte(c.uri), r.rules); got != r.want {
				t.Errorf("ValidURI(%q, %b) = %v, want %v", c.uri, r.rules, got, r.want)
			}
			if got := specValid([]byte(c.uri), r.rules); got != r.want {
				t.Errorf("spec regexp (%q, %b) = %v, want %v: the test table is wrong", c.uri, r.rules, got, r.want)
			}
		}
	}
}

// TestValidURIRegexp compares ValidURI with the spec's expressions on random
// strings over an alphabet of every interesting kind of character.
func TestValidURIRegexp(t *testing.T) {
	alphabet := []string{"a", "z", "0", "_", "A", "-", ".", ".", "#", " ", "\t", "\v", "\x1c", "\x1f", "\x00", "\x7f",
		"\u00e9", "\u00a0", "\u0085", "\u1680", "\u2000", "\u200a", "\u200b", "\u2028", "\u202f", "\u3000",
		"\xff", "\xc3", "\xed\xa0\x80", "\U0001f600"}
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	for i := 0; i < 20000; i++ {
		sb.Reset()
		for n := r.IntN(8); n > 0; n-- {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		uri := []byte(sb.String())
		for rules := range specRegexps {
			if got, want := ValidURI(uri, rules), specValid(uri, rules); got != want {
				t.Fatalf("ValidURI(%q, %b) = %v, spec regexp says %v", uri, rules, got, want)
			}
		}
	}
}

func TestReserved(t *testing.T) {
	for uri, want := range map[string]bool{
		"wamp":                      true,
		"wamp.error.not_authorized": true,
		"wamp.":                     true,
		"wampx.a":                   false,
		"wam":                       false,
		"com.wamp":                  false,
		"":                          false,
		"WAMP.x":                    false,
	} {
		if got := Reserved([]byte(uri)); got != want {
			t.Errorf("Reserved(%q) = %v, want %v", uri, got, want)
		}
	}
}

func TestPolicyString(t *testing.T) {
	for p, want := range map[Policy]string{Exact: "exact", Prefix: "prefix", Wildcard: "wildcard", 9: "invalid"} {
		if got := p.String(); got != want {
			t.Errorf("Policy(%d).String() = %q, want %q", p, got, want)
		}
	}
}
