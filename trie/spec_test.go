package trie

import (
	"slices"
	"testing"
)

// The examples of pubsub_pattern_based_subscription.md and
// rpc_pattern_based_registration.md, as named cases.

func matchSet(ix *Index[int], uri string) []int {
	got := ix.Match([]byte(uri), nil)
	slices.Sort(got)
	return got
}

func TestSpecPrefixSubscription(t *testing.T) {
	// "com.myapp.topic.emergency" as prefix; the spec lists what applies.
	ix := New[int](Options{})
	ix.Update([]byte("com.myapp.topic.emergency"), Prefix, set(1))
	cases := []struct {
		uri  string
		want bool
	}{
		{"com.myapp.topic.emergency.11", true},
		{"com.myapp.topic.emergency-low", true}, // a string prefix, not a component prefix
		{"com.myapp.topic.emergency.category.severe", true},
		{"com.myapp.topic.emergency", true},
		{"com.myapp.topic.emerge", false},
	}
	for _, c := range cases {
		t.Run(c.uri, func(t *testing.T) {
			if got := len(matchSet(ix, c.uri)) == 1; got != c.want {
				t.Errorf("prefix com.myapp.topic.emergency matches %q = %v, want %v", c.uri, got, c.want)
			}
		})
	}
	// The trap the brief names: prefix "com.myapp.topic.emerge" does match
	// "com.myapp.topic.emergency".
	ix.Update([]byte("com.myapp.topic.emerge"), Prefix, set(2))
	if got := matchSet(ix, "com.myapp.topic.emergency"); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("Match(com.myapp.topic.emergency) = %v, want [1 2]", got)
	}
}

func TestSpecPrefixRegistration(t *testing.T) {
	ix := New[int](Options{})
	ix.Update([]byte("com.myapp.myobject1"), Prefix, set(1))
	for uri, want := range map[string]bool{
		"com.myapp.myobject1.myprocedure1":              true,
		"com.myapp.myobject1-mysubobject1":              true,
		"com.myapp.myobject1.mysubobject1.myprocedure1": true,
		"com.myapp.myobject1":                           true,
		"com.myapp.myobject2":                           false,
		"com.myapp.myobject":                            false,
	} {
		if _, _, ok := ix.Best([]byte(uri)); ok != want {
			t.Errorf("prefix com.myapp.myobject1: Best(%q) ok = %v, want %v", uri, ok, want)
		}
	}
}

func TestSpecWildcardSubscription(t *testing.T) {
	ix := New[int](Options{})
	ix.Update([]byte("com.myapp..userevent"), Wildcard, set(1))
	for uri, want := range map[string]bool{
		"com.myapp.foo.userevent":     true,
		"com.myapp.bar.userevent":     true,
		"com.myapp.a12.userevent":     true,
		"com.myapp.foo.userevent.bar": false,
		"com.myapp.foo.user":          false,
		"com.myapp2.foo.userevent":    false,
	} {
		if got := len(matchSet(ix, uri)) == 1; got != want {
			t.Errorf("wildcard com.myapp..userevent matches %q = %v, want %v", uri, got, want)
		}
	}
}

func TestSpecWildcardRegistration(t *testing.T) {
	ix := New[int](Options{})
	ix.Update([]byte("com.myapp..myprocedure1"), Wildcard, set(1))
	for uri, want := range map[string]bool{
		"com.myapp.myobject1.myprocedure1":                 true,
		"com.myapp.myobject2.myprocedure1":                 true,
		"com.myapp.myobject1.myprocedure1.mysubprocedure1": false,
		"com.myapp.myobject1.myprocedure2":                 false,
		"com.myapp2.myobject1.myprocedure1":                false,
	} {
		if _, _, ok := ix.Best([]byte(uri)); ok != want {
			t.Errorf("wildcard com.myapp..myprocedure1: Best(%q) ok = %v, want %v", uri, ok, want)
		}
	}
}

func TestWildcardComponentCounts(t *testing.T) {
	ix := New[int](Options{})
	ix.Update([]byte("com..topic"), Wildcard, set(1))
	ix.Update([]byte(""), Wildcard, set(2))   // one component, any
	ix.Update([]byte("."), Wildcard, set(3))  // two components, any
	ix.Update([]byte("a."), Wildcard, set(4)) // trailing wildcard
	ix.Update([]byte(".b"), Wildcard, set(5)) // leading wildcard
	cases := []struct {
		uri  string
		want []int
	}{
		{"com.x.topic", []int{1}},
		{"com.x.y.topic", nil}, // one wildcard is one component
		{"com.topic", []int{3}},
		{"com", []int{2}},
		{"a.b", []int{3, 4, 5}},
		{"a.b.c", nil},
		{"x.b", []int{3, 5}},
	}
	for _, c := range cases {
		if got := matchSet(ix, c.uri); !slices.Equal(got, c.want) {
			t.Errorf("Match(%q) = %v, want %v", c.uri, got, c.want)
		}
	}
}

// TestSpecBestRegistration is the spec's worked example, verbatim.
func TestSpecBestRegistration(t *testing.T) {
	for _, cache := range []int{0, -1} {
		ix := New[int](Options{CacheSize: cache})
		ix.Update([]byte("a1.b2.c3.d4.e55"), Exact, set(1))
		ix.Update([]byte("a1.b2.c3"), Prefix, set(2))
		ix.Update([]byte("a1.b2.c3.d4"), Prefix, set(3))
		ix.Update([]byte("a1.b2..d4.e5"), Wildcard, set(4))
		ix.Update([]byte("a1.b2.c33..e5"), Wildcard, set(5))
		ix.Update([]byte("a1.b2..d4.e5..g7"), Wildcard, set(6))
		ix.Update([]byte("a1.b2..d4..f6.g7"), Wildcard, set(7))
		cases := []struct {
			name, uri string
			v         int
			p         Policy
			ok        bool
		}{
			{"exact match", "a1.b2.c3.d4.e55", 1, Exact, true},
			{"single prefix match", "a1.b2.c3.d98.e74", 2, Prefix, true},
			{"longest of two prefixes", "a1.b2.c3.d4.e325", 3, Prefix, true},
			{"single wildcard match", "a1.b2.c55.d4.e5", 4, Wildcard, true},
			// The spec says "no prefix match" here, but registration 2,
			// "a1.b2.c3", is a string prefix of "a1.b2.c33.d4.e5", and the
			// prefix sections define prefix matching on strings
			// ("emergency-low" matches "emergency"). String semantics win;
			// the wildcard ranking the spec means to show is checked below
			// without the prefix registrations.
			{"spec says no prefix match, but c3 prefixes c33", "a1.b2.c33.d4.e5", 2, Prefix, true},
			{"longer second portion", "a1.b2.c88.d4.e5.f6.g7", 6, Wildcard, true},
			{"no match", "a2.b2.c2.d2.e2", 0, Exact, false},
		}
		for _, c := range cases {
			for pass := 0; pass < 2; pass++ { // computed, then cached
				v, p, ok := ix.Best([]byte(c.uri))
				if v != c.v || p != c.p || ok != c.ok {
					t.Errorf("cache=%d pass=%d %s: Best(%q) = (%d, %v, %v), want (%d, %v, %v)",
						cache, pass, c.name, c.uri, v, p, ok, c.v, c.p, c.ok)
				}
			}
		}
		// Match, unlike Best, reports every subscription that matches.
		if got := matchSet(ix, "a1.b2.c33.d4.e5"); !slices.Equal(got, []int{2, 4, 5}) {
			t.Errorf("Match(a1.b2.c33.d4.e5) = %v, want [2 4 5]", got)
		}

		// The wildcard ranking on its own: registrations 4-7, plus the
		// rule-3 sentence's own example (a1.b2..d4 over a1...d4).
		wx := New[int](Options{CacheSize: cache})
		wx.Update([]byte("a1.b2..d4.e5"), Wildcard, set(4))
		wx.Update([]byte("a1.b2.c33..e5"), Wildcard, set(5))
		wx.Update([]byte("a1.b2..d4.e5..g7"), Wildcard, set(6))
		wx.Update([]byte("a1.b2..d4..f6.g7"), Wildcard, set(7))
		wx.Update([]byte("a1.b2..d4"), Wildcard, set(8))
		wx.Update([]byte("a1...d4"), Wildcard, set(9))
		for _, c := range []struct {
			name, uri string
			v         int
		}{
			{"single wildcard match", "a1.b2.c55.d4.e5", 4},
			{"longer first portion", "a1.b2.c33.d4.e5", 5},
			{"equal first, longer second portion", "a1.b2.c88.d4.e5.f6.g7", 6},
			{"rule 3 sentence", "a1.b2.c3.d4", 8},
		} {
			for pass := 0; pass < 2; pass++ {
				if v, p, ok := wx.Best([]byte(c.uri)); v != c.v || p != Wildcard || !ok {
					t.Errorf("cache=%d pass=%d %s: Best(%q) = (%d, %v, %v), want (%d, wildcard, true)",
						cache, pass, c.name, c.uri, v, p, ok, c.v)
				}
			}
		}
	}
}

// TestBestPrefixByLength: among prefixes with the same number of complete
// components the longer string wins.
func TestBestPrefixByLength(t *testing.T) {
	ix := New[int](Options{})
	ix.Update([]byte("a1.b"), Prefix, set(1))
	ix.Update([]byte("a1.b2"), Prefix, set(2))
	ix.Update([]byte("a1"), Prefix, set(3))
	if v, p, ok := ix.Best([]byte("a1.b2.c")); v != 2 || p != Prefix || !ok {
		t.Errorf("Best = (%d, %v, %v), want (2, prefix, true)", v, p, ok)
	}
}

func TestUpdateSemantics(t *testing.T) {
	ix := New[int](Options{})
	for _, p := range []Policy{Exact, Prefix, Wildcard} {
		uri := []byte("com.example.x")
		if _, ok := ix.Lookup(uri, p); ok {
			t.Fatalf("%v: Lookup on empty index found something", p)
		}
		// Update reports what it stored.
		if v, ok := ix.Update(uri, p, func(old int, ok bool) (int, bool) { return old + 5, true }); v != 5 || !ok {
			t.Fatalf("%v: insert = (%d, %v), want (5, true)", p, v, ok)
		}
		if v, ok := ix.Update(uri, p, func(old int, ok bool) (int, bool) { return old + 5, true }); v != 10 || !ok {
			t.Fatalf("%v: update = (%d, %v), want (10, true)", p, v, ok)
		}
		if v, ok := ix.Lookup(uri, p); v != 10 || !ok {
			t.Fatalf("%v: Lookup = (%d, %v), want (10, true)", p, v, ok)
		}
		// The other policies are separate keys.
		for _, q := range []Policy{Exact, Prefix, Wildcard} {
			if _, ok := ix.Lookup(uri, q); ok != (q <= p) {
				t.Fatalf("after storing %v: Lookup(%v) ok = %v", p, q, ok)
			}
		}
	}
	if ix.Len() != 3 {
		t.Fatalf("Len = %d, want 3", ix.Len())
	}
	// Unknown policy: nothing happens, fn is not called.
	if _, ok := ix.Update([]byte("x"), Policy(7), func(int, bool) (int, bool) {
		t.Fatal("fn called for an unknown policy")
		return 0, true
	}); ok {
		t.Fatal("Update with an unknown policy stored something")
	}
	if _, ok := ix.Lookup([]byte("x"), Policy(7)); ok {
		t.Fatal("Lookup with an unknown policy found something")
	}
	// A panicking fn leaves the index usable.
	for _, p := range []Policy{Exact, Prefix, Wildcard} {
		func() {
			defer func() { _ = recover() }()
			ix.Update([]byte("com.example.x"), p, func(int, bool) (int, bool) { panic("boom") })
		}()
		if v, ok := ix.Update([]byte("com.example.x"), p, func(int, bool) (int, bool) { return 0, false }); ok {
			t.Fatalf("%v: remove after panic = (%d, %v)", p, v, ok)
		}
	}
	if ix.Len() != 0 {
		t.Fatalf("Len = %d, want 0", ix.Len())
	}
}

// TestRangeStops checks that Range honours fn's false.
func TestRangeStops(t *testing.T) {
	ix := New[int](Options{})
	for i, u := range []string{"a", "b", "c"} {
		for _, p := range []Policy{Exact, Prefix, Wildcard} {
			ix.Update([]byte(u), p, set(i))
		}
	}
	for stopAt := 1; stopAt <= 9; stopAt++ {
		n := 0
		ix.Range(func(string, Policy, int) bool { n++; return n < stopAt })
		if n != stopAt {
			t.Fatalf("Range stopping at %d called fn %d times", stopAt, n)
		}
	}
}

// TestLongURIs covers URIs beyond the cache's key limit and deep trees.
func TestLongURIs(t *testing.T) {
	ix := New[int](Options{})
	long := []byte("com")
	for i := 0; i < 50; i++ {
		long = append(long, ".segment"...)
	}
	ix.Update(long[:40], Prefix, set(1))
	ix.Update(long[:120], Prefix, set(2))
	// "com..segment.segment...": the second component is a wildcard.
	wild := append([]byte("com."), long[len("com.segment"):]...)
	ix.Update(wild, Wildcard, set(3))
	for pass := 0; pass < 2; pass++ {
		if got := matchSet(ix, string(long)); !slices.Equal(got, []int{1, 2, 3}) {
			t.Fatalf("Match(long) = %v, want [1 2 3]", got)
		}
	}
}
