package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/zwamp/zwamp/client"
)

func randomSalt(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// HashTicket returns the stored form of a ticket under p (p.Salt empty:
// a random 16-byte salt).
func HashTicket(ticket string, p KDFParams) (*HashedSecret, error) {
	if p.Salt == "" {
		p.Salt = randomSalt(16)
	}
	if err := p.check("ticket"); err != nil {
		return nil, err
	}
	h, err := p.derive(ticket)
	if err != nil {
		return nil, err
	}
	return &HashedSecret{KDFParams: p, Hash: base64.StdEncoding.EncodeToString(h)}, nil
}

// SCRAMKeysFor returns the stored form of a wamp-scram password under p
// (p.Salt empty: a random 16-byte salt). The password is prepared with
// SASLprep first, as the spec's SaltedPassword = KDF(Normalize(password))
// and every conforming client do; a password SASLprep refuses is an error.
func SCRAMKeysFor(password string, p KDFParams) (*SCRAMKeys, error) {
	if p.Salt == "" {
		p.Salt = randomSalt(16)
	}
	if err := p.check("wamp-scram"); err != nil {
		return nil, err
	}
	password, err := SASLprep(password)
	if err != nil {
		return nil, fmt.Errorf("wamp-scram password: %w", err)
	}
	salted, err := p.derive(password)
	if err != nil {
		return nil, err
	}
	stored, server := scramKeysFrom(salted)
	return &SCRAMKeys{KDFParams: p, StoredKey: base64.StdEncoding.EncodeToString(stored),
		ServerKey: base64.StdEncoding.EncodeToString(server)}, nil
}

// CRAKeyFor returns the salted wampcra entry for a secret (random salt).
func CRAKeyFor(secret string, iterations, keylen int) (*CRAKey, error) {
	salt := randomSalt(12)
	k, err := DeriveCRAKey(secret, salt, iterations, keylen)
	if err != nil {
		return nil, err
	}
	c := &CRAKey{Salt: salt, Iterations: iterations, KeyLen: keylen, Key: k}
	if err := c.check("wampcra"); err != nil {
		return nil, err
	}
	return c, nil
}

// SCRAMClient answers wamp-scram as a client: it returns the HELLO
// authextra (a fresh client nonce) and the client.AuthFunc that computes
// the ClientProof. After the session is established, check the router's
// verifier with VerifyServer(welcome authextra). The authid and password
// are prepared with SASLprep (spec: Username/Password String
// Normalization): Config sends the prepared authid, and the KDF gets the
// prepared password.
type SCRAMClient struct {
	AuthID, Password string
	nonce            string
	authMsg          string
	salted           []byte
	params           KDFParams
	// MinIterations and MinMemory refuse a challenge with suspiciously
	// weak parameters (spec: a rogue router could harvest weak hashes).
	MinPBKDF2Iterations, MinArgon2Memory int
	// ChannelBinding, when set, binds the login to the TLS connection it
	// runs on: "tls-unique" (CBindData: the connection's first Finished
	// message, tls.ConnectionState.TLSUnique, TLS 1.2 only) or
	// "tls-exporter" (RFC 9266, TLS 1.3: CBindData is
	// ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)). A router
	// on the other end of another TLS connection (a man in the middle)
	// sees other data, and the proof does not check out. With Config and
	// client.Connect, CBindData is read from the connection (SetTLSState).
	ChannelBinding string
	CBindData      []byte
}

// SetTLSState sets CBindData for ChannelBinding from the state of the TLS
// connection the login runs on (client.Config.TLSHandshake). Data the
// connection cannot provide (tls-unique on TLS 1.3) is left empty, and
// the router refuses the binding.
func (s *SCRAMClient) SetTLSState(cs tls.ConnectionState) {
	switch s.ChannelBinding {
	case "tls-unique":
		s.CBindData = cs.TLSUnique
	case "tls-exporter":
		s.CBindData, _ = cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	}
}

// NewSCRAMClient makes a client for authid and password.
func NewSCRAMClient(authid, password string) *SCRAMClient {
	var n [16]byte
	_, _ = rand.Read(n[:])
	return &SCRAMClient{AuthID: authid, Password: password, nonce: base64.StdEncoding.EncodeToString(n[:]),
		MinPBKDF2Iterations: MinPBKDF2Iterations, MinArgon2Memory: MinArgon2Memory}
}

// Renew draws a new client nonce for the next login, keeping the cached
// salted password.
func (s *SCRAMClient) Renew() {
	var n [16]byte
	_, _ = rand.Read(n[:])
	s.nonce = base64.StdEncoding.EncodeToString(n[:])
}

// AuthExtra is the HELLO authextra.
func (s *SCRAMClient) AuthExtra() map[string]any {
	var cb any
	if s.ChannelBinding != "" {
		cb = s.ChannelBinding
	}
	return map[string]any{"nonce": s.nonce, "channel_binding": cb}
}

// Authenticate is a client.AuthFunc.
func (s *SCRAMClient) Authenticate(method string, extra map[string]any) (string, map[string]any, error) {
	if method != MethodSCRAM {
		return "", nil, fmt.Errorf("auth: SCRAMClient challenged with %q", method)
	}
	nonce, _ := extra["nonce"].(string)
	if !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce) {
		return "", nil, errors.New("auth: wamp-scram nonce does not extend the client nonce")
	}
	if cb, ok := extra["channel_binding"].(string); ok && cb != s.ChannelBinding {
		return "", nil, fmt.Errorf("auth: wamp-scram challenge binds to %q, not the requested %q", cb, s.ChannelBinding)
	}
	p := KDFParams{Salt: fmt.Sprint(extra["salt"]), Iterations: asInt(extra["iterations"], 0), Memory: asInt(extra["memory"], 0)}
	p.KDF, _ = extra["kdf"].(string)
	if (p.KDF == KDFPBKDF2 && p.Iterations < s.MinPBKDF2Iterations) || (p.KDF == KDFArgon2id && p.Memory < s.MinArgon2Memory) {
		return "", nil, errors.New("auth: wamp-scram parameters are too weak")
	}
	authid, err := SASLprep(s.AuthID)
	if err != nil {
		return "", nil, fmt.Errorf("auth: wamp-scram authid: %w", err)
	}
	// The client may cache the salted password (spec: SCRAM algorithms);
	// a reconnect with the same parameters skips the KDF.
	salted := s.salted
	if salted == nil || s.params != p {
		password, err := SASLprep(s.Password)
		if err != nil {
			return "", nil, fmt.Errorf("auth: wamp-scram password: %w", err)
		}
		if salted, err = p.derive(password); err != nil {
			return "", nil, err
		}
		s.salted, s.params = salted, p
	}
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	s.authMsg = "n=" + scramEscape(authid) + ",r=" + s.nonce + ",r=" + nonce + ",s=" + p.Salt + ",i=" + fmt.Sprint(p.Iterations) +
		",c=" + base64.StdEncoding.EncodeToString([]byte(scramCBindInput(s.ChannelBinding, s.CBindData))) + ",r=" + nonce
	sig := hmacSHA256(stored[:], []byte(s.authMsg))
	proof := make([]byte, len(sig))
	subtle.XORBytes(proof, clientKey, sig)
	ext := map[string]any{"nonce": nonce, "channel_binding": nil, "cbind_data": nil}
	if s.ChannelBinding != "" {
		ext["channel_binding"] = s.ChannelBinding
		ext["cbind_data"] = base64.StdEncoding.EncodeToString(s.CBindData)
	}
	return base64.StdEncoding.EncodeToString(proof), ext, nil
}

// VerifyServer checks WELCOME.Details.authextra.verifier (mutual
// authentication).
func (s *SCRAMClient) VerifyServer(welcome map[string]any) bool {
	ae, _ := welcome["authextra"].(map[string]any)
	v, _ := ae["verifier"].(string)
	if s.salted == nil || v == "" {
		return false
	}
	want := base64.StdEncoding.EncodeToString(hmacSHA256(hmacSHA256(s.salted, []byte("Server Key")), []byte(s.authMsg)))
	return subtle.ConstantTimeCompare([]byte(want), []byte(v)) == 1
}

// Config fills a client.Config for wamp-scram. The authid is sent
// SASLprep-prepared when SASLprep accepts it (else as given, and
// Authenticate reports the error).
func (s *SCRAMClient) Config(cfg client.Config) client.Config {
	cfg.AuthID = s.AuthID
	if id, err := SASLprep(s.AuthID); err == nil {
		cfg.AuthID = id
	}
	cfg.AuthMethods = []string{MethodSCRAM}
	cfg.AuthExtra = s.AuthExtra()
	cfg.Authenticate = s.Authenticate
	if s.ChannelBinding != "" {
		cfg.TLSHandshake = s.SetTLSState
	}
	return cfg
}
