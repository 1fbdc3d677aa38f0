package auth

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/hex"
	"testing"

	"github.com/zwamp/zwamp/core"
)

// TestCryptosignVectors checks Verify against the spec's test vectors
// (authentication_cryptosign.md, "Test Vectors"): signatures by Autobahn
// over the challenge, and over challenge XOR channel id.
func TestCryptosignVectors(t *testing.T) {
	cid := "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff"
	vectors := []struct{ cid, key, challenge, sig string }{
		{"", "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"b32675b221f08593213737bef8240e7c15228b07028e19595294678c90d11c0cae80a357331bfc5cc9fb71081464e6e75013517c2cf067ad566a6b7b728e5d03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
		{"", "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
			"d4209ad10d5aff6bfbc009d7e924795de138a63515efc7afc6b01b7fe5201372190374886a70207b042294af5bd64ce725cd8dceb344e6d11c09d1aaaf4d660fb26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d"},
		{"", "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
			"7beb282184baadd08f166f16dd683b39cab53816ed81e6955def951cb2ddad1ec184e206746fd82bda075af03711d3d5658fc84a76196b0fa8d1ebc92ef9f30bb05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2"},
		{cid, "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			"9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00"},
		{cid, "d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d",
			"305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282"},
		{cid, "6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2",
			"ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d"},
	}
	cs := &Cryptosign{}
	p := &Principal{Role: "r", Provider: "static"}
	for i, v := range vectors {
		seed, _ := hex.DecodeString(v.key)
		key := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
		msg, _ := hex.DecodeString(v.challenge)
		if v.cid != "" {
			c, _ := hex.DecodeString(v.cid)
			subtle.XORBytes(msg, msg, c)
		}
		h := &core.Hello{AuthID: "a"}
		st := &csState{msg: msg, key: key, p: p}
		if _, err := cs.Verify(h, &core.Challenge{State: st}, &core.Authenticate{Signature: v.sig}); err != nil {
			t.Errorf("vector %d refused: %v", i, err.Message)
		}
		// The same signature does not pass for the other binding.
		other := make([]byte, 32)
		copy(other, msg)
		other[0] ^= 1
		st = &csState{msg: other, key: key, p: p}
		if _, err := cs.Verify(h, &core.Challenge{State: st}, &core.Authenticate{Signature: v.sig}); err == nil {
			t.Errorf("vector %d accepted for another message", i)
		}
	}
}

// TestSCRAMVector checks Verify against the SCRAM-SHA-256 exchange of
// RFC 7677 section 3 (user "user", password "pencil"), which the WAMP-SCRAM
// spec's examples also use: the router accepts the RFC's ClientProof and
// answers the RFC's ServerSignature.
func TestSCRAMVector(t *testing.T) {
	const (
		cnonce = "rOprNGfwEbeRWgbNEkqO"
		nonce  = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
		salt   = "W22ZaJ0SNY7soEsUEjb6gQ=="
	)
	keys, err := SCRAMKeysFor("pencil", KDFParams{KDF: KDFPBKDF2, Salt: salt, Iterations: 4096})
	if err != nil {
		t.Fatal(err)
	}
	st := &scramState{nonce: nonce, clientFirstBare: "n=user,r=" + cnonce,
		serverFirst: "r=" + nonce + ",s=" + salt + ",i=4096", keys: keys, p: &Principal{Role: "r", Provider: "static"}}
	s := &SCRAM{}
	h := &core.Hello{AuthID: "user"}
	id, aerr := s.Verify(h, &core.Challenge{State: st}, &core.Authenticate{Signature: "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		Extra: map[string]any{"nonce": nonce}})
	if aerr != nil {
		t.Fatalf("RFC 7677 proof refused: %s", aerr.Message)
	}
	if v := id.AuthExtra["verifier"]; v != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("verifier %v, want the RFC's ServerSignature", v)
	}
	// A proof for another nonce is refused.
	if _, aerr := s.Verify(h, &core.Challenge{State: st}, &core.Authenticate{Signature: "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		Extra: map[string]any{"nonce": nonce + "x"}}); aerr == nil {
		t.Fatal("proof accepted with a wrong nonce")
	}
}
