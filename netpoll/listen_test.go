package netpoll_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
	"github.com/zwamp/zwamp/netpoll/rawsocket"
)

func newServer(t *testing.T, cfg netpoll.Config) *netpoll.Server {
	t.Helper()
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := netpoll.NewServer(r, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStartFailsWhenPortInUse: the second listener's port is taken, so
// Start fails at once with an error naming that listener, and the first
// listener (bound before it) is closed again.
func TestStartFailsWhenPortInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()

	s := newServer(t, netpoll.Config{Listeners: []netpoll.Listener{
		{Addr: freeAddr},
		{Addr: held.Addr().String(), Kind: netpoll.RawSocket},
	}})
	done := make(chan error, 1)
	go func() { done <- s.Start() }()
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return")
	}
	if err == nil {
		t.Fatal("Start succeeded on a port in use")
	}
	msg := err.Error()
	if !strings.Contains(msg, "listener 1 (rawsocket tcp "+held.Addr().String()+")") || !strings.Contains(msg, "address already in use") {
		t.Fatalf("error does not name the listener and cause: %q", msg)
	}
	// Nothing half-started: the first listener's port is free again.
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Fatalf("first listener left open: %v", err)
	}
	ln.Close()
	// Shutdown after a failed Start returns at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStartThenShutdownAtOnce: Shutdown right after Start must not hang.
// Before Start waited for nbio's pollers to enter their loops, a Stop that
// came first was lost and the poller spun forever (see listen.go).
func TestStartThenShutdownAtOnce(t *testing.T) {
	for i := 0; i < 30; i++ {
		s := newServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}, Pollers: 2})
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

func TestUnixSocketPathProblems(t *testing.T) {
	dir := t.TempDir()
	start := func(path string) error {
		s := newServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Network: "unix", Addr: path, Kind: netpoll.RawSocket}}})
		err := s.Start()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
		}
		return err
	}

	t.Run("regular file is not replaced", func(t *testing.T) {
		path := dir + "/notasocket"
		if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := start(path)
		if err == nil || !strings.Contains(err.Error(), "is not a socket") {
			t.Fatalf("want 'is not a socket', got %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Fatal("the file was replaced")
		}
	})
	t.Run("live socket", func(t *testing.T) {
		path := dir + "/live.sock"
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		err = start(path)
		if err == nil || !strings.Contains(err.Error(), "another process is serving") {
			t.Fatalf("want 'another process is serving', got %v", err)
		}
	})
	t.Run("stale socket is replaced", func(t *testing.T) {
		path := dir + "/stale.sock"
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		if err := start(path); err != nil {
			t.Fatalf("stale socket: %v", err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		err := start(dir + "/no/such/dir/z.sock")
		if err == nil || !strings.Contains(err.Error(), "no such file or directory") {
			t.Fatalf("want 'no such file or directory', got %v", err)
		}
	})
	t.Run("path too long", func(t *testing.T) {
		err := start(dir + "/" + strings.Repeat("x", 120))
		if err == nil || !strings.Contains(err.Error(), "the limit is 107") {
			t.Fatalf("want the length limit, got %v", err)
		}
	})
}

// TestMaxConnsPerIP: the connection over the per-address limit is closed
// at accept and counted; the others keep working, and a slot freed by a
// close is available again.
func TestMaxConnsPerIP(t *testing.T) {
	s, _, addr := startServer(t, netpoll.Config{MaxConnsPerIP: 3})
	var peers []*rsPeer
	for i := 0; i < 3; i++ {
		p := dialRS(t, "tcp", addr, rawsocket.JSON, codec.JSON)
		p.join()
		peers = append(peers, p)
	}
	refused := func() {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write(rawsocket.AppendHandshake(nil, rawsocket.Handshake{Serializer: rawsocket.JSON, LengthExp: 15}))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [4]byte
		if n, err := io.ReadFull(c, b[:]); err == nil || n != 0 {
			t.Fatalf("connection over the limit was served: %d bytes, %v", n, err)
		}
	}
	refused()
	refused()
	if got := s.Stats().RefusedPerIP; got != 2 {
		t.Fatalf("RefusedPerIP = %d, want 2", got)
	}
	// The admitted sessions still work.
	for _, p := range peers {
		p.send(codec.SUBSCRIBE, 1, map[string]any{}, "com.example.t")
		p.expect(codec.SUBSCRIBED)
	}
	// Closing one frees its slot.
	peers[0].c.Close()
	waitFor(t, func() bool { return s.Stats().Conns == 2 })
	p := dialRS(t, "tcp", addr, rawsocket.JSON, codec.JSON)
	p.join()
}

// lockedBuf is a goroutine-safe log sink.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefusalsLoggedAggregated: 200 connections refused by the per-address
// limit make one full log line and one summary with the count.
func TestRefusalsLoggedAggregated(t *testing.T) {
	var buf lockedBuf
	log := slog.New(slog.NewTextHandler(&buf, nil))
	s := newServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}, MaxConnsPerIP: 1, Logger: log, LogInterval: time.Hour})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addrs()[0].String()
	p := dialRS(t, "tcp", addr, rawsocket.JSON, codec.JSON)
	p.join()
	for i := 0; i < 200; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Read(make([]byte, 1)) // EOF once refused
		c.Close()
	}
	waitFor(t, func() bool { return s.Stats().RefusedPerIP == 200 })
	p.c.Close()
	waitFor(t, func() bool { return s.Stats().Conns == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.Contains(l, "too many connections from one address") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[1], "repeated=199 total=200") {
		t.Fatalf("want one full line and one summary of 199, got %q", lines)
	}
}
