package interop

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/zwamp/zwamp/codec/json" // the page speaks wamp.2.json
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// TestBrowserOrigin: headless Chromium loads browser/origin.html from two
// origins; the router's listener allows only the first. The page from the
// allowed origin joins; the other's WebSocket upgrade is refused (HTTP 403,
// which the page sees as a failed connection, close code 1006) and no
// session is ever opened for it.
func TestBrowserOrigin(t *testing.T) {
	t.Parallel()
	need(t, "chromium")
	slot(t)
	allowedRes := make(chan []byte, 1)
	otherRes := make(chan []byte, 1)
	allowed := serveOriginPage(t, allowedRes)
	other := serveOriginPage(t, otherRes)

	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{{
		Addr: "127.0.0.1:0", Kind: netpoll.WebSocket, AllowedOrigins: []string{allowed},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	wsURL := "ws://" + srv.Addrs()[0].String() + "/ws"

	for _, tc := range []struct {
		name    string
		page    string
		results chan []byte
		joins   bool
	}{{"allowed", allowed, allowedRes, true}, {"other", other, otherRes, false}} {
		profile := t.TempDir()
		q := url.Values{"url": {wsURL}}
		chrome := startClient(t, "chromium "+tc.name, []string{chromiumBin,
			"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
			"--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic",
			"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
			"--user-data-dir=" + profile, tc.page + "/?" + q.Encode()})
		var out map[string]any
		select {
		case b := <-tc.results:
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s: page result %q: %v", tc.name, b, err)
			}
		case <-chrome.exited:
			chrome.fail("exited (%v) before the page reported", chrome.waitErr)
		case <-time.After(clientTimeout):
			chrome.fail("page did not report within %v", clientTimeout)
		}
		if out["origin"] != tc.page {
			t.Fatalf("%s: page origin %v, want %s", tc.name, out["origin"], tc.page)
		}
		if tc.joins {
			if out["opened"] != true || out["welcome"] != true || out["session_positive"] != true {
				t.Fatalf("allowed origin: %v, want opened and WELCOME", out)
			}
			if out["close_code"] != float64(1000) {
				t.Fatalf("allowed origin: close code %v, want 1000 after GOODBYE", out["close_code"])
			}
		} else if out["opened"] != false || out["welcome"] != false || out["close_code"] != float64(1006) {
			t.Fatalf("other origin: %v, want no connection (close code 1006)", out)
		}
	}
	// One refused handshake (Chromium does not retry), and only the allowed
	// page ever had a session.
	if st := srv.Stats(); st.HandshakeFailures != 1 {
		t.Fatalf("handshake failures %d, want 1 (the other origin's)", st.HandshakeFailures)
	}
}

// serveOriginPage serves browser/origin.html on a fresh loopback port and
// returns its origin (http://127.0.0.1:port).
func serveOriginPage(t *testing.T, results chan<- []byte) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join("browser", "origin.html"))
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case results <- b:
		default:
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
