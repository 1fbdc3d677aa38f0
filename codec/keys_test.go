package codec_test

import (
	"testing"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
)

// TestLookupKeyExact: the perfect hash finds every key name and nothing
// else, near misses of each included.
func TestLookupKeyExact(t *testing.T) {
	ref := func(name string) (codec.Key, bool) {
		for k, n := range codec.KeyNames {
			if n == name {
				return codec.Key(k), true
			}
		}
		return 0, false
	}
	check := func(name string) {
		t.Helper()
		gk, gok := codec.LookupKey([]byte(name))
		wk, wok := ref(name)
		if gk != wk || gok != wok {
			t.Errorf("LookupKey(%q) = %v %v, want %v %v", name, gk, gok, wk, wok)
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
}

// TestAllocsLookupKey: a key lookup, done for every key of every decoded
// dict, allocates nothing (the []byte→string conversion must not copy).
func TestAllocsLookupKey(t *testing.T) {
	for _, k := range []string{"publisher_authrole", "receive_progress", "not_a_key"} {
		key := []byte(k)
		alloctest.Zero(t, "LookupKey "+k, func() { codec.LookupKey(key) })
	}
}

func BenchmarkLookupKey(b *testing.B) {
	names := [][]byte{[]byte("publisher"), []byte("publisher_authid"), []byte("topic"), []byte("x_unknown")}
	for b.Loop() {
		for _, n := range names {
			codec.LookupKey(n)
		}
	}
}
