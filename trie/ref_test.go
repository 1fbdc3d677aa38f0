package trie

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// This file holds the brute-force reference the index is checked against:
// a flat list of patterns scanned in full, written as plainly as the spec
// reads, sharing no code with the index.

type refKey struct {
	pat string
	p   Policy
}

type refIndex map[refKey]int

// refMatch reports whether pattern pat under policy p matches uri.
func refMatch(uri, pat string, p Policy) bool {
	switch p {
	case Exact:
		return uri == pat
	case Prefix:
		return strings.HasPrefix(uri, pat)
	case Wildcard:
		uc, pc := strings.Split(uri, "."), strings.Split(pat, ".")
		if len(uc) != len(pc) {
			return false
		}
		for i := range pc {
			if pc[i] == "" {
				if uc[i] == "" {
					return false // a wildcard stands for a non-empty component
				}
			} else if pc[i] != uc[i] {
				return false
			}
		}
		return true
	}
	return false
}

// matches returns the sorted values of every entry matching uri.
func (r refIndex) matches(uri string) []int {
	var out []int
	for k, v := range r {
		if refMatch(uri, k.pat, k.p) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// portions returns, for a wildcard pattern, the number of literal
// components before each wildcard and after the last one: the spec's
// "portion of URI components matched before each wildcard".
func portions(pat string) []int {
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

// best implements the spec's registration rules by ranking all candidates.
func (r refIndex) best(t testing.TB, uri string) (int, Policy, bool) {
	if v, ok := r[refKey{uri, Exact}]; ok {
		return v, Exact, true
	}
	bestLen, bestV := -1, 0
	for k, v := range r {
		if k.p == Prefix && refMatch(uri, k.pat, Prefix) && len(k.pat) > bestLen {
			bestLen, bestV = len(k.pat), v
		}
	}
	if bestLen >= 0 {
		return bestV, Prefix, true
	}
	var bestP []int
	var bestPat string
	found := false
	for k, v := range r {
		if k.p != Wildcard || !refMatch(uri, k.pat, Wildcard) {
			continue
		}
		pp := portions(k.pat)
		if !found {
			bestP, bestPat, bestV, found = pp, k.pat, v, true
			continue
		}
		switch c := slices.Compare(pp, bestP); {
		case c > 0:
			bestP, bestPat, bestV = pp, k.pat, v
		case c == 0:
			t.Fatalf("reference: wildcard patterns %q and %q tie for %q", k.pat, bestPat, uri)
		}
	}
	if found {
		return bestV, Wildcard, true
	}
	return 0, Exact, false
}

// Generators with small alphabets, so that patterns and URIs collide often.
var refComps = []string{"a", "b", "ab", "ba", "abc"}

func randURI(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	cs := make([]string, n)
	for i := range cs {
		cs[i] = refComps[r.IntN(len(refComps))]
	}
	return strings.Join(cs, ".")
}

func randPrefix(r *rand.Rand) string {
	u := randURI(r)
	return u[:r.IntN(len(u)+1)] // cut anywhere: mid-component and "" too
}

func randWildcard(r *rand.Rand) string {
	n := 1 + r.IntN(4)
	cs := make([]string, n)
	for i := range cs {
		if r.IntN(5) < 2 {
			continue // empty: a wildcard
		}
		cs[i] = refComps[r.IntN(len(refComps))]
	}
	return strings.Join(cs, ".")
}

func randPattern(r *rand.Rand) (string, Policy) {
	switch p := Policy(r.IntN(3)); p {
	case Prefix:
		return randPrefix(r), p
	case Wildcard:
		return randWildcard(r), p
	default:
		return randURI(r), p
	}
}

// store stores v under (pat, p) in the index, failing the test on a wrong
// report of the previous state.
func store(t testing.TB, ix *Index[int], ref refIndex, pat string, p Policy, v int) {
	t.Helper()
	want, wantOK := ref[refKey{pat, p}]
	got, ok := ix.Update([]byte(pat), p, func(old int, ok bool) (int, bool) {
		if ok != wantOK || (ok && old != want) {
			t.Fatalf("Update(%q, %v): fn got (%d, %v), want (%d, %v)", pat, p, old, ok, want, wantOK)
		}
		return v, true
	})
	if !ok || got != v {
		t.Fatalf("Update(%q, %v) = (%d, %v), want (%d, true)", pat, p, got, ok, v)
	}
	ref[refKey{pat, p}] = v
}

// drop removes (pat, p) from the index and the reference.
func drop(t testing.TB, ix *Index[int], ref refIndex, pat string, p Policy) {
	t.Helper()
	_, wantOK := ref[refKey{pat, p}]
	called := false
	if _, ok := ix.Update([]byte(pat), p, func(_ int, ok bool) (int, bool) {
		called = true
		if ok != wantOK {
			t.Fatalf("Update(%q, %v) remove: fn got ok=%v, want %v", pat, p, ok, wantOK)
		}
		return 0, false
	}); ok {
		t.Fatalf("Update(%q, %v) remove reported a stored value", pat, p)
	}
	if !called {
		t.Fatalf("Update(%q, %v) did not call fn", pat, p)
	}
	delete(ref, refKey{pat, p})
}

// check compares Match, Best and Lookup for uri with the reference.
func check(t testing.TB, ix *Index[int], ref refIndex, uri string) {
	t.Helper()
	got := ix.Match([]byte(uri), nil)
	slices.Sort(got)
	if want := ref.matches(uri); !slices.Equal(got, want) {
		t.Fatalf("Match(%q) = %v, want %v\nindex: %v", uri, got, want, dump(ref))
	}
	gv, gp, gok := ix.Best([]byte(uri))
	wv, wp, wok := ref.best(t, uri)
	if gv != wv || gp != wp || gok != wok {
		t.Fatalf("Best(%q) = (%d, %v, %v), want (%d, %v, %v)\nindex: %v", uri, gv, gp, gok, wv, wp, wok, dump(ref))
	}
}

func checkLookups(t testing.TB, ix *Index[int], ref refIndex, probes []refKey) {
	t.Helper()
	for _, k := range probes {
		v, ok := ix.Lookup([]byte(k.pat), k.p)
		wv, wok := ref[k]
		if v != wv || ok != wok {
			t.Fatalf("Lookup(%q, %v) = (%d, %v), want (%d, %v)", k.pat, k.p, v, ok, wv, wok)
		}
	}
	if ix.Len() != len(ref) {
		t.Fatalf("Len() = %d, want %d", ix.Len(), len(ref))
	}
	seen := map[refKey]int{}
	ix.Range(func(uri string, p Policy, v int) bool {
		k := refKey{uri, p}
		if _, dup := seen[k]; dup {
			t.Fatalf("Range reported %q/%v twice", uri, p)
		}
		seen[k] = v
		return true
	})
	if len(seen) != len(ref) {
		t.Fatalf("Range reported %d entries, want %d", len(seen), len(ref))
	}
	for k, v := range ref {
		if seen[k] != v {
			t.Fatalf("Range: %q/%v = %d, want %d", k.pat, k.p, seen[k], v)
		}
	}
}

func dump(ref refIndex) string {
	var s []string
	for k, v := range ref {
		s = append(s, fmt.Sprintf("%s:%q=%d", k.p, k.pat, v))
	}
	slices.Sort(s)
	return strings.Join(s, " ")
}
