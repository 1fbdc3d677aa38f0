package client_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	"github.com/zwamp/zwamp/client"
)

func TestTicketAuth(t *testing.T) {
	sig, _, err := client.TicketAuth("s3cret")("ticket", nil)
	must(t, err == nil && sig == "s3cret", "ticket %q %v", sig, err)
	_, _, err = client.TicketAuth("s3cret")("wampcra", nil)
	must(t, err != nil, "TicketAuth answered another method")
}

// TestCRAAuth checks against values computed independently with Python's
// hmac and hashlib (the functions Autobahn uses), including Autobahn's
// derive_key test vector.
func TestCRAAuth(t *testing.T) {
	challenge := `{"nonce": "LHRTC9zeOIrt_9U3", "authprovider": "userdb", "authid": "peter", "timestamp": "2014-06-22T16:36:25.448Z", "authrole": "user", "authmethod": "wampcra", "session": 3251278072152162}`
	sig, _, err := client.CRAAuth("secret1")("wampcra", map[string]any{"challenge": challenge})
	noErr(t, err)
	must(t, sig == "vb/MUq65p6Xs4P09HfsDI4VmI8HWO3whf0vNe4IdogQ=", "unsalted signature %s", sig)

	sig, _, err = client.CRAAuth("secret1")("wampcra", map[string]any{
		"challenge": challenge, "salt": "salt123", "iterations": int64(1000), "keylen": int64(32),
	})
	noErr(t, err)
	must(t, sig == "gir1mSx+deCDUV7wRM5SGIn/+R/ClqLZuH4m7FJeBVI=", "salted signature %s", sig)

	// Autobahn's derive_key vector: the key derived from L3L1YUE8Txlw is
	// qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y=; signing with the
	// salted secret equals signing with that key unsalted.
	a, _, _ := client.CRAAuth("L3L1YUE8Txlw")("wampcra", map[string]any{"challenge": "c", "salt": "salt123", "iterations": int64(1000), "keylen": int64(32)})
	b, _, _ := client.CRAAuth("qzcdsr9uu/L5hnss3kjNTRe490ETgA70ZBaB5rvnJ5Y=")("wampcra", map[string]any{"challenge": "c"})
	must(t, a == b, "derived key differs from Autobahn's")

	for _, extra := range []map[string]any{
		{},
		{"challenge": 5},
		{"challenge": "c", "salt": "s", "iterations": int64(-1)},
	} {
		_, _, err = client.CRAAuth("x")("wampcra", extra)
		must(t, err != nil, "bad challenge %v accepted", extra)
	}
}

// TestCryptosignAuth uses the spec's test vectors (without channel binding).
func TestCryptosignAuth(t *testing.T) {
	for _, v := range []struct{ priv, challenge, signature string }{
		{"4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
		{"d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
			"d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
		{"6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
			"7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2"},
	} {
		seed, _ := hex.DecodeString(v.priv)
		key := ed25519.NewKeyFromSeed(seed)
		sig, _, err := client.CryptosignAuth(key)("cryptosign", map[string]any{"challenge": v.challenge})
		noErr(t, err)
		must(t, sig == v.signature, "signature for %s:\n%s\nwant\n%s", v.priv, sig, v.signature)
		pub := client.CryptosignExtra(key)["pubkey"].(string)
		must(t, len(pub) == 64, "pubkey %q", pub)
	}
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	for _, extra := range []map[string]any{
		{"challenge": "abcd"},
		{"challenge": "zz"},
		{"challenge": "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "channel_binding": "tls-unique"},
	} {
		_, _, err := client.CryptosignAuth(key)("cryptosign", extra)
		must(t, err != nil, "bad challenge %v accepted", extra)
	}
}
