package cluster

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/trie"
)

// decodeToken inverts appendToken (ok false for a malformed token).
func decodeToken(tok string) (string, bool) {
	if tok == "%" {
		return "", true
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '%' {
			if needsEscape[c] {
				return "", false
			}
			b.WriteByte(c)
			continue
		}
		if i+3 > len(tok) {
			return "", false
		}
		h := tok[i+1 : i+3]
		if strings.ToUpper(h) != h {
			return "", false
		}
		v, err := strconv.ParseUint(h, 16, 8)
		if err != nil || !needsEscape[byte(v)] {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// decodeEventSubject inverts AppendEventSubject for unhashed subjects.
func decodeEventSubject(s string) (realm, topic string, ok bool) {
	rest, found := strings.CutPrefix(s, prefixEvent)
	if !found {
		return "", "", false
	}
	toks := strings.Split(rest, ".")
	if len(toks) < 2 {
		return "", "", false
	}
	realm, ok = decodeToken(toks[0])
	if !ok {
		return "", "", false
	}
	comps := make([]string, len(toks)-1)
	for i, t := range toks[1:] {
		if comps[i], ok = decodeToken(t); !ok {
			return "", "", false
		}
	}
	return realm, strings.Join(comps, "."), true
}

func TestEventSubjectTable(t *testing.T) {
	for _, c := range []struct{ realm, topic, want string }{
		{"realm1", "com.example.topic", "zw.e.realm1.com.example.topic"},
		{"com.example", "a.b", "zw.e.com%2Eexample.a.b"},
		{"*", ">", "zw.e.%2A.%3E"},
		{"r", "a.*.>", "zw.e.r.a.%2A.%3E"},
		{"r", "a*.b>", "zw.e.r.a%2A.b%3E"},
		{"r%", "%25.x", "zw.e.r%25.%2525.x"},
		{"r", "a..b", "zw.e.r.a.%.b"},
		{"", "a", "zw.e.%.a"},
		{"r", "tab\there sp ace\x00\x7f", "zw.e.r.tab%09here%20sp%20ace%00%7F"},
		{"r", "é.ü", "zw.e.r.é.ü"},
	} {
		got := string(AppendEventSubject(nil, c.realm, []byte(c.topic)))
		if got != c.want {
			t.Errorf("AppendEventSubject(%q, %q) = %q, want %q", c.realm, c.topic, got, c.want)
		}
		if !server.IsValidPublishSubject(got) {
			t.Errorf("%q is not a valid literal NATS subject", got)
		}
		r, tp, ok := decodeEventSubject(got)
		if !ok || r != c.realm || tp != c.topic {
			t.Errorf("decode(%q) = %q, %q, %v", got, r, tp, ok)
		}
	}
}

// randText draws text from an alphabet rich in the characters escaping
// must handle, including multi-byte UTF-8.
func randText(r *rand.Rand, n int, dots bool) string {
	const alpha = "ab*>%.2AE \t\x00\x7f#"
	var b strings.Builder
	for i := 0; i < n; i++ {
		switch k := r.IntN(20); {
		case k == 0:
			b.WriteString("é")
		case k < 3:
			b.WriteString("%2A")
		default:
			c := alpha[r.IntN(len(alpha))]
			if c == '.' && !dots {
				c = 'a'
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TestEventSubjectInjective: different (realm, topic) pairs never share a
// subject, every subject is a valid literal NATS subject within
// MaxSubjectLen, and unhashed ones decode back.
func TestEventSubjectInjective(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string][2]string{}
	for i := 0; i < 200000; i++ {
		realm := randText(r, r.IntN(6), true)
		topic := randText(r, r.IntN(12), true)
		if r.IntN(2000) == 0 {
			topic = strings.Repeat(topic+"x.", 300)
		}
		if r.IntN(2000) == 0 {
			realm = strings.Repeat("r.", 100+r.IntN(100))
		}
		s := string(AppendEventSubject(nil, realm, []byte(topic)))
		if len(s) > MaxSubjectLen {
			t.Fatalf("subject of %d bytes", len(s))
		}
		if !server.IsValidPublishSubject(s) || strings.ContainsAny(s, " \t\r\n") {
			t.Fatalf("invalid subject %q for %q %q", s, realm, topic)
		}
		if prev, ok := seen[s]; ok && prev != [2]string{realm, topic} {
			t.Fatalf("%q and %q both map to %q", prev, [2]string{realm, topic}, s)
		}
		seen[s] = [2]string{realm, topic}
		if strings.HasPrefix(s, prefixEvent) && !strings.HasPrefix(s[len(prefixEvent):], "%h") {
			rr, tt, ok := decodeEventSubject(s)
			if !ok || rr != realm || tt != topic {
				t.Fatalf("decode(%q) = %q %q %v, want %q %q", s, rr, tt, ok, realm, topic)
			}
		}
	}
}

// TestLongSubjects: a topic whose subject would exceed MaxSubjectLen
// travels hashed, an exact subscriber to it gets the same hashed subject,
// pattern subscribers the realm's hashed catch-all; a long realm is
// hashed in every subject.
func TestLongSubjects(t *testing.T) {
	long := "com." + strings.Repeat("x", MaxSubjectLen) + ".end"
	s := string(AppendEventSubject(nil, "realm1", []byte(long)))
	if !strings.HasPrefix(s, "zw.h.realm1.") || len(s) != len("zw.h.realm1.")+hashLen {
		t.Fatalf("long topic subject %q", s)
	}
	if ex := InterestSubjects("realm1", long, "exact"); len(ex) != 1 || ex[0] != s {
		t.Fatalf("exact interest %q, want [%q]", ex, s)
	}
	for _, p := range []struct{ uri, match string }{{"com.", "prefix"}, {"com..end", "wildcard"}, {long[:len(long)-3], "prefix"}} {
		if !matchesAny(s, InterestSubjects("realm1", p.uri, p.match)) {
			t.Errorf("%s %q does not catch the hashed subject", p.match, p.uri)
		}
	}
	// A pattern too long for a subject keeps only the catch-all.
	if in := InterestSubjects("realm1", long[:len(long)-3], "prefix"); len(in) != 1 || in[0] != "zw.h.realm1.*" {
		t.Errorf("long prefix interest %q", in)
	}
	other := string(AppendEventSubject(nil, "realm1", []byte(long+"2")))
	if other == s {
		t.Error("two long topics share a hashed subject")
	}
	realm := strings.Repeat("realm.", 60)
	rs := string(AppendEventSubject(nil, realm, []byte("a.b")))
	if !strings.HasPrefix(rs, "zw.e.%h") || len(rs) != len("zw.e.%h")+hashLen+len(".a.b") {
		t.Errorf("long realm subject %q", rs)
	}
	if rs == string(AppendEventSubject(nil, realm+"x", []byte("a.b"))) {
		t.Error("two long realms share a token")
	}
}

func matchesAny(subject string, filters []string) bool {
	for _, f := range filters {
		if server.SubjectMatchesFilter(subject, f) {
			return true
		}
	}
	return false
}

// randURI draws a URI of 1..4 components from a small set, so that
// patterns and topics often match.
func randURI(r *rand.Rand, empty bool) string {
	comps := []string{"a", "b", "ab", "a*", "*", ">", "%", "%2A", "é", "b\x01"}
	n := 1 + r.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		if empty && r.IntN(3) == 0 {
			continue
		}
		parts[i] = comps[r.IntN(len(comps))]
		if r.IntN(200) == 0 {
			parts[i] = strings.Repeat("L", MaxSubjectLen/2)
		}
	}
	return strings.Join(parts, ".")
}

// TestInterestCoversTrieMatches checks InterestSubjects against the
// router's own matcher: for random patterns and topics, whenever the trie
// says a pattern matches a topic, one of the pattern's interest subjects
// matches the topic's event subject under NATS semantics
// (server.SubjectMatchesFilter). Exact and wildcard interest is also
// exact: their non-catch-all subjects match only topics the trie matches.
func TestInterestCoversTrieMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	realms := []string{"r", "r.x", "*", ">", "%", strings.Repeat("q", 300)}
	type pat struct {
		uri   string
		match trie.Policy
	}
	checked, coarse := 0, 0
	for round := 0; round < 300; round++ {
		realm := realms[r.IntN(len(realms))]
		ix := trie.New[int](trie.Options{})
		var pats []pat
		for len(pats) < 20 {
			var p pat
			switch r.IntN(3) {
			case 0:
				p = pat{randURI(r, false), trie.Exact}
			case 1:
				p = pat{randURI(r, true), trie.Wildcard}
			default:
				u := randURI(r, false)
				p = pat{u[:1+r.IntN(len(u))], trie.Prefix}
			}
			if _, dup := ix.Lookup([]byte(p.uri), p.match); dup {
				continue
			}
			i := len(pats)
			ix.Update([]byte(p.uri), p.match, func(int, bool) (int, bool) { return i, true })
			pats = append(pats, p)
		}
		interest := make([][]string, len(pats))
		for i, p := range pats {
			interest[i] = InterestSubjects(realm, p.uri, p.match.String())
			if len(interest[i]) == 0 {
				t.Fatalf("no interest for %s %q", p.match, p.uri)
			}
			for _, s := range interest[i] {
				if !server.IsValidSubject(s) || len(s) > MaxSubjectLen {
					t.Fatalf("invalid interest subject %q for %s %q", s, p.match, p.uri)
				}
			}
		}
		for k := 0; k < 100; k++ {
			topic := randURI(r, false)
			subj := string(AppendEventSubject(nil, realm, []byte(topic)))
			matched := map[int]bool{}
			for _, i := range ix.Match([]byte(topic), nil) {
				matched[i] = true
			}
			for i, p := range pats {
				got := matchesAny(subj, interest[i])
				if matched[i] && !got {
					t.Fatalf("realm %q: %s %q matches topic %q but its interest %q misses subject %q", realm, p.match, p.uri, topic, interest[i], subj)
				}
				if matched[i] {
					checked++
				}
				if !matched[i] && got {
					coarse++
					if p.match == trie.Exact || (p.match == trie.Wildcard && !strings.HasPrefix(subj, prefixHashed)) {
						t.Fatalf("realm %q: %s %q does not match topic %q but its interest %q catches subject %q", realm, p.match, p.uri, topic, interest[i], subj)
					}
				}
			}
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d matching (pattern, topic) pairs checked", checked)
	}
	t.Logf("%d matching pairs covered; %d non-matching deliveries from coarse prefix interest", checked, coarse)
}

func TestInterestSubjectsTable(t *testing.T) {
	for _, c := range []struct {
		uri, match string
		want       []string
	}{
		{"com.x.y", "exact", []string{"zw.e.r.com.x.y"}},
		{"com.x.emer", "prefix", []string{"zw.e.r.com.x.>", "zw.h.r.*"}},
		{"com.x.", "prefix", []string{"zw.e.r.com.x.>", "zw.h.r.*"}},
		{"com", "prefix", []string{"zw.e.r.>", "zw.h.r.*"}},
		{"a..c", "wildcard", []string{"zw.e.r.a.*.c", "zw.h.r.*"}},
		{"..", "wildcard", []string{"zw.e.r.*.*.*", "zw.h.r.*"}},
		{"a.*.c", "wildcard", []string{"zw.e.r.a.%2A.c", "zw.h.r.*"}},
		{"a", "bogus", nil},
	} {
		got := InterestSubjects("r", c.uri, c.match)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("InterestSubjects(r, %q, %s) = %q, want %q", c.uri, c.match, got, c.want)
		}
	}
	if got := NodeSubject("n1-00ff", "call"); got != "zw.n.n1-00ff.call" {
		t.Errorf("NodeSubject = %q", got)
	}
}

func TestEventSubjectAlloc(t *testing.T) {
	buf := make([]byte, 0, 256)
	topic := []byte("com.example.some.topic")
	alloctest.Zero(t, "AppendEventSubject", func() {
		buf = AppendEventSubject(buf[:0], "realm1", topic)
	})
	if !bytes.Equal(buf, []byte("zw.e.realm1.com.example.some.topic")) {
		t.Fatal(string(buf))
	}
	nbuf := make([]byte, 0, 64)
	alloctest.Zero(t, "AppendNodeSubject", func() {
		nbuf = AppendNodeSubject(nbuf[:0], "n1-0123456789abcdef", "call")
	})
}
