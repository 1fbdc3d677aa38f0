package netpoll

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/testcert"
)

// TestTLSBufferFields: the crypto/tls fields tls_buffers.go reaches are
// where it expects them. A Go release that renames or retypes them turns
// the mechanism off (idle TLS sessions then keep ~3.5 KB more each); this
// test makes that visible.
func TestTLSBufferFields(t *testing.T) {
	if !tlsBufs.ok {
		t.Fatalf("crypto/tls.Conn no longer has rawInput, input (bytes.Reader) and hand (bytes.Buffer): %+v", tlsBufs)
	}
}

// holdConn sends the first `keep` bytes of the next write and holds the
// rest until release: the router then has a partial TLS record.
type holdConn struct {
	net.Conn
	mu   sync.Mutex
	keep int // > 0: armed
	rest []byte
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	keep := h.keep
	h.keep = 0
	h.mu.Unlock()
	if keep == 0 || keep >= len(p) {
		return h.Conn.Write(p)
	}
	if _, err := h.Conn.Write(p[:keep]); err != nil {
		return 0, err
	}
	h.mu.Lock()
	h.rest = append([]byte(nil), p[keep:]...)
	h.mu.Unlock()
	return len(p), nil
}

func (h *holdConn) release() error {
	h.mu.Lock()
	rest := h.rest
	h.rest = nil
	h.mu.Unlock()
	_, err := h.Conn.Write(rest)
	return err
}

// TestTLSBuffersBorrowed: an idle TLS session on nbio holds no input
// buffer of crypto/tls (rawInput and hand empty with no backing array,
// nothing lent), a partial record keeps its buffer until the record
// completes, and the connection works throughout.
func TestTLSBuffersBorrowed(t *testing.T) {
	if !tlsBufs.ok {
		t.Skip("crypto/tls fields not found (TestTLSBufferFields)")
	}
	cert, _ := testcert.New(t, "zwamp test")
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(r, Config{PingInterval: -1, Listeners: []Listener{
		{Addr: "127.0.0.1:0", Kind: WebSocket, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	raw, err := net.Dial("tcp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	hc := &holdConn{Conn: raw}
	tc := tls.Client(hc, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(tc)
	_, _ = io.WriteString(tc, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp.2.json\r\n\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\r\n" {
			break
		}
	}
	send := func(msg string) {
		t.Helper()
		frame := append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)
		if _, err := tc.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(want byte) {
		t.Helper()
		hdr := make([]byte, 2)
		if _, err := io.ReadFull(br, hdr); err != nil {
			t.Fatal(err)
		}
		n := int(hdr[1] & 0x7f)
		if n == 126 {
			ext := make([]byte, 2)
			if _, err := io.ReadFull(br, ext); err != nil {
				t.Fatal(err)
			}
			n = int(ext[0])<<8 | int(ext[1])
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		if len(body) < 2 || body[1] != want {
			t.Fatalf("got %q, want message type %c", body, want)
		}
	}
	send(`[1,"realm1",{"roles":{"subscriber":{}}}]`)
	recv('2') // WELCOME

	var c *conn
	s.mu.Lock()
	for k := range s.conns {
		c = k
	}
	s.mu.Unlock()
	if c == nil || c.tls == nil {
		t.Fatal("no TLS conn on the server")
	}
	// bufs returns rawInput's length and capacity, hand's capacity and
	// whether a pooled buffer is lent, read as the poller would (t.mu).
	bufs := func() (rawLen, rawCap, handCap int, lent bool) {
		c.tls.mu.Lock()
		defer c.tls.mu.Unlock()
		r := tlsRawInput(c.tls.tc)
		return r.Len(), r.Cap(), tlsHand(c.tls.tc).Cap(), c.tls.box != nil
	}
	idle := func(when string) {
		t.Helper()
		if rl, rc, hc, lent := bufs(); rl != 0 || rc != 0 || hc != 0 || lent {
			t.Fatalf("%s: rawInput len %d cap %d, hand cap %d, lent %v; want no buffer at all", when, rl, rc, hc, lent)
		}
	}
	idle("after WELCOME")

	// A SUBSCRIBE whose record arrives in two pieces.
	hc.mu.Lock()
	hc.keep = 9 // the record header and 4 bytes of the record
	hc.mu.Unlock()
	send(`[32,1,{},"com.example.topic"]`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rl, rc, _, lent := bufs(); rl == 9 {
			// Held in a buffer sized to it, not in a lent 18 KiB one.
			if lent || rc > 1024 {
				t.Fatalf("partial record of 9 bytes held in a buffer of %d (lent %v)", rc, lent)
			}
			break
		}
		if time.Now().After(deadline) {
			rl, rc, _, lent := bufs()
			t.Fatalf("partial record not held: rawInput len %d cap %d lent %v", rl, rc, lent)
		}
		time.Sleep(time.Millisecond)
	}
	if err := hc.release(); err != nil {
		t.Fatal(err)
	}
	recv('3') // SUBSCRIBED (33)
	idle("after SUBSCRIBED")
}
