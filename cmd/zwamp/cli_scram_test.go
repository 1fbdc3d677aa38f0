package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zwamp/zwamp/core"
	"github.com/zwamp/zwamp/netpoll"
)

// rogueSCRAM admits anyone with wamp-scram but cannot prove it knows the
// password: the verifier it sends is made up.
type rogueSCRAM struct{}

func (rogueSCRAM) Method() string { return "wamp-scram" }

func (rogueSCRAM) Authenticate(*core.Hello) (core.Identity, *core.AuthError) {
	panic("a Challenger")
}

func (rogueSCRAM) Begin(h *core.Hello) (*core.Challenge, core.Identity, *core.AuthError) {
	nonce, _ := h.AuthExtra["nonce"].(string)
	return &core.Challenge{Extra: map[string]any{"nonce": nonce + "c2VydmVy", "salt": "c2FsdHNhbHRzYWx0c2FsdA==",
		"kdf": "pbkdf2", "iterations": 4096, "memory": nil}}, core.Identity{}, nil
}

func (rogueSCRAM) Verify(h *core.Hello, _ *core.Challenge, _ *core.Authenticate) (core.Identity, *core.AuthError) {
	return core.Identity{AuthID: h.AuthID, AuthRole: "user", AuthMethod: "wamp-scram", AuthProvider: "rogue",
		AuthExtra: map[string]any{"verifier": "bm90IHRoZSByaWdodCBwcm9vZg=="}}, nil
}

// TestCLISCRAMChecksRouter: `zwamp join` with --password refuses a router
// that admits the login but whose verifier does not match the password
// (wamp-scram's mutual authentication), exit 1.
func TestCLISCRAMChecksRouter(t *testing.T) {
	r, err := core.NewRouter(core.Config{Realms: []core.RealmConfig{{Name: "r", Authenticators: []core.Authenticator{rogueSCRAM{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	srv, err := netpoll.NewServer(r, netpoll.Config{Listeners: []netpoll.Listener{{Addr: "127.0.0.1:0"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	var out, errb bytes.Buffer
	code := runCLI(lookupCLI("join"), []string{"--url", "ws://" + srv.Addrs()[0].String() + "/ws", "--realm", "r",
		"--authid", "alice", "--password", "pw", "--timeout", "20s"}, &out, &errb)
	if code != 1 || out.Len() != 0 || !strings.Contains(errb.String(), "verifier does not match") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and the verifier refused", code, out.String(), errb.String())
	}
}
