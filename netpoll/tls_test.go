package netpoll_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
)

// seen records what a client's handshakes saw.
type seen struct {
	mu     sync.Mutex
	states []tls.ConnectionState
}

func (s *seen) verify(cs tls.ConnectionState) error {
	s.mu.Lock()
	s.states = append(s.states, cs)
	s.mu.Unlock()
	return nil
}

func (s *seen) last(t testing.TB) tls.ConnectionState {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.states) == 0 {
		t.Fatal("no TLS handshake seen")
	}
	return s.states[len(s.states)-1]
}

func clientTLS(pool *x509.CertPool, sn string, version uint16, s *seen) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: sn, MinVersion: version, MaxVersion: version,
		VerifyConnection: s.verify, NextProtos: []string{"http/1.1"}}
}

func connectTLS(t testing.TB, url string, f codec.Format, cfg *tls.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, url, client.Config{Realm: "realm1", Serializer: f, TLSConfig: cfg})
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echoOver registers an echo procedure on one session and calls it from
// another, with payloads from a few bytes to several TLS records.
func echoOver(t *testing.T, callee, caller *client.Client, proc string) {
	t.Helper()
	_, err := callee.Register(proc, func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 1000, 16 << 10, 100 << 10} {
		want := bytes.Repeat([]byte{'z'}, n)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := caller.Call(ctx, proc, []any{string(want)}, nil, nil)
		cancel()
		if err != nil {
			t.Fatalf("call with %d bytes: %v", n, err)
		}
		if got, _ := res.Args[0].(string); got != string(want) {
			t.Fatalf("call with %d bytes: answer of %d bytes differs", n, len(got))
		}
	}
}

// TestTLSRoundTrips runs WAMP over wss:// and rss:// through a TLS
// universal listener (handshake on a goroutine, records on nbio) with TLS
// 1.2 and 1.3 and each serializer, and checks the negotiated version and
// ALPN.
func TestTLSRoundTrips(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	_, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{
		{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}},
	}})
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, scheme := range []string{"wss", "rss"} {
			for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
				name := fmt.Sprintf("%s/%s/%s", tls.VersionName(version), scheme, f)
				t.Run(name, func(t *testing.T) {
					var s seen
					url := scheme + "://" + addr
					a := connectTLS(t, url, f, clientTLS(pool, "", version, &s))
					cs := s.last(t)
					if cs.Version != version {
						t.Fatalf("negotiated %s, want %s", tls.VersionName(cs.Version), tls.VersionName(version))
					}
					if scheme == "wss" && cs.NegotiatedProtocol != "http/1.1" {
						t.Fatalf("ALPN %q, want http/1.1", cs.NegotiatedProtocol)
					}
					b := connectTLS(t, url, f, clientTLS(pool, "", version, &s))
					echoOver(t, a, b, "com.example.echo."+fmt.Sprint(version)+scheme+f.String())
					// Events both ways.
					got := make(chan []any, 4)
					if _, err := a.Subscribe("com.example.t", func(ev *client.Event) { got <- ev.Args }, nil); err != nil {
						t.Fatal(err)
					}
					if err := b.Publish("com.example.t", []any{"hi"}, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
						t.Fatal(err)
					}
					select {
					case args := <-got:
						if len(args) != 1 || args[0] != "hi" {
							t.Fatalf("event args %v", args)
						}
					case <-time.After(10 * time.Second):
						t.Fatal("no event")
					}
				})
			}
		}
	}
}

// slowConn writes one byte at a time once slow is set, so that the router
// receives TLS records in pieces across many reads.
type slowConn struct {
	net.Conn
	slow atomic.Bool
}

func (s *slowConn) Write(p []byte) (int, error) {
	if !s.slow.Load() {
		return s.Conn.Write(p)
	}
	for i := range p {
		if _, err := s.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		if i%7 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	return len(p), nil
}

// TestTLSRecordsSplitAnywhere sends the WebSocket upgrade and the WAMP
// messages after the handshake one byte per write: crypto/tls on nbio must
// resume a partial record on the next read (rawConn's temporary error is
// not sticky). Breaking that contract (a permanent error from rawConn)
// fails the connection.
func TestTLSRecordsSplitAnywhere(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	_, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{
		{Addr: "127.0.0.1:0", Kind: netpoll.WebSocket, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}},
	}})
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.(*net.TCPConn).SetNoDelay(true)
			sc := &slowConn{Conn: raw}
			tc := tls.Client(sc, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: version, MaxVersion: version})
			_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			sc.slow.Store(true)
			req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
			if _, err := tc.Write([]byte(req)); err != nil {
				t.Fatal(err)
			}
			resp := make([]byte, 4096)
			n, err := tc.Read(resp)
			if err != nil || !bytes.HasPrefix(resp[:n], []byte("HTTP/1.1 101")) {
				t.Fatalf("upgrade answer %q, %v", resp[:n], err)
			}
			hello := `[1,"realm1",{"roles":{"subscriber":{}}}]`
			frame := append([]byte{0x81, 0x80 | byte(len(hello)), 1, 2, 3, 4}, hello...)
			for i := range hello {
				frame[6+i] ^= []byte{1, 2, 3, 4}[i%4]
			}
			// Two copies in one write: the second a protocol violation
			// would show up as an ABORT; one is enough to see WELCOME.
			if _, err := tc.Write(frame); err != nil {
				t.Fatal(err)
			}
			n, err = io.ReadAtLeast(tc, resp, 2)
			if err != nil {
				t.Fatal(err)
			}
			if resp[0] != 0x81 || !bytes.Contains(resp[:n], []byte("[2,")) {
				t.Fatalf("want WELCOME, got %q", resp[:n])
			}
		})
	}
}

// TestTLSSNI serves two certificates on one listener and checks that each
// server name gets its own.
func TestTLSSNI(t *testing.T) {
	certA, leafA := testcert.New(t, "a", "a.example")
	certB, leafB := testcert.New(t, "b", "b.example")
	pool := x509.NewCertPool()
	pool.AddCert(leafA)
	pool.AddCert(leafB)
	_, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{
		{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{certA, certB}}},
	}})
	for _, tc := range []struct {
		name string
		want *x509.Certificate
	}{{"a.example", leafA}, {"b.example", leafB}} {
		var s seen
		connectTLS(t, "wss://"+addr, codec.JSON, clientTLS(pool, tc.name, 0, &s))
		cs := s.last(t)
		if !cs.PeerCertificates[0].Equal(tc.want) {
			t.Fatalf("server name %s got the certificate for %v", tc.name, cs.PeerCertificates[0].DNSNames)
		}
	}
}

// TestTLSReload replaces the certificate while a session is subscribed:
// new handshakes get the new certificate, the established session keeps
// receiving events, and a client resumes its earlier TLS session with a
// ticket across the reload.
func TestTLSReload(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			cert1, leaf1 := testcert.New(t, "one", "zwamp.example")
			cert2, leaf2 := testcert.New(t, "two", "zwamp.example")
			pool := x509.NewCertPool()
			pool.AddCert(leaf1)
			pool.AddCert(leaf2)
			srv, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{
				{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert1}}},
			}})
			cache := tls.NewLRUClientSessionCache(4)
			var s seen
			cfg := clientTLS(pool, "zwamp.example", version, &s)
			cfg.ClientSessionCache = cache
			sub := connectTLS(t, "wss://"+addr, codec.JSON, cfg)
			if !s.last(t).PeerCertificates[0].Equal(leaf1) {
				t.Fatal("first session: not the first certificate")
			}
			got := make(chan []any, 4)
			if _, err := sub.Subscribe("com.example.reload", func(ev *client.Event) { got <- ev.Args }, nil); err != nil {
				t.Fatal(err)
			}

			if err := srv.ReloadTLS(0, &tls.Config{Certificates: []tls.Certificate{cert2}}); err != nil {
				t.Fatal(err)
			}
			if err := srv.ReloadTLS(1, &tls.Config{}); err == nil {
				t.Fatal("reload of a listener that does not exist accepted")
			}

			// A fresh client (no ticket) sees the new certificate.
			var s2 seen
			pub := connectTLS(t, "wss://"+addr, codec.JSON, clientTLS(pool, "zwamp.example", version, &s2))
			if cs := s2.last(t); !cs.PeerCertificates[0].Equal(leaf2) || cs.DidResume {
				t.Fatalf("after reload: resumed %v, certificate %v", cs.DidResume, cs.PeerCertificates[0].Subject)
			}
			// The established session still works.
			if err := pub.Publish("com.example.reload", []any{"after"}, nil, &client.PublishOptions{Acknowledge: true}); err != nil {
				t.Fatal(err)
			}
			select {
			case args := <-got:
				if args[0] != "after" {
					t.Fatalf("event %v", args)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the session established before the reload got no event")
			}
			// The first client resumes with its ticket.
			connectTLS(t, "wss://"+addr, codec.JSON, cfg)
			if !s.last(t).DidResume {
				t.Fatal("no resumption across the reload")
			}
			if st := srv.TLSStats(); st.Resumed < 1 || st.Handshakes < 3 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestTLSHandshakeBound stalls handshakes (TCP connections that never send
// a ClientHello) up to both bounds: the next one from the same address,
// and the next one from another address once the overall bound is
// reached, are closed at once, and an established session's calls go on
// meanwhile (its messages never wait behind a handshake).
func TestTLSHandshakeBound(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	srv, _, addr := startServer(t, netpoll.Config{
		Listeners:             []netpoll.Listener{{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}},
		HandshakeTimeout:      time.Minute, // the stalled ones must outlive the test
		MaxTLSHandshakes:      8,
		MaxTLSHandshakesPerIP: 4,
	})
	var s seen
	callee := connectTLS(t, "wss://"+addr, codec.JSON, clientTLS(pool, "", 0, &s))
	caller := connectTLS(t, "wss://"+addr, codec.JSON, clientTLS(pool, "", 0, &s))
	if _, err := callee.Register("com.example.ping", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
		return &client.Result{Args: inv.Args}, nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	dialFrom := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// closedSoon reports whether the router closed c within a few seconds
	// (a stalled handshake would hold it for HandshakeTimeout).
	closedSoon := func(c net.Conn) bool {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF || (err != nil && !isTimeout(err))
	}
	waitInProgress := func(n int64) {
		t.Helper()
		waitFor(t, func() bool { return srv.TLSStats().InProgress == n })
	}
	for i := 0; i < 4; i++ {
		dialFrom("127.0.0.1")
	}
	waitInProgress(4)
	if !closedSoon(dialFrom("127.0.0.1")) {
		t.Fatal("a fifth handshake from one address was not refused")
	}
	for i := 0; i < 4; i++ {
		dialFrom("127.0.0.2")
	}
	waitInProgress(8)
	if !closedSoon(dialFrom("127.0.0.3")) {
		t.Fatal("a handshake over the overall bound was not refused")
	}
	st := srv.TLSStats()
	if st.Refused != 2 || st.RefusedPerIP != 1 || st.InProgress != 8 {
		t.Fatalf("stats %+v", st)
	}
	// The established session is served while 8 handshakes stall.
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := caller.Call(ctx, "com.example.ping", []any{i}, nil, nil)
		cancel()
		if err != nil {
			t.Fatalf("call %d during the stalled handshakes: %v", i, err)
		}
		if toUint(res.Args[0]) != uint64(i) {
			t.Fatalf("call %d: %v", i, res.Args)
		}
	}
	if st := srv.TLSStats(); st.InProgress != 8 {
		t.Fatalf("stalled handshakes ended early: %+v", st)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestTLSHandshakeTimeout: a connection that never completes its TLS
// handshake is closed after Config.HandshakeTimeout and counted.
func TestTLSHandshakeTimeout(t *testing.T) {
	cert, _ := testcert.New(t, "zwamp test")
	srv, _, addr := startServer(t, netpoll.Config{
		Listeners:        []netpoll.Listener{{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}},
		HandshakeTimeout: 300 * time.Millisecond,
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello, then nothing
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("stalled handshake not closed: %v", err)
	}
	waitFor(t, func() bool { st := srv.TLSStats(); return st.Failures == 1 && st.InProgress == 0 })
}
