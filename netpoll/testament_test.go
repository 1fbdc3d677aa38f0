package netpoll_test

import (
	"testing"
	"time"

	"github.com/zwamp/zwamp/codec"
	"github.com/zwamp/zwamp/netpoll"
)

// TestTestamentOnKeepaliveTimeout: a session that set a testament and then
// went silent (it never answers pings) is closed by keepalive, and its
// testament is published to the other sessions.
func TestTestamentOnKeepaliveTimeout(t *testing.T) {
	srv, r, addr := startServer(t, netpoll.Config{PingInterval: 300 * time.Millisecond, PingTimeout: time.Second})
	watcher, _, err := dialWS(t, addr, "wamp.2.json")
	if err != nil {
		t.Fatal(err)
	}
	watcher.join()
	watcher.send(codec.SUBSCRIBE, watcher.req(), map[string]any{}, "com.will")
	watcher.expect(codec.SUBSCRIBED)

	silent := dialRawWS(t, addr, "wamp.2.json", 0)
	silent.sendText(`[1,"realm1",{"roles":{"caller":{}}}]`)
	silent.sendText(`[48,1,{},"wamp.session.add_testament",["com.will",["gone"],{"why":"keepalive"}]]`)
	waitFor(t, func() bool { return r.Stats().Sessions == 2 })

	// gorilla answers the router's pings while it reads, so the watcher
	// stays alive while it waits.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_ = watcher.c.SetReadDeadline(deadline)
		_, b, err := watcher.c.ReadMessage()
		if err != nil {
			t.Fatalf("no testament event: %v", err)
		}
		v, err := codec.ToGo(codec.Raw{Format: codec.JSON, Bytes: b})
		if err != nil {
			t.Fatal(err)
		}
		m := v.([]any)
		if codec.Type(toUint(m[0])) != codec.EVENT {
			continue
		}
		if m[4].([]any)[0] != "gone" || m[5].(map[string]any)["why"] != "keepalive" {
			t.Fatalf("testament event %v", m)
		}
		break
	}
	if srv.Stats().PingTimeouts == 0 {
		t.Fatal("the session did not end by keepalive timeout")
	}
}
