package netpoll_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
)

// TestTLSIdleMemory opens ZWAMP_TLS_MEM idle subscribed wss:// sessions
// (hand-rolled clients: TLS 1.3 as Go's client offers it, WebSocket
// upgrade, HELLO, SUBSCRIBE) and reports the live heap per session, with a
// heap profile in ZWAMP_TLS_MEM_PROFILE if set (look at the server's side
// with `go tool pprof -sample_index=inuse_space -focus 'netpoll\.'`). It
// is a measurement, not a check: skipped unless ZWAMP_TLS_MEM is set.
// Clients live in this process too, so the HeapAlloc figure is both
// sides; the profile separates them.
func TestTLSIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZWAMP_TLS_MEM"))
	if n <= 0 {
		t.Skip("set ZWAMP_TLS_MEM=N to measure N idle wss sessions")
	}
	cert, _ := testcert.New(t, "zwamp test")
	kind := netpoll.Universal
	scheme := os.Getenv("ZWAMP_TLS_MEM_PLAIN") // "1": ws:// for comparison
	var tcfg *tls.Config
	if scheme != "1" {
		tcfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	_, _, addr := startServer(t, netpoll.Config{
		Listeners:    []netpoll.Listener{{Addr: "127.0.0.1:0", Kind: kind, TLS: tcfg}},
		PingInterval: -1,
	})
	open := func(i int) net.Conn {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(i%200+1))}, Timeout: 30 * time.Second}
		raw, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		var c net.Conn = raw
		if tcfg != nil {
			tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			c = tc
		}
		req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReaderSize(c, 512)
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
			frame := append([]byte{0x81, 0x80 | byte(len(msg)), 0, 0, 0, 0}, msg...)
			if _, err := c.Write(frame); err != nil {
				t.Fatal(err)
			}
			hdr := make([]byte, 2)
			if _, err := io.ReadFull(br, hdr); err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(io.Discard, br, int64(hdr[1]&0x7f)); err != nil {
				t.Fatal(err)
			}
		}
		send(`[1,"realm1",{"roles":{"subscriber":{}}}]`)
		send(fmt.Sprintf(`[32,1,{},"com.example.idle.%d"]`, i%100))
		return c
	}
	// Warm up (pools, the router's realm), then measure.
	conns := []net.Conn{open(0)}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 1; i <= n; i++ {
		conns = append(conns, open(i))
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d idle sessions (tls %v): live heap %d B per session (client and server), %d goroutines",
		n, tcfg != nil, (int64(after.HeapAlloc)-int64(before.HeapAlloc))/int64(n), runtime.NumGoroutine())
	if p := os.Getenv("ZWAMP_TLS_MEM_PROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}
