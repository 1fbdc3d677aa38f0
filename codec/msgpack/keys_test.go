package msgpack

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
)

// TestLookupKey: the perfect hash answers exactly as codec.LookupKey, for
// every key name and for near misses of each.
func TestLookupKey(t *testing.T) {
	if keyMul == 0 {
		t.Fatal("no perfect hash found for the key names; lookupKey falls back to codec.LookupKey")
	}
	check := func(name string) {
		t.Helper()
		gk, gok := lookupKey([]byte(name))
		wk, wok := codec.LookupKey([]byte(name))
		if gk != wk || gok != wok {
			t.Errorf("lookupKey(%q) = %v %v, codec.LookupKey = %v %v", name, gk, gok, wk, wok)
		}
	}
	for _, n := range codec.KeyNames {
		check(n)
		check(n[:len(n)-1])
		check(n + "x")
		check("x" + n[1:])
		check(n[:1] + "x" + n[2:])
		check(n[:len(n)-1] + "x")
	}
	for _, n := range []string{"", "a", "ab", "_x_impl", "matcH", "roles\x00", "authextr", "caller_authrolf"} {
		check(n)
	}
	if testing.AllocsPerRun(100, func() { lookupKey([]byte("publisher_authrole")) }) != 0 {
		t.Error("lookupKey allocates")
	}
}

func BenchmarkLookupKey(b *testing.B) {
	names := [][]byte{[]byte("publisher"), []byte("publisher_authid"), []byte("topic"), []byte("x_unknown")}
	b.Run("perfect", func(b *testing.B) {
		for b.Loop() {
			for _, n := range names {
				lookupKey(n)
			}
		}
	})
	b.Run("codec", func(b *testing.B) {
		for b.Loop() {
			for _, n := range names {
				codec.LookupKey(n)
			}
		}
	})
}
