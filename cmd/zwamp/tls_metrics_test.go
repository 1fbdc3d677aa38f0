package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// TestTLSMetricsWired: serve's admin listener (startOps) exports the TLS
// listeners' handshake counters, and they move with real handshakes.
func TestTLSMetricsWired(t *testing.T) {
	dir := t.TempDir()
	pair, _ := writePair(t, dir, "zwamp.example")
	cfg := &Config{Listeners: []ListenerConfig{{Address: "127.0.0.1:0"}, {Address: "127.0.0.1:0", TLS: &TLSConfig{Cert: pair.Cert, Key: pair.Key}}},
		Admin: &AdminConfig{Address: "127.0.0.1:0"}}
	sc, err := cfg.serverConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netpoll.NewServer(r, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	o, err := startOps(cfg, r, srv, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.stop(context.Background())
	addr := srv.Addrs()[1].String()

	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "zwamp.example", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(bad, "GET / HTTP/1.1\r\n\r\n")
	_ = bad.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.Copy(io.Discard, bad)
	_ = bad.Close()

	want := []string{
		`zwamp_tls_handshakes_completed_total{listener="` + addr + `"} 1`,
		`zwamp_tls_handshakes_failed_total{listener="` + addr + `"} 1`,
		`zwamp_tls_handshakes_in_progress{listener="` + addr + `"} 0`,
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + o.admin.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w+"\n") {
				missing = w
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q:\n%s", missing, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(body, "zwamp_tls_handshakes_completed_total{"); n != 1 {
		t.Fatalf("%d listeners with TLS series, want 1 (the plain listener has none)", n)
	}
}
