package netpoll

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"os"
	"sync"
	"syscall"
)

// Kernel TLS (kTLS): the design of the hand-off, and the pieces of it that
// can be checked without a kernel that has it. NOT RUN FOR REAL: this
// machine's kernel offers no "tls" upper-layer protocol
// (/proc/sys/net/ipv4/tcp_available_ulp lists only mptcp), so nothing
// here is wired into serveTLS yet and every TLS connection stays on
// crypto/tls over nbio (tls.go), which is also the fallback.
//
// The hand-off, once a kernel offers it (TLS 1.3 first):
//  1. Handshake in crypto/tls as today, on the handshake goroutine, with
//     Config.KeyLogWriter capturing CLIENT_TRAFFIC_SECRET_0 and
//     SERVER_TRAFFIC_SECRET_0, and rawConn's handshake reads bounded to
//     one record at a time, so that crypto/tls holds no byte past the
//     client's Finished: the kernel then starts reading at a record
//     boundary with sequence number 0.
//  2. ktlsParamsTLS13 derives each direction's key and IV from its
//     traffic secret (RFC 8446 7.3). The transmit sequence number is the
//     number of records crypto/tls already sent with the server's
//     application keys: its NewSessionTicket records, one per ticket,
//     counted per connection by a Config.WrapSession that calls
//     EncryptTicket (crypto/tls issues one ticket when the client offers
//     psk_dhe_ke, none otherwise). TestKTLSParamsDecryptRecords checks
//     both cases by decrypting the next record at that sequence number.
//  3. enableKTLS: setsockopt(TCP_ULP, "tls"), then SOL_TLS TLS_TX and
//     TLS_RX with the crypto_info structs. Any error (ENOENT: no tls
//     module; EOPNOTSUPP, EINVAL: cipher not offered) leaves the socket as
//     it was and the connection continues on crypto/tls over nbio.
//  4. The socket then goes to nbio like plain TCP: reads and writes carry
//     plaintext, and the tls.Conn is dropped, so an idle session costs
//     what a ws:// one does (about 2 KB) plus the kernel's TLS context.
//     What remains to build: control records (a KeyUpdate or an alert
//     arrives as a recvmsg with TLS_GET_RECORD_TYPE cmsg and read fails
//     with EIO on plain read(2); nbio does not pass cmsgs, so KeyUpdate
//     would close the connection) and close_notify on close (sendmsg with
//     TLS_SET_RECORD_TYPE). TLS 1.2 needs the key block from the master
//     secret (CLIENT_RANDOM line, TLS PRF) and explicit nonces; not done.

// Linux constants (linux/tls.h, linux/tcp.h); absent from package syscall.
const (
	solTLS             = 282
	tlsTX              = 1
	tlsRX              = 2
	tcpULP             = 31
	tlsCipherAESGCM128 = 51
	tlsCipherAESGCM256 = 52
	tlsCipherChaCha20  = 54
)

// errKTLSUnavailable means the kernel cannot take the record layer; the
// connection stays on crypto/tls.
var errKTLSUnavailable = errors.New("netpoll: kernel TLS unavailable")

var ktlsProbe struct {
	once sync.Once
	ok   bool
}

// kernelTLSAvailable reports whether the kernel lists the "tls" ULP.
func kernelTLSAvailable() bool {
	ktlsProbe.once.Do(func() {
		b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_available_ulp")
		ktlsProbe.ok = err == nil && ulpListed(b, "tls")
	})
	return ktlsProbe.ok
}

func ulpListed(list []byte, name string) bool {
	for _, f := range bytes.Fields(list) {
		if string(f) == name {
			return true
		}
	}
	return false
}

// ktlsInfo is one direction's crypto_info for setsockopt(SOL_TLS).
type ktlsInfo struct {
	cipher uint16
	key    []byte
	iv     []byte // the full TLS 1.3 IV (12 bytes)
	seq    uint64
}

// ktlsParamsTLS13 derives a direction's kTLS parameters from its TLS 1.3
// traffic secret: key = HKDF-Expand-Label(secret, "key", "", keyLen), iv =
// HKDF-Expand-Label(secret, "iv", "", 12).
func ktlsParamsTLS13(suite uint16, secret []byte, seq uint64) (*ktlsInfo, error) {
	var h func() hash.Hash
	info := &ktlsInfo{seq: seq}
	var keyLen int
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		h, keyLen, info.cipher = sha256.New, 16, tlsCipherAESGCM128
	case tls.TLS_AES_256_GCM_SHA384:
		h, keyLen, info.cipher = sha512.New384, 32, tlsCipherAESGCM256
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		h, keyLen, info.cipher = sha256.New, 32, tlsCipherChaCha20
	default:
		return nil, fmt.Errorf("netpoll: ktls: cipher suite %s: %w", tls.CipherSuiteName(suite), errKTLSUnavailable)
	}
	var err error
	if info.key, err = hkdf.Expand(h, secret, hkdfLabel("key", keyLen), keyLen); err != nil {
		return nil, err
	}
	if info.iv, err = hkdf.Expand(h, secret, hkdfLabel("iv", 12), 12); err != nil {
		return nil, err
	}
	return info, nil
}

// hkdfLabel is the HkdfLabel structure of RFC 8446 7.1 with an empty
// context.
func hkdfLabel(label string, length int) string {
	full := "tls13 " + label
	b := make([]byte, 0, 4+len(full))
	b = binary.BigEndian.AppendUint16(b, uint16(length))
	b = append(b, byte(len(full)))
	b = append(b, full...)
	b = append(b, 0)
	return string(b)
}

// marshal lays info out as the kernel's tls12_crypto_info_* struct for TLS
// 1.3: {u16 version, u16 cipher_type, iv, key, salt, rec_seq}, with the
// 12-byte IV split into salt (4) and iv (8) for AES-GCM and whole for
// ChaCha20-Poly1305.
func (k *ktlsInfo) marshal() []byte {
	b := make([]byte, 0, 64)
	b = binary.NativeEndian.AppendUint16(b, tls.VersionTLS13)
	b = binary.NativeEndian.AppendUint16(b, k.cipher)
	if k.cipher == tlsCipherChaCha20 {
		b = append(b, k.iv...) // iv[12], no salt
		b = append(b, k.key...)
	} else {
		b = append(b, k.iv[4:]...) // iv[8]
		b = append(b, k.key...)
		b = append(b, k.iv[:4]...) // salt[4]
	}
	return binary.BigEndian.AppendUint64(b, k.seq)
}

// enableKTLS hands fd's record layer to the kernel. Without the tls ULP it
// returns an error wrapping errKTLSUnavailable and leaves fd unchanged (a
// failed TCP_ULP setsockopt does not alter the socket).
func enableKTLS(fd int, tx, rx *ktlsInfo) error {
	if err := syscall.SetsockoptString(fd, syscall.IPPROTO_TCP, tcpULP, "tls"); err != nil {
		return fmt.Errorf("netpoll: ktls: TCP_ULP tls: %w (%w)", err, errKTLSUnavailable)
	}
	// From here the socket has the ULP; a failure below leaves it unusable
	// for crypto/tls too, so the caller must close it.
	if err := setsockoptBytes(fd, solTLS, tlsTX, tx.marshal()); err != nil {
		return fmt.Errorf("netpoll: ktls: TLS_TX: %w", err)
	}
	if err := setsockoptBytes(fd, solTLS, tlsRX, rx.marshal()); err != nil {
		return fmt.Errorf("netpoll: ktls: TLS_RX: %w", err)
	}
	return nil
}

func setsockoptBytes(fd, level, opt int, b []byte) error {
	return syscall.SetsockoptString(fd, level, opt, string(b))
}
