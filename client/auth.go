package client

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// AuthFunc answers a CHALLENGE; it is the type of Config.Authenticate.
type AuthFunc = func(method string, extra map[string]any) (signature string, ext map[string]any, err error)

// TicketAuth answers the "ticket" method with ticket (advanced profile,
// ticket-based authentication). Offer it with AuthMethods: ["ticket"] and
// an AuthID.
func TicketAuth(ticket string) AuthFunc {
	return func(method string, _ map[string]any) (string, map[string]any, error) {
		if method != "ticket" {
			return "", nil, fmt.Errorf("client: TicketAuth challenged with %q", method)
		}
		return ticket, nil, nil
	}
}

// CRAAuth answers the "wampcra" method: the signature is the base64 of
// HMAC-SHA256 over the challenge string, keyed with secret, or, when the
// router sends salt, iterations and keylen, with the base64 of the
// PBKDF2-HMAC-SHA256 key derived from secret (as Autobahn and Crossbar
// compute it).
func CRAAuth(secret string) AuthFunc {
	return func(method string, extra map[string]any) (string, map[string]any, error) {
		if method != "wampcra" {
			return "", nil, fmt.Errorf("client: CRAAuth challenged with %q", method)
		}
		challenge, ok := extra["challenge"].(string)
		if !ok {
			return "", nil, fmt.Errorf("client: wampcra challenge without a challenge string")
		}
		key := []byte(secret)
		if salt, ok := extra["salt"].(string); ok && salt != "" {
			iterations, keylen := 1000, 32
			if n, ok := extra["iterations"].(int64); ok {
				iterations = int(n)
			}
			if n, ok := extra["keylen"].(int64); ok {
				keylen = int(n)
			}
			if iterations <= 0 || iterations > 1<<24 || keylen <= 0 || keylen > 1024 {
				return "", nil, fmt.Errorf("client: wampcra salting parameters out of range (iterations %d, keylen %d)", iterations, keylen)
			}
			dk, err := pbkdf2.Key(sha256.New, secret, []byte(salt), iterations, keylen)
			if err != nil {
				return "", nil, fmt.Errorf("client: wampcra key derivation: %w", err)
			}
			key = []byte(base64.StdEncoding.EncodeToString(dk))
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(challenge))
		return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil, nil
	}
}

// CryptosignAuth answers the "cryptosign" method (WAMP-Cryptosign without
// channel binding): it signs the router's 32-byte challenge with key and
// answers hex(signature || challenge). The router must know the public
// key: offer it with AuthExtra CryptosignExtra(key).
func CryptosignAuth(key ed25519.PrivateKey) AuthFunc {
	return func(method string, extra map[string]any) (string, map[string]any, error) {
		if method != "cryptosign" {
			return "", nil, fmt.Errorf("client: CryptosignAuth challenged with %q", method)
		}
		if cb, ok := extra["channel_binding"].(string); ok && cb != "" {
			return "", nil, fmt.Errorf("client: cryptosign channel binding %q is not supported", cb)
		}
		hexChallenge, _ := extra["challenge"].(string)
		challenge, err := hex.DecodeString(hexChallenge)
		if err != nil || len(challenge) != 32 {
			return "", nil, fmt.Errorf("client: cryptosign challenge is not 32 hex-encoded bytes")
		}
		sig := ed25519.Sign(key, challenge)
		return hex.EncodeToString(append(sig, challenge...)), nil, nil
	}
}

// CryptosignExtra returns the HELLO authextra announcing key's public key.
func CryptosignExtra(key ed25519.PrivateKey) map[string]any {
	return map[string]any{"pubkey": hex.EncodeToString(key.Public().(ed25519.PublicKey))}
}
