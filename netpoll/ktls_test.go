package netpoll

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKTLSFallback: kernelTLSAvailable follows the kernel's ULP list, and
// where the kernel has no tls ULP (this machine) enableKTLS fails with
// errKTLSUnavailable and leaves the socket working as plain TCP.
func TestKTLSFallback(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp")
	if err != nil {
		t.Skipf("no ULP list: %v", err)
	}
	if got, want := kernelTLSAvailable(), ulpListed(b, "tls"); got != want {
		t.Fatalf("kernelTLSAvailable %v, ULP list %q", got, b)
	}
	if !ulpListed([]byte("mptcp tls\n"), "tls") || ulpListed([]byte("mptcp\n"), "tls") || ulpListed([]byte("tlsx"), "tls") {
		t.Fatal("ulpListed misreads the list")
	}
	if kernelTLSAvailable() {
		t.Skip("this kernel offers kTLS: the fallback is not what would run here (and the real hand-off is not tested)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	info := &ktlsInfo{cipher: tlsCipherAESGCM128, key: make([]byte, 16), iv: make([]byte, 12)}
	rc, _ := srv.(*net.TCPConn).SyscallConn()
	var kerr error
	_ = rc.Control(func(fd uintptr) { kerr = enableKTLS(int(fd), info, info) })
	if !errors.Is(kerr, errKTLSUnavailable) {
		t.Fatalf("enableKTLS without the ULP: %v", kerr)
	}
	// The socket is untouched: plain bytes still pass both ways.
	_ = srv.SetDeadline(time.Now().Add(10 * time.Second))
	_ = cli.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := srv.Write([]byte("plain")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(cli, got); err != nil || string(got) != "plain" {
		t.Fatalf("after the failed hand-off: %q %v", got, err)
	}
}

// TestKTLSMarshal pins the crypto_info layouts of linux/tls.h.
func TestKTLSMarshal(t *testing.T) {
	iv := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	k16 := bytes.Repeat([]byte{0xAA}, 16)
	b := (&ktlsInfo{cipher: tlsCipherAESGCM128, key: k16, iv: iv, seq: 0x0102}).marshal()
	if len(b) != 40 {
		t.Fatalf("aes_gcm_128 info is %d bytes, want 40", len(b))
	}
	if binary.NativeEndian.Uint16(b[0:]) != tls.VersionTLS13 || binary.NativeEndian.Uint16(b[2:]) != 51 ||
		!bytes.Equal(b[4:12], iv[4:]) || !bytes.Equal(b[12:28], k16) || !bytes.Equal(b[28:32], iv[:4]) ||
		binary.BigEndian.Uint64(b[32:]) != 0x0102 {
		t.Fatalf("aes_gcm_128 layout %x", b)
	}
	k32 := bytes.Repeat([]byte{0xBB}, 32)
	if b := (&ktlsInfo{cipher: tlsCipherAESGCM256, key: k32, iv: iv}).marshal(); len(b) != 56 || !bytes.Equal(b[12:44], k32) {
		t.Fatalf("aes_gcm_256 layout %x", b)
	}
	if b := (&ktlsInfo{cipher: tlsCipherChaCha20, key: k32, iv: iv}).marshal(); len(b) != 56 || !bytes.Equal(b[4:16], iv) || !bytes.Equal(b[16:48], k32) {
		t.Fatalf("chacha20_poly1305 layout %x", b)
	}
}

// recConn records the bytes read and written through a net.Conn.
type recConn struct {
	net.Conn
	mu      sync.Mutex
	in, out []byte
}

func (r *recConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.in = append(r.in, p[:n]...)
	r.mu.Unlock()
	return n, err
}

func (r *recConn) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.out = append(r.out, p...)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// records splits a TLS byte stream into records.
func records(t *testing.T, b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 5 {
			t.Fatalf("partial record header %x", b)
		}
		n := 5 + int(binary.BigEndian.Uint16(b[3:5]))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// openRecord decrypts a TLS 1.3 AES-GCM record with info, as the kernel
// would with the same parameters.
func openRecord(info *ktlsInfo, rec []byte) ([]byte, error) {
	block, err := aes.NewCipher(info.key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := append([]byte(nil), info.iv...)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], info.seq)
	for i := range seq {
		nonce[4+i] ^= seq[i]
	}
	return aead.Open(nil, nonce, rec[5:], rec[:5])
}

// TestKTLSParamsDecryptRecords runs a real TLS 1.3 handshake with Go's
// crypto/tls, derives the kTLS parameters the hand-off would give the
// kernel from the logged traffic secrets, and checks that they decrypt
// the first application record each side sends after the handshake, at
// the sequence numbers the design says: for the server's transmit side the
// number of tickets issued (counted through Config.WrapSession: one when
// the client has a session cache, none otherwise), 0 for the receive side.
func TestKTLSParamsDecryptRecords(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tickets := range []bool{true, false} {
		var keylog bytes.Buffer
		var wrapped int // tickets issued: the design counts them with WrapSession
		scfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
			MinVersion: tls.VersionTLS13, KeyLogWriter: &keylog}
		scfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			wrapped++
			return scfg.EncryptTicket(cs, ss)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		type result struct {
			rec *recConn
			tc  *tls.Conn
			err error
		}
		done := make(chan result, 1)
		go func() {
			nc, err := ln.Accept()
			if err != nil {
				done <- result{err: err}
				return
			}
			rec := &recConn{Conn: nc}
			tc := tls.Server(rec, scfg)
			_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
			done <- result{rec, tc, tc.Handshake()}
		}()
		ccfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
		if tickets {
			// A client with a session cache offers psk_dhe_ke, and only
			// then does crypto/tls issue a ticket.
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		}
		cc, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
		if err != nil {
			t.Fatal(err)
		}
		res := <-done
		ln.Close()
		if res.err != nil {
			t.Fatal(res.err)
		}
		st := res.tc.ConnectionState()
		if st.CipherSuite == tls.TLS_CHACHA20_POLY1305_SHA256 {
			t.Skip("ChaCha20 negotiated (no AES hardware): the test decrypts AES-GCM only")
		}
		secrets := map[string][]byte{}
		sc := bufio.NewScanner(&keylog)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 {
				secrets[f[0]], _ = hex.DecodeString(f[2])
			}
		}
		if want := map[bool]int{true: 1, false: 0}[tickets]; wrapped != want {
			t.Fatalf("client cache %v: %d tickets issued, want %d", tickets, wrapped, want)
		}
		txSeq := uint64(wrapped)
		tx, err := ktlsParamsTLS13(st.CipherSuite, secrets["SERVER_TRAFFIC_SECRET_0"], txSeq)
		if err != nil {
			t.Fatal(err)
		}
		rx, err := ktlsParamsTLS13(st.CipherSuite, secrets["CLIENT_TRAFFIC_SECRET_0"], 0)
		if err != nil {
			t.Fatal(err)
		}
		// Server → client.
		res.rec.mu.Lock()
		before := len(res.rec.out)
		res.rec.mu.Unlock()
		if _, err := res.tc.Write([]byte("to client")); err != nil {
			t.Fatal(err)
		}
		res.rec.mu.Lock()
		recs := records(t, res.rec.out[before:])
		res.rec.mu.Unlock()
		if len(recs) != 1 {
			t.Fatalf("%d records for one write", len(recs))
		}
		pt, err := openRecord(tx, recs[0])
		if err != nil || !bytes.Equal(pt, append([]byte("to client"), 23)) {
			t.Fatalf("tickets=%v: transmit parameters (seq %d) do not open the server's first record: %q %v", tickets, txSeq, pt, err)
		}
		// Client → server.
		_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { _, _ = cc.Write([]byte("to server")) }()
		buf := make([]byte, 64)
		n, err := res.tc.Read(buf)
		if err != nil || string(buf[:n]) != "to server" {
			t.Fatalf("server read %q %v", buf[:n], err)
		}
		res.rec.mu.Lock()
		in := records(t, res.rec.in)
		res.rec.mu.Unlock()
		pt, err = openRecord(rx, in[len(in)-1])
		if err != nil || !bytes.Equal(pt, append([]byte("to server"), 23)) {
			t.Fatalf("receive parameters do not open the client's first record: %q %v", pt, err)
		}
		cc.Close()
		res.tc.Close()
	}
}
