package argon2

import (
	"bytes"
	"fmt"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestIDKeyMatchesXCrypto: every output equals x/crypto's IDKey with
// parallelism 1, for several time and memory costs (memory not a multiple
// of 4 included), in an order that reuses buffers left dirty by earlier
// hashes of other sizes and passwords.
func TestIDKeyMatchesXCrypto(t *testing.T) {
	salt := []byte("0123456789abcdef")
	type tc struct {
		time, memory, keyLen uint32
		pw                   string
	}
	var cases []tc
	for round := 0; round < 2; round++ {
		for _, c := range []tc{{1, 8 << 10, 32, "pw"}, {3, 64, 32, "other"}, {2, 1 << 10, 16, ""}, {1, 13, 32, "x"}, {4, 8 << 10, 32, "pw2"}, {1, 1 << 10, 64, "long password with spaces"}} {
			c.pw = fmt.Sprint(c.pw, round)
			cases = append(cases, c)
		}
	}
	for _, c := range cases {
		got := IDKey([]byte(c.pw), salt, c.time, c.memory, c.keyLen)
		want := xargon2.IDKey([]byte(c.pw), salt, c.time, c.memory, 1, c.keyLen)
		if !bytes.Equal(got, want) {
			t.Fatalf("IDKey(%q, t=%d, m=%d, len=%d) = %x, x/crypto %x", c.pw, c.time, c.memory, c.keyLen, got, want)
		}
	}
	pool.mu.Lock()
	n := len(pool.bufs)
	pool.mu.Unlock()
	if n == 0 {
		t.Fatal("no buffer was kept for reuse")
	}
}

// BenchmarkIDKey8MiB: one ticket check's KDF at the configuration's
// minimum cost, against x/crypto's (which allocates the 8 MiB per hash).
func BenchmarkIDKey8MiB(b *testing.B) {
	salt := []byte("0123456789abcdef")
	b.Run("reused", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			IDKey([]byte("bob-ticket"), salt, 1, 8<<10, 32)
		}
	})
	b.Run("xcrypto", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			xargon2.IDKey([]byte("bob-ticket"), salt, 1, 8<<10, 1, 32)
		}
	})
}
