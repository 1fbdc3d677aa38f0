package auth

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestPBKDF2MatchesStdlib: pbkdf2SHA256 equals crypto/pbkdf2 for iteration
// counts below, at and past the yield interval, and the RFC 7914 section 11
// PBKDF2-HMAC-SHA256 vector.
func TestPBKDF2MatchesStdlib(t *testing.T) {
	for _, iter := range []int{1, 2, 1000, pbkdf2YieldEvery, pbkdf2YieldEvery + 1, 4096, 5000} {
		for _, pw := range []string{"", "password", "a longer password than one SHA-256 block of sixty-four bytes, to be hashed first"} {
			salt := []byte(fmt.Sprint("salt", iter))
			want, err := pbkdf2.Key(sha256.New, pw, salt, iter, 32)
			if err != nil {
				t.Fatal(err)
			}
			if got := pbkdf2SHA256([]byte(pw), salt, iter); !bytes.Equal(got, want) {
				t.Fatalf("iter %d, %q: %x, want %x", iter, pw, got, want)
			}
		}
	}
	// RFC 7914 section 11: P="passwd", S="salt", c=1, dkLen=64 (first 32 bytes).
	got := fmt.Sprintf("%x", pbkdf2SHA256([]byte("passwd"), []byte("salt"), 1))
	if want := "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"; got != want {
		t.Fatalf("RFC 7914 vector: %s, want %s", got, want)
	}
}

// BenchmarkPBKDF2: one 4096-iteration derivation, with yields and
// crypto/pbkdf2's.
func BenchmarkPBKDF2(b *testing.B) {
	salt := []byte("0123456789abcdef")
	b.Run("yielding", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			pbkdf2SHA256([]byte("alice-ticket"), salt, 4096)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = pbkdf2.Key(sha256.New, "alice-ticket", salt, 4096, 32)
		}
	})
}
