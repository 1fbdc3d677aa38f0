package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/internal/testcert"
)

// clientCertFiles writes a self-signed client certificate (common name
// cn, client-auth usage) and its key as PEM files; the certificate is its
// own CA.
func clientCertFiles(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCLIAuth joins a realm with every authentication method through the
// CLI's flags, as separate processes against the daemon: ticket, wampcra,
// cryptosign, wamp-scram (with the router's proof checked) and a TLS
// client certificate over wss:// verified with --tls-ca; wrong
// credentials exit 1 with the error URI.
func TestCLIAuth(t *testing.T) {
	bin := daemonBinary(t)
	dir := t.TempDir()
	routerCert, routerKey, _ := testcert.WriteFiles(t, dir, "router")
	clientCert, clientKey := clientCertFiles(t, dir, "sensor-3")
	otherCert, otherKey := clientCertFiles(t, dir, "intruder") // not under the client CA

	ticket, err := auth.HashTicket("tkt-secret", auth.KDFParams{KDF: auth.KDFPBKDF2, Iterations: auth.MinPBKDF2Iterations})
	if err != nil {
		t.Fatal(err)
	}
	cra, err := auth.CRAKeyFor("cra-secret", 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	scram, err := auth.SCRAMKeysFor("scram-pw", auth.KDFParams{KDF: auth.KDFArgon2id, Iterations: 1, Memory: auth.MinArgon2Memory})
	if err != nil {
		t.Fatal(err)
	}
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	principals := map[string]any{
		"tuser":    map[string]any{"role": "user", "ticket": ticket},
		"cuser":    map[string]any{"role": "user", "wampcra": cra},
		"csuser":   map[string]any{"role": "user", "cryptosign": []string{hex.EncodeToString(pub)}},
		"suser":    map[string]any{"role": "user", "wamp-scram": scram},
		"sensor-3": map[string]any{"role": "device", "tls": map[string]any{}},
	}
	plainAddr, tlsAddr := freeAddr(t), freeAddr(t)
	cfg := map[string]any{
		"listeners": []any{
			map[string]any{"address": plainAddr},
			map[string]any{"address": tlsAddr, "tls": map[string]any{"cert": routerCert, "key": routerKey, "client_ca": clientCert}},
		},
		"realms": []any{map[string]any{"name": "secure", "auth": map[string]any{
			"methods":    []string{"tls", "cryptosign", "wamp-scram", "wampcra", "ticket"},
			"principals": principals,
		}}},
		"admin": map[string]any{"disabled": true},
	}
	raw, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "zwamp.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cliServe(t, bin, "serve", "--config", cfgPath)
	ws, wss := "ws://"+plainAddr+"/ws", "wss://"+tlsAddr+"/ws"

	zwamp := func(t *testing.T, args ...string) (stdout, stderr string, code int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "ZWAMP_REALM=secure")
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		code = cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatalf("zwamp %v: %v", args, err)
		}
		return o.String(), e.String(), code
	}
	joined := func(t *testing.T, authid, role, method string, args ...string) {
		t.Helper()
		out, errOut, code := zwamp(t, append([]string{"join"}, args...)...)
		for _, want := range []string{"joined secure", `authid: "` + authid + `"`, `authrole: "` + role + `"`, `authmethod: "` + method + `"`} {
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("join %v: exit %d, stdout %q, stderr %q; want %s", args, code, out, errOut, want)
			}
		}
	}
	refused := func(t *testing.T, uri string, args ...string) {
		t.Helper()
		out, errOut, code := zwamp(t, append([]string{"join"}, args...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, uri) {
			t.Fatalf("join %v: exit %d, stdout %q, stderr %q; want exit 1 and %s", args, code, out, errOut, uri)
		}
	}

	t.Run("ticket", func(t *testing.T) {
		joined(t, "tuser", "user", "ticket", "--url", ws, "--authid", "tuser", "--ticket", "tkt-secret")
		refused(t, "wamp.error.authentication_failed", "--url", ws, "--authid", "tuser", "--ticket", "wrong")
	})
	t.Run("wampcra", func(t *testing.T) {
		joined(t, "cuser", "user", "wampcra", "--url", ws, "--authid", "cuser", "--secret", "cra-secret")
		refused(t, "wamp.error.authentication_failed", "--url", ws, "--authid", "cuser", "--secret", "wrong")
	})
	t.Run("cryptosign", func(t *testing.T) {
		joined(t, "csuser", "user", "cryptosign", "--url", ws, "--authid", "csuser", "--private-key", hex.EncodeToString(seed))
		other := hex.EncodeToString(bytes.Repeat([]byte{8}, ed25519.SeedSize))
		refused(t, "wamp.error.authentication_failed", "--url", ws, "--authid", "csuser", "--private-key", other)
	})
	t.Run("wamp-scram", func(t *testing.T) {
		// The method follows from --password; the env fallback carries it.
		joined(t, "suser", "user", "wamp-scram", "--url", ws, "--authid", "suser", "--password", "scram-pw")
		t.Setenv("ZWAMP_PASSWORD", "scram-pw")
		joined(t, "suser", "user", "wamp-scram", "--url", ws, "--authid", "suser", "--authmethod", "wamp-scram")
		refused(t, "wamp.error.authentication_failed", "--url", ws, "--authid", "suser", "--password", "wrong")
		refused(t, "needs --authid", "--url", ws, "--password", "scram-pw")
	})
	t.Run("tls client certificate", func(t *testing.T) {
		joined(t, "sensor-3", "device", "tls", "--url", wss, "--tls-ca", routerCert, "--tls-cert", clientCert, "--tls-key", clientKey, "--authmethod", "tls")
		// Other methods over wss:// with the router verified.
		joined(t, "tuser", "user", "ticket", "--url", wss, "--tls-ca", routerCert, "--authid", "tuser", "--ticket", "tkt-secret")
		joined(t, "tuser", "user", "ticket", "--url", wss, "--tls-insecure", "--authid", "tuser", "--ticket", "tkt-secret")
		// The router's self-signed certificate is not in the system roots.
		refused(t, "certificate", "--url", wss, "--authid", "tuser", "--ticket", "tkt-secret")
		// A certificate the client CA did not issue (the listener takes
		// the connection but the tls method finds no verified certificate),
		// and none at all.
		refused(t, "wamp.error.authentication_failed", "--url", wss, "--tls-ca", routerCert, "--tls-cert", otherCert, "--tls-key", otherKey, "--authmethod", "tls")
		refused(t, "--authmethod tls needs --tls-cert", "--url", wss, "--tls-ca", routerCert, "--authmethod", "tls")
		refused(t, "--tls-cert and --tls-key go together", "--url", wss, "--tls-cert", clientCert)
	})
}
