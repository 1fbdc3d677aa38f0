package netpoll

import (
	"crypto/sha256"
	"crypto/tls"
)

// Transport-level authentication that netpoll hands to core's
// authenticators in core.TransportInfo.Auth (read by package auth):
//
//	"tls.peer_certificates"      []*x509.Certificate  the client's verified chain (leaf first); absent without one
//	"channel_binding.tls-unique"   []byte (32)          SHA-256 of the first TLS Finished message (TLS 1.2; Autobahn's channel id)
//	"channel_binding.tls-unique-raw" []byte             the first TLS Finished message itself (TLS 1.2; RFC 5929's tls-unique, for wamp-scram)
//	"channel_binding.tls-exporter" []byte (32)          RFC 9266 exporter (TLS 1.3 and 1.2 with extended master secret)
//	"cookie"                       string               the connection's cookie id (Listener.Cookies)
//
// For TLS on nbio the map is derived from the tls.Conn at each
// core.Transport.Info call (conn.transportAuth); otherwise it is built
// once, before the connection's first WAMP message, and only read
// afterwards.

// Transport-auth keys.
const (
	AuthPeerCertificates = "tls.peer_certificates"
	AuthTLSUnique        = "channel_binding.tls-unique"
	AuthTLSUniqueRaw     = "channel_binding.tls-unique-raw"
	AuthTLSExporter      = "channel_binding.tls-exporter"
	AuthCookie           = "cookie"
)

// tlsAuth describes a completed TLS handshake.
func tlsAuth(cs tls.ConnectionState) map[string]any {
	m := map[string]any{}
	if len(cs.VerifiedChains) > 0 && len(cs.VerifiedChains[0]) > 0 {
		m[AuthPeerCertificates] = cs.VerifiedChains[0]
	}
	if len(cs.TLSUnique) > 0 {
		h := sha256.Sum256(cs.TLSUnique)
		m[AuthTLSUnique] = h[:]
		m[AuthTLSUniqueRaw] = cs.TLSUnique
	}
	if ekm, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err == nil {
		m[AuthTLSExporter] = ekm
	}
	return m
}

// CookieJar issues and recognises the WebSocket cookie of a listener
// (Listener.Cookies); package auth's CookieStore implements it.
type CookieJar interface {
	// Cookie is given the request's Cookie header (nil if none) during the
	// upgrade, on the connection's goroutine; it returns the connection's
	// cookie id and, when a new cookie must be set, the Set-Cookie header
	// value. It must be fast and must not block.
	Cookie(header []byte, secure bool) (id string, setCookie string)
}
