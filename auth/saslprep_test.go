package auth_test

import (
	"errors"
	"testing"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/core"
)

// TestSASLprep: RFC 4013 section 3's examples, and one case of each mapping
// and prohibition table.
func TestSASLprep(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"I\u00ADX", "IX"},                     // RFC 4013 #1: SOFT HYPHEN mapped to nothing
		{"user", "user"},                       // #2
		{"USER", "USER"},                       // #3: case preserved
		{"\u00AA", "a"},                        // #4: NFKC
		{"\u2168", "IX"},                       // #5: NFKC, matches #1
		{"a\u00A0b\u3000c", "a b c"},           // C.1.2 non-ASCII spaces become U+0020
		{"pa\u2060ss\uFE0F", "pass"},           // B.1 word joiner, variation selector
		{"a\u200Bb", "a b"},                    // U+200B is in C.1.2 and B.1: a space, as passlib's saslprep
		{"\u0627\u0628", "\u0627\u0628"},       // right-to-left only: allowed
		{"\u0627 1 \u0628", "\u0627 1 \u0628"}, // RandALCat first and last, no LCat
		{"p\u00E4ss w\u00F6rd", "p\u00E4ss w\u00F6rd"},
		{"", ""},
	} {
		got, err := auth.SASLprep(c.in)
		if err != nil || got != c.want {
			t.Errorf("SASLprep(%+q) = %+q, %v; want %+q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{
		"\u0007",                  // #6: prohibited (ASCII control)
		"\u0627\u0031",            // #7: bidi: RandALCat not last
		"a\u0627",                 // bidi: LCat with RandALCat
		"\u0085x",                 // C.2.2 non-ASCII control
		"x\uE000",                 // C.3 private use
		"x\uFDD0",                 // C.4 non-character
		"x\U0010FFFF",             // C.4, last plane
		"x\uFFFD",                 // C.6
		"x\u2FF0",                 // C.7
		"x\u200E",                 // C.8 left-to-right mark
		"x\U000E0041",             // C.9 tag
		"x\x7f",                   // DEL
		string([]byte{0xff, 'a'}), // not UTF-8
	} {
		if got, err := auth.SASLprep(in); !errors.Is(err, auth.ErrSASLprep) {
			t.Errorf("SASLprep(%+q) = %+q, %v; want ErrSASLprep", in, got, err)
		}
	}
}

// TestSCRAMSASLprep: over the wire, a principal whose wamp-scram keys were
// made for one spelling of a password logs in with another spelling that
// SASLprep maps to the same string ("I<soft hyphen>X" and the Roman numeral
// nine are both "IX"), and the router's verifier checks out; a password
// SASLprep refuses cannot be stored, and a client given one fails before
// sending anything.
func TestSCRAMSASLprep(t *testing.T) {
	keys, err := auth.SCRAMKeysFor("I\u00ADX", pbkdf2Params)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := auth.SCRAMKeysFor("IX", keys.KDFParams); plain.StoredKey != keys.StoredKey {
		t.Fatal("the stored keys of I<soft hyphen>X and IX differ")
	}
	tr := start(t, core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}, map[string]*auth.RealmConfig{
		"prep": {Methods: []string{"wamp-scram"}, Principals: map[string]auth.PrincipalConfig{"nine": {Role: "user", SCRAM: keys}}},
	})
	sc := auth.NewSCRAMClient("nine", "\u2168")
	c := tr.ok(t, sc.Config(client.Config{Realm: "prep"}), "nine", "user", "wamp-scram", "static")
	if !sc.VerifyServer(c.Details()) {
		t.Fatalf("router's verifier does not check out: %v", c.Details())
	}
	tr.refused(t, auth.NewSCRAMClient("nine", "X").Config(client.Config{Realm: "prep"}), core.ErrAuthenticationFailed)

	if _, err := auth.SCRAMKeysFor("bell\u0007", pbkdf2Params); !errors.Is(err, auth.ErrSASLprep) {
		t.Fatalf("SCRAMKeysFor with a control character: %v", err)
	}
	bad := auth.NewSCRAMClient("nine", "bell\u0007")
	if _, _, err := bad.Authenticate(auth.MethodSCRAM, map[string]any{"nonce": "x"}); err == nil {
		t.Fatal("a nonce that does not extend the client's was accepted")
	}
	if _, err := tr.connect(t, bad.Config(client.Config{Realm: "prep"})); err == nil || !errors.Is(err, auth.ErrSASLprep) {
		t.Fatalf("login with a prohibited password: %v, want an ErrSASLprep error", err)
	}
}
