package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/internal/testcert"
	"github.com/zwamp/zwamp/netpoll"
)

// TestTLSTargets runs pubsub, rpc and conns over wss:// and rss:// against
// the real stack with a TLS universal listener.
func TestTLSTargets(t *testing.T) {
	cert, _ := testcert.New(t, "bench")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s, err := netpoll.NewServer(r, netpoll.Config{Logger: log, Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0",
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	}()
	addr := s.Addrs()[0].String()
	for _, c := range [][]string{
		{"pubsub", "--url", "wss://" + addr + "/ws", "--count", "500", "--subscribers", "2"},
		{"rpc", "--url", "rss://" + addr, "--serializer", "cbor", "--count", "500", "--callers", "2"},
		{"conns", "--url", "wss://" + addr + "/ws", "--sessions", "50", "--events", "2"},
	} {
		var out, errOut bytes.Buffer
		if code := Main(append(c, "--quiet"), &out, &errOut); code != 0 {
			t.Fatalf("%q: exit %d: %s", c, code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var res Result
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if !res.Complete || res.Lost != 0 || res.Errors != 0 {
			t.Fatalf("%q: %s", c, lines[len(lines)-1])
		}
	}
	if st := s.TLSStats(); st.Handshakes < 50 {
		t.Fatalf("only %d TLS handshakes: the runs did not go over TLS", st.Handshakes)
	}
}
