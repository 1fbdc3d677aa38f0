package interop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
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
	p := &testPKI{
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"),
		spki: base64.StdEncoding.EncodeToString(sum[:]), serial: serial.String(), conf: filepath.Join(dir, "zwamp.json"),
	}
	write := func(path, typ string, b []byte) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.caFile, "CERTIFICATE", caDER)
	write(p.certFile, "CERTIFICATE", der)
	write(p.keyFile, "EC PRIVATE KEY", kder)
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
			page := serveTLSPage(t, results)
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

// serveTLSPage serves browser/tls.html and the autobahn-browser bundle on
// a loopback port and sends the body POSTed to /result to results.
func serveTLSPage(t *testing.T, results chan<- []byte) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("browser", "tls.html"))
	})
	mux.HandleFunc("GET /autobahn.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("node", "node_modules", "autobahn-browser", "autobahn.min.js"))
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case results <- b:
		default: // the first report counts
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
