package codectest

import (
	"fmt"
	"strings"
	"testing"
)

// Seeds returns a fuzz seed corpus: every Case and BadCase as marshal
// encodes it, then nasties, keyed by file name ("case-<name>",
// "bad-<name>" with the name made file-safe, "nasty-NNN").
func Seeds(t testing.TB, marshal func(v any) ([]byte, error), nasties [][]byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	add := func(prefix, name string, v any) {
		b, err := marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[prefix+fileName(name)] = b
	}
	for _, c := range Cases {
		add("case-", c.Name, c.Value)
	}
	for _, c := range BadCases {
		add("bad-", c.Name, c.Value)
	}
	for i, b := range nasties {
		out[fmt.Sprintf("nasty-%03d", i)] = b
	}
	if n := len(Cases) + len(BadCases) + len(nasties); len(out) != n {
		t.Fatalf("seed names collide: %d files for %d seeds", len(out), n)
	}
	return out
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
