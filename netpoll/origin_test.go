package netpoll_test

import (
	"net/http"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

func TestOriginsMatch(t *testing.T) {
	o, err := netpoll.CompileOrigins([]string{"https://app.example.com", "*.example.org", "http://localhost:*", "null"})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"https://app.example.com":          true,
		"HTTPS://APP.EXAMPLE.COM":          true,
		"http://app.example.com":           false, // scheme is part of a full entry
		"https://app.example.com:444":      false,
		"https://evil.com":                 false,
		"https://app.example.com.evil.com": false,
		"https://a.example.org":            true, // host-only entry: any scheme
		"http://a.b.example.org":           true,
		"https://example.org":              false, // "*." needs a label
		"https://example.org.evil":         false,
		"https://evilexample.org":          false,
		"http://localhost:8080":            true,
		"http://localhost":                 false,
		"null":                             true,
	} {
		if got := o.Allowed([]byte(origin)); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", origin, got, want)
		}
	}
	if !raceEnabled {
		origin := []byte("https://a.b.example.org")
		if n := testing.AllocsPerRun(100, func() { o.Allowed(origin) }); n != 0 {
			t.Errorf("Allowed: %v allocs, want 0", n)
		}
	}
	if !o.Allowed(nil) {
		t.Error("a request without Origin (not a browser) must be allowed")
	}
	any, _ := netpoll.CompileOrigins(nil)
	if !any.Allowed([]byte("https://evil.com")) || !any.Any() {
		t.Error("no allowed_origins must allow any origin")
	}
	for _, bad := range []string{"", "https://a.com/", "https://a.com/path", "a.com, b.com"} {
		if _, err := netpoll.CompileOrigins([]string{bad}); err == nil {
			t.Errorf("CompileOrigins(%q) accepted", bad)
		}
	}
}

// TestOriginRefusedOverWire: a WebSocket request whose Origin is not
// allowed gets 403 before any WAMP message; an allowed one joins.
func TestOriginRefusedOverWire(t *testing.T) {
	_, _, addr := startServer(t, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0", AllowedOrigins: []string{"https://app.example.com"}}}})
	d := websocket.Dialer{Subprotocols: []string{"wamp.2.json"}}
	h := http.Header{"Origin": {"https://evil.example.net"}}
	if c, resp, err := d.Dial("ws://"+addr+"/ws", h); err == nil {
		c.Close()
		t.Fatal("disallowed origin upgraded")
	} else if resp == nil || resp.StatusCode != 403 {
		t.Fatalf("disallowed origin: %v %v, want 403", err, resp)
	}
	h = http.Header{"Origin": {"https://app.example.com"}}
	c, _, err := d.Dial("ws://"+addr+"/ws", h)
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	p := &wsPeer{t: t, c: c, f: codec.JSON}
	t.Cleanup(func() { c.Close() })
	if p.join() == 0 {
		t.Fatal("no session id")
	}
	// No Origin: not a browser, allowed.
	p2, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatalf("no Origin: %v", err)
	}
	p2.join()
}

func TestOriginConfigError(t *testing.T) {
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "realm1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0", AllowedOrigins: []string{"https://a.com/x"}}}}); err == nil {
		t.Fatal("bad allowed_origins accepted")
	}
}
