package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// ---- a test PKI -----------------------------------------------------------

type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{}
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.server = p.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth, p.ca, p.caKey)
	return p
}

func (p *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{{127, 0, 0, 1}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func fingerprint(c tls.Certificate) string {
	s := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(s[:])
}

// startTLS runs a router behind a TLS listener that asks for client
// certificates verified against p's CA, with cookies on.
func startTLS(t *testing.T, p *pki, realms map[string]*auth.RealmConfig, cookies *auth.CookieStore) (*core.Router, string) {
	t.Helper()
	cc := core.Config{Auth: core.AuthLimits{MaxFailuresPerAddr: -1, MaxFailuresPerAuthID: -1}}
	for name, ac := range realms {
		b, err := ac.Build("realms."+name+".auth", name, 5*time.Second, cookies)
		if err != nil {
			t.Fatal(err)
		}
		cc.Realms = append(cc.Realms, core.RealmConfig{Name: name, Authenticators: b.Authenticators})
	}
	r, err := core.NewRouter(cc)
	if err != nil {
		t.Fatal(err)
	}
	l := netpoll.Listener{Addr: "127.0.0.1:0"}
	if cookies != nil {
		l.Cookies = cookies
	}
	if p != nil {
		l.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
			ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	}
	s, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{l}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return r, s.Addrs()[0].String()
}

func TestTLSClientCert(t *testing.T) {
	p := newPKI(t)
	alice := p.issue(t, "alice", x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	bob := p.issue(t, "bob", x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	carol := p.issue(t, "carol", x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	// A certificate from another CA, with a known name.
	other := newPKI(t)
	forged := other.issue(t, "alice", x509.ExtKeyUsageClientAuth, other.ca, other.caKey)
	_, addr := startTLS(t, p, map[string]*auth.RealmConfig{"tlsrealm": {Methods: []string{"tls"},
		Principals: map[string]auth.PrincipalConfig{
			"alice": {Role: "device", TLS: &auth.TLSPrincipal{}},
			"carol": {Role: "device", TLS: &auth.TLSPrincipal{Fingerprints: []string{fingerprint(alice)}}}, // pinned to another cert
		}}}, nil)
	tr := &testRouter{url: "wss://" + addr + "/ws"}
	login := func(cert *tls.Certificate, authid string) client.Config {
		tc := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return client.Config{Realm: "tlsrealm", AuthID: authid, AuthMethods: []string{"tls"}, TLSConfig: tc}
	}
	tr.ok(t, login(&alice, ""), "alice", "device", "tls", "static")
	tr.ok(t, login(&alice, "alice"), "alice", "device", "tls", "static")
	tr.refused(t, login(&alice, "carol"), core.ErrAuthenticationFailed) // authid other than the certificate's
	tr.refused(t, login(nil, "alice"), core.ErrAuthenticationFailed)    // no certificate
	tr.refused(t, login(&bob, ""), core.ErrAuthenticationFailed)        // no such principal
	tr.refused(t, login(&carol, ""), core.ErrAuthenticationFailed)      // fingerprint pinned to another certificate
	// A certificate the listener cannot verify fails the TLS handshake.
	if _, err := tr.connect(t, login(&forged, "")); err == nil {
		t.Fatal("a certificate from an unknown CA got in")
	}
}

// ---- raw WAMP over gorilla, for what the Go client does not expose ------

type rawPeer struct {
	t  *testing.T
	ws *websocket.Conn
	h  http.Header
}

func dialRaw(t *testing.T, url string, tc *tls.Config, hdr http.Header) *rawPeer {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}, TLSClientConfig: tc, HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(url, hdr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawPeer{t: t, ws: c, h: resp.Header}
}

func (p *rawPeer) send(v ...any) {
	p.t.Helper()
	b, _ := codec.AppendGo(nil, codec.JSON, v)
	if err := p.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) recv() []any {
	p.t.Helper()
	_ = p.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := p.ws.ReadMessage()
	if err != nil {
		p.t.Fatal(err)
	}
	v, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: b})
	if err != nil {
		p.t.Fatal(err)
	}
	return v.([]any)
}

func (p *rawPeer) hello(realm string, d map[string]any) {
	d["roles"] = map[string]any{"subscriber": map[string]any{}}
	p.send(1, realm, d)
}

func msgType(m []any) codec.Type {
	switch v := m[0].(type) {
	case int64:
		return codec.Type(v)
	case uint64:
		return codec.Type(v)
	}
	return 0
}

// TestCryptosignChannelBinding: over TLS the client signs challenge XOR
// the channel id (tls-exporter, RFC 9266); a signature over the bare
// challenge, or a binding to another channel, is refused.
func TestCryptosignChannelBinding(t *testing.T) {
	p := newPKI(t)
	pub := hex.EncodeToString(aliceKey.Public().(ed25519.PublicKey))
	_, addr := startTLS(t, p, map[string]*auth.RealmConfig{"cs": {Methods: []string{"cryptosign"},
		Principals: map[string]auth.PrincipalConfig{"alice": {Role: "user", Cryptosign: []string{pub}}}}}, nil)
	for _, c := range []struct {
		name string
		bind bool // XOR with the real channel id
		ok   bool
	}{{"bound", true, true}, {"unbound signature", false, false}} {
		t.Run(c.name, func(t *testing.T) {
			rp := dialRaw(t, "wss://"+addr+"/ws", &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}, nil)
			cs := rp.ws.UnderlyingConn().(*tls.Conn).ConnectionState()
			cid, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
			if err != nil {
				t.Fatal(err)
			}
			rp.hello("cs", map[string]any{"authid": "alice", "authmethods": []any{"cryptosign"},
				"authextra": map[string]any{"pubkey": pub, "channel_binding": "tls-exporter"}})
			ch := rp.recv()
			if msgType(ch) != codec.CHALLENGE || ch[2].(map[string]any)["channel_binding"] != "tls-exporter" {
				t.Fatalf("want CHALLENGE with the binding, got %v", ch)
			}
			challenge, _ := hex.DecodeString(ch[2].(map[string]any)["challenge"].(string))
			msg := challenge
			if c.bind {
				msg = make([]byte, 32)
				subtle.XORBytes(msg, challenge, cid)
			}
			sig := ed25519.Sign(aliceKey, msg)
			rp.send(5, hex.EncodeToString(append(sig, msg...)), map[string]any{})
			m := rp.recv()
			if c.ok && msgType(m) != codec.WELCOME || !c.ok && (msgType(m) != codec.ABORT || m[2] != core.ErrAuthenticationFailed) {
				t.Fatalf("got %v", m)
			}
		})
	}
}

// TestCookie: a WebSocket login on a listener with cookies binds the
// cookie; a later connection presenting it and offering "cookie" is
// admitted without a challenge; a stale or foreign cookie falls through to
// the next method.
func TestCookie(t *testing.T) {
	store := &auth.CookieStore{MaxAge: time.Hour}
	sec := secureConfig(t)
	sec.Methods = append([]string{"cookie"}, sec.Methods...)
	other := secureConfig(t)
	other.Methods = []string{"cookie", "ticket"}
	_, addr := startTLS(t, nil, map[string]*auth.RealmConfig{"secure": sec, "other": other}, store)
	url := "ws://" + addr + "/ws"

	// First visit: the router sets a cookie; log in with a ticket.
	rp := dialRaw(t, url, nil, nil)
	set := rp.h.Get("Set-Cookie")
	resp := http.Response{Header: http.Header{"Set-Cookie": {set}}}
	cookies := resp.Cookies()
	if len(cookies) != 1 || cookies[0].Name != "cbtid" || !cookies[0].HttpOnly || cookies[0].MaxAge != 3600 {
		t.Fatalf("Set-Cookie %q", set)
	}
	jar := http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}
	rp.hello("secure", map[string]any{"authid": "alice", "authmethods": []any{"cookie", "ticket"}})
	if m := rp.recv(); msgType(m) != codec.CHALLENGE || m[1] != "ticket" {
		t.Fatalf("no cookie login yet: want the ticket CHALLENGE, got %v", m)
	}
	rp.send(5, "alice-ticket", map[string]any{})
	if m := rp.recv(); msgType(m) != codec.WELCOME {
		t.Fatalf("ticket login: %v", m)
	}

	// Second visit with the cookie: no challenge.
	rp2 := dialRaw(t, url, nil, jar)
	if rp2.h.Get("Set-Cookie") != "" {
		t.Fatalf("a live cookie was replaced: %q", rp2.h.Get("Set-Cookie"))
	}
	rp2.hello("secure", map[string]any{"authmethods": []any{"cookie", "ticket"}})
	m := rp2.recv()
	d, _ := m[2].(map[string]any)
	if msgType(m) != codec.WELCOME || d["authid"] != "alice" || d["authrole"] != "user" || d["authmethod"] != "cookie" {
		t.Fatalf("cookie login: %v", m)
	}

	// The cookie is bound to the realm it logged in to.
	rp3 := dialRaw(t, url, nil, jar)
	rp3.hello("other", map[string]any{"authid": "alice", "authmethods": []any{"cookie", "ticket"}})
	if m := rp3.recv(); msgType(m) != codec.CHALLENGE {
		t.Fatalf("cookie of another realm: want CHALLENGE, got %v", m)
	}

	// An unknown cookie gets a new one and no shortcut.
	rp4 := dialRaw(t, url, nil, http.Header{"Cookie": {"cbtid=forged"}})
	if rp4.h.Get("Set-Cookie") == "" {
		t.Fatal("an unknown cookie was kept")
	}
	rp4.hello("secure", map[string]any{"authmethods": []any{"cookie"}})
	if m := rp4.recv(); msgType(m) != codec.ABORT || m[2] != core.ErrNoAuthMethod {
		t.Fatalf("unknown cookie, cookie only: want ABORT no_auth_method, got %v", m)
	}
	if store.Len() != 1 {
		t.Fatalf("store holds %d cookies, want 1", store.Len())
	}
}
