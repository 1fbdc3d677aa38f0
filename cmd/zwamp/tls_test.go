package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
)

// writePair writes a self-signed certificate for name (and 127.0.0.1) and
// its key as PEM files in dir; it returns the pair and the certificate.
func writePair(t *testing.T, dir, name string) (CertKey, *x509.Certificate) {
	t.Helper()
	cert, key, leaf := testcert.WriteFiles(t, dir, name)
	return CertKey{Cert: cert, Key: key}, leaf
}

// peerCert connects to addr with server name sn and returns the
// certificate the router presented.
func peerCert(t *testing.T, addr, sn string) *x509.Certificate {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sn, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// TestTLSConfigSNIAndReload loads a listener with two certificate pairs
// (cert/key and certificates), checks that SNI picks each, then reloads
// the files through tlsReloader and checks that new handshakes get the new
// certificates while a connection made before stays open.
func TestTLSConfigSNIAndReload(t *testing.T) {
	dir := t.TempDir()
	a, leafA := writePair(t, dir, "a.example")
	b, leafB := writePair(t, dir, "b.example")
	cfg := &Config{Listeners: []ListenerConfig{{Address: "127.0.0.1:0",
		TLS: &TLSConfig{Cert: a.Cert, Key: a.Key, Certificates: []CertKey{b}}}}}
	sc, err := cfg.serverConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sc.Listeners[0].TLS.Certificates); n != 2 {
		t.Fatalf("%d certificates loaded, want 2", n)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netpoll.NewServer(r, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	addr := srv.Addrs()[0].String()
	if !peerCert(t, addr, "a.example").Equal(leafA) || !peerCert(t, addr, "b.example").Equal(leafB) {
		t.Fatal("SNI did not pick the matching certificate")
	}
	held, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "a.example", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	// New files at the same paths.
	_, leafA2 := writePair(t, dir, "a.example")
	reload := tlsReloader(srv, cfg)
	// A broken file refuses the reload and keeps the running certificates.
	broken := *cfg
	broken.Listeners = []ListenerConfig{{Address: "127.0.0.1:0", TLS: &TLSConfig{Cert: a.Cert, Key: filepath.Join(dir, "missing.key")}}}
	if _, err := reload(&broken); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Fatalf("broken reload: %v", err)
	}
	if !peerCert(t, addr, "a.example").Equal(leafA) {
		t.Fatal("a refused reload changed the certificate")
	}
	commit, err := reload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	commit()
	if !peerCert(t, addr, "a.example").Equal(leafA2) {
		t.Fatal("reload did not install the new certificate")
	}
	if !peerCert(t, addr, "b.example").Equal(leafB) {
		t.Fatal("reload lost the second certificate")
	}
	// The connection made before the reload is still served: a WebSocket
	// upgrade over it is answered.
	_ = held.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(held, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n")
	buf := make([]byte, 512)
	n, err := held.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		t.Fatalf("connection from before the reload: %q %v", buf[:n], err)
	}
	// Turning TLS off, or adding a listener, needs a restart.
	plain := *cfg
	plain.Listeners = []ListenerConfig{{Address: "127.0.0.1:0"}}
	if _, err := reload(&plain); err == nil {
		t.Fatal("reload turning TLS off accepted")
	}
	more := *cfg
	more.Listeners = append(append([]ListenerConfig{}, cfg.Listeners...), ListenerConfig{Address: "127.0.0.1:0"})
	if _, err := reload(&more); err == nil {
		t.Fatal("reload adding a listener accepted")
	}
}

// TestTLSHandshakeLimitsConfig: the handshake bounds reach netpoll.
func TestTLSHandshakeLimitsConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "z.json")
	if err := os.WriteFile(p, []byte(`{"limits": {"max_tls_handshakes": 10, "max_tls_handshakes_per_ip": -1}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := cfg.serverConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if sc.MaxTLSHandshakes != 10 || sc.MaxTLSHandshakesPerIP != -1 {
		t.Fatalf("netpoll config %d, %d", sc.MaxTLSHandshakes, sc.MaxTLSHandshakesPerIP)
	}
}

// tlsReloader has the shape of the SIGHUP reload steps (reload.go), so
// main can append it to its reloaders once the server exists.
var _ reloader = tlsReloader(nil, nil)
