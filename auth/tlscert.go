package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strings"

	"github.com/zwamp/zwamp/core"
)

// MethodTLS is the TLS client-certificate authmethod.
const MethodTLS = "tls"

// TLSPrincipal admits a principal by TLS client certificate: the
// certificate must have been verified against the listener's client CA,
// its subject common name is the authid, and, when Fingerprints is not
// empty, the SHA-256 of its DER (hex) must be one of them.
type TLSPrincipal struct {
	Fingerprints []string `json:"fingerprints"`
}

// TLSCert is the tls method: no challenge; the transport did the work.
// It runs on the worker pool because a dynamic authenticator may be asked.
type TLSCert struct{ o Options }

// Method implements core.Authenticator.
func (*TLSCert) Method() string { return MethodTLS }

// Authenticate implements core.Authenticator (unused).
func (*TLSCert) Authenticate(*core.Hello) (core.Identity, *core.AuthError) { return notInline() }

// Begin decides from the verified client certificate.
func (t *TLSCert) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	chain, _ := h.Transport.Auth["tls.peer_certificates"].([]*x509.Certificate)
	if len(chain) == 0 {
		return nil, core.Identity{}, failed
	}
	leaf := chain[0]
	cn := leaf.Subject.CommonName
	if cn == "" || (h.AuthID != "" && h.AuthID != cn) {
		return nil, core.Identity{}, failed
	}
	sum := sha256.Sum256(leaf.Raw)
	fp := hex.EncodeToString(sum[:])
	hh := *h
	hh.AuthID = cn
	p, err := t.o.lookup(&Query{Method: MethodTLS, Hello: &hh, CertFingerprint: fp})
	if err != nil {
		return nil, core.Identity{}, sourceError(err)
	}
	if !p.Vouched {
		if p.TLS == nil {
			return nil, core.Identity{}, failed
		}
		if len(p.TLS.Fingerprints) > 0 {
			ok := false
			for _, f := range p.TLS.Fingerprints {
				if strings.EqualFold(strings.ReplaceAll(f, ":", ""), fp) {
					ok = true
				}
			}
			if !ok {
				return nil, core.Identity{}, failed
			}
		}
	}
	return nil, identity(p, cn, MethodTLS), nil
}

// Verify is never called: Begin never challenges.
func (t *TLSCert) Verify(*core.Hello, *core.Challenge, *core.Authenticate) (core.Identity, *core.AuthError) {
	return core.Identity{}, failed
}
