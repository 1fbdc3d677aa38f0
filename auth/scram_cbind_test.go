package auth_test

import (
	"crypto/tls"
	"encoding/base64"
	"testing"

	"github.com/zwamp/zwamp/auth"
	"github.com/zwamp/zwamp/client"
	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/core"
)

// TestSCRAMChannelBinding: over TLS, a wamp-scram login bound to the
// connection (tls-exporter on TLS 1.3, tls-unique on TLS 1.2) is admitted
// and the verifier checks out; binding data from another connection, an
// AUTHENTICATE that drops the binding HELLO asked for, and an
// AUTHENTICATE that adds one HELLO did not ask for are refused; a binding
// the connection cannot provide (tls-unique on TLS 1.3, any binding
// without TLS, tls-server-end-point) is refused at HELLO.
func TestSCRAMChannelBinding(t *testing.T) {
	p := newPKI(t)
	realm := map[string]*auth.RealmConfig{"sc": {Methods: []string{"wamp-scram"},
		Principals: map[string]auth.PrincipalConfig{"alice": {Role: "user", SCRAM: must(auth.SCRAMKeysFor("alice-pw", pbkdf2Params))}}}}
	_, addr := startTLS(t, p, realm, nil)
	_, plainAddr := startTLS(t, nil, realm, nil)

	// channelData is what the client side of rp's connection sees.
	channelData := func(t *testing.T, rp *rawPeer, name string) []byte {
		cs := rp.ws.UnderlyingConn().(*tls.Conn).ConnectionState()
		if name == "tls-unique" {
			return cs.TLSUnique
		}
		ekm, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			t.Fatal(err)
		}
		return ekm
	}
	for _, c := range []struct {
		name    string
		binding string
		tls12   bool
		mangle  func(ext map[string]any, data []byte) // what the client does to its AUTHENTICATE extra
		ok      bool
	}{
		{"tls-exporter", "tls-exporter", false, nil, true},
		{"tls-unique on TLS 1.2", "tls-unique", true, nil, true},
		{"another connection's data", "tls-exporter", false, func(ext map[string]any, data []byte) {
			other := append([]byte(nil), data...)
			other[0] ^= 1
			ext["cbind_data"] = b64(other)
		}, false},
		{"binding dropped", "tls-exporter", false, func(ext map[string]any, _ []byte) {
			ext["channel_binding"], ext["cbind_data"] = nil, nil
		}, false},
		{"binding added", "", false, func(ext map[string]any, _ []byte) {
			ext["channel_binding"], ext["cbind_data"] = "tls-exporter", b64([]byte("x"))
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1"}
			if c.tls12 {
				tc.MaxVersion = tls.VersionTLS12
			}
			rp := dialRaw(t, "wss://"+addr+"/ws", tc, nil)
			sc := auth.NewSCRAMClient("alice", "alice-pw")
			var data []byte
			if c.binding != "" {
				data = channelData(t, rp, c.binding)
				sc.ChannelBinding, sc.CBindData = c.binding, data
			}
			rp.hello("sc", map[string]any{"authid": "alice", "authmethods": []any{"wamp-scram"}, "authextra": sc.AuthExtra()})
			ch := rp.recv()
			if msgType(ch) != codec.CHALLENGE {
				t.Fatalf("want CHALLENGE, got %v", ch)
			}
			extra := ch[2].(map[string]any)
			if cb, _ := extra["channel_binding"].(string); cb != c.binding {
				t.Fatalf("CHALLENGE channel_binding %v, want %q", extra["channel_binding"], c.binding)
			}
			sig, ext, err := sc.Authenticate(auth.MethodSCRAM, extra)
			if err != nil {
				t.Fatal(err)
			}
			if c.mangle != nil {
				c.mangle(ext, data)
			}
			rp.send(5, sig, ext)
			m := rp.recv()
			if !c.ok {
				if msgType(m) != codec.ABORT || m[2] != core.ErrAuthenticationFailed {
					t.Fatalf("want ABORT %s, got %v", core.ErrAuthenticationFailed, m)
				}
				return
			}
			if msgType(m) != codec.WELCOME {
				t.Fatalf("want WELCOME, got %v", m)
			}
			if !sc.VerifyServer(m[2].(map[string]any)) {
				t.Fatalf("verifier does not check out: %v", m[2])
			}
		})
	}
	for _, c := range []struct {
		name, url, binding string
		tls13              bool
	}{
		{"tls-unique on TLS 1.3", "wss://" + addr + "/ws", "tls-unique", true},
		{"tls-server-end-point", "wss://" + addr + "/ws", "tls-server-end-point", true},
		{"without TLS", "ws://" + plainAddr + "/ws", "tls-exporter", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tc *tls.Config
			if c.tls13 {
				tc = &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
			}
			rp := dialRaw(t, c.url, tc, nil)
			sc := auth.NewSCRAMClient("alice", "alice-pw")
			sc.ChannelBinding = c.binding
			rp.hello("sc", map[string]any{"authid": "alice", "authmethods": []any{"wamp-scram"}, "authextra": sc.AuthExtra()})
			if m := rp.recv(); msgType(m) != codec.ABORT || m[2] != core.ErrAuthenticationFailed {
				t.Fatalf("want ABORT %s, got %v", core.ErrAuthenticationFailed, m)
			}
		})
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestSCRAMChannelBindingClient: the Go client binds a wamp-scram login
// to its connection through Config.TLSHandshake (SCRAMClient.Config sets
// it): tls-exporter on TLS 1.3 and tls-unique on TLS 1.2 are admitted
// with the verifier checking out; tls-unique on TLS 1.3, which the
// connection cannot provide, is refused.
func TestSCRAMChannelBindingClient(t *testing.T) {
	p := newPKI(t)
	_, addr := startTLS(t, p, map[string]*auth.RealmConfig{"sc": {Methods: []string{"wamp-scram"},
		Principals: map[string]auth.PrincipalConfig{"alice": {Role: "user", SCRAM: must(auth.SCRAMKeysFor("alice-pw", pbkdf2Params))}}}}, nil)
	tr := &testRouter{url: "wss://" + addr + "/ws"}
	for _, c := range []struct {
		binding string
		max     uint16
		ok      bool
	}{{"tls-exporter", 0, true}, {"tls-unique", tls.VersionTLS12, true}, {"tls-unique", 0, false}} {
		sc := auth.NewSCRAMClient("alice", "alice-pw")
		sc.ChannelBinding = c.binding
		cfg := sc.Config(client.Config{Realm: "sc", TLSConfig: &tls.Config{RootCAs: p.pool, ServerName: "127.0.0.1", MaxVersion: c.max}})
		if !c.ok {
			tr.refused(t, cfg, core.ErrAuthenticationFailed)
			continue
		}
		cl := tr.ok(t, cfg, "alice", "user", "wamp-scram", "static")
		if len(sc.CBindData) == 0 || !sc.VerifyServer(cl.Details()) {
			t.Fatalf("%s: binding data %x, verifier check failed or missing: %v", c.binding, sc.CBindData, cl.Details())
		}
	}
}
