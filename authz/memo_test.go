package authz

import (
	"strconv"
	"strings"
	"testing"
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
