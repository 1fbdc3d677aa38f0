package netpoll_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"github.com/zwamp/zwamp/internal/testcert"
	"math/big"
	"net"
	"testing"
	"time"
)

// BenchmarkTLSHandshake measures one TLS 1.3 handshake of crypto/tls as
// the router runs it (server side, default curves: X25519MLKEM768 first),
// client and server in this process over loopback TCP, so ns/op is both
// sides' CPU; full handshakes with an ECDSA P-256 and an RSA-2048
// certificate, and resumed ones (session ticket).
func BenchmarkTLSHandshake(b *testing.B) {
	ecdsaCert, _ := testcert.New(b, "bench")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsaKey.PublicKey, rsaKey)
	if err != nil {
		b.Fatal(err)
	}
	rsaCert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: rsaKey}
	for _, c := range []struct {
		name    string
		cert    tls.Certificate
		resumed bool
	}{{"ecdsa-p256/full", ecdsaCert, false}, {"rsa-2048/full", rsaCert, false},
		{"ecdsa-p256/resumed", ecdsaCert, true}, {"rsa-2048/resumed", rsaCert, true}} {
		b.Run(c.name, func(b *testing.B) {
			scfg := &tls.Config{Certificates: []tls.Certificate{c.cert}}
			ccfg := &tls.Config{InsecureSkipVerify: true}
			if c.resumed {
				ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			handshake := func() bool {
				cc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				sc, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				defer cc.Close()
				defer sc.Close()
				srv := tls.Server(sc, scfg)
				done := make(chan error, 1)
				go func() { done <- srv.Handshake() }()
				cli := tls.Client(cc, ccfg)
				if err := cli.Handshake(); err != nil {
					b.Fatal(err)
				}
				// Read the ticket the server sends after its handshake.
				go func() { _, _ = srv.Write([]byte{0}) }()
				_, _ = cli.Read(make([]byte, 1))
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				return cli.ConnectionState().DidResume
			}
			if c.resumed {
				handshake() // fills the cache
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if handshake() != c.resumed {
					b.Fatal("resumption not as expected")
				}
			}
		})
	}
}
