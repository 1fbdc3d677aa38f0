package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/zwamp/zwamp/core"
)

// Principal is what the router knows about one authid: the role it gets,
// the extra sent in WELCOME, and per method the data that checks it.
type Principal struct {
	AuthID     string
	Role       string
	Extra      map[string]any
	Provider   string // "static" or "dynamic"
	Ticket     *HashedSecret
	CRA        *CRAKey
	Cryptosign []ed25519.PublicKey
	SCRAM      *SCRAMKeys
	TLS        *TLSPrincipal

	// Vouched is set by a dynamic authenticator that checked the secret
	// itself (ticket: Crossbar passes the ticket to the procedure).
	Vouched bool
}

// Query is a principal lookup for one handshake.
type Query struct {
	Method string
	Hello  *core.Hello
	// Ticket is the client's ticket (ticket method, at Verify time), for a
	// dynamic authenticator that checks it.
	Ticket string
	// Pubkey is the HELLO's cryptosign public key, hex.
	Pubkey string
	// CertFingerprint is the SHA-256 (hex) of the verified TLS client
	// certificate (tls method; Hello.AuthID is then its common name).
	CertFingerprint string
}

// ErrUnknown is returned by a Source for an authid it does not know.
var ErrUnknown = errors.New("auth: unknown principal")

// Source finds principals. Lookup runs on core's worker pool and may
// block until ctx is done.
type Source interface {
	Lookup(ctx context.Context, q *Query) (*Principal, error)
}

// Static is a Source over the configuration's principals. Its principals
// can be replaced while logins run (SIGHUP reload): a lookup sees the old
// set or the new one, never a mix.
type Static struct {
	idx atomic.Pointer[staticIndex]
}

type staticIndex struct {
	byID     map[string]*Principal
	byPubkey map[string]*Principal // hex public key → principal (cryptosign without authid)
}

// NewStatic builds a Static source.
func NewStatic(ps []*Principal) *Static {
	s := &Static{}
	s.idx.Store(newStaticIndex(ps))
	return s
}

func newStaticIndex(ps []*Principal) *staticIndex {
	x := &staticIndex{byID: map[string]*Principal{}, byPubkey: map[string]*Principal{}}
	for _, p := range ps {
		p.Provider = "static"
		x.byID[p.AuthID] = p
		for _, k := range p.Cryptosign {
			x.byPubkey[hex.EncodeToString(k)] = p
		}
	}
	return x
}

// Replace swaps in the principals of o.
func (s *Static) Replace(o *Static) { s.idx.Store(o.idx.Load()) }

// Lookup implements Source.
func (s *Static) Lookup(_ context.Context, q *Query) (*Principal, error) {
	x := s.idx.Load()
	if q.Hello.AuthID == "" && q.Method == "cryptosign" && q.Pubkey != "" {
		if p := x.byPubkey[q.Pubkey]; p != nil {
			return p, nil
		}
		return nil, ErrUnknown
	}
	if p := x.byID[q.Hello.AuthID]; p != nil {
		return p, nil
	}
	return nil, ErrUnknown
}

// Len returns the number of principals.
func (s *Static) Len() int { return len(s.idx.Load().byID) }

// failed is the one refusal every method sends: it does not say whether
// the authid, the secret or the key was wrong.
var failed = &core.AuthError{URI: core.ErrAuthenticationFailed, Message: "authentication failed"}

// sourceError maps a lookup error to the ABORT: a dynamic authenticator's
// wamp.error.* URI passes through (Crossbar does the same), anything else
// is the generic refusal.
func sourceError(err error) *core.AuthError {
	var de *DynamicError
	if errors.As(err, &de) && de.URI != "" {
		return &core.AuthError{URI: de.URI, Message: "authentication failed"}
	}
	return failed
}

func identity(p *Principal, authid, method string) core.Identity {
	if p.AuthID != "" {
		authid = p.AuthID
	}
	return core.Identity{AuthID: authid, AuthRole: p.Role, AuthMethod: method, AuthProvider: p.Provider, AuthExtra: p.Extra}
}

// parsePubkey decodes a hex Ed25519 public key.
func parsePubkey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("want %d hex-encoded bytes", ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
