package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	zclient "github.com/zwamp/zwamp/client"
)

// The TLS interop tests run third-party clients over wss:// (and rss://)
// against the daemon's TLS listener (crypto/tls on nbio). The router's
// certificate is issued by a test CA made here; each client trusts that CA
// the way its users would: Python through an ssl context with cafile, Node
// through NODE_EXTRA_CA_CERTS, Chromium (which has no per-run trust store
// flag) by pinning the certificate's SPKI hash with
// --ignore-certificate-errors-spki-list.

// testPKI is a test CA and a server certificate it issued for 127.0.0.1
// and localhost, as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	spki                      string // base64 SHA-256 of the server certificate's SubjectPublicKeyInfo
	serial                    string // the server certificate's serial number, decimal
	conf                      string // a daemon config with one TLS listener (its address set by --listen)
	ca                        *x509.Certificate
	caKey                     *ecdsa.PrivateKey
	pool                      *x509.CertPool // trusts the CA
}

func writePEM(t *testing.T, path, typ string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "zwamp interop test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"),
		conf: filepath.Join(dir, "zwamp.json"), ca: ca, caKey: caKey, pool: x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	p.issue(t)
	conf, err := json.Marshal(map[string]any{
		"realms":    []any{map[string]any{"name": "realm1"}},
		"listeners": []any{map[string]any{"address": "127.0.0.1:0", "tls": map[string]any{"cert": p.certFile, "key": p.keyFile}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.conf, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue makes a new server certificate (new key, new serial) signed by the
// CA and writes it and its key over certFile and keyFile.
func (p *testPKI) issue(t *testing.T) {
	t.Helper()
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	p.spki, p.serial = base64.StdEncoding.EncodeToString(sum[:]), serial.String()
	// The key first: a reload between the two writes then fails (key and
	// certificate do not match) and keeps the running pair.
	writePEM(t, p.keyFile, "EC PRIVATE KEY", kder)
	writePEM(t, p.certFile, "CERTIFICATE", der)
}

// TestAutobahnPythonTLS runs Autobahn|Python over wss:// and rss://
// against the daemon's TLS listener, verifying the router's certificate
// against the test CA: RPC with a 100 KiB payload and an acknowledged
// publish to a subscriber.
func TestAutobahnPythonTLS(t *testing.T) {
	t.Parallel()
	need(t, "python")
	pki := newTestPKI(t)
	for _, c := range []struct{ scheme, ser string }{{"wss", "json"}, {"wss", "msgpack"}, {"rss", "cbor"}} {
		t.Run(c.scheme+"-"+c.ser, func(t *testing.T) {
			slot(t)
			d := startDaemon(t, "--config", pki.conf)
			url := c.scheme + "://" + d.addr + "/ws"
			if c.scheme == "rss" {
				url = "rss://" + d.addr
			}
			out := run(t, "autobahn-python over "+c.scheme, []string{pythonBin, filepath.Join("python", "wss.py"),
				"--url", url, "--serializer", c.ser, "--ca", pki.caFile})
			if out["echo_ok"] != true || out["event"] != "over tls" {
				t.Fatalf("autobahn-python over %s: %v", c.scheme, out)
			}
			d.stop(t)
		})
	}
	// Verification is real: the same client with a CA that did not issue
	// the router's certificate fails its handshake.
	t.Run("wrong-ca", func(t *testing.T) {
		slot(t)
		other := newTestPKI(t)
		d := startDaemon(t, "--config", pki.conf)
		c := startClient(t, "autobahn-python with another CA", []string{pythonBin, filepath.Join("python", "wss.py"),
			"--url", "wss://" + d.addr + "/ws", "--ca", other.caFile})
		for range c.lines {
		}
		<-c.exited
		if c.waitErr == nil || !strings.Contains(c.stderr.String(), "CERTIFICATE_VERIFY_FAILED") {
			t.Fatalf("a client trusting another CA: exit %v, want a certificate verification failure; stderr:\n%s", c.waitErr, tail(c.stderr.String(), 4000))
		}
		d.stop(t)
	})
}

// TestAutobahnJSTLS runs autobahn-js (Node, WebSocket from the ws module)
// over wss:// with the test CA in NODE_EXTRA_CA_CERTS: two sessions join,
// one registers and subscribes, the other calls (a 100 KiB payload) and
// publishes with acknowledge. The same script without NODE_EXTRA_CA_CERTS
// must fail to verify the router and to join, which shows the CA is what
// made the first run pass.
func TestAutobahnJSTLS(t *testing.T) {
	t.Parallel()
	need(t, "node")
	pki := newTestPKI(t)
	script := filepath.Join("node", "tls_client.js")
	for _, ser := range []string{"json", "msgpack"} {
		t.Run(ser, func(t *testing.T) {
			slot(t)
			d := startDaemon(t, "--config", pki.conf)
			out := run(t, "autobahn-js over wss", []string{"/usr/bin/env", "NODE_EXTRA_CA_CERTS=" + pki.caFile,
				"node", script, "--url", "wss://" + d.addr + "/ws", "--serializer", ser})
			if out["probe_authorized"] != true || out["echo_ok"] != true || out["event"] != "over tls" || out["left"] != "wamp.close.goodbye_and_out" {
				t.Fatalf("autobahn-js over wss: %v", out)
			}
			if out["peer_serial"] != pki.serial || out["alpn"] != "http/1.1" {
				t.Fatalf("autobahn-js saw certificate serial %v and ALPN %v, want %s and http/1.1", out["peer_serial"], out["alpn"], pki.serial)
			}
			d.stop(t)
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		slot(t)
		d := startDaemon(t, "--config", pki.conf)
		out := run(t, "autobahn-js without the CA", []string{"/usr/bin/env", "-u", "NODE_EXTRA_CA_CERTS",
			"node", script, "--url", "wss://" + d.addr + "/ws", "--untrusted", "1"})
		if out["refused"] != true || out["error"] != "UNABLE_TO_VERIFY_LEAF_SIGNATURE" {
			t.Fatalf("autobahn-js without the test CA: %v", out)
		}
		d.stop(t)
	})
}

// TestBrowserTLS loads browser/tls.html in headless Chromium, which opens
// two autobahn-js sessions over wss:// to the daemon (the page itself is
// served over plain http from loopback): join, register, call, subscribe,
// publish with acknowledge, leave. Chromium trusts the router's
// certificate through --ignore-certificate-errors-spki-list pinned to that
// certificate's SPKI hash (only that key is accepted, not any certificate);
// a second run without the pin must fail to connect, which shows the flag
// is what made the first one pass.
func TestBrowserTLS(t *testing.T) {
	t.Parallel()
	need(t, "node", "chromium")
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name   string
		pinned bool
	}{{"pinned", true}, {"unpinned", false}} {
		t.Run(tc.name, func(t *testing.T) {
			slot(t)
			d := startDaemon(t, "--config", pki.conf)
			results := make(chan []byte, 1)
			page := servePage(t, "tls.html", results)
			q := url.Values{"url": {"wss://" + d.addr + "/ws"}}
			profile := t.TempDir() // before startClient: Chromium must be gone before it is removed
			args := []string{chromiumBin,
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
				"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic",
				"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
				"--user-data-dir=" + profile}
			if tc.pinned {
				args = append(args, "--ignore-certificate-errors-spki-list="+pki.spki)
			}
			chrome := startClient(t, "chromium "+tc.name, append(args, page+"/?"+q.Encode()))
			var out map[string]any
			select {
			case b := <-results:
				if err := json.Unmarshal(b, &out); err != nil {
					t.Fatalf("page result %q: %v", b, err)
				}
			case <-chrome.exited:
				chrome.fail("exited (%v) before the page reported", chrome.waitErr)
			case <-time.After(clientTimeout):
				chrome.fail("page did not report within %v", clientTimeout)
			}
			if !tc.pinned {
				if out["fatal"] == nil || out["joined"] == true {
					t.Fatalf("without the pinned key the page connected over wss: %v", out)
				}
				d.stop(t)
				return
			}
			if f, ok := out["fatal"]; ok {
				t.Fatalf("page failed: %v (steps %v)", f, out["steps"])
			}
			if out["joined"] != true || out["echo_ok"] != true || out["event"] != "over tls" || out["left"] != "wamp.close.goodbye_and_out" {
				t.Fatalf("browser over wss: %v", out)
			}
			d.stop(t)
		})
	}
}

// TestTLSReloadSIGHUP replaces the daemon's certificate files and sends it
// SIGHUP, three times, while Go client sessions over wss:// and rss://
// (verifying the router against the test CA) keep calling and publishing:
// no session ends, every call is answered, every acknowledged
// publication's event arrives, in order, and fresh handshakes get each new
// certificate (by serial number) once the daemon has reloaded.
func TestTLSReloadSIGHUP(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	slot(t)
	d := startDaemon(t, "--config", pki.conf)
	tlsConfig := func() *tls.Config { return &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"} }
	connect := func(url string) *zclient.Client {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := zclient.Connect(ctx, url, zclient.Config{Realm: "realm1", TLSConfig: tlsConfig()})
		if err != nil {
			t.Fatalf("connect %s: %v", url, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	type pair struct {
		name           string
		callee, caller *zclient.Client
		events         chan string
		sent, received int
	}
	var pairs []*pair
	for _, url := range []string{"wss://" + d.addr + "/ws", "rss://" + d.addr} {
		p := &pair{name: strings.SplitN(url, ":", 2)[0], callee: connect(url), caller: connect(url), events: make(chan string, 1<<14)}
		if _, err := p.callee.Register("com.example.reload."+p.name, func(_ context.Context, inv *zclient.Invocation) (*zclient.Result, error) {
			return &zclient.Result{Args: inv.Args}, nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := p.callee.Subscribe("com.example.reload."+p.name, func(ev *zclient.Event) { p.events <- fmt.Sprint(ev.Args[0]) }, nil); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	roundTrip := func(p *pair) error {
		p.sent++
		want := fmt.Sprintf("%s-%d", p.name, p.sent)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := p.caller.Call(ctx, "com.example.reload."+p.name, []any{want}, nil, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: call %d: %w", p.name, p.sent, err)
		}
		if got := fmt.Sprint(res.Args[0]); got != want {
			return fmt.Errorf("%s: call %d answered %q", p.name, p.sent, got)
		}
		if err := p.caller.Publish("com.example.reload."+p.name, []any{want}, nil, &zclient.PublishOptions{Acknowledge: true}); err != nil {
			return fmt.Errorf("%s: publish %d: %w", p.name, p.sent, err)
		}
		select {
		case got := <-p.events:
			p.received++
			if got != want {
				return fmt.Errorf("%s: event %q arrived for %q (lost or reordered)", p.name, got, want)
			}
		case <-time.After(30 * time.Second):
			return fmt.Errorf("%s: event %q never arrived", p.name, want)
		}
		return nil
	}

	var reloading atomic.Bool
	reloading.Store(true)
	errs := make(chan error, len(pairs))
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func(p *pair) {
			defer wg.Done()
			for i := 0; i < 20 || reloading.Load(); i++ {
				if err := roundTrip(p); err != nil {
					errs <- err
					return
				}
			}
		}(p)
	}
	served := func() string {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", d.addr, tlsConfig())
		if err != nil {
			t.Fatalf("handshake with the test CA: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	for i := 0; i < 3; i++ {
		old := pki.serial
		pki.issue(t)
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := served()
			if got == pki.serial {
				break
			}
			if got != old || time.Now().After(deadline) {
				t.Fatalf("reload %d: the router serves serial %s, want %s (before: %s); its log:\n%s", i, got, pki.serial, old, tail(d.log.String(), 4000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	reloading.Store(false)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, p := range pairs {
		for _, c := range []*zclient.Client{p.callee, p.caller} {
			select {
			case <-c.Done():
				t.Errorf("%s: session %d ended during the reloads: %v", p.name, c.ID(), c.Err())
			default:
			}
		}
		if p.sent < 20 || p.received != p.sent {
			t.Errorf("%s: %d round trips, %d events", p.name, p.sent, p.received)
		}
	}
	if n := strings.Count(d.log.String(), "tls configuration reloaded"); n != 3 {
		t.Errorf("the daemon logged %d TLS reloads, want 3; its log:\n%s", n, tail(d.log.String(), 4000))
	}
	for _, p := range pairs {
		_ = p.callee.Close()
		_ = p.caller.Close()
	}
	d.stop(t)
}
