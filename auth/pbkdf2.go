package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"runtime"
)

// pbkdf2YieldEvery is how many PBKDF2 iterations run between two yields
// of the processor (~0.2 ms).
const pbkdf2YieldEvery = 1024

// pbkdf2SHA256 is PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2) with a 32-byte
// output (one block), what tickets and wamp-scram store. It is
// crypto/pbkdf2.Key(sha256.New, password, salt, iter, 32) with a
// runtime.Gosched every pbkdf2YieldEvery iterations: a ticket hashed with
// `zwamp passwd`'s default of 600,000 iterations costs ~100 ms of CPU, and
// without yields the worker checking it would hold a P for the scheduler's
// 10 ms time slices while goroutines the pollers readied wait for one.
// TestPBKDF2MatchesStdlib checks it against crypto/pbkdf2.
func pbkdf2SHA256(password, salt []byte, iter int) []byte {
	prf := hmac.New(sha256.New, password)
	var u, t [sha256.Size]byte
	prf.Write(salt)
	prf.Write([]byte{0, 0, 0, 1}) // block index 1, big-endian
	prf.Sum(u[:0])
	t = u
	for i := 1; i < iter; i++ {
		prf.Reset()
		prf.Write(u[:])
		prf.Sum(u[:0])
		for j := range t {
			t[j] ^= u[j]
		}
		if i%pbkdf2YieldEvery == 0 {
			runtime.Gosched()
		}
	}
	return t[:]
}
