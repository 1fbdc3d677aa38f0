package authz

import (
	"strconv"
	"strings"
	"testing"

	"github.com/zwamp/zwamp/core"
)

// TestMemoBucketSpread: a session calling or publishing to up to memoWays
// URIs per bucket keeps every decision in its memo table. memoBucket is
// deterministic, so the URIs of one application that differ only in a
// trailing number (the benchmarks' com.app.echo0…15) must spread over the
// buckets without overflowing one; and every bucket index, for any length
// (short URIs included), is the first slot of a bucket inside the table.
func TestMemoBucketSpread(t *testing.T) {
	for _, prefix := range []string{"com.app.echo", "com.app.topic", "com.example.service.method", "a", "com.x.proc", "wamp.session.", strings.Repeat("x", 60)} {
		var per [memoSlots / memoWays]int
		for i := range 16 {
			b := memoBucket([]byte(prefix + strconv.Itoa(i)))
			if b < 0 || b > memoSlots-memoWays || b%memoWays != 0 {
				t.Fatalf("memoBucket(%q) = %d: not the first slot of a bucket", prefix+strconv.Itoa(i), b)
			}
			per[b/memoWays]++
		}
		for b, n := range per {
			if n > memoWays {
				t.Errorf("%s0…15: %d URIs in bucket %d (ways %d): %v", prefix, n, b, memoWays, per)
			}
		}
	}
	for _, uri := range []string{"", "a", "ab.c", "com.ab"} {
		if b := memoBucket([]byte(uri)); b < 0 || b > memoSlots-memoWays || b%memoWays != 0 {
			t.Fatalf("memoBucket(%q) = %d", uri, b)
		}
	}
}

// TestMemoForMatchesHash: memoFor (which computes memoHash and compares
// URIs itself, inline) finds every decision remember stored, for URIs of
// every length the memo holds, and finds nothing for a URI that differs in
// any one byte, in the action, or in length.
func TestMemoForMatchesHash(t *testing.T) {
	const act = core.ActionCall
	for n := 1; n <= memoLen+1; n++ {
		st := &sessState{memos: new([memoSlots]memo), misses: memoUpgrade + 1}
		uri := []byte(strings.Repeat("abcdefghij.", 5)[:n])
		st.remember(act, uri, core.Allow|core.DiscloseForce, 0)
		m := st.memoFor(act, uri)
		if n > memoLen {
			if m != nil {
				t.Fatalf("len %d: a URI longer than memoLen was remembered", n)
			}
			continue
		}
		if m == nil || m.dec != core.Allow|core.DiscloseForce {
			t.Fatalf("len %d: memoFor(%q) = %v after remember", n, uri, m)
		}
		b, tag := memoHash(act, uri)
		if slot := m.slot(st); slot < b || slot >= b+memoWays || st.tags[slot] != tag {
			t.Fatalf("len %d: found in slot %d, want bucket %d with tag %#x", n, slot, b, tag)
		}
		if st.memoFor(core.ActionPublish, uri) != nil {
			t.Fatalf("len %d: found for another action", n)
		}
		for i := range uri {
			other := append([]byte(nil), uri...)
			other[i] ^= 0x20
			if m := st.memoFor(act, other); m != nil {
				t.Fatalf("len %d: %q found as %q", n, other, m.uri[:m.n])
			}
		}
		if st.memoFor(act, uri[:n-1]) != nil {
			t.Fatalf("len %d: its prefix found", n)
		}
	}
}

// slot is m's index in st's memo table.
func (m *memo) slot(st *sessState) int {
	for i := range st.memos {
		if &st.memos[i] == m {
			return i
		}
	}
	return -1
}
