package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDF names (wamp-scram's CHALLENGE.Details.kdf strings).
const (
	KDFArgon2id = "argon2id13"
	KDFPBKDF2   = "pbkdf2"
)

// Minimum KDF parameters accepted in the configuration: pbkdf2 per RFC 7677
// section 4 (at least 4096 iterations), argon2id with at least 8 MiB of
// memory, salts of at least 8 bytes (RFC 2898 section 4.1).
const (
	MinPBKDF2Iterations = 4096
	MinArgon2Memory     = 8 << 10 // KiB
	MinSaltLen          = 8
	// Upper bounds keep one login from costing the router seconds of CPU
	// or gigabytes of memory.
	MaxPBKDF2Iterations = 10_000_000
	MaxArgon2Iterations = 100
	MaxArgon2Memory     = 1 << 20 // KiB (1 GiB)
)

// KDFParams are the stored parameters of a password hash.
type KDFParams struct {
	KDF        string `json:"kdf"`
	Salt       string `json:"salt"` // base64
	Iterations int    `json:"iterations"`
	Memory     int    `json:"memory,omitempty"` // KiB, argon2id13 only
}

// check validates p; field prefixes the error.
func (p *KDFParams) check(field string) error {
	salt, err := base64.StdEncoding.DecodeString(p.Salt)
	if err != nil {
		return fmt.Errorf("%s.salt: not base64: %w", field, err)
	}
	if len(salt) < MinSaltLen {
		return fmt.Errorf("%s.salt: %d bytes, want at least %d", field, len(salt), MinSaltLen)
	}
	switch p.KDF {
	case KDFPBKDF2:
		if p.Iterations < MinPBKDF2Iterations || p.Iterations > MaxPBKDF2Iterations {
			return fmt.Errorf("%s.iterations: %d is outside [%d, %d] for pbkdf2", field, p.Iterations, MinPBKDF2Iterations, MaxPBKDF2Iterations)
		}
		if p.Memory != 0 {
			return fmt.Errorf("%s.memory: pbkdf2 has no memory parameter", field)
		}
	case KDFArgon2id:
		if p.Iterations < 1 || p.Iterations > MaxArgon2Iterations {
			return fmt.Errorf("%s.iterations: %d is outside [1, %d] for argon2id13", field, p.Iterations, MaxArgon2Iterations)
		}
		if p.Memory < MinArgon2Memory || p.Memory > MaxArgon2Memory {
			return fmt.Errorf("%s.memory: %d KiB is outside [%d, %d] for argon2id13", field, p.Memory, MinArgon2Memory, MaxArgon2Memory)
		}
	default:
		return fmt.Errorf("%s.kdf: unknown %q (want %q or %q)", field, p.KDF, KDFArgon2id, KDFPBKDF2)
	}
	return nil
}

// derive computes the 32-byte KDF output of password under p (the
// SaltedPassword of SCRAM). The salt is used as its base64 string's
// decoded bytes. argon2id is x/crypto's, which allocates its whole memory
// cost per hash (the garbage collector's cost under many argon2 logins:
// bench/README.md); pbkdf2 yields the processor while it hashes
// (pbkdf2SHA256).
func (p *KDFParams) derive(password string) ([]byte, error) {
	salt, err := base64.StdEncoding.DecodeString(p.Salt)
	if err != nil {
		return nil, err
	}
	switch p.KDF {
	case KDFPBKDF2:
		return pbkdf2SHA256([]byte(password), salt, p.Iterations), nil
	case KDFArgon2id:
		return argon2.IDKey([]byte(password), salt, uint32(p.Iterations), uint32(p.Memory), 1, 32), nil
	}
	return nil, fmt.Errorf("auth: unknown kdf %q", p.KDF)
}

// HashedSecret is a stored ticket: the KDF output of the ticket.
type HashedSecret struct {
	KDFParams
	Hash string `json:"hash"` // base64 of the 32-byte KDF output
}

func (h *HashedSecret) check(field string) error {
	if err := h.KDFParams.check(field); err != nil {
		return err
	}
	if b, err := base64.StdEncoding.DecodeString(h.Hash); err != nil || len(b) != 32 {
		return fmt.Errorf("%s.hash: want the base64 of 32 bytes", field)
	}
	return nil
}

// verify hashes secret and compares in constant time.
func (h *HashedSecret) verify(secret string) bool {
	want, err := base64.StdEncoding.DecodeString(h.Hash)
	if err != nil {
		return false
	}
	got, err := h.derive(secret)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// SCRAMKeys are what the router stores for wamp-scram: no password and no
// password-equivalent, only StoredKey and ServerKey.
type SCRAMKeys struct {
	KDFParams
	StoredKey string `json:"stored_key"` // base64
	ServerKey string `json:"server_key"` // base64
}

func (s *SCRAMKeys) check(field string) error {
	if err := s.KDFParams.check(field); err != nil {
		return err
	}
	for name, v := range map[string]string{"stored_key": s.StoredKey, "server_key": s.ServerKey} {
		if b, err := base64.StdEncoding.DecodeString(v); err != nil || len(b) != 32 {
			return fmt.Errorf("%s.%s: want the base64 of 32 bytes", field, name)
		}
	}
	return nil
}

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// scramKeysFrom derives StoredKey and ServerKey from a salted password.
func scramKeysFrom(salted []byte) (stored, server []byte) {
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	s := sha256.Sum256(clientKey)
	return s[:], hmacSHA256(salted, []byte("Server Key"))
}

// CRAKey is a stored wampcra secret: either the shared secret itself, or
// (recommended) the PBKDF2-derived key with its salt, iterations and
// keylen, which the client derives from the password the same way
// (Autobahn's derive_key).
type CRAKey struct {
	Secret     string `json:"secret,omitempty"`
	Salt       string `json:"salt,omitempty"`
	Iterations int    `json:"iterations,omitempty"`
	KeyLen     int    `json:"keylen,omitempty"`
	Key        string `json:"key,omitempty"` // base64 of PBKDF2-HMAC-SHA256(password, salt, iterations, keylen)
}

// Minimum wampcra salting parameters (Autobahn's defaults are 1000 and 32).
const (
	MinCRAIterations = 1000
	MinCRAKeyLen     = 16
)

func (k *CRAKey) check(field string) error {
	if k.Secret != "" {
		if k.Salt != "" || k.Key != "" || k.Iterations != 0 || k.KeyLen != 0 {
			return fmt.Errorf("%s: give either secret, or salt/iterations/keylen/key, not both", field)
		}
		return nil
	}
	if len(k.Salt) < MinSaltLen {
		return fmt.Errorf("%s.salt: want at least %d characters", field, MinSaltLen)
	}
	if k.Iterations < MinCRAIterations || k.Iterations > MaxPBKDF2Iterations {
		return fmt.Errorf("%s.iterations: %d is outside [%d, %d]", field, k.Iterations, MinCRAIterations, MaxPBKDF2Iterations)
	}
	if k.KeyLen < MinCRAKeyLen || k.KeyLen > 64 {
		return fmt.Errorf("%s.keylen: %d is outside [%d, 64]", field, k.KeyLen, MinCRAKeyLen)
	}
	if b, err := base64.StdEncoding.DecodeString(k.Key); err != nil || len(b) != k.KeyLen {
		return fmt.Errorf("%s.key: want the base64 of keylen bytes", field)
	}
	return nil
}

// hmacKey is the key the client signs the challenge with.
func (k *CRAKey) hmacKey() []byte {
	if k.Key != "" {
		return []byte(k.Key) // the base64 text, as Autobahn uses it
	}
	return []byte(k.Secret)
}

// DeriveCRAKey computes a salted wampcra key from a secret, as Autobahn's
// auth.derive_key does: base64(PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen)).
func DeriveCRAKey(secret, salt string, iterations, keylen int) (string, error) {
	dk, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, keylen)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(dk), nil
}
