package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/zwamp/zwamp/core"
)

// Method names.
const (
	MethodAnonymous  = "anonymous"
	MethodTicket     = "ticket"
	MethodWampCRA    = "wampcra"
	MethodCryptosign = "cryptosign"
	MethodSCRAM      = "wamp-scram"
)

// Options are what every method shares.
type Options struct {
	// Source finds principals.
	Source Source
	// Timeout bounds a lookup (a dynamic authenticator's call); it should
	// not exceed core's handshake timeout. 0 means 10 s.
	Timeout time.Duration
	// MockKey seeds the deterministic salts of mock challenges for unknown
	// authids (wamp-scram, wampcra), so that the same authid always gets
	// the same salt. Random when empty (then stable for the process).
	MockKey []byte
	// MockSCRAM are the parameters of a mock wamp-scram challenge; they
	// should look like the real principals' (default argon2id13, 3
	// iterations, 64 MiB).
	MockSCRAM KDFParams
	// MockTicket is hashed when a ticket's authid is unknown, so that a
	// miss costs what a hit costs (default pbkdf2, 4096 iterations);
	// Build uses a ticket principal's parameters.
	MockTicket KDFParams
	// MockCRAIterations and MockCRAKeyLen salt the mock wampcra challenge
	// of an unknown authid (default 1000 and 32; Build uses a
	// salted principal's).
	MockCRAIterations, MockCRAKeyLen int
}

func (o *Options) ctx() (context.Context, context.CancelFunc) {
	t := o.Timeout
	if t <= 0 {
		t = 10 * time.Second
	}
	return context.WithTimeout(context.Background(), t)
}

func (o *Options) init() {
	if len(o.MockKey) == 0 {
		o.MockKey = make([]byte, 32)
		_, _ = rand.Read(o.MockKey)
	}
	if o.MockSCRAM.KDF == "" {
		o.MockSCRAM = KDFParams{KDF: KDFArgon2id, Iterations: 3, Memory: 64 << 10}
	}
	if o.MockTicket.KDF == "" {
		o.MockTicket = KDFParams{KDF: KDFPBKDF2, Iterations: MinPBKDF2Iterations}
	}
	o.MockTicket.Salt = base64.StdEncoding.EncodeToString(o.MockKey[:16])
	if o.MockCRAIterations == 0 {
		o.MockCRAIterations, o.MockCRAKeyLen = MinCRAIterations, 32
	}
}

// mockSalt is a salt that is always the same for (realm, authid).
func (o *Options) mockSalt(h *core.Hello, n int) []byte {
	return hmacSHA256(o.MockKey, []byte(h.Realm), []byte{0}, []byte(h.AuthID))[:n]
}

func (o *Options) lookup(q *Query) (*Principal, error) {
	ctx, cancel := o.ctx()
	defer cancel()
	return o.Source.Lookup(ctx, q)
}

// New returns the authenticator for method.
func New(method string, o Options) (core.Authenticator, error) {
	o.init()
	switch method {
	case MethodTicket:
		return &Ticket{o: o}, nil
	case MethodWampCRA:
		return &WampCRA{o: o}, nil
	case MethodCryptosign:
		return &Cryptosign{o: o}, nil
	case MethodSCRAM:
		return &SCRAM{o: o}, nil
	case MethodTLS:
		return &TLSCert{o: o}, nil
	}
	return nil, &unknownMethodError{method}
}

type unknownMethodError struct{ m string }

func (e *unknownMethodError) Error() string { return "auth: unknown authmethod " + strconv.Quote(e.m) }

// notInline is Authenticate for Challengers: core never calls it.
func notInline() (core.Identity, *core.AuthError) { return core.Identity{}, failed }

// Anonymous admits every session with Role (the "anonymous" method in a
// realm that also has others). Cheap: runs inline.
type Anonymous struct{ Role string }

// Method implements core.Authenticator.
func (*Anonymous) Method() string { return MethodAnonymous }

// Authenticate implements core.Authenticator.
func (a *Anonymous) Authenticate(h *core.Hello) (core.Identity, *core.AuthError) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	return core.Identity{AuthID: "anonymous-" + hex.EncodeToString(rnd[:]), AuthRole: a.Role,
		AuthMethod: MethodAnonymous, AuthProvider: "static"}, nil
}

// LocalTrust admits in-process sessions (core.Local transports, which no
// network peer can open) with Role; the dynamic authenticator's service
// session joins through it. Method "zwamp-local".
//
// It is one of two ways an in-process session skips the challenge. This
// one is an authentication method like the others: the session says
// HELLO with authmethods ["zwamp-local"] (client.ConnectLocal), the realm's
// authenticators decide, the role (RealmConfig.TrustedRole) must be one
// the realm's authorizer knows and its permissions apply — so it suits
// code embedding the router that should be governed by the configuration
// (a realm with roles must grant the trusted role what it does, e.g. call
// on its dynamic authenticator). core.Router.ConnectLocalAs (and
// client.ConnectLocalAs) is the other: the caller fixes the identity in
// code and the session joins without any handshake or role check, for the
// router's own service sessions that must work whatever the configuration
// says (the dynamic authorizer's caller, bridges).
type LocalTrust struct{ Role string }

// MethodLocal is LocalTrust's method.
const MethodLocal = "zwamp-local"

// Method implements core.Authenticator.
func (*LocalTrust) Method() string { return MethodLocal }

// Authenticate implements core.Authenticator.
func (l *LocalTrust) Authenticate(h *core.Hello) (core.Identity, *core.AuthError) {
	if h.Transport.Kind != "local" {
		return core.Identity{}, failed
	}
	id := h.AuthID
	if id == "" {
		id = "zwamp-local"
	}
	return core.Identity{AuthID: id, AuthRole: l.Role, AuthMethod: MethodLocal, AuthProvider: "static"}, nil
}

// Ticket is the ticket method: CHALLENGE {}, AUTHENTICATE carries the
// ticket, checked against the principal's stored hash or by a dynamic
// authenticator.
type Ticket struct{ o Options }

// Method implements core.Authenticator.
func (*Ticket) Method() string { return MethodTicket }

// Authenticate implements core.Authenticator (unused: Ticket is a Challenger).
func (*Ticket) Authenticate(*core.Hello) (core.Identity, *core.AuthError) { return notInline() }

// Begin challenges every authid, known or not, so that the answer does not
// tell which exist.
func (t *Ticket) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	if h.AuthID == "" {
		return nil, core.Identity{}, failed
	}
	return &core.Challenge{Extra: map[string]any{}}, core.Identity{}, nil
}

// Verify checks the ticket.
func (t *Ticket) Verify(h *core.Hello, _ *core.Challenge, a *core.Authenticate) (core.Identity, *core.AuthError) {
	p, err := t.o.lookup(&Query{Method: MethodTicket, Hello: h, Ticket: a.Signature})
	if err != nil {
		if err == ErrUnknown {
			// A miss costs what a hit costs.
			_, _ = t.o.MockTicket.derive(a.Signature)
		}
		return core.Identity{}, sourceError(err)
	}
	switch {
	case p.Vouched:
	case p.Ticket != nil && p.Ticket.verify(a.Signature):
	default:
		return core.Identity{}, failed
	}
	return identity(p, h.AuthID, MethodTicket), nil
}

// WampCRA is the wampcra method.
type WampCRA struct{ o Options }

// Method implements core.Authenticator.
func (*WampCRA) Method() string { return MethodWampCRA }

// Authenticate implements core.Authenticator (unused).
func (*WampCRA) Authenticate(*core.Hello) (core.Identity, *core.AuthError) { return notInline() }

type craState struct {
	challenge string
	key       []byte // nil: mock challenge, always refused
	p         *Principal
}

// Begin sends the JSON challenge. An unknown authid gets a mock challenge
// salted like a real one, refused at Verify.
func (w *WampCRA) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	if h.AuthID == "" {
		return nil, core.Identity{}, failed
	}
	p, err := w.o.lookup(&Query{Method: MethodWampCRA, Hello: h})
	st := &craState{}
	extra := map[string]any{}
	role, provider := "user", "static"
	switch {
	case err == nil && p.CRA != nil:
		st.p, role, provider = p, p.Role, p.Provider
		k := p.CRA
		if k.Salt != "" {
			extra["salt"], extra["iterations"], extra["keylen"] = k.Salt, k.Iterations, k.KeyLen
			st.key = k.hmacKey()
		} else if k.Secret != "" {
			st.key = []byte(k.Secret)
		}
	case err != nil && err != ErrUnknown:
		return nil, core.Identity{}, sourceError(err)
	default:
		extra["salt"] = base64.StdEncoding.EncodeToString(w.o.mockSalt(h, 12))
		extra["iterations"], extra["keylen"] = w.o.MockCRAIterations, w.o.MockCRAKeyLen
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	ch, _ := json.Marshal(map[string]any{
		"authid": h.AuthID, "authrole": role, "authmethod": MethodWampCRA, "authprovider": provider,
		"nonce":     base64.RawURLEncoding.EncodeToString(nonce[:]),
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"session":   h.Session,
	})
	st.challenge = string(ch)
	extra["challenge"] = st.challenge
	return &core.Challenge{Extra: extra, State: st}, core.Identity{}, nil
}

// Verify checks HMAC-SHA256(key, challenge).
func (w *WampCRA) Verify(h *core.Hello, ch *core.Challenge, a *core.Authenticate) (core.Identity, *core.AuthError) {
	st := ch.State.(*craState)
	key := st.key
	if key == nil {
		key = w.o.MockKey
	}
	want := base64.StdEncoding.EncodeToString(hmacSHA256(key, []byte(st.challenge)))
	ok := subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) == 1
	if !ok || st.key == nil {
		return core.Identity{}, failed
	}
	return identity(st.p, h.AuthID, MethodWampCRA), nil
}

// Cryptosign is the cryptosign method (Ed25519). With channel binding
// (authextra.channel_binding "tls-unique" or "tls-exporter"), the client
// signs challenge XOR channel id; the transport supplies the channel id in
// TransportInfo.Auth under "channel_binding.<type>" ([]byte). A binding the
// transport cannot supply is refused.
type Cryptosign struct{ o Options }

// Method implements core.Authenticator.
func (*Cryptosign) Method() string { return MethodCryptosign }

// Authenticate implements core.Authenticator (unused).
func (*Cryptosign) Authenticate(*core.Hello) (core.Identity, *core.AuthError) { return notInline() }

type csState struct {
	msg []byte // what the client must sign: challenge, or challenge XOR channel id
	key ed25519.PublicKey
	p   *Principal
}

// Begin checks the announced key and sends 32 random bytes.
func (c *Cryptosign) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	pub, _ := h.AuthExtra["pubkey"].(string)
	pub = strings.ToLower(pub)
	key, err := parsePubkey(pub)
	if err != nil {
		return nil, core.Identity{}, failed
	}
	var cid []byte
	cb, _ := h.AuthExtra["channel_binding"].(string)
	if cb != "" {
		if cb != "tls-unique" && cb != "tls-exporter" {
			return nil, core.Identity{}, failed
		}
		cid, _ = h.Transport.Auth["channel_binding."+cb].([]byte)
		if len(cid) != 32 {
			return nil, core.Identity{}, &core.AuthError{URI: core.ErrAuthenticationFailed, Message: "channel binding " + cb + " is not available on this transport"}
		}
	}
	p, lerr := c.o.lookup(&Query{Method: MethodCryptosign, Hello: h, Pubkey: pub})
	if lerr != nil {
		return nil, core.Identity{}, sourceError(lerr)
	}
	known := false
	for _, k := range p.Cryptosign {
		if bytes.Equal(k, key) {
			known = true
		}
	}
	if !known {
		return nil, core.Identity{}, failed
	}
	challenge := make([]byte, 32)
	_, _ = rand.Read(challenge)
	msg := challenge
	if cid != nil {
		msg = make([]byte, 32)
		subtle.XORBytes(msg, challenge, cid)
	}
	extra := map[string]any{"challenge": hex.EncodeToString(challenge), "channel_binding": nil}
	if cb != "" {
		extra["channel_binding"] = cb
	}
	return &core.Challenge{Extra: extra, State: &csState{msg: msg, key: key, p: p}}, core.Identity{}, nil
}

// Verify checks the Ed25519 signature. The client sends signature ||
// signed message (96 bytes, as the spec and Autobahn do) or the bare
// signature (64 bytes).
func (c *Cryptosign) Verify(h *core.Hello, ch *core.Challenge, a *core.Authenticate) (core.Identity, *core.AuthError) {
	st := ch.State.(*csState)
	sig, err := hex.DecodeString(a.Signature)
	if err != nil || (len(sig) != 96 && len(sig) != 64) {
		return core.Identity{}, failed
	}
	if len(sig) == 96 && !bytes.Equal(sig[64:], st.msg) {
		return core.Identity{}, failed
	}
	if !ed25519.Verify(st.key, st.msg, sig[:64]) {
		return core.Identity{}, failed
	}
	authid := h.AuthID
	if authid == "" {
		authid = st.p.AuthID
	}
	return identity(st.p, authid, MethodCryptosign), nil
}

// SCRAM is the wamp-scram method. The router stores only StoredKey and
// ServerKey and never runs the KDF itself; an unknown authid gets a mock
// challenge with a salt that is stable per authid and the configured
// parameters. A HELLO asking for channel binding (authextra
// channel_binding) gets it when the transport provides the data
// (scramChannelBinding), else an ABORT, as the spec requires.
type SCRAM struct{ o Options }

// Method implements core.Authenticator.
func (*SCRAM) Method() string { return MethodSCRAM }

// Authenticate implements core.Authenticator (unused).
func (*SCRAM) Authenticate(*core.Hello) (core.Identity, *core.AuthError) { return notInline() }

type scramState struct {
	nonce           string
	clientFirstBare string
	serverFirst     string
	keys            *SCRAMKeys // nil: mock
	p               *Principal
	cbName          string // channel binding type; "" none
	cbData          []byte // the channel binding data this side of the channel
}

// scramChannelBinding returns the channel binding data of type name that
// the transport provides, or nil. WAMP-SCRAM's section names RFC 5929's
// tls-unique (the first Finished message, TLS 1.2 only) and
// tls-server-end-point; RFC 9266 adds tls-exporter as SCRAM's binding for
// TLS 1.3 (Go's default), where tls-unique does not exist.
// tls-server-end-point is not offered: the router would need its own
// certificate per connection, which the transport does not pass on.
func scramChannelBinding(h *core.Hello, name string) []byte {
	var key string
	switch name {
	case "tls-unique":
		key = "channel_binding.tls-unique-raw"
	case "tls-exporter":
		key = "channel_binding.tls-exporter"
	default:
		return nil
	}
	b, _ := h.Transport.Auth[key].([]byte)
	return b
}

// scramCBindInput is the spec's CBindInput: "n,," without channel binding,
// else "p=<type>,,<data>".
func scramCBindInput(name string, data []byte) string {
	if name == "" {
		return "n,,"
	}
	return "p=" + name + ",," + string(data)
}

func scramEscape(s string) string {
	return strings.NewReplacer(",", "=2C", "=", "=3D").Replace(s)
}

// Begin sends the server-first message.
func (s *SCRAM) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	cnonce, _ := h.AuthExtra["nonce"].(string)
	if h.AuthID == "" || cnonce == "" {
		return nil, core.Identity{}, failed
	}
	if _, err := base64.StdEncoding.DecodeString(cnonce); err != nil {
		return nil, core.Identity{}, failed
	}
	// A channel binding the router cannot honour ends the login (spec:
	// the server MUST ABORT when it does not support the requested type).
	var cbName string
	var cbData []byte
	if cb, ok := h.AuthExtra["channel_binding"]; ok && cb != nil {
		cbName, _ = cb.(string)
		if cbData = scramChannelBinding(h, cbName); cbData == nil {
			msg := "wamp-scram channel binding " + cbName + " is not available on this transport"
			if cbName != "tls-unique" && cbName != "tls-exporter" {
				msg = "wamp-scram channel binding: the router supports tls-unique and tls-exporter"
			}
			return nil, core.Identity{}, &core.AuthError{URI: core.ErrAuthenticationFailed, Message: msg}
		}
	}
	authid, err := SASLprep(h.AuthID)
	if err != nil {
		return nil, core.Identity{}, failed
	}
	p, err := s.o.lookup(&Query{Method: MethodSCRAM, Hello: h})
	st := &scramState{cbName: cbName, cbData: cbData}
	params := s.o.MockSCRAM
	switch {
	case err == nil && p.SCRAM != nil:
		st.keys, st.p = p.SCRAM, p
		params = p.SCRAM.KDFParams
	case err != nil && err != ErrUnknown:
		return nil, core.Identity{}, sourceError(err)
	default:
		params.Salt = base64.StdEncoding.EncodeToString(s.o.mockSalt(h, 16))
	}
	var sn [16]byte
	_, _ = rand.Read(sn[:])
	st.nonce = cnonce + base64.StdEncoding.EncodeToString(sn[:])
	// The client-first-message carries the SASLprep-prepared user name
	// (an ASCII authid is its own); the principal is looked up by the
	// authid as sent.
	st.clientFirstBare = "n=" + scramEscape(authid) + ",r=" + cnonce
	st.serverFirst = "r=" + st.nonce + ",s=" + params.Salt + ",i=" + strconv.Itoa(params.Iterations)
	extra := map[string]any{"nonce": st.nonce, "salt": params.Salt, "kdf": params.KDF,
		"iterations": params.Iterations, "memory": nil}
	if params.KDF == KDFArgon2id {
		extra["memory"] = params.Memory
	}
	if cbName != "" {
		extra["channel_binding"] = cbName
	}
	return &core.Challenge{Extra: extra, State: st}, core.Identity{}, nil
}

// Verify checks the ClientProof and returns the ServerSignature as
// WELCOME.Details.authextra.verifier.
func (s *SCRAM) Verify(h *core.Hello, ch *core.Challenge, a *core.Authenticate) (core.Identity, *core.AuthError) {
	st := ch.State.(*scramState)
	nonce, _ := a.Extra["nonce"].(string)
	// channel_binding must repeat HELLO's, and cbind_data be present if
	// and only if it is, holding the data this side of the channel sees.
	cbName, _ := a.Extra["channel_binding"].(string)
	cbData, _ := a.Extra["cbind_data"].(string)
	if cbName != st.cbName || (a.Extra["channel_binding"] != nil && cbName == "") || (a.Extra["cbind_data"] != nil && cbData == "") {
		return core.Identity{}, failed
	}
	if st.cbName == "" {
		if cbData != "" {
			return core.Identity{}, failed
		}
	} else if got, err := base64.StdEncoding.DecodeString(cbData); err != nil || subtle.ConstantTimeCompare(got, st.cbData) != 1 {
		return core.Identity{}, failed
	}
	proof, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil || len(proof) != sha256.Size || nonce != st.nonce || st.keys == nil {
		return core.Identity{}, failed
	}
	stored, _ := base64.StdEncoding.DecodeString(st.keys.StoredKey)
	serverKey, _ := base64.StdEncoding.DecodeString(st.keys.ServerKey)
	authMsg := st.clientFirstBare + "," + st.serverFirst + ",c=" + base64.StdEncoding.EncodeToString([]byte(scramCBindInput(st.cbName, st.cbData))) + ",r=" + nonce
	clientSig := hmacSHA256(stored, []byte(authMsg))
	clientKey := make([]byte, sha256.Size)
	subtle.XORBytes(clientKey, clientSig, proof)
	got := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(got[:], stored) != 1 {
		return core.Identity{}, failed
	}
	id := identity(st.p, h.AuthID, MethodSCRAM)
	extra := map[string]any{}
	for k, v := range id.AuthExtra {
		extra[k] = v
	}
	extra["verifier"] = base64.StdEncoding.EncodeToString(hmacSHA256(serverKey, []byte(authMsg)))
	id.AuthExtra = extra
	return id, nil
}

var (
	_ core.Challenger = (*Ticket)(nil)
	_ core.Challenger = (*WampCRA)(nil)
	_ core.Challenger = (*Cryptosign)(nil)
	_ core.Challenger = (*SCRAM)(nil)
	_ core.Challenger = (*TLSCert)(nil)
	_ core.Optional   = (*Cookie)(nil)
)
