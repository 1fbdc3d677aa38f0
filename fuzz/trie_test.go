package fuzz

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/zwamp/zwamp/trie"
)

// Everything top-level here is prefixed with trie: the package is shared
// by the fuzz targets of every codec and parser.

// FuzzTrieMatch drives an index with a script decoded from the input and
// compares every answer with a brute-force reference.
//
// Script: the first byte picks the options (cache on, off, one slot); the
// rest is split at '\n' into lines. A line's first byte is the command:
// mod 4 = 0 or 1 stores the next sequence number under (pattern, policy),
// 2 removes (pattern, policy), 3 queries Match, Best and Lookup for the URI;
// its second byte mod 3 is the policy, and the rest is the pattern or URI.
// After the script every stored pattern and every queried URI is queried
// again (cache hits), then everything is removed and the index must be empty.
func FuzzTrieMatch(f *testing.F) {
	f.Add([]byte("\x00" + "\x00\x00com.myapp.topic\n\x00\x01com.myapp\n\x00\x02com..topic\n\x03\x00com.myapp.topic"))
	f.Add([]byte("\x01" + "\x00\x01a1.b2.c3\n\x00\x01a1.b2.c3.d4\n\x00\x02a1.b2..d4.e5\n\x00\x02a1.b2.c33..e5\n" +
		"\x00\x02a1.b2..d4.e5..g7\n\x00\x02a1.b2..d4..f6.g7\n\x03\x00a1.b2.c88.d4.e5.f6.g7\n\x03\x00a1.b2.c33.d4.e5"))
	f.Add([]byte("\x02" + "\x00\x02\n\x00\x02.\n\x00\x02a.\n\x00\x01\n\x03\x00a.b\n\x02\x02.\n\x03\x00a.b"))
	f.Add([]byte("\x00" + "\x00\x01com.myapp.topic.emerge\n\x03\x00com.myapp.topic.emergency\n\x02\x01com.myapp.topic.emerge\n\x03\x00com.myapp.topic.emergency"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 4096 {
			return
		}
		var o trie.Options
		switch data[0] % 3 {
		case 1:
			o.CacheSize = -1
		case 2:
			o = trie.Options{CacheSize: 1, Shards: 1}
		}
		ix := trie.New[int](o)
		ref := trieRef{}
		var queries [][]byte
		seq := 0
		for _, line := range bytes.Split(data[1:], []byte("\n")) {
			if len(line) < 2 {
				continue
			}
			p, arg := trie.Policy(line[1]%3), line[2:]
			switch line[0] % 4 {
			case 0, 1:
				seq++
				trieStore(t, ix, ref, arg, p, seq)
			case 2:
				trieDrop(t, ix, ref, arg, p)
			case 3:
				queries = append(queries, arg)
				trieCheck(t, ix, ref, arg)
			}
		}
		for k := range ref {
			queries = append(queries, []byte(k.pat))
		}
		for _, q := range queries {
			trieCheck(t, ix, ref, q)
		}
		if ix.Len() != len(ref) {
			t.Fatalf("Len = %d, want %d", ix.Len(), len(ref))
		}
		n := 0
		ix.Range(func(uri string, p trie.Policy, v int) bool {
			n++
			if w, ok := ref[trieKey{uri, p}]; !ok || w != v {
				t.Fatalf("Range: %q/%v = %d, reference has (%d, %v)", uri, p, v, w, ok)
			}
			return true
		})
		if n != len(ref) {
			t.Fatalf("Range reported %d entries, want %d", n, len(ref))
		}
		for k := range ref {
			trieDrop(t, ix, ref, []byte(k.pat), k.p)
		}
		for _, q := range queries {
			trieCheck(t, ix, ref, q)
		}
		if ix.Len() != 0 {
			t.Fatalf("Len = %d after removing everything", ix.Len())
		}
	})
}

type trieKey struct {
	pat string
	p   trie.Policy
}

type trieRef map[trieKey]int

// trieRefMatch is the spec's matching, written plainly.
func trieRefMatch(uri, pat string, p trie.Policy) bool {
	switch p {
	case trie.Exact:
		return uri == pat
	case trie.Prefix:
		return strings.HasPrefix(uri, pat)
	case trie.Wildcard:
		uc, pc := strings.Split(uri, "."), strings.Split(pat, ".")
		if len(uc) != len(pc) {
			return false
		}
		for i := range pc {
			if (pc[i] == "" && uc[i] == "") || (pc[i] != "" && pc[i] != uc[i]) {
				return false
			}
		}
		return true
	}
	return false
}

// triePortions: literal components before each wildcard, and after the last.
func triePortions(pat string) []int {
	var out []int
	run := 0
	for _, c := range strings.Split(pat, ".") {
		if c == "" {
			out = append(out, run)
			run = 0
		} else {
			run++
		}
	}
	return append(out, run)
}

// best ranks every candidate by the spec's registration rules.
func (r trieRef) best(t *testing.T, uri string) (int, trie.Policy, bool) {
	if v, ok := r[trieKey{uri, trie.Exact}]; ok {
		return v, trie.Exact, true
	}
	bl, bv := -1, 0
	for k, v := range r {
		if k.p == trie.Prefix && strings.HasPrefix(uri, k.pat) && len(k.pat) > bl {
			bl, bv = len(k.pat), v
		}
	}
	if bl >= 0 {
		return bv, trie.Prefix, true
	}
	var bp []int
	found := false
	for k, v := range r {
		if k.p != trie.Wildcard || !trieRefMatch(uri, k.pat, k.p) {
			continue
		}
		pp := triePortions(k.pat)
		c := slices.Compare(pp, bp)
		if found && c == 0 {
			t.Fatalf("reference: two wildcard patterns tie for %q", uri)
		}
		if !found || c > 0 {
			bp, bv, found = pp, v, true
		}
	}
	return bv, trie.Wildcard, found
}

func trieStore(t *testing.T, ix *trie.Index[int], ref trieRef, pat []byte, p trie.Policy, v int) {
	want, wantOK := ref[trieKey{string(pat), p}]
	got, ok := ix.Update(pat, p, func(old int, ok bool) (int, bool) {
		if ok != wantOK || old != want {
			t.Fatalf("Update(%q, %v): fn got (%d, %v), want (%d, %v)", pat, p, old, ok, want, wantOK)
		}
		return v, true
	})
	if got != v || !ok {
		t.Fatalf("Update(%q, %v) = (%d, %v), want (%d, true)", pat, p, got, ok, v)
	}
	ref[trieKey{string(pat), p}] = v
}

func trieDrop(t *testing.T, ix *trie.Index[int], ref trieRef, pat []byte, p trie.Policy) {
	_, wantOK := ref[trieKey{string(pat), p}]
	if _, ok := ix.Update(pat, p, func(_ int, ok bool) (int, bool) {
		if ok != wantOK {
			t.Fatalf("remove %q/%v: fn got ok=%v, want %v", pat, p, ok, wantOK)
		}
		return 0, false
	}); ok {
		t.Fatalf("remove %q/%v reported a stored value", pat, p)
	}
	delete(ref, trieKey{string(pat), p})
}

func trieCheck(t *testing.T, ix *trie.Index[int], ref trieRef, uri []byte) {
	for pass := 0; pass < 2; pass++ { // the second may come from the cache
		got := ix.Match(uri, nil)
		slices.Sort(got)
		var want []int
		for k, v := range ref {
			if trieRefMatch(string(uri), k.pat, k.p) {
				want = append(want, v)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("Match(%q) = %v, want %v", uri, got, want)
		}
		gv, gp, gok := ix.Best(uri)
		wv, wp, wok := ref.best(t, string(uri))
		if gok != wok || (wok && (gv != wv || gp != wp)) {
			t.Fatalf("Best(%q) = (%d, %v, %v), want (%d, %v, %v)", uri, gv, gp, gok, wv, wp, wok)
		}
	}
	for p := trie.Exact; p <= trie.Wildcard; p++ {
		v, ok := ix.Lookup(uri, p)
		wv, wok := ref[trieKey{string(uri), p}]
		if v != wv || ok != wok {
			t.Fatalf("Lookup(%q, %v) = (%d, %v), want (%d, %v)", uri, p, v, ok, wv, wok)
		}
	}
}

// triePySpace is Python 3's \s for str patterns as a Go class body: the
// spec writes its URI rules as Python expressions, and Go's \s lacks \v,
// 0x1c-0x1f and the non-ASCII spaces.
const triePySpace = `\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`

// trieSpecRegexps are building_blocks.md's four expressions in Go syntax.
var trieSpecRegexps = []struct {
	rules trie.Rules
	re    *regexp.Regexp
}{
	{0, regexp.MustCompile(`^([^` + triePySpace + `\.#]+\.)*([^` + triePySpace + `\.#]+)$`)},
	{trie.AllowEmpty, regexp.MustCompile(`^(([^` + triePySpace + `\.#]+\.)|\.)*([^` + triePySpace + `\.#]+)?$`)},
	{trie.Strict, regexp.MustCompile(`^([0-9a-z_]+\.)*([0-9a-z_]+)$`)},
	{trie.Strict | trie.AllowEmpty, regexp.MustCompile(`^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$`)},
}

// FuzzTrieValidURI compares ValidURI with the spec's regular expressions.
// One deliberate difference: input that is not UTF-8 is never valid (the
// spec's URIs are Unicode strings; Go's regexp would read bad bytes as
// U+FFFD and accept them).
func FuzzTrieValidURI(f *testing.F) {
	for _, s := range []string{"com.myapp.mytopic1", "", ".", "com..topic", "com.my app", "com.app\n",
		"Com.App", "com.a#b", "wamp.error.x", "com.caf\u00e9", "a\u00a0b", "a\u2028b", "a\x1cb", "a\vb", "\xff", "a.\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, uri []byte) {
		for _, c := range trieSpecRegexps {
			want := utf8.Valid(uri) && c.re.Match(uri)
			if got := trie.ValidURI(uri, c.rules); got != want {
				t.Fatalf("ValidURI(%q, %b) = %v, spec expression says %v", uri, c.rules, got, want)
			}
		}
		first, _, _ := strings.Cut(string(uri), ".")
		if got := trie.Reserved(uri); got != (first == "wamp") {
			t.Fatalf("Reserved(%q) = %v", uri, got)
		}
	})
}
