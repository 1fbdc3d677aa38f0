package netpoll_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/internal/alloctest"
	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
	"github.com/zwamp/zwamp/netpoll/ws"
)

// newTLSWireClient is newWireClient over TLS: the WebSocket or RawSocket
// handshake runs over a crypto/tls client connection.
func newTLSWireClient(t testing.TB, addr string, raw bool, f codec.Format, pool *x509.CertPool) *wireClient {
	t.Helper()
	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tc.Close() })
	_ = tc.SetDeadline(time.Now().Add(time.Minute))
	buf := make([]byte, 4096)
	if raw {
		_, _ = tc.Write(rawsocket.AppendHandshake(nil, rawsocket.Handshake{Serializer: rsSerializer[f], LengthExp: 15}))
		if _, err := tc.Read(buf[:4]); err != nil || buf[0] != rawsocket.Magic {
			t.Fatalf("rawsocket handshake: %x %v", buf[:4], err)
		}
	} else {
		hs := ws.ClientHandshake{Host: addr, Protocols: []string{f.Subprotocol()}, Nonce: [16]byte{1, 2, 3}}
		_, _ = tc.Write(hs.AppendRequest(nil))
		for {
			n, err := tc.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			res, _, err := hs.Feed(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
			if res != nil {
				break
			}
		}
		hs.Release()
	}
	return &wireClient{t: t, c: tc, f: f, cd: codec.ByFormat(f), raw: raw,
		msg: make([]byte, 0, 4096), out: make([]byte, 0, 64<<10), in: make([]byte, 256<<10)}
}

// TestAllocsTLSPublish: PUBLISH → EVENT over TLS (crypto/tls on nbio in
// the router, crypto/tls in the clients), 8 PUBLISHes per write, 10
// subscribers. Not zero: crypto/tls allocates one 24-byte atLeastReader
// each time a Read must pull bytes from the socket (conn.go,
// readFromUntil), in the router once per OnData and in each client once
// per read. The bound (3 per PUBLISH, i.e. per 11 messages) holds only if
// nothing allocates per message: one allocation per EVENT alone would be
// 10 per PUBLISH.
func TestAllocsTLSPublish(t *testing.T) {
	cert, leaf := testcert.New(t, "zwamp test")
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, raw := range []bool{false, true} {
		for _, f := range []codec.Format{codec.JSON, codec.MsgPack, codec.CBOR} {
			name := map[bool]string{false: "wss", true: "rss"}[raw] + "/" + f.String()
			t.Run(name, func(t *testing.T) {
				_, _, addr := startServer(t, netpoll.Config{PingInterval: -1, Listeners: []netpoll.Listener{
					{Addr: "127.0.0.1:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}})
				subs := make([]*wireClient, 10)
				for i := range subs {
					subs[i] = newTLSWireClient(t, addr, raw, f, pool)
					subs[i].join()
					subs[i].subscribe("com.myapp.topic1")
				}
				pub := newTLSWireClient(t, addr, raw, f, pool)
				pub.join()
				alloctest.AtMost(t, "PUBLISH → EVENT over TLS", 10000, 30000,
					"crypto/tls's atLeastReader, one per socket read in the router and in every client",
					publishOp(t, pub, subs, 8))
			})
		}
	}
}
